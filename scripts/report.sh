#!/usr/bin/env bash
# The README's main command: installs what is missing, builds elmq in Release
# and runs the main job: train and evaluate an ELM on Fashion-MNIST
# (60k train / 10k test) from the CLI, printing accuracy and timings.
# Extra arguments go to `elmq train` (e.g. --hidden 4000:tanh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${ELMQ_JOBS:-$(nproc)}"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Relative paths in ccache's keys: clones in other folders share the cache.
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=true
fi
cmake -S "$ROOT" -B build/release -DCMAKE_BUILD_TYPE=Release -DELMQ_NATIVE=ON "${launcher[@]}" >/dev/null
cmake --build build/release -j"$JOBS" --target elmq_cli
mkdir -p report
build/release/cli/elmq train --dataset fashion-mnist --hidden 2000:tanh -o report/fashion-mnist-elm2000.elmq "$@"
build/release/cli/elmq eval report/fashion-mnist-elm2000.elmq --dataset fashion-mnist
