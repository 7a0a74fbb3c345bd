"""Checks a report directory written by bench/report/run_report.py (used by test_report.sh).

    check_report.py OUT                          results.json against the schema, files, HTML
    check_report.py OUT --all-cached             ... and every measured run came from the cache
    check_report.py OUT --same-accuracy-as FILE  ... and accuracies equal those in FILE (same runs)
    check_report.py OUT --dom DOM.html           the DOM Chromium rendered has every section

Prints one line per failed check and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parents[2] / "bench" / "report" / "schema.json"


def check_results(out: Path, results: dict) -> list[str]:
    problems = []
    try:
        jsonschema.validate(results, json.loads(SCHEMA.read_text()))
    except jsonschema.ValidationError as e:
        problems.append(f"schema: {e.message} at {list(e.absolute_path)}")
    datasets = [d["name"] for d in results["settings"]["datasets"]]
    for d in datasets:
        if not any(m["dataset"] == d and m["group"] == "elm" for m in results["models"]):
            problems.append(f"no ELM row for {d}")
    failed = [r for r in results["runs"] if r["status"] == "failed"]
    problems += [f"run failed: {r['dataset']} {r['model']} {r['format']}: {r['message']}"
                 for r in failed]
    # Runs measured by `elmq eval` report the kernel path, so the machine table need not infer it.
    if any(r["status"] == "ok" and r.get("kernel_path") for r in results["runs"]):
        if results["machine"]["simd_path"].get("source") != "reported by elmq":
            problems.append(f"machine.simd_path not from the runs: {results['machine']['simd_path']}")
    elif any(r["status"] == "ok" and not r["cached"] for r in results["runs"]):
        problems.append("no run reports its kernel path (elmq eval --json: kernel_path)")
    for name in ("index.html", "report.md", "results.json"):
        if not (out / name).is_file():
            problems.append(f"missing {name}")
    figures = [f for figs in results["figures"].values() for f in figs]
    problems += [f"missing plots/{f}" for f in figures if not (out / "plots" / f).is_file()]
    html = (out / "index.html").read_text(encoding="utf-8")
    inlined = html.count('src="data:image/svg+xml;base64,')
    if inlined != len(figures):
        problems.append(f"index.html inlines {inlined} figures, results.json lists {len(figures)}")
    if re.search(r'(src|href)="(?!data:|#)', html):
        problems.append("index.html refers to an outside resource (it must be self-contained)")
    return problems


def check_cached(results: dict) -> list[str]:
    return [f"not from the cache: {r['dataset']} {r['model']} {r['format']} seed {r['seed']}"
            for r in results["runs"] if r["status"] == "ok" and not r["cached"]]


def _accuracies(results: dict) -> dict[tuple, float]:
    return {(r["dataset"], r["group"], r["model"], r["format"], r["method"], r["seed"]):
            r["accuracy"] for r in results["runs"] if r["status"] == "ok"}


def check_same_accuracy(results: dict, other: dict) -> list[str]:
    mine, theirs = _accuracies(results), _accuracies(other)
    common = mine.keys() & theirs.keys()
    if not common:
        return ["no run in common to compare"]
    return [f"{k}: accuracy {mine[k]} here, {theirs[k]} before" for k in sorted(common)
            if mine[k] != theirs[k]]


def check_dom(results: dict, dom: str) -> list[str]:
    ids = ["summary", "families", "machine", *(d["name"] for d in results["settings"]["datasets"])]
    problems = [f"the rendered page lacks the section id={i}" for i in ids
                if f'id="{i}"' not in dom]
    if dom.count("<img") != sum(len(f) for f in results["figures"].values()):
        problems.append("the rendered page does not show every figure")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--all-cached", action="store_true")
    p.add_argument("--same-accuracy-as", type=Path)
    p.add_argument("--dom", type=Path)
    args = p.parse_args()
    results = json.loads((args.out / "results.json").read_text())
    if args.dom:
        problems = check_dom(results, args.dom.read_text(encoding="utf-8"))
    else:
        problems = check_results(args.out, results)
    if args.all_cached:
        problems += check_cached(results)
    if args.same_accuracy_as:
        problems += check_same_accuracy(results, json.loads(args.same_accuracy_as.read_text()))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
