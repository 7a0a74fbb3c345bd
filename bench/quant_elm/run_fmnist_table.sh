#!/usr/bin/env bash
# Issue-6 accuracy table: Fashion-MNIST (full 60k/10k), an ELM of L = 2048 tanh
# trained per seed of the hidden layer, then every quantized variant through
# `elmq quantize` (test accuracy, whole-model bytes, bits per weight,
# quantization time), printed as Markdown. With several seeds (SEEDS="42 1 2")
# each row gives the mean difference to the FP32 model of the same seed and its
# range over the seeds: one seed's difference is within the noise of the
# random layer (about +-0.2 points here), the mean is what a goal is judged on.
#   [SEEDS="42 1 2 3 4 5"] bench/quant_elm/run_fmnist_table.sh [path/to/elmq] [OUT_DIR]
# Default tool: build/release/cli/elmq (scripts/report.sh builds it); default SEEDS="42".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ELMQ="$(realpath "${1:-$ROOT/build/release/cli/elmq}")"
OUT="${2:-$ROOT/build/bench-quant-elm}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
cd "$OUT"
DATA=(--dataset fashion-mnist)
read -r -a seeds <<<"${SEEDS:-42}"

# name | arguments of elmq quantize
variants=(
  "beta int8 rtn|--format int8 --method rtn"
  "beta int8 gptq|--format int8 --method gptq"
  "beta int4 per-channel rtn|--format int4 --method rtn"
  "beta int4 per-channel gptq|--format int4 --method gptq"
  "beta int4-g32 rtn|--format int4-g32 --method rtn"
  "beta int4-g32 gptq|--format int4-g32 --method gptq"
  "beta int2-g32 rtn|--format int2-g32-asym --method rtn"
  "beta int2-g32 gptq|--format int2-g32-asym --method gptq"
  "beta ternary rtn|--format ternary --method rtn"
  "beta ternary gptq|--format ternary --method gptq"
  "W int8, beta re-solved (f32)|--w-format int8 --format f32"
  "W int4-g32, beta re-solved (f32)|--w-format int4-g32 --format f32"
  "W ternary, beta re-solved (f32)|--w-format ternary --format f32"
  "W int8 + beta int8 gptq + int8 activations|--w-format int8 --format int8 --method gptq --activations int8"
  "W int4-g32 + beta int4-g32 gptq (whole model INT4)|--w-format int4-g32 --format int4-g32 --method gptq"
  "W int4 per-channel + beta int4-g32 gptq|--w-format int4 --format int4-g32 --method gptq"
  "W int4-g128 + beta int4-g32 gptq|--w-format int4-g128 --format int4-g32 --method gptq"
  "W int8 + beta int8 gptq, uint8 pixel inputs|--w-format int8 --format int8 --method gptq --inputs uint8"
)
for seed in "${seeds[@]}"; do
  mkdir -p "seed$seed"
  (
    cd "seed$seed"
    "$ELMQ" train "${DATA[@]}" --hidden 2048:tanh --seed "$seed" --save-training-state \
      -o fp32.elmq --json -q >train.json
    "$ELMQ" eval fp32.elmq "${DATA[@]}" --json --latency-rows 0 --min-time 0 >fp32_eval.json
    i=0
    for v in "${variants[@]}"; do
      read -r -a args <<<"${v#*|}"
      "$ELMQ" quantize fp32.elmq "${DATA[@]}" "${args[@]}" --json -o "v$i.elmq" >"v$i.json"
      rm -f "v$i.elmq"
      i=$((i + 1))
    done
    # "Generate W directly on the ternary grid": a model trained with ternary
    # projection weights, stored in the ternary format (exactly its weights).
    "$ELMQ" train "${DATA[@]}" --hidden 2048:tanh --init ternary --seed "$seed" \
      --save-training-state -o tern.elmq --json -q >tern_train.json
    "$ELMQ" quantize tern.elmq "${DATA[@]}" --w-format ternary --format f32 --json \
      -o vt.elmq >vt.json
    rm -f vt.elmq tern.elmq
  )
done
printf '%s\n' "${variants[@]%%|*}" >variants.txt

"$PY" - "${seeds[@]}" <<'PY'
import json, statistics, sys
seeds = sys.argv[1:]
names = open("variants.txt").read().splitlines()
def load(seed, f):
    return json.load(open(f"seed{seed}/{f}"))
train = {s: load(s, "train.json") for s in seeds}
acc0 = {s: load(s, "fp32_eval.json")["accuracy"] for s in seeds}
mean = statistics.fmean
print(f"Fashion-MNIST 60k/10k, ELM L=2048 tanh, lambda auto, hidden-layer seeds {' '.join(seeds)}.")
for s in seeds:
    print(f"- seed {s}: lambda {train[s]['lambda']:.4g}, FP32 training {train[s]['train_seconds']:.2f} s, "
          f"FP32 test accuracy {100 * acc0[s]:.2f} %")
print()
many = len(seeds) > 1
print("| variant | test acc. %" + (" (mean)" if many else "") + " | vs FP32 (points)"
      + (" mean [min, max]" if many else "") + " | weight bytes | bits/weight | of FP32 bytes | quantize s |")
print("|---|---|---|---|---|---|---|")
fp32_bytes = load(seeds[0], "v0.json")["fp32_bytes"]
print(f"| FP32 | {100 * mean(acc0.values()):.2f} | – | {fp32_bytes} | 32.00 | 1 | – |")
for k, name in enumerate(names):
    js = {s: load(s, f"v{k}.json") for s in seeds}
    d = [100 * (js[s]["accuracy"] - acc0[s]) for s in seeds]
    j = js[seeds[0]]
    spread = f" [{min(d):+.2f}, {max(d):+.2f}]" if many else ""
    print(f"| {name} | {100 * mean(x['accuracy'] for x in js.values()):.2f} | {mean(d):+.2f}{spread} | "
          f"{j['bytes']} | {j['bits_per_weight']:.2f} | 1/{fp32_bytes / j['bytes']:.1f} | "
          f"{mean(x['seconds'] for x in js.values()):.2f} |")
js = {s: load(s, "vt.json") for s in seeds}
d = [100 * (js[s]["accuracy"] - acc0[s]) for s in seeds]
j = js[seeds[0]]
spread = f" [{min(d):+.2f}, {max(d):+.2f}]" if many else ""
print(f"| W ternary generated on the grid (--init ternary), beta solved (f32) | "
      f"{100 * mean(x['accuracy'] for x in js.values()):.2f} | {mean(d):+.2f}{spread} | {j['bytes']} | "
      f"{j['bits_per_weight']:.2f} | 1/{fp32_bytes / j['bytes']:.1f} | "
      f"{mean(x['seconds'] for x in js.values()):.2f} |")
PY
