"""From per-seed records to the report's rows: mean and std over seeds, the Pareto front of
accuracy against model bytes, and the generated summary (who wins which criterion)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from .records import Record

#: "Within 1 point of the best accuracy".
ACCURACY_MARGIN = 0.01
#: "Low-bit models": at most this many bits per parameter (file overhead included).
LOW_BITS = 5.0
DEEP_GROUPS = ("mlp", "torch")


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (0 for one value) over seeds."""

    mean: float
    std: float
    values: tuple[float, ...]

    @staticmethod
    def of(values: list[float]) -> Stat | None:
        if not values:
            return None
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return Stat(statistics.fmean(values), std, tuple(values))

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "n": len(self.values),
                "values": list(self.values)}


@dataclass
class ModelRow:
    """One model (data set, group, model, format, method) over its seeds."""

    dataset: str
    group: str
    model: str
    format: str
    method: str
    seeds: tuple[int, ...]
    n_weights: int
    accuracy: Stat
    bytes: Stat
    bits_per_weight: Stat
    train_seconds: Stat | None
    accuracy_change: Stat | None  # accuracy minus its FP32 model's, seed by seed (not FP32 rows)
    quantize_seconds: Stat | None
    throughput_rows_per_second: Stat | None
    latency_p50_us: Stat | None
    latency_p99_us: Stat | None
    pareto: bool = False  # on the accuracy-vs-bytes front of its data set
    best_method: bool = False  # the most accurate method of its model and format (of several)

    @property
    def is_elm(self) -> bool:
        return self.group == "elm"

    @property
    def label(self) -> str:
        suffix = {"-": "", "cast": ""}.get(self.method, f" {self.method}")
        source = " (PyTorch)" if self.group == "torch" else ""
        return f"{self.model}{source} {self.format}{suffix}"

    def to_dict(self) -> dict:
        stats = ("accuracy", "bytes", "bits_per_weight", "train_seconds", "accuracy_change",
                 "quantize_seconds",
                 "throughput_rows_per_second", "latency_p50_us", "latency_p99_us")
        out = {k: getattr(self, k) for k in ("dataset", "group", "model", "format", "method",
                                             "n_weights", "pareto", "best_method")}
        out["label"] = self.label
        out["seeds"] = list(self.seeds)
        for k in stats:
            s = getattr(self, k)
            out[k] = s.to_dict() if s is not None else None
        return out


def aggregate(records: list[Record]) -> list[ModelRow]:
    """The measured rows, in the order their first record came (the run order)."""
    ok = [r for r in records if r.status == "ok"]
    bases = {_base_key(r): r for r in ok if r.identity.format == "fp32"}
    groups: dict[_Key, list[Record]] = {}
    for r in ok:
        i = r.identity
        groups.setdefault((i.dataset, i.group, i.model, i.format, i.method), []).append(r)
    rows = [_row(key, rs, bases) for key, rs in groups.items()]
    _mark_pareto(rows)
    _mark_best_methods(rows)
    return rows


_Key = tuple[str, str, str, str, str]  # dataset, group, model, format, method


def _base_key(r: Record) -> tuple[str, str, str, int]:
    """What a model shares with the FP32 model it was made from."""
    i = r.identity
    return i.dataset, i.group, i.model, i.seed


def _row(key: _Key, rs: list[Record], bases: dict[tuple, Record]) -> ModelRow:
    """The row of one model from its records; training time and accuracy change from the FP32
    model of each seed."""
    def stat(get: Callable[[Record], float | None]) -> Stat | None:
        return Stat.of([v for v in map(get, rs) if v is not None])

    def need(get: Callable[[Record], float | None]) -> Stat:
        s = stat(get)
        if s is None:
            raise ValueError(f"{key}: measured runs without a required figure")
        return s

    def base_train(r: Record) -> float | None:
        base = bases.get(_base_key(r))
        return base.train_seconds if base else None

    def change(r: Record) -> float | None:
        base = bases.get(_base_key(r))
        if r.identity.format == "fp32" or base is None:
            return None
        if r.accuracy is None or base.accuracy is None:
            return None
        return r.accuracy - base.accuracy

    dataset, group, model, fmt, method = key
    return ModelRow(
        dataset, group, model, fmt, method, tuple(r.identity.seed for r in rs),
        rs[0].n_weights or 0,
        need(lambda r: r.accuracy), need(lambda r: r.bytes), need(lambda r: r.bits_per_weight),
        stat(base_train), stat(change), stat(lambda r: r.quantize_seconds),
        stat(lambda r: r.throughput_rows_per_second), stat(lambda r: r.latency_p50_us),
        stat(lambda r: r.latency_p99_us))


def _mark_pareto(rows: list[ModelRow]) -> None:
    """A row is on the front of its data set if no other row is at most as large and at least
    as accurate, and strictly better in one of the two."""
    for r in rows:
        r.pareto = not any(
            o is not r and o.dataset == r.dataset
            and o.bytes.mean <= r.bytes.mean and o.accuracy.mean >= r.accuracy.mean
            and (o.bytes.mean < r.bytes.mean or o.accuracy.mean > r.accuracy.mean)
            for o in rows)


def _mark_best_methods(rows: list[ModelRow]) -> None:
    by_format: dict[tuple, list[ModelRow]] = {}
    for r in rows:
        by_format.setdefault((r.dataset, r.group, r.model, r.format), []).append(r)
    for candidates in by_format.values():
        if len(candidates) > 1:
            max(candidates, key=lambda r: r.accuracy.mean).best_method = True


# ---------------------------------------------------------------- the summary

def _mean(s: Stat | None) -> float | None:
    return s.mean if s is not None else None


@dataclass(frozen=True)
class Criterion:
    name: str
    value: Callable[[ModelRow], float | None]  # the row's mean figure
    unit: str  # "accuracy", "seconds", "bytes", "us", "rows/s"
    higher_is_better: bool
    eligible: Callable[[ModelRow, float], bool] = lambda row, best: True  # best: best accuracy


def _near_best(row: ModelRow, best: float) -> bool:
    return row.accuracy.mean >= best - ACCURACY_MARGIN


CRITERIA = (
    Criterion("best accuracy", lambda r: r.accuracy.mean, "accuracy", True),
    Criterion("fastest to train (FP32 training)", lambda r: _mean(r.train_seconds), "seconds",
              False, lambda r, best: r.format == "fp32"),
    Criterion("fastest to train within 1 point of the best accuracy",
              lambda r: _mean(r.train_seconds), "seconds", False,
              lambda r, best: r.format == "fp32" and _near_best(r, best)),
    Criterion("smallest model within 1 point of the best accuracy", lambda r: r.bytes.mean,
              "bytes", False, _near_best),
    Criterion("fastest one-row prediction (p50) within 1 point of the best accuracy",
              lambda r: _mean(r.latency_p50_us), "us", False, _near_best),
    Criterion("highest batch throughput within 1 point of the best accuracy",
              lambda r: _mean(r.throughput_rows_per_second), "rows/s", True, _near_best),
    Criterion(f"best accuracy at <= {LOW_BITS:g} bits per parameter", lambda r: r.accuracy.mean,
              "accuracy", True, lambda r, best: r.bits_per_weight.mean <= LOW_BITS),
)


@dataclass(frozen=True)
class Claim:
    criterion: str
    elm: ModelRow | None  # the best ELM row for the criterion (None: no eligible row)
    deep: ModelRow | None  # the best deep-model row (elmq MLP or PyTorch)
    unit: str
    elm_value: float | None
    deep_value: float | None
    winner: str  # "ELM", "deep model", "tie" or "n/a"

    def to_dict(self) -> dict:
        return {"criterion": self.criterion, "unit": self.unit, "winner": self.winner,
                "elm": self.elm.label if self.elm else None, "elm_value": self.elm_value,
                "deep": self.deep.label if self.deep else None, "deep_value": self.deep_value}


@dataclass
class DatasetSummary:
    dataset: str
    best_accuracy: float
    claims: list[Claim] = field(default_factory=list)

    def wins(self, winner: str) -> list[Claim]:
        return [c for c in self.claims if c.winner == winner]

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "best_accuracy": self.best_accuracy,
                "claims": [c.to_dict() for c in self.claims]}


def summarize(rows: list[ModelRow]) -> list[DatasetSummary]:
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    return [_summarize_dataset(d, [r for r in rows if r.dataset == d]) for d in datasets]


def _summarize_dataset(dataset: str, rows: list[ModelRow]) -> DatasetSummary:
    best = max(r.accuracy.mean for r in rows)
    summary = DatasetSummary(dataset, best)
    elm_rows = [r for r in rows if r.is_elm]
    deep_rows = [r for r in rows if r.group in DEEP_GROUPS]
    for c in CRITERIA:
        elm, ev = _best(c, elm_rows, best)
        deep, dv = _best(c, deep_rows, best)
        # A side without any row in this run cannot lose; one whose rows are all ineligible can.
        winner = (_winner(ev, dv, c.higher_is_better) if elm_rows and deep_rows else "n/a")
        summary.claims.append(Claim(c.name, elm, deep, c.unit, ev, dv, winner))
    return summary


def _best(c: Criterion, rows: list[ModelRow],
          best_accuracy: float) -> tuple[ModelRow | None, float | None]:
    """The eligible row with the best value, and the value."""
    scored = [(r, v) for r in rows
              if (v := c.value(r)) is not None and c.eligible(r, best_accuracy)]
    if not scored:
        return None, None
    pick = max if c.higher_is_better else min
    return pick(scored, key=lambda rv: rv[1])


def _winner(elm: float | None, deep: float | None, higher_is_better: bool) -> str:
    if elm is None and deep is None:
        return "n/a"
    if deep is None:
        return "ELM"
    if elm is None:
        return "deep model"
    if elm == deep:
        return "tie"
    return "ELM" if (elm > deep) == higher_is_better else "deep model"
