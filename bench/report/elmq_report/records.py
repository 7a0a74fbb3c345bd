"""One measured model: what it is (Identity) and what was measured (Record)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

#: Units of the Record fields that carry figures (also written to results.json).
UNITS = {
    "accuracy": "fraction of the test rows classified correctly",
    "n_weights": "weights and biases of every layer (count)",
    "bytes": "bytes of the saved model file",
    "bits_per_weight": "8 * bytes / n_weights (file overhead included)",
    "train_seconds": "seconds, wall clock of the FP32 training (data loading excluded)",
    "quantize_seconds": "seconds, wall clock of the quantization (see quantize_seconds_source)",
    "throughput_rows_per_second": "rows per second, whole test set predicted as one batch",
    "latency_p50_us": "microseconds, median of one-row predictions",
    "latency_p99_us": "microseconds, 99th percentile of one-row predictions",
    "threads": "threads used for batch prediction",
}


@dataclass(frozen=True)
class Identity:
    dataset: str
    group: str  # elm | mlp | torch (settings.GROUPS)
    model: str  # e.g. "ELM L=1000", "MLP 256-256"
    format: str  # fp32, f16, bf16, int8, int4-g32, ..., as elmq names them
    method: str  # "-" (FP32), "cast" (float formats), rtn, gptq, awq, dynamic, static
    seed: int

    def describe(self) -> str:
        method = "" if self.method in ("-", "cast") else f" {self.method}"
        return f"{self.dataset} {self.model} {self.format}{method} seed {self.seed}"


@dataclass
class Record:
    identity: Identity
    # ok: measured; failed: the run failed; rejected: the tool refused the request (this build
    # does not support the combination); unavailable: the environment lacks something (e.g.
    # PyTorch); skipped: an earlier experiment it depends on did not make its file.
    status: str = "ok"
    message: str = ""  # why a run has no result, or a note on a measured one (no timings)
    cached: bool = False  # read from report/cache/ (--resume)
    n_weights: int | None = None
    bytes: int | None = None
    accuracy: float | None = None
    train_seconds: float | None = None
    quantize_seconds: float | None = None
    quantize_seconds_source: str | None = None
    throughput_rows_per_second: float | None = None
    latency_p50_us: float | None = None
    latency_p99_us: float | None = None
    threads: int | None = None
    kernel_path: str | None = None
    raw: dict = field(default_factory=dict)  # the tools' own JSON output

    @property
    def bits_per_weight(self) -> float | None:
        if self.bytes is None or not self.n_weights:
            return None
        return 8.0 * self.bytes / self.n_weights

    def to_dict(self) -> dict:
        d = asdict(self)
        return {**d.pop("identity"), **d, "bits_per_weight": self.bits_per_weight}

    @staticmethod
    def from_dict(d: dict) -> Record:
        ident = Identity(**{f.name: d[f.name] for f in fields(Identity)})
        names = {f.name for f in fields(Record)} - {"identity"}
        return Record(ident, **{k: v for k, v in d.items() if k in names})
