#!/usr/bin/env bash
# Coverage-guided fuzzing of elmq's parsers with libFuzzer (not part of CI:
# CI runs a fixed set of mutations through the same targets, tests/fuzz/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]     (default: 300 s each, every target)
#
# Installs clang 14 and its runtimes when missing, builds build/fuzz (clang,
# ASan + UBSan, assertions, pure Eigen), writes each target's seeds into
# build/fuzz/corpus/<target> (kept between runs: the corpus grows), then runs
# elmq_fuzz_<target> on two cores for SECONDS. A crash leaves its input in
# build/fuzz/findings/ (emptied at each run) and the exit status is 1; copy it
# into tests/fuzz/regressions/<target>/ with the fix, so that CI replays it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"  # ROOT, JOBS, launcher
SECONDS_EACH="${1:-300}"
shift || true
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then TARGETS=(model_file data); fi

"$ROOT/scripts/setup.sh" clang-14 libclang-rt-14-dev libomp-14-dev

CXX=clang++-14 cmake -S "$ROOT" -B build/fuzz -DCMAKE_BUILD_TYPE=Release -DELMQ_BUILD_FUZZERS=ON \
  -DELMQ_ASSERTIONS=ON -DELMQ_USE_BLAS=OFF -DELMQ_BUILD_TESTS=OFF -DELMQ_BUILD_BENCH=OFF \
  -DELMQ_BUILD_EXAMPLES=OFF -DELMQ_BUILD_CLI=OFF "${launcher[@]}" >/dev/null
cmake --build build/fuzz -j"$JOBS"

rm -rf build/fuzz/findings  # this run's findings only (past ones live in tests/fuzz/regressions)
mkdir -p build/fuzz/findings
status=0
for t in "${TARGETS[@]}"; do
  corpus="build/fuzz/corpus/$t"
  mkdir -p "$corpus"
  build/fuzz/tests/fuzz/elmq_fuzz_${t}_replay --write-seeds "$corpus" >/dev/null
  # The regressions first, under the sanitizers.
  if [ -d "tests/fuzz/regressions/$t" ]; then
    (cd build/fuzz/findings && "$ROOT/build/fuzz/tests/fuzz/elmq_fuzz_${t}_replay" \
       "$ROOT/tests/fuzz/regressions/$t") || status=1
  fi
  echo "=== fuzz: $t for ${SECONDS_EACH} s"
  # -rss_limit_mb: an input that makes elmq allocate gigabytes is a finding too.
  ASAN_OPTIONS=detect_leaks=1 build/fuzz/tests/fuzz/elmq_fuzz_$t "$corpus" \
    -max_total_time="$SECONDS_EACH" -jobs=2 -workers=2 -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="build/fuzz/findings/$t-" -print_final_stats=1 \
    > "build/fuzz/$t.log" 2>&1 || status=1
  grep -h -E "stat::|Done|ERROR|SUMMARY" build/fuzz/$t.log fuzz-*.log 2>/dev/null | tail -12 || true
  rm -f fuzz-*.log
done
if [ -n "$(ls -A build/fuzz/findings)" ]; then
  echo "fuzz: findings in build/fuzz/findings:"; ls build/fuzz/findings; status=1
else
  echo "fuzz: no finding"
fi
exit $status
