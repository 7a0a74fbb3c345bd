"""The report's figures (matplotlib, Agg backend), one set per data set, written as SVG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from .analysis import ModelRow, Stat
from .settings import FLOAT_FORMATS, GROUP_TITLES

_COLORS = {"elm": "#1f5fa8", "mlp": "#c0392b", "torch": "#e67e22"}
_MARKERS = {"elm": "o", "mlp": "s", "torch": "^"}
_METHOD_STYLES = {"rtn": "-", "rtn+resolve": "-.", "gptq+resolve": "--", "gptq": "--",
                  "awq": ":", "rtn+static": "-.", "dynamic": "-", "static": "--"}
_FLOAT_FORMATS = ("fp32", *FLOAT_FORMATS)  # no method: on every method's line


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, e.g. "fashion-mnist-accuracy-vs-bytes"
    title: str
    path: Path  # the SVG file


def make_figures(rows: list[ModelRow], out_dir: Path) -> dict[str, list[Figure]]:
    """Every figure of every data set in `rows`, by data set."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.grid": True,
                         "grid.alpha": 0.3})
    figures: dict[str, list[Figure]] = {}
    for dataset in dict.fromkeys(r.dataset for r in rows):
        mine = [r for r in rows if r.dataset == dataset]
        figures[dataset] = [_save(out_dir, dataset, kind, mine) for kind in _KINDS]
    return figures


def _save(out_dir: Path, dataset: str, kind: _Kind, rows: list[ModelRow]) -> Figure:
    name, title, draw = kind
    fig = plt.figure(figsize=(7.5, 4.2))
    draw(fig, rows)
    fig.suptitle(f"{dataset}: {title}", fontsize=10)
    fig.tight_layout()
    stem = f"{dataset}-{name}"
    path = out_dir / f"{stem}.svg"
    plt.rcParams["svg.hashsalt"] = stem  # stable ids: the same numbers give the same file
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return Figure(stem, f"{dataset}: {title}", path)


#: Accuracy axes show at most this many points below the best model; models further
#: down (e.g. a ternary ELM whose beta was rounded without a re-solve) are drawn as
#: down-pointing markers on the lower edge, so that they do not flatten the rest.
_ACCURACY_SPAN = 25.0


def _accuracy_floor(rows: list[ModelRow]) -> float | None:
    """The lower limit of an accuracy axis, or None when every model fits in the span."""
    acc = [100 * r.accuracy.mean for r in rows]
    if not acc or max(acc) - min(acc) <= _ACCURACY_SPAN:
        return None
    return max(acc) - _ACCURACY_SPAN


def _err(s: Stat | None) -> float:
    return s.std if s is not None else 0.0


def _scatter(ax: Axes, rows: list[ModelRow], x: Callable[[ModelRow], Stat | None]) -> None:
    """Accuracy (mean, std as error bars) against x; filled markers for FP32 models."""
    floor = _accuracy_floor([r for r in rows if x(r) is not None])
    below = 0
    for group, color in _COLORS.items():
        mine = [r for r in rows if r.group == group and x(r) is not None]
        if not mine:
            continue
        for fp32 in (True, False):
            part = [r for r in mine if (r.format == "fp32") == fp32]
            if floor is not None:
                low = [r for r in part if 100 * r.accuracy.mean < floor]
                below += len(low)
                if low:
                    ax.plot([x(r).mean for r in low], [floor] * len(low), "v", color=color,
                            mfc=color if fp32 else "white", ms=5, clip_on=False)
                part = [r for r in part if 100 * r.accuracy.mean >= floor]
            if not part:
                continue
            ax.errorbar([s.mean for s in map(x, part) if s], [100 * r.accuracy.mean for r in part],
                        yerr=[100 * _err(r.accuracy) for r in part], fmt=_MARKERS[group],
                        color=color, mfc=color if fp32 else "white",
                        ms=5, capsize=2, lw=0.8,
                        label=f"{GROUP_TITLES[group]}{', FP32' if fp32 else ', quantized'}")
    ax.set_ylabel("test accuracy (%)")
    if floor is not None:
        ax.set_ylim(bottom=floor)
        ax.text(0.01, 0.02, f"▼ {below} model(s) below {floor:.0f} % (values in the tables)",
                transform=ax.transAxes, fontsize=6, va="bottom")
    ax.legend(fontsize=7, loc="lower right")


def _accuracy_vs_bytes(fig: plt.Figure, rows: list[ModelRow]) -> None:
    ax = fig.add_subplot()
    _scatter(ax, rows, lambda r: r.bytes)
    front = sorted((r for r in rows if r.pareto), key=lambda r: r.bytes.mean)
    ax.step([r.bytes.mean for r in front], [100 * r.accuracy.mean for r in front], where="post",
            color="black", lw=1, alpha=0.6, label="Pareto front", zorder=0)
    # Alternate above and below the front: neighbours are often a few pixels apart.
    for i, r in enumerate(front):
        ax.annotate(r.label, (r.bytes.mean, 100 * r.accuracy.mean), fontsize=6,
                    xytext=(3, -8 if i % 2 == 0 else 5), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("model file size (bytes, log scale)")
    ax.legend(fontsize=7, loc="lower right")


def _accuracy_vs_latency(fig: plt.Figure, rows: list[ModelRow]) -> None:
    ax = fig.add_subplot()
    _scatter(ax, rows, lambda r: r.latency_p50_us)
    ax.set_xscale("log")
    ax.set_xlabel("one-row prediction latency, p50 (microseconds, log scale)")


def _training_time(fig: plt.Figure, rows: list[ModelRow]) -> None:
    ax = fig.add_subplot()
    base = [(r, r.train_seconds) for r in rows if r.format == "fp32" and r.train_seconds]
    ax.barh(range(len(base)), [s.mean for _, s in base], xerr=[s.std for _, s in base],
            color=[_COLORS[r.group] for r, _ in base], capsize=2)
    ax.set_yticks(range(len(base)), [r.label.removesuffix(" fp32") for r, _ in base])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("FP32 training time (seconds, log scale; mean and std over seeds)")


def _accuracy_vs_bits(fig: plt.Figure, rows: list[ModelRow]) -> None:
    """ELM and deep models side by side; one line per model and method, through the float
    formats (which have no method) and that method's integer formats."""
    panels = (("ELM (elmq)", ("elm",)), ("MLP (elmq and PyTorch)", ("mlp", "torch")))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (title, groups) in zip(axes, panels, strict=True):
        mine = [r for r in rows if r.group in groups]
        for key in dict.fromkeys((r.group, r.model) for r in mine):
            _bits_lines(ax, [r for r in mine if (r.group, r.model) == key])
        ax.set_title(title, fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bits per parameter (file, log2 scale)")
        if mine:
            ax.legend(fontsize=6, loc="lower right")
        else:
            ax.text(0.5, 0.5, "no rows in this run", ha="center", transform=ax.transAxes)
    axes[0].set_ylabel("test accuracy (%)")
    floor = _accuracy_floor(rows)
    if floor is not None:  # lines leave through the lower edge (values in the tables)
        top = max(100 * r.accuracy.mean for r in rows)
        axes[0].set_ylim(floor, top + 0.04 * (top - floor))  # the axes share y


def _bits_lines(ax: Axes, rows: list[ModelRow]) -> None:
    floats = [r for r in rows if r.format in _FLOAT_FORMATS]
    methods = list(dict.fromkeys(r.method for r in rows if r.format not in _FLOAT_FORMATS))
    group = rows[0].group
    name = rows[0].model + (" (PyTorch)" if group == "torch" else "")
    for method in methods or ["-"]:
        series = sorted(floats + [r for r in rows if r.method == method],
                        key=lambda r: -r.bits_per_weight.mean)
        ax.plot([r.bits_per_weight.mean for r in series],
                [100 * r.accuracy.mean for r in series], _METHOD_STYLES.get(method, "-"),
                marker=_MARKERS[group], ms=4, lw=1,
                label=f"{name} {method}" if methods else name)


_Kind = tuple[str, str, Callable[[plt.Figure, list[ModelRow]], None]]
#: The figures of a data set: file name part, title, drawing function.
_KINDS: tuple[_Kind, ...] = (
    ("accuracy-vs-bytes", "Accuracy vs model size", _accuracy_vs_bytes),
    ("accuracy-vs-latency", "Accuracy vs one-row latency", _accuracy_vs_latency),
    ("training-time", "Training time per model", _training_time),
    ("accuracy-vs-bits", "Accuracy vs bits per parameter", _accuracy_vs_bits),
)
