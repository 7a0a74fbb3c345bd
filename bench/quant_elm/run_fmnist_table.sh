#!/usr/bin/env bash
# Issue-6 accuracy table: Fashion-MNIST (full 60k/10k), one ELM of L = 2048 tanh
# trained once, then every quantized variant through `elmq quantize` (test accuracy,
# whole-model bytes, bits per weight, quantization time), printed as Markdown.
#   bench/quant_elm/run_fmnist_table.sh [path/to/elmq] [OUT_DIR]
# Default tool: build/release/cli/elmq (scripts/report.sh builds it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ELMQ="$(realpath "${1:-$ROOT/build/release/cli/elmq}")"
OUT="${2:-$ROOT/build/bench-quant-elm}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
cd "$OUT"
DATA=(--dataset fashion-mnist)

"$ELMQ" train "${DATA[@]}" --hidden 2048:tanh --seed 42 --save-training-state -o fp32.elmq \
  --json >train.json
"$ELMQ" eval fp32.elmq "${DATA[@]}" --json --latency-rows 0 --min-time 0 >fp32_eval.json

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
i=0
for v in "${variants[@]}"; do
  name=${v%%|*}
  read -r -a args <<<"${v#*|}"
  "$ELMQ" quantize fp32.elmq "${DATA[@]}" "${args[@]}" --json -o "v$i.elmq" >"v$i.json"
  echo "$name" >"v$i.name"
  i=$((i + 1))
done

"$PY" - "$i" <<'PY'
import json, sys
n = int(sys.argv[1])
train = json.load(open("train.json"))
fp = json.load(open("fp32_eval.json"))
acc0 = fp["accuracy"]
fp32_bytes = None
rows = []
for k in range(n):
    j = json.load(open(f"v{k}.json"))
    name = open(f"v{k}.name").read().strip()
    fp32_bytes = j["fp32_bytes"]
    rows.append((name, j["accuracy"], j["bytes"], j["bits_per_weight"], j["seconds"]))
print(f"Fashion-MNIST 60k/10k, ELM L=2048 tanh, lambda {train['lambda']:.4g} (auto); "
      f"FP32 training {train['train_seconds']:.2f} s; FP32 test accuracy {100 * acc0:.2f} %, "
      f"weights {fp32_bytes} bytes")
print()
print("| variant | test acc. % | vs FP32 (points) | weight bytes | bits/weight | of FP32 bytes | quantize s |")
print("|---|---|---|---|---|---|---|")
print(f"| FP32 | {100 * acc0:.2f} | – | {fp32_bytes} | 32.00 | 1 | – |")
for name, acc, b, bpw, sec in rows:
    print(f"| {name} | {100 * acc:.2f} | {100 * (acc - acc0):+.2f} | {b} | {bpw:.2f} | "
          f"1/{fp32_bytes / b:.1f} | {sec:.2f} |")
PY
