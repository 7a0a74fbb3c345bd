#!/usr/bin/env bash
# End-to-end test of the elmq command-line tool.
# Usage: test_cli.sh /path/to/elmq
# Trains on a CSV the test writes (and on iris when scikit-learn's data is
# installed), checks the --json output, runs info/eval/predict on the saved
# model, and checks that bad input gives exit status 1 or 2 with one line on stderr.
set -u
ELMQ=${1:?usage: test_cli.sh /path/to/elmq}
[[ -x $ELMQ ]] || { echo "test_cli.sh: '$ELMQ' is not an executable"; exit 1; }
ELMQ=$(cd "$(dirname "$ELMQ")" && pwd)/$(basename "$ELMQ")  # the test runs in a temp dir
command -v python3 >/dev/null || { echo "test_cli.sh: python3 is needed to parse JSON"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/elmq_cli_test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; }

# check NAME PYTHON_EXPR FILE: evaluates EXPR with `j` = the JSON object in FILE.
check() {
  if python3 - "$3" "$2" 2>/dev/null <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    text = f.read()
j = json.loads(text)  # also proves stdout is exactly one JSON document
sys.exit(0 if eval(sys.argv[2], {"j": j, "abs": abs, "len": len}) else 1)
PY
  then ok "$1"; else bad "$1 ($2) on: $(head -c 600 "$3")"; fi
}

# run_ok NAME CMD...: the command must succeed.
run_ok() {
  local name=$1; shift
  if "$@" >out.txt 2>err.txt; then ok "$name"; else bad "$name: exit $?: $(cat err.txt)"; fi
}

# expect_error NAME STATUS SUBSTRING CMD...: exit status STATUS, nothing on
# stdout, exactly one line on stderr starting with "elmq" and containing SUBSTRING.
expect_error() {
  local name=$1 want=$2 text=$3; shift 3
  "$@" >out.txt 2>err.txt
  local got=$?
  local lines
  lines=$(wc -l <err.txt)
  if [[ $got -ne $want ]]; then
    bad "$name: exit $got, expected $want (stderr: $(cat err.txt))"
  elif [[ $lines -ne 1 ]]; then
    bad "$name: $lines lines on stderr: $(cat err.txt)"
  elif [[ -s out.txt ]]; then
    bad "$name: unexpected stdout: $(head -c 200 out.txt)"
  elif ! grep -q '^elmq' err.txt || ! grep -qF -- "$text" err.txt; then
    bad "$name: stderr lacks '$text': $(cat err.txt)"
  else
    ok "$name"
  fi
}

# ---------------------------------------------------------------- data
# Three Gaussian-like blobs from a fixed LCG: 300 training rows, 90 test rows.
make_blobs() {  # make_blobs ROWS SEED
  awk -v n="$1" -v seed="$2" 'BEGIN {
    s = seed; print "x1,x2,x3,y";
    for (i = 0; i < n; i++) {
      c = i % 3;
      cx = (c == 1) ? 3 : 0; cy = (c == 2) ? 3 : 0;
      u = 0; for (k = 0; k < 3; k++) { s = (s * 1103515245 + 12345) % 2147483648; u += s / 2147483648 }
      v = 0; for (k = 0; k < 3; k++) { s = (s * 1103515245 + 12345) % 2147483648; v += s / 2147483648 }
      s = (s * 1103515245 + 12345) % 2147483648; w = s / 2147483648;
      printf "%.4f,%.4f,%.4f,%d\n", cx + 1.2 * (u - 1.5), cy + 1.2 * (v - 1.5), w, c
    }
  }'
}
make_blobs 300 7 >train.csv
make_blobs 90 99 >test.csv

# ---------------------------------------------------------------- top level
run_ok "--version" "$ELMQ" --version
grep -q '^elmq [0-9]' out.txt && ok "version text" || bad "version text: $(cat out.txt)"
run_ok "--help" "$ELMQ" --help
for cmd in train eval predict info; do
  run_ok "$cmd --help" "$ELMQ" "$cmd" --help
  grep -q "^usage: elmq $cmd" out.txt && ok "$cmd --help text" || bad "$cmd --help text"
done

# ---------------------------------------------------------------- train
run_ok "train csv" "$ELMQ" train --train-csv train.csv --test-csv test.csv --label-column y \
  --hidden 60:tanh,20:rbf --seed 3 --json -o model.elmq --save-training-state --threads 1
cp out.txt train.json
check "train json fields" \
  'j["command"] == "train" and j["data"]["n_train"] == 300 and j["data"]["n_test"] == 90 and j["data"]["n_features"] == 3 and j["model"]["classes"] == [0, 1, 2] and j["model"]["n_hidden"] == 80 and j["lambda_auto"] is True and j["lambda"] > 0 and len(j["lambda_search"]["lambdas"]) == len(j["lambda_search"]["validation_mse"]) and j["output_bytes"] > 0 and j["training_state"] is True and j["train_seconds"] >= 0 and j["threads_used"] == 1' \
  train.json
check "train accuracy" 'j["train_accuracy"] >= 0.85 and j["test_accuracy"] >= 0.85' train.json
[[ -s model.elmq ]] && ok "model file written" || bad "model file written"

run_ok "train text" "$ELMQ" train --train-csv train.csv --test-fraction 0.2 --hidden 40 \
  --lambda 0.01 --scaling minmax --class-weight balanced --init ternary --threads 1 -q
grep -q '^accuracy: train [0-9.]*, test [0-9.]*$' out.txt && ok "train text accuracy line" \
  || bad "train text accuracy line: $(cat out.txt)"
[[ ! -s err.txt ]] && ok "--quiet is quiet" || bad "--quiet is quiet: $(cat err.txt)"

# Same seed -> same model; thread count does not change predictions.
run_ok "train again" "$ELMQ" train --train-csv train.csv --hidden 60:tanh,20:rbf --seed 3 \
  -o again.elmq -q --threads 1
run_ok "train 2 threads" "$ELMQ" train --train-csv train.csv --hidden 60:tanh,20:rbf --seed 3 \
  -o again2.elmq -q --threads 2
run_ok "predict threads=1" "$ELMQ" predict again.elmq --csv test.csv --label-column y --proba -o p1.csv
run_ok "predict threads=2" "$ELMQ" predict again2.elmq --csv test.csv --label-column y --proba -o p2.csv
cmp -s p1.csv p2.csv && ok "predictions independent of threads" || bad "predictions differ by threads"

# Regression: the label column as real targets.
awk -F, 'NR == 1 { print "a,b,c,t"; next } { printf "%s,%s,%s,%.5f\n", $1, $2, $3, 2 * $1 - $2 + 0.5 * $3 }' \
  train.csv >reg.csv
run_ok "train regression" "$ELMQ" train --train-csv reg.csv --task regression --hidden 50 \
  --test-fraction 0.25 --json -o reg.elmq --threads 1
cp out.txt reg.json
check "regression r2" 'j["model"]["task"] == "regression" and j["train_r2"] > 0.95 and j["test_r2"] > 0.9' reg.json

# ---------------------------------------------------------------- info
run_ok "info json" "$ELMQ" info model.elmq --json
cp out.txt info.json
check "info fields" \
  'j["kind"] == "elm" and j["task"] == "classification" and j["n_features"] == 3 and j["n_hidden"] == 80 and j["n_outputs"] == 3 and j["classes"] == [0, 1, 2] and j["training_state"] is True and j["kind_version"] >= 1 and len(j["hidden_groups"]) == 2 and j["hidden_groups"][1]["activation"] == "rbf"' \
  info.json
run_ok "info text" "$ELMQ" info model.elmq
grep -q '^training state: stored' out.txt && ok "info text" || bad "info text: $(cat out.txt)"

# ---------------------------------------------------------------- eval
run_ok "eval json" "$ELMQ" eval model.elmq --csv test.csv --label-column y --json \
  --latency-rows 50 --min-time 0.01 --threads 1
cp out.txt eval.json
python3 - train.json eval.json <<'PY' && ok "eval accuracy == train's test accuracy" || bad "eval accuracy == train's test accuracy"
import json, sys
t = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
sys.exit(0 if abs(t["test_accuracy"] - e["accuracy"]) < 1e-12 else 1)
PY
check "eval fields" \
  'j["rows"] == 90 and j["rows_per_second"] > 0 and j["latency_rows"] == 50 and 0 < j["latency_p50_us"] <= j["latency_p99_us"]' \
  eval.json
check "eval kernel path" \
  'j["kernel_path"] in ("scalar", "avx2", "avxvnni", "avx512vnni", "avx512bf16") and j["kernel_dispatch"].startswith(j["kernel_path"])' \
  eval.json
ELMQ_KERNEL_PATH=scalar "$ELMQ" eval model.elmq --csv test.csv --json --min-time 0.01 --threads 1 \
  >evals.json 2>err.txt || bad "eval with ELMQ_KERNEL_PATH=scalar: $(cat err.txt)"
check "ELMQ_KERNEL_PATH lowers eval's path" \
  'j["kernel_path"] == "scalar" and "ELMQ_KERNEL_PATH=scalar" in j["kernel_dispatch"]' evals.json
run_ok "eval text" "$ELMQ" eval model.elmq --csv test.csv --latency-rows 10 --min-time 0.01 --threads 1
grep -q '^latency: *p50' out.txt && ok "eval text latency" || bad "eval text: $(cat out.txt)"
grep -q '^kernels: *[a-z0-9]* (cpu: ' out.txt && ok "eval text kernels" || bad "eval text: $(cat out.txt)"
run_ok "eval regression" "$ELMQ" eval reg.elmq --csv reg.csv --json --min-time 0.01 --threads 1
cp out.txt evalreg.json
check "eval regression r2" 'j["r2"] > 0.9' evalreg.json

# ---------------------------------------------------------------- quantize (+ eval of the result)
run_ok "quantize gptq" "$ELMQ" quantize model.elmq --format int8 --method gptq -o q8.elmq --json \
  --train-csv train.csv --test-csv test.csv --label-column y --threads 1
cp out.txt q8.json
check "quantize fields" \
  'j["kind"] == "elm" and j["beta_format"] == "int8" and j["beta_method"] == "gptq" and j["bytes"] < j["fp32_bytes"] and j["beta_loss"] <= j["beta_rtn_loss"] and j["accuracy"] is not None' \
  q8.json
# Re-solving on data other than the training rows: a warning on stderr, which -q silences.
run_ok "quantize other rows" "$ELMQ" quantize model.elmq --w-format int8 \
  -o q4.elmq --train-csv test.csv --label-column y --threads 1
grep -q "warning: the model was trained on" err.txt && ok "quantize warns on other rows" \
  || bad "quantize warns on other rows: $(cat err.txt)"
run_ok "quantize -q" "$ELMQ" quantize model.elmq --w-format int8 -o q4.elmq \
  --train-csv test.csv --label-column y --threads 1 -q
[ ! -s err.txt ] && ok "quantize -q is silent" || bad "quantize -q wrote: $(cat err.txt)"
run_ok "eval quantized" "$ELMQ" eval q8.elmq --csv test.csv --label-column y --json \
  --min-time 0.01 --latency-rows 20 --threads 1
cp out.txt evalq.json
python3 - q8.json evalq.json <<'PY' && ok "eval quantized == quantize's accuracy" || bad "eval quantized == quantize's accuracy"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if b["kind"] == "quantized-elm" and abs(a["accuracy"] - b["accuracy"]) < 1e-12 else 1)
PY
# predict reads quantized ELMs: its labels score what eval measured.
run_ok "predict quantized" "$ELMQ" predict q8.elmq --csv test.csv --label-column y --json --proba
cp out.txt predq.json
python3 - predq.json evalq.json test.csv <<'PY' && ok "predict quantized == eval's accuracy" || bad "predict quantized == eval's accuracy"
import csv, json, sys
p, e = (json.load(open(f)) for f in sys.argv[1:3])
y = [int(r["y"]) for r in csv.DictReader(open(sys.argv[3]))]
acc = sum(a == b for a, b in zip(p["labels"], y)) / len(y)
rows_ok = all(abs(sum(r) - 1) < 1e-5 for r in p["proba"])
sys.exit(0 if len(p["labels"]) == len(y) and abs(acc - e["accuracy"]) < 1e-12 and rows_ok else 1)
PY
run_ok "info quantized" "$ELMQ" info q8.elmq --json
cp out.txt infoq.json
check "info quantized fields" 'j["kind"] == "quantized-elm" and j["beta_format"] == "int8"' infoq.json
expect_error "quantize twice" 1 "already quantized" "$ELMQ" quantize q8.elmq -o q8b.elmq
# GPTQ without its local search gives another model (a larger loss on this objective).
run_ok "quantize gptq no local search" "$ELMQ" quantize model.elmq --format ternary --method gptq \
  --local-search 0 -o qt0.elmq --json --train-csv train.csv --label-column y --threads 1
cp out.txt qt0.json
run_ok "quantize gptq local search" "$ELMQ" quantize model.elmq --format ternary --method gptq \
  -o qt1.elmq --json --train-csv train.csv --label-column y --threads 1
cp out.txt qt1.json
python3 -c 'import json,sys; a=json.load(open("qt0.json")); b=json.load(open("qt1.json")); sys.exit(0 if b["beta_loss"] < a["beta_loss"] else 1)' \
  && ok "local search lowers the GPTQ loss" || bad "local search lowers the GPTQ loss: $(cat qt0.json qt1.json)"
expect_error "local search out of range" 2 "local-search" "$ELMQ" quantize model.elmq \
  --method gptq --local-search 101 -o qx.elmq --train-csv train.csv --label-column y

# ---------------------------------------------------------------- predict
run_ok "predict file" "$ELMQ" predict model.elmq --csv test.csv --label-column y -o pred.csv
[[ $(head -1 pred.csv) == "label" && $(wc -l <pred.csv) -eq 91 ]] && ok "predict output shape" \
  || bad "predict output shape: $(head -3 pred.csv)"
# Features only, to stdout, with probabilities.
cut -d, -f1-3 test.csv >features.csv
run_ok "predict stdout" "$ELMQ" predict model.elmq --csv features.csv --proba
head -1 out.txt | grep -q '^label,proba_0,proba_1,proba_2$' && ok "predict proba header" \
  || bad "predict proba header: $(head -1 out.txt)"
awk -F, 'NR > 1 { s = $2 + $3 + $4; if (s < 0.999 || s > 1.001) bad = 1 } END { exit bad }' out.txt \
  && ok "probabilities sum to 1" || bad "probabilities sum to 1"
tail -n +2 out.txt | cut -d, -f1 >labels_stdout.txt
tail -n +2 pred.csv >labels_file.txt
cmp -s labels_stdout.txt labels_file.txt && ok "predict stdout == file" || bad "predict stdout == file"
run_ok "predict json" "$ELMQ" predict model.elmq --csv features.csv --json
cp out.txt pred.json
check "predict json" 'j["rows"] == 90 and len(j["labels"]) == 90 and set(j["labels"]) <= {0, 1, 2}' pred.json

# ---------------------------------------------------------------- registry (when installed)
if "$ELMQ" train --dataset iris --hidden 80 --json -q --threads 1 >iris.json 2>iris.err; then
  check "iris via registry" 'j["data"]["n_train"] + j["data"]["n_test"] == 150 and j["data"]["n_features"] == 4 and j["test_accuracy"] >= 0.85' iris.json
elif grep -q "not found" iris.err; then
  echo "skip iris via registry: $(cat iris.err)"
else
  bad "iris via registry: $(cat iris.err)"
fi

# ---------------------------------------------------------------- errors
expect_error "no command" 2 "usage" "$ELMQ"
expect_error "unknown command" 2 "unknown command 'fit'" "$ELMQ" fit
expect_error "unknown option" 2 "unknown option '--frobnicate'" "$ELMQ" train --dataset iris --frobnicate
expect_error "bad --hidden" 2 "elmq train: --hidden: '20x' is not a valid group spec" \
  "$ELMQ" train --train-csv train.csv --hidden 20x
expect_error "bad activation" 2 "--hidden" "$ELMQ" train --train-csv train.csv --hidden 20:swish
expect_error "bad --lambda" 2 "--lambda: 'abc' is not a finite number" \
  "$ELMQ" train --train-csv train.csv --lambda abc
expect_error "bad --threads" 2 "--threads: 'x' is not an integer" \
  "$ELMQ" train --train-csv train.csv --threads x
expect_error "bad choice" 2 "--scaling: 'zscore' is not one of" \
  "$ELMQ" train --train-csv train.csv --scaling zscore
expect_error "missing value" 2 "--seed needs a value" "$ELMQ" train --train-csv train.csv --seed
expect_error "no data" 2 "give either --dataset NAME or --train-csv FILE" "$ELMQ" train
expect_error "test csv with dataset" 2 "--test-csv goes with --train-csv" \
  "$ELMQ" train --dataset iris --test-csv test.csv
expect_error "unknown dataset" 2 "unknown dataset 'mnist'" "$ELMQ" train --dataset mnist
expect_error "flag with value" 2 "--json takes no value" "$ELMQ" info model.elmq --json=yes
expect_error "missing model arg" 2 "missing argument MODEL" "$ELMQ" info
expect_error "missing train csv" 1 "no such file" "$ELMQ" train --train-csv nope.csv
expect_error "missing model file" 1 "nope.elmq" "$ELMQ" info nope.elmq
head -c 100 model.elmq >truncated.elmq
expect_error "truncated model" 1 "elmq info:" "$ELMQ" info truncated.elmq
python3 - <<'PY'
data = bytearray(open("model.elmq", "rb").read())
data[len(data) // 2] ^= 0x55
open("corrupt.elmq", "wb").write(data)
PY
expect_error "corrupt model (info)" 1 "elmq info:" "$ELMQ" info corrupt.elmq
expect_error "corrupt model (eval)" 1 "elmq eval:" "$ELMQ" eval corrupt.elmq --csv test.csv
echo "not a model" >text.elmq
expect_error "not a model" 1 "elmq predict:" "$ELMQ" predict text.elmq --csv test.csv
{ head -5 train.csv; echo "1.0,abc,0.5,1"; } >badcell.csv
expect_error "bad csv cell" 1 "badcell.csv line 6, column 2: 'abc' is not a number" \
  "$ELMQ" train --train-csv badcell.csv
{ head -5 train.csv; echo "1.0,0.5,1"; } >badrow.csv
expect_error "bad csv row" 1 "line 6: 3 fields, expected 4" "$ELMQ" train --train-csv badrow.csv
{ head -5 train.csv; echo "1.0,0.5,0.2,1.5"; } >badlabel.csv
expect_error "non-integer label" 1 "not an integer" "$ELMQ" train --train-csv badlabel.csv
: >empty.csv
expect_error "empty csv" 1 "empty" "$ELMQ" train --train-csv empty.csv
expect_error "predict width" 1 "4 feature columns" "$ELMQ" predict model.elmq --csv test.csv
expect_error "proba on regression" 2 "--proba needs a classification model" \
  "$ELMQ" predict reg.elmq --csv features.csv --proba
awk '{ print $0 ",0" }' test.csv >wide.csv
expect_error "eval wrong width" 1 "has 4 features" "$ELMQ" eval model.elmq --csv wide.csv

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
