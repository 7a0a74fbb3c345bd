#!/usr/bin/env bash
# The README's test command: installs what is missing, builds elmq in Release
# with assertions, and runs every test:
#   1. the C++ suite (GoogleTest via CTest, CLI and example runs included);
#   2. an installed-package consumer (find_package(elmq));
#   3. the portable build (ELMQ_NATIVE=OFF) and its C++ suite, with the AVX-VNNI
#      kernels' vpdpbusd and the AVX-512 BF16 kernels' vdpbf16ps emulated by
#      AVX2 (ELMQ_AVXVNNI_EMULATION, ELMQ_AVX512BF16_EMULATION), so that they
#      are tested on CPUs without them (the native build tests the real ones);
#   4. the Python package (pip install .) and its pytest suite.
# Environment: ELMQ_JOBS (parallel jobs), ELMQ_SKIP_PORTABLE=1, ELMQ_SKIP_PYTHON=1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"  # ROOT, VENV, JOBS, launcher

"$ROOT/scripts/setup.sh"
export VIRTUAL_ENV="$VENV"  # lets the C++ data registry find scikit-learn's data sets

step() { echo; echo "=== test: $* ($(date +%H:%M:%S))"; }

step "configure and build (Release, assertions on, native)"
cmake -S "$ROOT" -B build/test -DCMAKE_BUILD_TYPE=Release -DELMQ_ASSERTIONS=ON -DELMQ_NATIVE=ON \
  "${launcher[@]}" >/dev/null
cmake --build build/test -j"$JOBS"

step "C++ tests"
ctest --test-dir build/test --output-on-failure -j"$JOBS"

step "installed package consumer"
rm -rf build/test/install build/test/consumer
cmake --install build/test --prefix build/test/install >/dev/null
cmake -S tests/consumer -B build/test/consumer -DCMAKE_PREFIX_PATH="$ROOT/build/test/install" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build/test/consumer -j"$JOBS" >/dev/null
build/test/consumer/consumer

if [ "${ELMQ_SKIP_PORTABLE:-0}" != 1 ]; then
  step "portable build (ELMQ_NATIVE=OFF, no OpenBLAS, AVX-VNNI and AVX-512 BF16 emulated) and its C++ tests"
  cmake -S "$ROOT" -B build/test-portable -DCMAKE_BUILD_TYPE=Release -DELMQ_ASSERTIONS=ON \
    -DELMQ_NATIVE=OFF -DELMQ_USE_BLAS=OFF -DELMQ_BUILD_BENCH=OFF -DELMQ_BUILD_EXAMPLES=OFF \
    -DELMQ_BUILD_CLI=OFF -DELMQ_AVXVNNI_EMULATION=ON \
    -DELMQ_AVX512BF16_EMULATION=ON "${launcher[@]}" >/dev/null
  cmake --build build/test-portable -j"$JOBS"
  ctest --test-dir build/test-portable --output-on-failure -j"$JOBS"
fi

if [ "${ELMQ_SKIP_PYTHON:-0}" != 1 ] && [ -f pyproject.toml ]; then
  step "Python package: pip install . (isolated PEP 517 build)"
  "$VENV/bin/python" -m pip install -q "$ROOT"
  step "Python tests"
  export ELMQ_CLI="$ROOT/build/test/cli/elmq"
  "$VENV/bin/python" -m pytest -q python/tests
fi
step "all tests passed"
