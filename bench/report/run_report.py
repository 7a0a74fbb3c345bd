#!/usr/bin/env python3
"""The elmq benchmark report: ELMs against quantized deep models (issue 8).

Runs the experiments with a built `elmq` executable (and PyTorch from its own virtual
environment, when there), then writes to --out (default: report/ at the repository root):
index.html (self-contained), report.md, results.json (every figure, with units, seeds and
the machine) and plots/*.svg. scripts/report.sh builds elmq and calls this script.

    run_report.py                       # default: ~15 minutes on 2 cores
    run_report.py --quick               # ~2 minutes
    run_report.py --full                # more sizes, formats and seeds (long)
    run_report.py --tiny                # the test mode: digits and iris, < 1 minute
    run_report.py --resume              # reuse report/cache/ results of the same parameters
    run_report.py --only elm --datasets digits,iris

Progress goes to stderr; the summary table is printed on stdout at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from elmq_report import analysis, experiments, machine, plots, render, runner
from elmq_report.settings import (
    ALL_DATASETS,
    CALIBRATION_ROWS,
    GROUPS,
    PRESETS,
    SPLIT_SEED,
    TEST_FRACTION,
    RunSettings,
)
from elmq_report.tools import Elmq

ROOT = Path(__file__).resolve().parents[2]
#: Environment of every timed process, recorded in results.json. Passive OpenMP waiting keeps
#: PyTorch's thread pool from spinning against other processes on a shared machine (it was
#: 30x slower on small batches without it); elmq's processes get the same setting.
_ENVIRONMENT_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}
_ENVIRONMENT_RECORDED = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                         "ELMQ_KERNEL_PATH")
SCHEMA = Path(__file__).resolve().parent / "schema.json"
#: Set by scripts/report.sh: the command the user typed, recorded in the report.
COMMAND_ENV = "ELMQ_REPORT_COMMAND"


def _list(choices: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"{', '.join(bad) or 'empty list'}: choose from {', '.join(choices)}")
        return items
    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="presets:\n" + "\n".join(
                                    f"  {p.name:8} {p.description}" for p in PRESETS.values()))
    size = p.add_mutually_exclusive_group()
    for name in ("tiny", "quick", "full"):
        size.add_argument(f"--{name}", dest="preset", action="store_const", const=name,
                          help=PRESETS[name].description)
    p.set_defaults(preset="default")
    p.add_argument("--datasets", type=_list(ALL_DATASETS),
                   help="comma-separated subset of the preset's data sets "
                        f"({', '.join(ALL_DATASETS)})")
    p.add_argument("--only", type=_list(GROUPS),
                   help="comma-separated experiment groups: elm (FP32 and quantized ELMs), mlp "
                        "(the elmq MLP and its quantized forms), torch (the PyTorch reference)")
    p.add_argument("--seed", type=int, default=0, help="first seed (seeds are SEED, SEED+1, ...)")
    p.add_argument("--seeds", type=int, help="number of seeds (default: the preset's)")
    p.add_argument("--threads", type=int, default=0,
                   help="threads for training and batch prediction (0: all cores)")
    p.add_argument("--resume", action="store_true",
                   help="reuse the cached result of every experiment already run with the same "
                        "parameters (OUT/cache)")
    p.add_argument("--out", type=Path, default=ROOT / "report", help="output directory")
    p.add_argument("--elmq", type=Path, default=ROOT / "build" / "release" / "cli" / "elmq",
                   help="the elmq executable")
    p.add_argument("--torch-python", type=Path,
                   default=ROOT / "build" / "torch-venv" / "bin" / "python",
                   help="Python of the virtual environment holding PyTorch")
    args = p.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        p.error("--seeds must be at least 1")
    if args.threads < 0:
        p.error("--threads must be >= 0")
    return args


def _settings_dict(s: RunSettings, threads: int) -> dict:
    return {"datasets": [asdict(d) for d in s.datasets], "groups": list(s.groups),
            "seeds": list(s.seeds), "formats": list(s.preset.formats),
            "measurement": asdict(s.preset.measurement),
            "calibration_rows": CALIBRATION_ROWS, "threads": threads,
            "test_fraction": TEST_FRACTION, "split_seed": SPLIT_SEED,
            "environment": {k: os.environ.get(k) for k in _ENVIRONMENT_RECORDED}}


def _validate(document: dict) -> str:
    """Checks results.json against schema.json; returns a problem, or "" when it conforms."""
    try:
        import jsonschema  # noqa: PLC0415 (optional here; the test requires it)
    except ImportError:
        return "jsonschema is not installed: results.json was not validated"
    try:
        jsonschema.validate(json.loads(json.dumps(document)), json.loads(SCHEMA.read_text()))
    except jsonschema.ValidationError as e:
        return f"results.json does not match schema.json: {e.message} at {list(e.absolute_path)}"
    return ""


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    load_at_start = list(os.getloadavg())
    try:
        settings = RunSettings.build(args.preset, args.datasets, args.only, args.seed, args.seeds)
    except ValueError as e:
        print(f"run_report.py: {e}", file=sys.stderr)
        return 2
    if not os.access(args.elmq, os.X_OK):
        print(f"run_report.py: {args.elmq} is not an executable (build the target elmq_cli; "
              "scripts/report.sh does)", file=sys.stderr)
        return 2

    for key, value in _ENVIRONMENT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    elmq = Elmq(args.elmq.resolve())
    version = elmq.version()
    caps = {c: elmq.capability(c) for c in ("train", "eval", "quantize", "train-mlp")}
    work = args.out / "cache"
    ctx = experiments.Context(elmq, settings, work.resolve(), args.threads, caps,
                              experiments.probe_torch(args.torch_python))
    families, plan = experiments.plan(ctx)
    for f in families:
        print(f"{f.title}: {'runs' if f.available else f.reason}", file=sys.stderr)
    print(f"{len(plan)} experiments (preset {settings.preset.name}, seeds "
          f"{', '.join(map(str, settings.seeds))})", file=sys.stderr)

    records = runner.run_all(plan, runner.Cache(work, elmq.build_id()), args.resume)
    rows = analysis.aggregate(records)
    summaries = analysis.summarize(rows)
    for old in (args.out / "plots").glob("*.svg"):
        old.unlink()
    figures = plots.make_figures(rows, args.out / "plots")
    kernel_paths = [r.kernel_path for r in records if r.kernel_path]
    report = render.Report(
        command_line=os.environ.get(COMMAND_ENV) or shlex.join([sys.executable, *sys.argv]),
        argv=list(sys.argv), preset=settings.preset.name,
        preset_description=settings.preset.description,
        settings=_settings_dict(settings, args.threads),
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        elapsed_seconds=time.perf_counter() - start,
        machine=machine.describe(elmq.path, version, ctx.torch.version, kernel_paths,
                                 load_at_start),
        tools={c: cap.to_dict() for c, cap in caps.items()},
        families=families, records=records, rows=rows, summaries=summaries, figures=figures)

    document = render.results_document(report)
    render.write_results(args.out / "results.json", document)
    render.write_html(args.out / "index.html", report)
    render.write_markdown(args.out / "report.md", report)
    problem = _validate(document)
    print(render.summary_markdown(report))
    print(f"report: {args.out / 'index.html'} ({len(rows)} models, "
          f"{sum(r.status == 'ok' for r in records)}/{len(records)} runs measured, "
          f"{report.elapsed_seconds:.0f} s)", file=sys.stderr)
    if problem:
        print(f"run_report.py: {problem}", file=sys.stderr)
    return 1 if problem and "not installed" not in problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
