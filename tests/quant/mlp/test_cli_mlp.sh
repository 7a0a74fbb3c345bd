#!/usr/bin/env bash
# End-to-end test of the MLP commands of the elmq tool: train-mlp (with QAT),
# quantize on an MLP file, info on MLP files, and their errors.
# Usage: test_cli_mlp.sh /path/to/elmq
# Exits 77 (CTest: skipped) when the tool does not have the train-mlp command yet.
set -u
ELMQ=${1:?usage: test_cli_mlp.sh /path/to/elmq}
[[ -x $ELMQ ]] || { echo "test_cli_mlp.sh: '$ELMQ' is not an executable"; exit 1; }
ELMQ=$(cd "$(dirname "$ELMQ")" && pwd)/$(basename "$ELMQ")
if ! "$ELMQ" --help | grep -q 'train-mlp'; then
  echo "test_cli_mlp.sh: $ELMQ has no train-mlp command; skipped"
  exit 77
fi
command -v python3 >/dev/null || { echo "test_cli_mlp.sh: python3 is needed to parse JSON"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/elmq_cli_mlp_test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; }
check() {  # check NAME PYTHON_EXPR FILE (j = the JSON object in FILE)
  if python3 - "$3" "$2" 2>/dev/null <<'PY'
import json, sys
j = json.loads(open(sys.argv[1]).read())
sys.exit(0 if eval(sys.argv[2], {"j": j, "abs": abs, "len": len}) else 1)
PY
  then ok "$1"; else bad "$1 ($2) on: $(head -c 600 "$3")"; fi
}
run_ok() {
  local name=$1; shift
  if "$@" >out.txt 2>err.txt; then ok "$name"; else bad "$name: exit $?: $(cat err.txt)"; fi
}
expect_error() {  # NAME STATUS SUBSTRING CMD...: that status, one line on stderr naming the problem
  local name=$1 want=$2 text=$3; shift 3
  "$@" >out.txt 2>err.txt
  local got=$?
  if [[ $got -ne $want ]]; then
    bad "$name: exit $got, expected $want (stderr: $(cat err.txt))"
  elif [[ $(wc -l <err.txt) -ne 1 ]] || ! grep -qF -- "$text" err.txt; then
    bad "$name: stderr is not one line with '$text': $(cat err.txt)"
  else
    ok "$name"
  fi
}

# Four classes in 6 dimensions, not linearly separable (XOR of two signs), from a fixed LCG.
make_data() {  # make_data ROWS SEED
  awk -v n="$1" -v seed="$2" 'BEGIN {
    s = seed; print "a,b,c,d,e,f,y";
    for (i = 0; i < n; i++) {
      line = "";
      for (k = 0; k < 6; k++) {
        s = (s * 1103515245 + 12345) % 2147483648; v[k] = 2 * s / 2147483648 - 1;
        line = line sprintf("%.4f,", v[k]);
      }
      print line ((v[0] > 0) + 2 * (v[1] * v[2] > 0));
    }
  }'
}
make_data 800 7 >train.csv
make_data 300 99 >test.csv

run_ok "train-mlp --help" "$ELMQ" train-mlp --help
grep -q '^usage: elmq train-mlp' out.txt && ok "train-mlp help text" || bad "train-mlp help text"

run_ok "train-mlp csv" "$ELMQ" train-mlp --train-csv train.csv --test-csv test.csv \
  --label-column y --hidden 32,32 --epochs 40 --batch-size 32 --lr 3e-3 --threads 1 --json \
  -o mlp.elmq
cp out.txt train.json
check "train-mlp json" \
  'j["command"] == "train-mlp" and j["model"]["architecture"] == "6-32-32-4" and len(j["history"]) == 40 and 1 <= j["best_epoch"] <= 40 and j["train_rows"] + j["validation_rows"] == 800 and j["output_bytes"] > 0 and j["test_accuracy"] >= 0.85' \
  train.json
run_ok "train-mlp 2 threads" "$ELMQ" train-mlp --train-csv train.csv --test-csv test.csv \
  --label-column y --hidden 32,32 --epochs 40 --batch-size 32 --lr 3e-3 --threads 2 --json
cp out.txt train2.json
python3 - train.json train2.json <<'PY' && ok "same model for 1 and 2 threads" || bad "thread count changed the model"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if [e["train_loss"] for e in a["history"]] == [e["train_loss"] for e in b["history"]]
         and a["test_accuracy"] == b["test_accuracy"] else 1)
PY

run_ok "train-mlp with qat" "$ELMQ" train-mlp --train-csv train.csv --test-csv test.csv \
  --label-column y --hidden 32,32 --epochs 20 --batch-size 32 --lr 3e-3 --threads 1 \
  --qat int4-g32 --qat-epochs 2 --qat-lr 1e-3 --qat-output qat.elmq -q
grep -q '^qat: *int4-g32, 2 epochs' out.txt && ok "qat line" || bad "qat line: $(cat out.txt)"
[[ -s qat.elmq ]] && ok "qat model written" || bad "qat model written"

run_ok "quantize gptq" "$ELMQ" quantize mlp.elmq --train-csv train.csv --test-csv test.csv \
  --label-column y --format int4-g32 --method gptq --json -o q4.elmq --threads 1
cp out.txt q4.json
check "quantize json" \
  'j["model_kind"] == "mlp" and j["method"] == "gptq" and j["format"] == "int4-g32" and len(j["layer_error"]) == 3 and j["weight_bytes"] < j["fp32_weight_bytes"] / 4 and j["test_accuracy"] >= j["fp32_test_accuracy"] - 0.05' \
  q4.json
run_ok "quantize static int8" "$ELMQ" quantize mlp.elmq --train-csv train.csv --label-column y \
  --activations static --calibration percentile -o q8.elmq -q
grep -q 'static uint8 activations (percentile)' out.txt && ok "static text" || bad "static text: $(cat out.txt)"

# eval reads MLP files (FP32 and quantized) and agrees with what train-mlp / quantize reported.
run_ok "eval mlp" "$ELMQ" eval mlp.elmq --csv test.csv --label-column y --json --min-time 0.01 \
  --latency-rows 50 --threads 1
cp out.txt eval_f.json
python3 - train.json eval_f.json <<'PY' && ok "eval mlp accuracy" || bad "eval mlp accuracy"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if abs(a["test_accuracy"] - b["accuracy"]) < 1e-9 and b["kind"] == "mlp"
         and b["latency_p50_us"] > 0 and b["rows_per_second"] > 0 else 1)
PY
run_ok "eval quantized mlp" "$ELMQ" eval q4.elmq --csv test.csv --label-column y --json \
  --min-time 0.01 --latency-rows 50 --threads 1
cp out.txt eval_q.json
python3 - q4.json eval_q.json <<'PY' && ok "eval quantized mlp accuracy" || bad "eval quantized mlp accuracy"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if abs(a["test_accuracy"] - b["accuracy"]) < 1e-9 and b["kind"] == "quantized-mlp" else 1)
PY
# predict reads MLP files too: its labels score what eval measured.
for m in mlp:eval_f q4:eval_q; do
  run_ok "predict ${m%%:*}" "$ELMQ" predict "${m%%:*}.elmq" --csv test.csv --label-column y --json
  cp out.txt "pred_${m%%:*}.json"
  python3 - "pred_${m%%:*}.json" "${m#*:}.json" test.csv <<'PY' && ok "predict ${m%%:*} == eval's accuracy" || bad "predict ${m%%:*} == eval's accuracy"
import csv, json, sys
p, e = (json.load(open(f)) for f in sys.argv[1:3])
y = [int(r["y"]) for r in csv.DictReader(open(sys.argv[3]))]
acc = sum(a == b for a, b in zip(p["labels"], y)) / len(y)
sys.exit(0 if len(p["labels"]) == len(y) and abs(acc - e["accuracy"]) < 1e-12 else 1)
PY
done
run_ok "info quantized" "$ELMQ" info q4.elmq
grep -q '^kind: *quantized-mlp' out.txt && ok "info kind" || bad "info kind: $(cat out.txt)"
grep -q '^layer 0: *32 x 6 int4-g32' out.txt && ok "info layers" || bad "info layers: $(cat out.txt)"
run_ok "info quantized json" "$ELMQ" info q4.elmq --json
cp out.txt info_q.json
check "info quantized json" \
  'j["kind"] == "quantized-mlp" and j["details"] is True and j["architecture"] == "6-32-32-4" and len(j["layers"]) == 3 and j["layers"][0]["format"] == "int4-g32" and j["method"] == "gptq"' \
  info_q.json
run_ok "info fp32 json" "$ELMQ" info mlp.elmq --json
cp out.txt info_f.json
check "info fp32 json" \
  'j["kind"] == "mlp" and j["details"] is True and j["architecture"] == "6-32-32-4" and j["classes"] == [0, 1, 2, 3] and j["n_parameters"] == 6 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4' \
  info_f.json

expect_error "bad hidden" 2 "--hidden" "$ELMQ" train-mlp --train-csv train.csv --label-column y --hidden 8,x
expect_error "qat option without --qat" 2 "--qat" "$ELMQ" train-mlp --train-csv train.csv --label-column y --qat-epochs 2
expect_error "bad qat format" 2 "--qat" "$ELMQ" train-mlp --train-csv train.csv --label-column y --qat f16
expect_error "gptq with a float format" 2 "gptq" "$ELMQ" quantize mlp.elmq --train-csv train.csv --label-column y --format f16 --method gptq -o x.elmq
expect_error "quantize a quantized model" 1 "quantize" "$ELMQ" quantize q4.elmq --train-csv train.csv --label-column y -o x.elmq
printf 'not a model' >junk.elmq
expect_error "quantize junk" 1 "quantize" "$ELMQ" quantize junk.elmq --train-csv train.csv --label-column y -o x.elmq

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
