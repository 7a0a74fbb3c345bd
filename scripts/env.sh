# Sourced by the scripts in this folder: sets ROOT (and changes to it), VENV
# (ELMQ_VENV or .venv), JOBS (ELMQ_JOBS or the core count) and `launcher`, the
# CMake arguments that put ccache in front of the compiler when it is
# installed (with paths relative to ROOT in its keys, so that clones in other
# folders share the cache).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ELMQ_VENV:-$ROOT/.venv}"
JOBS="${ELMQ_JOBS:-$(nproc)}"
cd "$ROOT"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=true
fi
