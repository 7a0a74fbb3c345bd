#!/usr/bin/env bash
# The README's main command: installs what is missing, builds elmq in Release and
# produces the benchmark report (ELMs vs quantized deep models) in report/:
# index.html, report.md, results.json and plots/. PyTorch, the external reference,
# goes into its own environment build/torch-venv (never a dependency of elmq);
# without it the report says so and goes on.
# Arguments go to bench/report/run_report.py: --quick, --full, --resume,
# --only elm, --datasets digits,iris, ... (see --help).
# Environment: ELMQ_JOBS (build jobs), ELMQ_REPORT_NO_TORCH=1 (skip PyTorch).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"  # ROOT, VENV, JOBS, launcher
for a in "$@"; do
  if [[ $a == -h || $a == --help ]]; then exec "$VENV/bin/python" bench/report/run_report.py --help; fi
done
"$ROOT/scripts/setup.sh"
echo "report: building elmq (Release, build/release)"
cmake -S "$ROOT" -B build/release -DCMAKE_BUILD_TYPE=Release -DELMQ_NATIVE=ON "${launcher[@]}" >/dev/null
cmake --build build/release -j"$JOBS" --target elmq_cli
if [ "${ELMQ_REPORT_NO_TORCH:-0}" != 1 ]; then
  bench/report/setup_torch_venv.sh build/torch-venv
  # The PyTorch rows of the scikit-learn data sets need elmq's own split of them,
  # which the elmq Python package writes.
  if ! "$VENV/bin/python" -c "import elmq" 2>/dev/null; then
    echo "report: installing the elmq Python package into $VENV (pip install .)"
    "$VENV/bin/python" -m pip install -q "$ROOT"
  fi
fi
export ELMQ_REPORT_COMMAND="scripts/report.sh${*:+ $*}"
export VIRTUAL_ENV="$VENV"  # lets elmq's data registry find scikit-learn's data sets
exec "$VENV/bin/python" bench/report/run_report.py --elmq build/release/cli/elmq \
  --torch-python build/torch-venv/bin/python "$@"
