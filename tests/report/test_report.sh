#!/usr/bin/env bash
# End-to-end test of the benchmark report in its tiny mode.
# Usage: test_report.sh /path/to/elmq /path/to/python OUT_DIR
#   1. run_report.py --tiny writes OUT_DIR/run; check_report.py validates it (schema, rows,
#      files, figures inlined in index.html);
#   2. the same command with --resume reuses every measured result from the cache;
#   3. a second run (ELM rows of iris only) gives the same accuracies as the first;
#   4. headless Chromium loads index.html without console messages, finds the summary and
#      every data set's section in the DOM, and takes OUT_DIR/screenshot.png.
set -u
ELMQ=${1:?usage: test_report.sh ELMQ PYTHON OUT_DIR}
PY=${2:?usage: test_report.sh ELMQ PYTHON OUT_DIR}
OUT=${3:?usage: test_report.sh ELMQ PYTHON OUT_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REPORT=$ROOT/bench/report/run_report.py
CHECK=$HERE/check_report.py

fail() { echo "FAIL $*"; exit 1; }
[[ -x $ELMQ ]] || fail "'$ELMQ' is not an executable"
[[ -x $PY ]] || fail "'$PY' is not a Python (scripts/setup.sh creates .venv)"
"$PY" -c "import numpy, matplotlib, jsonschema" 2>/dev/null ||
  fail "$PY lacks numpy, matplotlib or jsonschema (scripts/requirements-dev.txt)"
CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
  fail "chromium is not installed (Debian package chromium; scripts/setup.sh installs it)"

rm -rf "$OUT"
mkdir -p "$OUT"
PASS=0
step() {  # step NAME CMD...: runs CMD with its output in OUT/NAME.log
  local name=$1; shift
  if "$@" >"$OUT/$name.log" 2>&1; then
    PASS=$((PASS + 1)); echo "ok   $name"
  else
    echo "FAIL $name (exit $?):"; tail -n 30 "$OUT/$name.log"; exit 1
  fi
}

step tiny_run "$PY" "$REPORT" --tiny --elmq "$ELMQ" --out "$OUT/run"
step tiny_check "$PY" "$CHECK" "$OUT/run"
cp "$OUT/run/results.json" "$OUT/first-results.json"
step resume_run "$PY" "$REPORT" --tiny --resume --elmq "$ELMQ" --out "$OUT/run"
step resume_all_cached "$PY" "$CHECK" "$OUT/run" --all-cached
step repeat_run "$PY" "$REPORT" --tiny --only elm --datasets iris --elmq "$ELMQ" \
  --out "$OUT/repeat"
step repeat_same_accuracy "$PY" "$CHECK" "$OUT/repeat" --same-accuracy-as "$OUT/first-results.json"

# Chromium: a private profile, no sandbox (the test may run as root), no GPU.
browse() {
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$OUT/chromium-profile" --enable-logging=stderr --v=0 "$@" \
    "file://$OUT/run/index.html"
}
browse --dump-dom >"$OUT/dom.html" 2>"$OUT/chromium_dom.log" ||
  fail "chromium --dump-dom: exit $? ($(tail -n 5 "$OUT/chromium_dom.log"))"
step chromium_dom_content "$PY" "$CHECK" "$OUT/run" --dom "$OUT/dom.html"
step chromium_screenshot browse --window-size=1280,2400 --screenshot="$OUT/screenshot.png"
if grep -E ':CONSOLE|Uncaught|Failed to load resource' "$OUT"/chromium_*.log; then
  fail "console messages while loading index.html (above)"
fi
[[ $(stat -c %s "$OUT/screenshot.png" 2>/dev/null || echo 0) -gt 10000 ]] ||
  fail "no screenshot (or an empty one) at $OUT/screenshot.png"
PASS=$((PASS + 1)); echo "ok   chromium_no_console_messages_and_screenshot"
echo "$PASS passed, 0 failed"
