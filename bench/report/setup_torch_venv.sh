#!/usr/bin/env bash
# Creates the virtual environment of the report's PyTorch reference rows
# (bench/report/torch_reference.py): build/torch-venv with the CPU build of
# PyTorch and numpy. PyTorch is never a dependency of elmq itself.
# Safe to run again: it only installs what is missing. Exits 0 even when the
# install fails (the report then says PyTorch is not available and goes on).
# Usage: setup_torch_venv.sh [VENV_DIR]   (default: build/torch-venv)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/build/torch-venv}"
TORCH_VERSION=2.13.0

if "$VENV/bin/python" -c "import torch, numpy; assert torch.__version__.startswith('$TORCH_VERSION')" \
    2>/dev/null; then
  exit 0
fi
echo "setup_torch_venv: installing torch==$TORCH_VERSION (CPU) and numpy into $VENV"
if ! { python3 -m venv "$VENV" &&
       "$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION" numpy; }; then
  echo "setup_torch_venv: could not install PyTorch; the report will run without its rows" >&2
fi
exit 0
