#!/usr/bin/env bash
# Issue-2 training benchmark, one run: elmq built with OpenBLAS and with pure
# Eigen, against the GEMM floor and against the numpy ELM (same machine, same
# session). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset here only (they pin
# older OpenBLAS kernels on some machines); tests and CI never change them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh" >/dev/null
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
for blas in ON OFF; do
  cmake -S . -B "build/bench-blas-$blas" -DCMAKE_BUILD_TYPE=Release -DELMQ_NATIVE=ON \
    -DELMQ_USE_BLAS=$blas -DELMQ_BUILD_TESTS=OFF -DELMQ_BUILD_EXAMPLES=OFF -DELMQ_BUILD_CLI=OFF \
    "${launcher[@]}" >/dev/null
  cmake --build "build/bench-blas-$blas" --target elmq_bench_train -j"$(nproc)" >/dev/null
done
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
for blas in ON OFF; do
  echo "=== elmq, ELMQ_USE_BLAS=$blas"
  "build/bench-blas-$blas/bench/elm/elmq_bench_train" "$@" 2>&1 | sed -n '/=== summary/,$p'
done
echo "=== numpy ELM (same data, L=2000, fixed lambda)"
"$ROOT/.venv/bin/python" bench/elm/numpy_elm.py --hidden 2000
