#!/usr/bin/env bash
# Issue-7 benchmark, one run: elmq's MLP baseline on Fashion-MNIST (training
# time per epoch, accuracy and size of every quantized form, inference speed
# vs FP32) and the PyTorch reference in the same session (the same recipe and
# thread count; PyTorch's own INT8 quantization of the network elmq trained),
# then the ratios.
#
#   bench/mlp/run_mlp_bench.sh [elmq_bench_mlp options, e.g. --qat-epochs 3]
#   TORCH_ARGS="--epochs 2" bench/mlp/run_mlp_bench.sh --epochs 2   # a quick dry run
#
# PyTorch lives only in the benchmark's virtual environment ($ELMQ_TORCH_VENV,
# default build/torch-venv, created here with `pip install torch==2.13.0
# numpy` if missing); it is never a dependency of elmq. Results go to
# build/bench-mlp/results/ (text, JSON, the trained model, exported weights).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset here only (they pin older
# OpenBLAS kernels on some machines); tests and CI never change them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build/bench-mlp"
OUT="$BUILD/results"
VENV="${ELMQ_TORCH_VENV:-$ROOT/build/torch-venv}"
THREADS=2

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DELMQ_NATIVE=ON -DELMQ_BUILD_TESTS=OFF \
  -DELMQ_BUILD_EXAMPLES=OFF -DELMQ_BUILD_CLI=OFF -DELMQ_BUILD_BENCH=ON "${launcher[@]}" >/dev/null
cmake --build "$BUILD" --target elmq_bench_mlp -j2 >/dev/null

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.13.0 numpy
fi

unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
mkdir -p "$OUT"
echo "=== elmq (build/bench-mlp, Release, native)"
"$BUILD/bench/mlp/elmq_bench_mlp" --threads "$THREADS" --export-dir "$OUT/weights" \
  --save-model "$OUT/fmnist-mlp.elmq" --json "$OUT/elmq.json" "$@" | tee "$OUT/elmq.txt"
echo "=== PyTorch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') ($THREADS threads)"
# shellcheck disable=SC2086
"$VENV/bin/python" bench/mlp/torch_mlp.py --threads "$THREADS" --elmq-weights "$OUT/weights" ${TORCH_ARGS:-} \
  >"$OUT/torch.json" 2> >(tee "$OUT/torch.txt" >&2)
wait
# Training on one thread as well (3 epochs each): one thread is far less
# disturbed by other load on a shared machine than two.
echo "=== one-thread training, elmq then PyTorch (3 epochs)"
"$BUILD/bench/mlp/elmq_bench_mlp" --threads 1 --epochs 3 --train-only --json "$OUT/elmq_t1.json" \
  | tee "$OUT/elmq_t1.txt"
"$VENV/bin/python" bench/mlp/torch_mlp.py --threads 1 --epochs 3 >"$OUT/torch_t1.json" \
  2> >(tee "$OUT/torch_t1.txt" >&2)
wait

echo "=== elmq vs PyTorch (same machine, same session; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$OUT/elmq.json" "$OUT/torch.json" "$OUT/elmq_t1.json" "$OUT/torch_t1.json" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
t = json.load(open(sys.argv[2]))
for ej, tj in ((e, t), (json.load(open(sys.argv[3])), json.load(open(sys.argv[4])))):
    fp, tt = ej["fp32"], tj["train"]
    print(f"training, {fp['threads']} thread(s), {fp['epochs']} epochs: elmq "
          f"{fp['mean_epoch_seconds']:.3f} s/epoch, PyTorch {tt['mean_epoch_seconds']:.3f} s/epoch"
          f" -> elmq/PyTorch time {fp['mean_epoch_seconds'] / tt['mean_epoch_seconds']:.2f} "
          f"(goal <= 1); test accuracy elmq {fp['test_accuracy']:.4f}, PyTorch "
          f"{tt['test_accuracy']:.4f}")
lat = e["latency_seconds"]
def speedup(name, key):
    a, b = lat.get("fp32/" + key), lat.get(name + "/" + key)
    return a / b if a and b else float("nan")
print("\ninference speed vs each library's own FP32 (>1 faster):")
print(f"{'':34s} {'b1/t1':>8s} {'b256/t1':>8s} {'b256/t2':>8s}   accuracy")
for v in e["variants"]:
    if "fp32/" + "b1/t1" in lat and v["name"] + "/b1/t1" in lat:
        s = [speedup(v["name"], k) for k in ("b1/t1", "b256/t1", "b256/t2")]
        print(f"elmq  {v['name']:28s} {s[0]:8.2f} {s[1]:8.2f} {s[2]:8.2f}   {v['test_accuracy']:.4f}")
if "quantized" in t:
    q = t["quantized"]
    for name, row in q["models"].items():
        s = row["speedup_vs_fp32"]
        print(f"torch {name + ' (' + q['engine'] + ')':28s} {s['b1/t1']:8.2f} {s['b256/t1']:8.2f} "
              f"{s['b256/t2']:8.2f}   {row['test_accuracy']:.4f}")
    print("\nabsolute latency (us):")
    for k in ("b1/t1", "b256/t1", "b256/t2"):
        el = {n.split("/")[0]: v for n, v in lat.items() if n.endswith("/" + k)}
        tl = {n: r["latency"][k] for n, r in q["models"].items()}
        print(f"  {k:8s} elmq fp32 {el.get('fp32', float('nan')) * 1e6:9.1f}, int8 dynamic "
              f"{el.get('int8 dynamic', float('nan')) * 1e6:9.1f}, int8 static "
              f"{el.get('int8 static minmax', float('nan')) * 1e6:9.1f} | torch fp32 "
              f"{tl['fp32'] * 1e6:9.1f}, int8 dynamic {tl['int8-dynamic'] * 1e6:9.1f}, "
              f"int8 static {tl['int8-static'] * 1e6:9.1f}")
cpu = e.get("latency_cpu_seconds", {})
print("\nthe same by the calling thread's CPU time (one thread; robust to other load):")
print(f"{'':34s} {'b1/t1':>8s} {'b256/t1':>8s}")
for v in e["variants"]:
    n = v["name"]
    if n + "/b1/t1" in cpu and "fp32/b1/t1" in cpu:
        print(f"elmq  {n:28s} {cpu['fp32/b1/t1'] / cpu[n + '/b1/t1']:8.2f} "
              f"{cpu['fp32/b256/t1'] / cpu[n + '/b256/t1']:8.2f}")
if "quantized" in t:
    for name, row in t["quantized"]["models"].items():
        s = row["speedup_vs_fp32_cpu"]
        print(f"torch {name:28s} {s['b1/t1']:8.2f} {s['b256/t1']:8.2f}")
    print("absolute CPU time per call (us), one thread: elmq fp32 b1 "
          f"{cpu.get('fp32/b1/t1', float('nan')) * 1e6:.1f}, b256 {cpu.get('fp32/b256/t1', float('nan')) * 1e6:.1f}; "
          f"torch fp32 b1 {t['quantized']['models']['fp32']['latency_cpu']['b1/t1'] * 1e6:.1f}, "
          f"b256 {t['quantized']['models']['fp32']['latency_cpu']['b256/t1'] * 1e6:.1f}")
print(f"\nload average during the elmq run: before {e['load_before']}, after {e['load_after']}")
EOF
