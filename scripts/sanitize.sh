#!/usr/bin/env bash
# The C++ suite under AddressSanitizer and UndefinedBehaviorSanitizer (not part
# of CI: a cold build takes most of an hour on two cores).
#
#   scripts/sanitize.sh [CTEST_ARGS ...]        e.g. scripts/sanitize.sh -R 'QGemm|Online'
#
# Installs what is missing (scripts/setup.sh), builds build/asan with GCC
# (-fsanitize=address,undefined, RelWithDebInfo with assertions; pure Eigen, so
# that every product is instrumented; the AVX-VNNI and AVX-512 BF16 kernels
# emulated, so that they run on any AVX2 CPU) and runs CTest there: the
# GoogleTest suites, the CLI test, the examples and the fuzz targets' replays.
# UBSan stops at its first report and ASan reports leaks, so any finding fails
# the run (exit status of CTest).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"  # ROOT, VENV, JOBS, launcher

"$ROOT/scripts/setup.sh"
export VIRTUAL_ENV="$VENV"  # lets the C++ data registry find scikit-learn's data sets
cmake -S "$ROOT" -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DELMQ_ASSERTIONS=ON \
  -DELMQ_NATIVE=ON -DELMQ_USE_BLAS=OFF -DELMQ_BUILD_BENCH=OFF -DELMQ_AVXVNNI_EMULATION=ON \
  -DELMQ_AVX512BF16_EMULATION=ON -DELMQ_TEST_TIMEOUT_SCALE=10 \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  "${launcher[@]}" >/dev/null
cmake --build build/asan -j"$JOBS"

export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir build/asan --output-on-failure -j"$JOBS" "$@"
echo "sanitize: no finding"
