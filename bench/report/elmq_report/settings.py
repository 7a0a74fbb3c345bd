"""What a report run measures: the presets and the choices of the command line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

#: The data set every preset except tiny puts first: the headline table and plots.
PRIMARY_DATASET = "fashion-mnist"
SMALL_DATASETS = ("digits", "wine", "breast_cancer", "iris")
ALL_DATASETS = (PRIMARY_DATASET, *SMALL_DATASETS)

#: Experiment groups that --only selects.
GROUPS = ("elm", "mlp", "torch")
GROUP_TITLES = {"elm": "ELM (elmq)", "mlp": "MLP (elmq)", "torch": "MLP (PyTorch reference)"}

#: Quantization methods that the report knows by name (found in `elmq quantize --help`).
KNOWN_METHODS = ("rtn", "gptq", "awq")
#: The methods of quant/mlp (quantized_mlp.h), for MLP files.
MLP_METHODS = ("rtn", "gptq", "awq")
#: The baseline every other method is shown beside.
BASELINE_METHOD = "rtn"
#: Float formats have no method: they are a cast, reported with method "cast".
FLOAT_FORMATS = ("f16", "bf16")

#: Training rows that calibrate static INT8 activations: `elmq quantize`'s default for MLPs,
#: used by the PyTorch reference too.
CALIBRATION_ROWS = 2048

#: Split of the small data sets (the C++ registry's stratified split, see elm/data/datasets.h).
TEST_FRACTION = 0.25
SPLIT_SEED = 0


@dataclass(frozen=True)
class DatasetInfo:
    """A registered data set's shape (elm/data/datasets.h) with the split above."""

    n_train: int
    n_test: int
    n_features: int
    n_classes: int


DATASET_INFO = {
    "fashion-mnist": DatasetInfo(60000, 10000, 784, 10),
    "digits": DatasetInfo(1346, 451, 64, 10),
    "wine": DatasetInfo(133, 45, 13, 3),
    "breast_cancer": DatasetInfo(427, 142, 30, 2),
    "iris": DatasetInfo(111, 39, 4, 3),
}


@dataclass(frozen=True)
class MlpSpec:
    """The deep model: a ReLU MLP (He-normal weights, zero biases) trained with Adam on the
    softmax cross-entropy of every training row, keeping the last epoch's weights.

    The same spec drives `elmq train-mlp` and the PyTorch reference.
    """

    hidden: tuple[int, ...]
    epochs: int
    batch_size: int = 256
    learning_rate: float = 1e-3

    def describe(self) -> str:
        return "-".join(str(h) for h in self.hidden)

    def n_weights(self, n_features: int, n_classes: int) -> int:
        """Weights and biases of every layer."""
        sizes = (n_features, *self.hidden, n_classes)
        return sum(a * b + b for a, b in pairwise(sizes))


@dataclass(frozen=True)
class DatasetPlan:
    """The models trained on one data set."""

    name: str
    elm_hidden: tuple[int, ...]
    mlp: MlpSpec


@dataclass(frozen=True)
class Measurement:
    """How `elmq eval` and the PyTorch reference time prediction."""

    latency_rows: int  # rows predicted one at a time for p50 / p99
    min_time: float  # seconds of repeated batch prediction for the throughput


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    datasets: tuple[DatasetPlan, ...]
    n_seeds: int
    formats: tuple[str, ...]  # quantized formats, as `elmq quantize --format` names them
    measurement: Measurement
    method_ablation: bool = False  # also ELM "rtn+resolve" (see experiments.elm_variants)


def _small(elm_hidden: tuple[int, ...], mlp: MlpSpec) -> tuple[DatasetPlan, ...]:
    return tuple(DatasetPlan(name, elm_hidden, mlp) for name in SMALL_DATASETS)


_SMALL_MLP = MlpSpec(hidden=(64,), epochs=60, batch_size=32, learning_rate=3e-3)
_FMNIST_MLP = (256, 256)  # quant/mlp/mlp.h: MlpConfig's default network
_FORMATS = ("f16", "int8", "int4-g32", "ternary")

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        description="test mode: digits and iris, small models, 2 seeds (< 1 minute)",
        datasets=(
            DatasetPlan("digits", (100,), MlpSpec((32,), epochs=8, batch_size=32,
                                                  learning_rate=3e-3)),
            DatasetPlan("iris", (20,), MlpSpec((16,), epochs=20, batch_size=16,
                                               learning_rate=1e-2)),
        ),
        n_seeds=2,
        formats=("f16", "int4-g32", "ternary"),
        measurement=Measurement(latency_rows=200, min_time=0.02),
    ),
    "quick": Preset(
        name="quick",
        description="one ELM size, INT4 only, a 2-epoch MLP on Fashion-MNIST (~2 minutes)",
        datasets=(
            DatasetPlan(PRIMARY_DATASET, (500,), MlpSpec(_FMNIST_MLP, epochs=2)),
            *_small((100,), replace(_SMALL_MLP, epochs=20)),
        ),
        n_seeds=3,
        formats=("int4-g32",),
        measurement=Measurement(latency_rows=300, min_time=0.05),
    ),
    "default": Preset(
        name="default",
        description="three ELM sizes and a 10-epoch MLP on Fashion-MNIST, FP16 to ternary "
                    "(~15 minutes on 2 cores)",
        datasets=(
            DatasetPlan(PRIMARY_DATASET, (500, 1000, 2000), MlpSpec(_FMNIST_MLP, epochs=10)),
            *_small((100, 400), _SMALL_MLP),
        ),
        n_seeds=3,
        formats=_FORMATS,
        measurement=Measurement(latency_rows=1000, min_time=0.1),
    ),
    "full": Preset(
        name="full",
        description="four ELM sizes, more formats, 5 seeds, a 20-epoch MLP (long)",
        datasets=(
            DatasetPlan(PRIMARY_DATASET, (500, 1000, 2000, 4000), MlpSpec(_FMNIST_MLP, epochs=20)),
            *_small((100, 400, 1000), _SMALL_MLP),
        ),
        n_seeds=5,
        formats=("f16", "bf16", "int8", "int8-g32", "int4-g32", "int4-g128", "int3", "int2-g32-asym",
                 "int2-g64-asym", "ternary", "ternary-base3"),
        measurement=Measurement(latency_rows=2000, min_time=0.2),
        method_ablation=True,
    ),
}


@dataclass(frozen=True)
class RunSettings:
    """A preset narrowed by the command line (--datasets, --only, --seed, --seeds)."""

    preset: Preset
    datasets: tuple[DatasetPlan, ...]
    groups: tuple[str, ...]
    seeds: tuple[int, ...]

    @staticmethod
    def build(preset_name: str, datasets: list[str] | None, groups: list[str] | None,
              base_seed: int, n_seeds: int | None) -> RunSettings:
        """@raises ValueError naming a data set or group that the preset does not have."""
        preset = PRESETS[preset_name]
        plans = preset.datasets
        if datasets:
            known = [p.name for p in plans]
            unknown = [d for d in datasets if d not in known]
            if unknown:
                raise ValueError(f"--datasets: {', '.join(unknown)} not in the {preset.name} "
                                 f"preset (it has: {', '.join(known)})")
            plans = tuple(p for p in plans if p.name in datasets)
        chosen_groups = tuple(g for g in GROUPS if not groups or g in groups)
        count = n_seeds if n_seeds is not None else preset.n_seeds
        return RunSettings(preset, plans, chosen_groups,
                           tuple(range(base_seed, base_seed + count)))
