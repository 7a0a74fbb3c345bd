#!/usr/bin/env bash
# Installs what elmq needs on a Debian machine, when missing:
#   - Debian packages (compiler, CMake, Eigen, GoogleTest, Google Benchmark, zlib,
#     OpenBLAS, the Fashion-MNIST data set, Python venv support, Chromium for the
#     report test);
#   - a virtual environment at .venv with numpy, scikit-learn and the test tools.
# Safe to run again: it only installs what is missing. Arguments name extra
# Debian packages to install the same way (scripts/fuzz.sh: clang).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ELMQ_VENV:-$ROOT/.venv}"

apt_packages=(build-essential cmake pkg-config libeigen3-dev libgtest-dev libbenchmark-dev
              zlib1g-dev libopenblas-dev dataset-fashion-mnist python3-dev python3-venv ccache
              chromium fonts-dejavu-core "$@")
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating the virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
# Requirements for tests and reports (not for using the library).
if ! "$VENV/bin/python" -c "import numpy, sklearn, pytest, scipy" 2>/dev/null || \
   ! cmp -s "$ROOT/scripts/requirements-dev.txt" "$VENV/.elmq-requirements" ; then
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$ROOT/scripts/requirements-dev.txt"
  cp "$ROOT/scripts/requirements-dev.txt" "$VENV/.elmq-requirements"
fi
echo "setup: ok ($(cmake --version | head -1), $("$VENV/bin/python" --version))"
