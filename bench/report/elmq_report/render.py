"""The report's files: index.html (self-contained: figures inlined as data URIs),
report.md (figures linked) and results.json (every raw figure, with units)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .analysis import ACCURACY_MARGIN, Claim, DatasetSummary, ModelRow, Stat
from .experiments import Family
from .plots import Figure
from .records import UNITS, Record

SCHEMA_VERSION = 1
TITLE = "elmq benchmark report: ELMs vs quantized deep models"


@dataclass(frozen=True)
class Report:
    command_line: str
    argv: list[str]
    preset: str
    preset_description: str
    settings: dict  # seeds, data sets, groups, formats, measurement, MLP specs
    generated: str  # ISO 8601 time of the end of the run
    elapsed_seconds: float
    machine: dict
    tools: dict  # capabilities of this build's elmq
    families: list[Family]
    records: list[Record]
    rows: list[ModelRow]
    summaries: list[DatasetSummary]
    figures: dict[str, list[Figure]]


# ---------------------------------------------------------------- formatting

def _pct(v: float) -> str:
    return f"{100 * v:.2f} %"


def _seconds(v: float) -> str:
    return f"{v * 1e3:.0f} ms" if v < 1 else f"{v:.1f} s" if v < 100 else f"{v:.0f} s"


def _bytes(v: float) -> str:
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if v >= size:
            return f"{v / size:.3g} {unit}"
    return f"{v:.0f} B"


def _us(v: float) -> str:
    return f"{v:.1f} µs" if v < 1000 else f"{v / 1e3:.2f} ms"


def _rate(v: float) -> str:
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} k" if v >= 1e3 else f"{v:.0f}"


_BY_UNIT = {"accuracy": _pct, "seconds": _seconds, "bytes": _bytes, "us": _us,
            "rows/s": lambda v: f"{_rate(v)} rows/s"}


def _stat(s: Stat | None, fmt: Callable[[float], str], scale: float = 1.0) -> str:
    if s is None:
        return "–"
    text = fmt(s.mean * scale)
    return f"{text} ± {fmt(s.std * scale)}" if len(s.values) > 1 else text


def _acc(s: Stat) -> str:
    return _stat(s, lambda v: f"{v:.2f}", 100.0)


def _change(s: Stat | None) -> str:
    """Accuracy change in points, signed; its std unsigned."""
    if s is None:
        return "–"
    mean = f"{100 * s.mean:+.2f}"
    return f"{mean} ± {100 * s.std:.2f}" if len(s.values) > 1 else mean


# ---------------------------------------------------------------- generated text

def margin(c: Claim) -> str:
    """By how much the winner wins, from the numbers only."""
    if c.winner == "n/a":
        return "no model qualifies" if c.elm is None and c.deep is None else \
            "not compared (one kind of model only)"
    if c.winner == "tie":
        return "equal"
    wv, lv = (c.elm_value, c.deep_value) if c.winner == "ELM" else (c.deep_value, c.elm_value)
    assert wv is not None  # a side without a value does not win
    if lv is None:
        return f"only {'ELMs' if c.winner == 'ELM' else 'deep models'} qualify"
    if c.unit == "accuracy":
        return f"+{100 * (wv - lv):.2f} points"
    ratio = max(wv, lv) / min(wv, lv) if min(wv, lv) > 0 else float("inf")
    return f"{ratio:.1f}× {'higher' if wv > lv else 'lower'}"


def summary_sentences(s: DatasetSummary) -> list[str]:
    counted = [c for c in s.claims if c.winner in ("ELM", "deep model")]
    out = [f"{s.dataset}: best accuracy {_pct(s.best_accuracy)} (\"within 1 point\": "
           f"≥ {_pct(s.best_accuracy - ACCURACY_MARGIN)})."]
    if not counted:
        return [*out, "No comparison: this run has rows of only one kind of model."]
    for who, title in (("ELM", "ELMs win"), ("deep model", "Deep models win")):
        wins = s.wins(who)
        if wins:
            out.append(f"{title} {len(wins)} of {len(counted)} criteria: "
                       + "; ".join(f"{c.criterion} ({margin(c)})" for c in wins) + ".")
    return out


def _others_sentence(others: list[DatasetSummary]) -> str:
    counts = "; ".join(f"{s.dataset}: ELMs {len(s.wins('ELM'))}, deep models "
                       f"{len(s.wins('deep model'))}" for s in others)
    return f"The other data sets, criteria won ({counts}):"


def _others_table(others: list[DatasetSummary]) -> tuple[list[str], list[list[str]]]:
    """Criteria in rows, data sets in columns; each cell the winner and its margin."""
    header = ["Criterion", *(s.dataset for s in others)]
    rows = [[c.criterion, *(f"{s.claims[i].winner} ({margin(s.claims[i])})" for s in others)]
            for i, c in enumerate(others[0].claims)]
    return header, rows


# ---------------------------------------------------------------- tables

_COLUMNS = ("Model", "Format", "Method", "Bits/param", "Size", "Accuracy (%)", "Δ vs FP32",
            "Train", "Quantize", "Throughput (rows/s)", "p50", "p99", "Seeds")


def _row_cells(r: ModelRow) -> list[str]:
    marks = ("◆ " if r.pareto else "") + ("★ " if r.best_method else "")
    model = r.model + (" (PyTorch)" if r.group == "torch" else "")
    return [marks + model, r.format, r.method, f"{r.bits_per_weight.mean:.2f}",
            _bytes(r.bytes.mean), _acc(r.accuracy),
            _change(r.accuracy_change),
            _stat(r.train_seconds, _seconds),
            _stat(r.quantize_seconds, _seconds), _stat(r.throughput_rows_per_second, _rate),
            _stat(r.latency_p50_us, _us), _stat(r.latency_p99_us, _us), str(len(r.seeds))]


_LEGEND = ("◆ on the Pareto front of accuracy vs size; ★ the most accurate method for that "
           "model and format. Mean ± std over seeds. Δ vs FP32: accuracy points gained (+) or "
           "lost (−) against the FP32 model of the same seed. Train: FP32 training of the model "
           "the row was made from; Quantize: the quantization alone.")


_CLAIM_COLUMNS = ("Criterion", "Best ELM", "Best deep model", "Winner", "Margin")


def _claim_cells(c: Claim) -> list[str]:
    fmt = _BY_UNIT[c.unit]
    elm = f"{c.elm.label}: {fmt(c.elm_value)}" if c.elm else "–"
    deep = f"{c.deep.label}: {fmt(c.deep_value)}" if c.deep else "–"
    return [c.criterion, elm, deep, c.winner, margin(c)]


def _problems(records: list[Record]) -> list[list[str]]:
    """Runs without results, and measured runs with a note (status "ok (partial)")."""
    seen: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        if r.message:
            status = r.status if r.status != "ok" else "ok (partial)"
            seen.setdefault((status, r.message), []).append(r)
    return [[status, str(len(rs)), rs[0].identity.describe(), message]
            for (status, message), rs in seen.items()]


def _machine_rows(m: dict) -> list[list[str]]:
    simd = m["simd_path"]
    rows = [["CPU", f"{m['cpu_model']} ({m['logical_cpus']} logical CPUs, "
                    f"{m['memory_gib']} GiB)"],
            ["SIMD flags", " ".join(m["simd_flags"]) or "none"],
            ["kernel path", f"{simd['path']} ({simd['source']})"],
            ["OS", f"{m['os']}, Linux {m['kernel']}"],
            ["load average", f"start {_loads(m['load_average']['at_start'])}, "
                             f"end {_loads(m['load_average']['at_end'])}"],
            ["elmq", f"{m['elmq']['version']} ({m['elmq']['path']})"]]
    build = m["elmq"]
    if build.get("compiler"):
        rows.append(["build", f"{build['build_type']}, ELMQ_NATIVE={build['ELMQ_NATIVE']}, "
                              f"ELMQ_USE_BLAS={build['ELMQ_USE_BLAS']}; {build['compiler']}"])
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    return [*rows, ["versions", versions]]


def _loads(v: list[float]) -> str:
    return " / ".join(f"{x:.2f}" for x in v)


# ---------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; }
table.models td, table.models th { white-space: nowrap; }
div.scroll { overflow-x: auto; }
th { background: #f3f3f3; } tr.elm td:first-child { border-left: 4px solid #1f5fa8; }
tr.mlp td:first-child { border-left: 4px solid #c0392b; }
tr.torch td:first-child { border-left: 4px solid #e67e22; }
td.num { text-align: right; }
.meta, .note { color: #555; font-size: .85em; } code { background: #f5f5f5; padding: 0 .2em; }
figure { display: inline-block; margin: .5em; } figure img { width: 560px; }
figcaption { font-size: .8em; color: #555; text-align: center; }
.winner-ELM { color: #1f5fa8; font-weight: bold; }
.winner-deep-model { color: #c0392b; font-weight: bold; }
"""


def _table(header: list[str] | tuple[str, ...], rows: list[list[str]],
           row_classes: list[str] | None = None, numeric_from: int = 99,
           table_class: str = "") -> str:
    """An HTML table; cells from column `numeric_from` on are right-aligned."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        tr = f'<tr class="{row_classes[i]}">' if row_classes else "<tr>"
        cells = "".join(f'<td class="num">{e(c)}</td>' if j >= numeric_from else f"<td>{e(c)}</td>"
                        for j, c in enumerate(row))
        body.append(f"{tr}{cells}</tr>")
    table = f'<table class="{table_class}">' if table_class else "<table>"
    return (f'<div class="scroll">{table}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _figure_html(f: Figure) -> str:
    data = base64.b64encode(f.path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(f.title)}" src="data:image/svg+xml;base64,{data}">'
            f"<figcaption>{html.escape(f.title)} ({html.escape(f.path.name)})</figcaption>"
            "</figure>")


def write_html(path: Path, rep: Report) -> None:
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{e(TITLE)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(TITLE)}</h1>",
             f"<p class=\"meta\">Generated {e(rep.generated)} in {_seconds(rep.elapsed_seconds)} "
             f"by <code>{e(rep.command_line)}</code> (preset {e(rep.preset)}: "
             f"{e(rep.preset_description)}).</p>",
             '<h2 id="summary">Summary</h2>']
    if rep.summaries:
        head, others = rep.summaries[0], rep.summaries[1:]
        parts.append("".join(f"<p>{e(t)}</p>" for t in summary_sentences(head)))
        parts.append(_table(_CLAIM_COLUMNS, [_claim_cells(c) for c in head.claims]))
        if others:
            parts.append(f"<p>{e(_others_sentence(others))}</p>")
            parts.append(_table(*_others_table(others)))
    parts.append('<h2 id="families">Experiment families</h2>')
    parts.append(_table(("Family", "Status"), [
        [f.title, "ran" if f.available else f.reason] for f in rep.families]))
    for dataset, figs in rep.figures.items():
        rows = [r for r in rep.rows if r.dataset == dataset]
        parts.append(f'<h2 id="{e(dataset)}">{e(dataset)}</h2>')
        parts.append(_table(_COLUMNS, [_row_cells(r) for r in rows],
                            [r.group for r in rows], numeric_from=3, table_class="models"))
        parts.append(f'<p class="note">{e(_LEGEND)}</p>')
        parts.append("".join(_figure_html(f) for f in figs))
    problems = _problems(rep.records)
    if problems:
        parts.append('<h2 id="problems">Runs without results or with notes</h2>')
        parts.append(_table(("Status", "Runs", "First run", "Message"), problems))
    parts.append('<h2 id="machine">Machine</h2>')
    parts.append(_table(("", ""), _machine_rows(rep.machine)))
    parts.append('<h2 id="units">Units and definitions</h2>')
    parts.append(_table(("Field", "Meaning"), [[k, v] for k, v in UNITS.items()]))
    parts.append("<p class=\"note\">Every figure, per seed and with the tools' own output, is in "
                 "<code>results.json</code>.</p></body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


# ---------------------------------------------------------------- Markdown

def _md_table(header: list[str] | tuple[str, ...], rows: list[list[str]]) -> str:
    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def summary_markdown(rep: Report) -> str:
    """The summary section alone (also printed at the end of a run)."""
    if not rep.summaries:
        return "No model was measured.\n"
    head, others = rep.summaries[0], rep.summaries[1:]
    out = [" ".join(summary_sentences(head)), "",
           _md_table(_CLAIM_COLUMNS, [_claim_cells(c) for c in head.claims]), ""]
    if others:
        out += [_others_sentence(others), "", _md_table(*_others_table(others)), ""]
    return "\n".join(out)


def write_markdown(path: Path, rep: Report) -> None:
    out = [f"# {TITLE}", "",
           f"Generated {rep.generated} in {_seconds(rep.elapsed_seconds)} by "
           f"`{rep.command_line}` (preset {rep.preset}: {rep.preset_description}).", "",
           "## Summary", "", summary_markdown(rep),
           "## Experiment families", "",
           _md_table(("Family", "Status"), [[f.title, "ran" if f.available else f.reason]
                                            for f in rep.families]), ""]
    for dataset, figs in rep.figures.items():
        rows = [r for r in rep.rows if r.dataset == dataset]
        out += [f"## {dataset}", "", _md_table(_COLUMNS, [_row_cells(r) for r in rows]), "",
                _LEGEND, "", *[f"![{f.title}](plots/{f.path.name})" for f in figs], ""]
    problems = _problems(rep.records)
    if problems:
        out += ["## Runs without results or with notes", "",
                _md_table(("Status", "Runs", "First run", "Message"), problems), ""]
    out += ["## Machine", "", _md_table(("", ""), _machine_rows(rep.machine)), "",
            "## Units and definitions", "",
            _md_table(("Field", "Meaning"), [[k, v] for k, v in UNITS.items()]), ""]
    path.write_text("\n".join(out), encoding="utf-8")


# ---------------------------------------------------------------- results.json

def results_document(rep: Report) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "title": TITLE,
        "generated": rep.generated,
        "command_line": rep.command_line,
        "argv": rep.argv,
        "preset": rep.preset,
        "settings": rep.settings,
        "elapsed_seconds": rep.elapsed_seconds,
        "machine": rep.machine,
        "tools": rep.tools,
        "families": [f.to_dict() for f in rep.families],
        "units": UNITS,
        "summary": [s.to_dict() for s in rep.summaries],
        "models": [r.to_dict() for r in rep.rows],
        "runs": [r.to_dict() for r in rep.records],
        "figures": {d: [str(f.path.name) for f in figs] for d, figs in rep.figures.items()},
    }


def write_results(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=1, allow_nan=False), encoding="utf-8")
