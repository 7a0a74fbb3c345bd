"""The experiment families and the plan of a run.

A family runs when its tool exists in this build, and otherwise is listed as not available
(with the reason) while the others go on:

    elm        FP32 ELMs            `elmq train`, `elmq eval`
    elm-quant  quantized ELMs       `elmq quantize` on the FP32 ELM files
    mlp        the FP32 MLP         `elmq train-mlp`, `elmq eval`
    mlp-quant  quantized MLPs       `elmq quantize` on the MLP files
    torch      PyTorch reference    torch_reference.py in its own virtual environment

An Experiment is one tool invocation chain (e.g. quantize, then evaluate) whose result
depends only on its `key`; it produces one Record per model it measures.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .datasets import export_split
from .records import Identity, Record
from .settings import (
    BASELINE_METHOD,
    CALIBRATION_ROWS,
    DATASET_INFO,
    FLOAT_FORMATS,
    MLP_METHODS,
    PRIMARY_DATASET,
    SPLIT_SEED,
    TEST_FRACTION,
    DatasetPlan,
    RunSettings,
)
from .tools import Capability, Elmq, ToolError

TORCH_SCRIPT = Path(__file__).resolve().parent.parent / "torch_reference.py"

#: Rough cost model of a 2-core machine, for the progress output's time estimates only.
_FLOPS = 2e10
_LOAD_SECONDS = {PRIMARY_DATASET: 1.5}
_SMALL_LOAD_SECONDS = 0.05
_TORCH_START_SECONDS = 3.0


@dataclass(frozen=True)
class Experiment:
    title: str
    key: dict  # everything the result depends on: the cache key
    produces: tuple[Identity, ...]
    estimate_seconds: float
    action: Callable[[], list[Record]]
    needs: tuple[Path, ...] = ()  # files made by earlier experiments
    makes: tuple[Path, ...] = ()  # files that later experiments need


@dataclass(frozen=True)
class Family:
    name: str
    group: str
    title: str
    available: bool
    reason: str  # why not ("" when available)

    def to_dict(self) -> dict:
        return {"name": self.name, "group": self.group, "title": self.title,
                "available": self.available, "reason": self.reason}


@dataclass(frozen=True)
class TorchEnv:
    python: Path
    version: str | None  # None: PyTorch is not installed there
    reason: str


@dataclass(frozen=True)
class Context:
    elmq: Elmq
    settings: RunSettings
    work: Path  # report/cache: models, data splits, raw outputs
    threads: int  # 0: all cores
    caps: dict[str, Capability]  # by subcommand: train, eval, quantize, train-mlp
    torch: TorchEnv


def probe_torch(python: Path) -> TorchEnv:
    if not python.exists():
        return TorchEnv(python, None, f"PyTorch is not installed ({python} does not exist; "
                                      "bench/report/setup_torch_venv.sh creates it)")
    # The installed version without importing torch (seconds): a broken install fails later,
    # in the experiments, with its own message.
    done = subprocess.run([str(python), "-c", "from importlib.metadata import version; "
                                              "print(version('torch'))"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return TorchEnv(python, None, f"PyTorch is not installed in {python}")
    return TorchEnv(python, done.stdout.strip(), "")


# ---------------------------------------------------------------- families

def families(ctx: Context) -> list[Family]:
    train, evaluate = ctx.caps["train"], ctx.caps["eval"]
    quantize, train_mlp = ctx.caps["quantize"], ctx.caps["train-mlp"]
    mlp_reason = train_mlp.reason or _missing_options(train_mlp, ("hidden", "epochs", "seed"))
    elm_reason = train.reason or evaluate.reason
    return [
        Family("elm", "elm", "FP32 ELMs", not elm_reason, elm_reason),
        Family("elm-quant", "elm", "quantized ELMs", not (elm_reason or quantize.reason),
               elm_reason or quantize.reason),
        Family("mlp", "mlp", "FP32 MLP (elmq)", not mlp_reason, mlp_reason),
        Family("mlp-quant", "mlp", "quantized MLPs (elmq)", not (mlp_reason or quantize.reason),
               mlp_reason or quantize.reason),
        Family("torch", "torch", "MLP, PyTorch reference (FP32, INT8 dynamic, INT8 static)",
               ctx.torch.version is not None, ctx.torch.reason),
    ]


def _missing_options(cap: Capability, required: tuple[str, ...]) -> str:
    missing = [f"--{o}" for o in required if not cap.has(o)]
    return f"`elmq {cap.command}` lacks {', '.join(missing)}" if missing else ""


def plan(ctx: Context) -> tuple[list[Family], list[Experiment]]:
    """The families (available or not) and the experiments of the available ones, in run order."""
    fams = [f for f in families(ctx) if f.group in ctx.settings.groups]
    on = {f.name for f in fams if f.available}
    experiments: list[Experiment] = []
    for dp in ctx.settings.datasets:
        for seed in ctx.settings.seeds:
            if "elm" in on:
                for hidden in dp.elm_hidden:
                    base = _elm_base(ctx, dp, hidden, seed)
                    experiments.append(base)
                    if "elm-quant" in on:
                        experiments += _quantized(ctx, base, elm_weights(dp.name, hidden))
            if "mlp" in on:
                base = _mlp_base(ctx, dp, seed)
                experiments.append(base)
                if "mlp-quant" in on:
                    info = DATASET_INFO[dp.name]
                    experiments += _quantized(ctx, base,
                                              dp.mlp.n_weights(info.n_features, info.n_classes))
        if "torch" in on:
            experiments.append(_torch(ctx, dp))
    return fams, experiments


# ---------------------------------------------------------------- shared steps

def _data_args(dataset: str, cap: Capability) -> list[str]:
    """The CLI options naming the data set and its split (only those `cap` accepts)."""
    args = ["--dataset", dataset]
    if cap.has("test-fraction"):
        args += ["--test-fraction", str(TEST_FRACTION)]
    if cap.has("split-seed"):
        args += ["--split-seed", str(SPLIT_SEED)]
    return args


def _load_seconds(dataset: str) -> float:
    return _LOAD_SECONDS.get(dataset, _SMALL_LOAD_SECONDS)


def _eval_estimate(ctx: Context, dataset: str, n_weights: int) -> float:
    info = DATASET_INFO[dataset]
    m = ctx.settings.preset.measurement
    return (_load_seconds(dataset) + m.min_time + 4 * info.n_test * n_weights / _FLOPS
            + m.latency_rows * n_weights * 2 / 5e9)


def _evaluate(ctx: Context, ident: Identity, path: Path, n_weights: int) -> Record:
    """`elmq eval` of a saved model on the test split of its data set."""
    m = ctx.settings.preset.measurement
    cap = ctx.caps["eval"]
    run = ctx.elmq.run_json("eval", [str(path), *_data_args(ident.dataset, cap),
                                     "--threads", str(ctx.threads),
                                     "--latency-rows", str(m.latency_rows),
                                     "--min-time", str(m.min_time)])
    d = run.data
    return Record(ident, n_weights=n_weights, bytes=path.stat().st_size, accuracy=d["accuracy"],
                  throughput_rows_per_second=d["rows_per_second"],
                  latency_p50_us=d.get("latency_p50_us"), latency_p99_us=d.get("latency_p99_us"),
                  threads=d.get("threads_used"), kernel_path=d.get("kernel_path"),
                  raw={"eval": d})


def _evaluate_or_reported(ctx: Context, ident: Identity, path: Path, n_weights: int,
                          produced: dict) -> Record:
    """`elmq eval` of a model file, or, where this build's eval does not read the file's kind
    (MLPs, quantized models), the test accuracy that the tool which made it reported, without
    timings (the record says so)."""
    try:
        return _evaluate(ctx, ident, path, n_weights)
    except ToolError as e:
        accuracy = _first(produced, "test_accuracy", "accuracy")
        if accuracy is None:
            raise
        return Record(ident, message=f"no throughput or latency: {e}", n_weights=n_weights,
                      bytes=path.stat().st_size, accuracy=accuracy)


def _model_path(ctx: Context, ident: Identity, key: dict) -> Path:
    """A file name per parameter set (the key's hash), readable for people."""
    name = f"{ident.group}-{ident.model.split()[-1]}-s{ident.seed}"
    if ident.format != "fp32":
        name += f"-{ident.format}-{ident.method}"
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return ctx.work / "models" / ident.dataset / f"{name.replace('=', '')}-{digest}.elmq"


# ---------------------------------------------------------------- ELM

def elm_weights(dataset: str, hidden: int) -> int:
    """Input weights and biases of the hidden layer, and the output weights (no output bias)."""
    info = DATASET_INFO[dataset]
    return hidden * (info.n_features + 1) + hidden * info.n_classes


def _elm_base(ctx: Context, dp: DatasetPlan, hidden: int, seed: int) -> Experiment:
    ident = Identity(dp.name, "elm", f"ELM L={hidden}", "fp32", "-", seed)
    info = DATASET_INFO[dp.name]
    n_weights = elm_weights(dp.name, hidden)
    args = [*_data_args(dp.name, ctx.caps["train"]), "--hidden", f"{hidden}:tanh",
            "--seed", str(seed), "--threads", str(ctx.threads)]
    key = {"kind": "elm", "args": args, "eval": _eval_key(ctx)}
    path = _model_path(ctx, ident, key)
    train_args = [*args, "-o", str(path)]

    def action() -> list[Record]:
        path.parent.mkdir(parents=True, exist_ok=True)
        train = ctx.elmq.run_json("train", train_args)
        record = _evaluate(ctx, ident, path, n_weights)
        record.train_seconds = train.data["train_seconds"]
        record.raw["train"] = train.data
        return [record]

    estimate = (_load_seconds(dp.name)
                + 4 * info.n_train * hidden * (info.n_features + hidden) / _FLOPS
                + _eval_estimate(ctx, dp.name, n_weights))
    return Experiment(f"train {ident.describe()}", key, (ident,), estimate, action,
                      makes=(path,))


def _eval_key(ctx: Context) -> dict:
    m = ctx.settings.preset.measurement
    return {"threads": ctx.threads, "latency_rows": m.latency_rows, "min_time": m.min_time}


# ---------------------------------------------------------------- MLP

def _mlp_base(ctx: Context, dp: DatasetPlan, seed: int) -> Experiment:
    spec = dp.mlp
    ident = Identity(dp.name, "mlp", f"MLP {spec.describe()}", "fp32", "-", seed)
    info = DATASET_INFO[dp.name]
    n_weights = spec.n_weights(info.n_features, info.n_classes)
    cap = ctx.caps["train-mlp"]
    optional = {"batch-size": spec.batch_size, "lr": spec.learning_rate,
                "learning-rate": spec.learning_rate, "optimizer": "adam",
                "validation-fraction": 0, "threads": ctx.threads}
    args = [*_data_args(dp.name, cap), "--hidden", ",".join(map(str, spec.hidden)),
            "--epochs", str(spec.epochs), "--seed", str(seed)]
    for option, value in optional.items():
        if cap.has(option):
            args += [f"--{option}", str(value)]
    key = {"kind": "mlp", "args": args, "eval": _eval_key(ctx)}
    path = _model_path(ctx, ident, key)
    train_args = [*args, "-o", str(path)]

    def action() -> list[Record]:
        path.parent.mkdir(parents=True, exist_ok=True)
        train = ctx.elmq.run_json("train-mlp", train_args)
        record = _evaluate_or_reported(ctx, ident, path, n_weights, train.data)
        record.train_seconds = _first(train.data, "train_seconds", "seconds") or train.wall_seconds
        record.raw["train"] = train.data
        return [record]

    estimate = (_load_seconds(dp.name) + 6 * spec.epochs * info.n_train * n_weights / _FLOPS
                + _eval_estimate(ctx, dp.name, n_weights))
    return Experiment(f"train {ident.describe()}", key, (ident,), estimate, action,
                      makes=(path,))


# ---------------------------------------------------------------- quantization

@dataclass(frozen=True)
class QuantVariant:
    format: str
    method: str  # the label in the tables, e.g. "rtn", "gptq+resolve", "cast"
    options: tuple[str, ...]  # `elmq quantize` options that make it (data, threads, -o apart)
    solves: bool  # passes over the training rows (re-solve, GPTQ, AWQ): costly


def elm_variants(cap: Capability, formats: tuple[str, ...], ablation: bool) -> list[QuantVariant]:
    """The quantized forms of an ELM. Where `elmq quantize` can quantize the input weights W
    too (--w-format), both W and beta take the format; then "rtn" is the plain baseline (beta
    not re-solved, --no-resolve) and every other method re-solves beta on the quantized W
    first ("gptq+resolve"). `ablation` adds "rtn+resolve", separating the two gains."""
    both = cap.has("w-format") and cap.has("no-resolve")
    out = []
    for fmt in formats:
        layers = ("--format", fmt, *(("--w-format", fmt) if both else ()))
        if fmt in FLOAT_FORMATS:
            out.append(QuantVariant(fmt, "cast", (*layers, *_no_resolve(both)), False))
            continue
        for method in cap.methods or (BASELINE_METHOD,):
            with_method = (*layers, "--method", method) if cap.has("method") else layers
            if method == BASELINE_METHOD:
                out.append(QuantVariant(fmt, method, (*with_method, *_no_resolve(both)), False))
                if both and ablation:
                    out.append(QuantVariant(fmt, f"{method}+resolve", with_method, True))
            else:
                out.append(QuantVariant(fmt, f"{method}+resolve" if both else method,
                                        with_method, True))
    return out


def _no_resolve(both: bool) -> tuple[str, ...]:
    return ("--no-resolve",) if both else ()


def mlp_variants(formats: tuple[str, ...]) -> list[QuantVariant]:
    """The quantized forms of an MLP: every method of quant/mlp for every integer format
    (`elmq quantize --help` describes the ELM branch; a method the MLP branch refuses is
    reported as rejected), and for int8 also static (calibrated) activations, elmq's
    counterpart of PyTorch's static INT8 ("rtn+static")."""
    out = []
    for fmt in formats:
        if fmt in FLOAT_FORMATS:
            out.append(QuantVariant(fmt, "cast", ("--format", fmt), False))
            continue
        out += [QuantVariant(fmt, m, ("--format", fmt, "--method", m), m != BASELINE_METHOD)
                for m in MLP_METHODS]
        if fmt == "int8":
            out.append(QuantVariant(fmt, f"{BASELINE_METHOD}+static",
                                    ("--format", fmt, "--method", BASELINE_METHOD,
                                     "--activations", "static"), True))
    return out


def _quantized(ctx: Context, base: Experiment, n_weights: int) -> list[Experiment]:
    preset = ctx.settings.preset
    group = base.produces[0].group
    variants = (elm_variants(ctx.caps["quantize"], preset.formats, preset.method_ablation)
                if group == "elm" else mlp_variants(preset.formats))
    return [_quantize_one(ctx, base, n_weights, v) for v in variants]


def _quantize_one(ctx: Context, base: Experiment, n_weights: int,
                  variant: QuantVariant) -> Experiment:
    base_ident, base_path = base.produces[0], base.makes[0]
    ident = replace(base_ident, format=variant.format, method=variant.method)
    cap = ctx.caps["quantize"]
    # The data: calibration rows, Gram matrices and re-solves, and the test accuracy.
    options = [*variant.options, *_data_args(ident.dataset, cap), "--threads", str(ctx.threads)]
    key = {"kind": "quantize", "base": base.key, "args": options, "eval": _eval_key(ctx)}
    path = _model_path(ctx, ident, key)
    args = [str(base_path), *options, "-o", str(path)]

    def action() -> list[Record]:
        q = ctx.elmq.run_json("quantize", args)
        record = _evaluate_or_reported(ctx, ident, path, n_weights, q.data)
        reported = _first(q.data, "quantize_seconds", "seconds")
        record.quantize_seconds = reported if reported is not None else q.wall_seconds
        record.quantize_seconds_source = ("elmq quantize JSON" if reported is not None
                                          else "process wall clock (loading included)")
        record.raw["quantize"] = q.data
        return [record]

    info = DATASET_INFO[ident.dataset]
    estimate = (_load_seconds(ident.dataset)
                + (4 * info.n_train * n_weights / _FLOPS if variant.solves else 0.05)
                + _eval_estimate(ctx, ident.dataset, n_weights))
    return Experiment(f"quantize {ident.describe()}", key, (ident,), estimate, action,
                      needs=(base_path,))


def _first(d: dict, *keys: str) -> float | None:
    """The first of `keys` that `d` holds as a number."""
    for k in keys:
        if isinstance(d.get(k), int | float):
            return float(d[k])
    return None


# ---------------------------------------------------------------- PyTorch

_TORCH_VARIANTS = (("fp32", "-"), ("int8", "dynamic"), ("int8", "static"))


def _torch(ctx: Context, dp: DatasetPlan) -> Experiment:
    """Every seed of one data set in one process (importing PyTorch takes seconds)."""
    spec = dp.mlp
    seeds = ctx.settings.seeds
    idents = tuple(Identity(dp.name, "torch", f"MLP {spec.describe()}", fmt, method, seed)
                   for seed in seeds for fmt, method in _TORCH_VARIANTS)
    m = ctx.settings.preset.measurement
    data = ctx.work / "data" / f"{dp.name}.npz"
    out = ctx.work / "torch" / f"{dp.name}.json"
    args = ["--hidden", ",".join(map(str, spec.hidden)), "--epochs", str(spec.epochs),
            "--batch-size", str(spec.batch_size), "--lr", str(spec.learning_rate),
            "--seeds", ",".join(map(str, seeds)), "--latency-rows", str(m.latency_rows),
            "--min-time", str(m.min_time),
            "--calibration-rows", str(CALIBRATION_ROWS)]
    if ctx.threads:
        args += ["--threads", str(ctx.threads)]

    def action() -> list[Record]:
        if not data.exists():
            export_split(dp.name, data)
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = [str(ctx.torch.python), str(TORCH_SCRIPT), *args, "--data", str(data),
                "--model-dir", str(out.with_suffix("")), "--out", str(out)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            raise RuntimeError(f"torch_reference.py: exit {done.returncode}: "
                               f"{lines[-1] if lines else 'no message'}")
        result = json.loads(out.read_text())
        by_variant = {(v["seed"], v["format"], v["method"]): v for v in result["variants"]}
        about = {k: result[k] for k in ("torch_version", "engine")}
        return [_torch_record(i, by_variant[(i.seed, i.format, i.method)], result["threads"],
                              about) for i in idents]

    info = DATASET_INFO[dp.name]
    n_weights = spec.n_weights(info.n_features, info.n_classes)
    estimate = _TORCH_START_SECONDS + len(seeds) * (
        6 * spec.epochs * info.n_train * n_weights / _FLOPS
        + 3 * _eval_estimate(ctx, dp.name, n_weights))
    return Experiment(f"PyTorch {dp.name} MLP {spec.describe()}, seeds "
                      f"{', '.join(map(str, seeds))}",
                      {"kind": "torch", "dataset": dp.name, "args": args,
                       "torch": ctx.torch.version, "script": _script_hash()},
                      idents, estimate, action)


def _script_hash() -> str:
    """torch_reference.py's content: an edited script does not reuse old results."""
    return hashlib.sha256(TORCH_SCRIPT.read_bytes()).hexdigest()[:16]


def _torch_record(ident: Identity, v: dict, threads: int, about: dict) -> Record:
    quantize = v["quantize_seconds"]
    return Record(
        ident, n_weights=v["n_weights"], bytes=v["bytes"], accuracy=v["accuracy"],
        train_seconds=v["train_seconds"] if ident.format == "fp32" else None,
        quantize_seconds=quantize,
        quantize_seconds_source="torch_reference.py" if quantize is not None else None,
        throughput_rows_per_second=v["throughput_rows_per_second"],
        latency_p50_us=v["latency_p50_us"], latency_p99_us=v["latency_p99_us"],
        threads=threads, raw={"torch": about})
