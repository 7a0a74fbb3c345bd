"""Runs the experiments in order, with a cache and progress output.

Each experiment's records are cached as report/cache/runs/<hash>.json, the hash taken over
its key and the elmq build (version and executable hash: a rebuilt elmq runs everything
again). With resume=True a cached result is reused when the files it made for later
experiments are still there; failed experiments are never cached, so a resumed run retries
them.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .datasets import DataUnavailable
from .experiments import Experiment
from .records import Record
from .tools import ToolError


@dataclass(frozen=True)
class Cache:
    root: Path  # report/cache
    build: str  # Elmq.build_id(): results of another build are not reused

    def _path(self, exp: Experiment) -> Path:
        text = json.dumps({"key": exp.key, "elmq": self.build}, sort_keys=True)
        return self.root / "runs" / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.json"

    def load(self, exp: Experiment) -> list[Record] | None:
        path = self._path(exp)
        if not path.exists() or not all(p.exists() for p in exp.makes):
            return None
        records = [Record.from_dict(d) for d in json.loads(path.read_text())["records"]]
        for r in records:
            r.cached = True
        return records

    def store(self, exp: Experiment, records: list[Record]) -> None:
        path = self._path(exp)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"title": exp.title, "key": exp.key, "elmq": self.build,
                                    "records": [r.to_dict() for r in records]}, indent=1))


@dataclass
class Progress:
    """Lines like "[ 3/40] train fashion-mnist ELM L=500 fp32 seed 0: ok, 9.1 s | elapsed 0:25,
    remaining ~4:10". The estimate scales the experiments' a-priori costs by the ratio of
    measured to estimated time so far."""

    experiments: list[Experiment]
    out: TextIO = sys.stderr
    start: float = field(default_factory=time.perf_counter)
    measured: float = 0.0
    estimated: float = 0.0

    def done(self, index: int, seconds: float, status: str, cached: bool) -> None:
        exp = self.experiments[index]
        if not cached:
            self.measured += seconds
            self.estimated += exp.estimate_seconds
        ratio = self.measured / self.estimated if self.estimated > 0 else 1.0
        remaining = ratio * sum(e.estimate_seconds for e in self.experiments[index + 1:])
        what = "cached" if cached else f"{status}, {seconds:.1f} s"
        n = len(self.experiments)
        print(f"[{index + 1:>{len(str(n))}}/{n}] {exp.title}: {what} | elapsed "
              f"{_clock(time.perf_counter() - self.start)}, remaining ~{_clock(remaining)}",
              file=self.out, flush=True)


def _clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    h, rest = divmod(round(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run_all(experiments: list[Experiment], cache: Cache, resume: bool) -> list[Record]:
    progress = Progress(experiments)
    records: list[Record] = []
    shown: set[str] = set()  # notes are printed once (e.g. the same missing eval for every run)
    for i, exp in enumerate(experiments):
        start = time.perf_counter()
        cached = cache.load(exp) if resume else None
        result = cached if cached is not None else _run_one(exp)
        if cached is None and all(r.status == "ok" for r in result):
            cache.store(exp, result)
        records += result
        status = ", ".join(sorted({r.status for r in result}))
        progress.done(i, time.perf_counter() - start, status, cached is not None)
        for message in sorted({r.message for r in result if r.message} - shown):
            print(f"    {message}", file=progress.out, flush=True)
            shown.add(message)
    return records


def _run_one(exp: Experiment) -> list[Record]:
    missing = [p for p in exp.needs if not p.exists()]
    if missing:
        return _failed(exp, "skipped", f"needs {missing[0].name}, which an earlier experiment "
                                       "did not make")
    try:
        return exp.action()
    except ToolError as e:
        return _failed(exp, "rejected" if e.rejected else "failed", str(e))
    except DataUnavailable as e:
        return _failed(exp, "unavailable", str(e))
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        return _failed(exp, "failed", f"{type(e).__name__}: {e}")


def _failed(exp: Experiment, status: str, message: str) -> list[Record]:
    return [Record(ident, status=status, message=message) for ident in exp.produces]
