"""The PyTorch reference rows of the elmq report: an MLP trained in FP32, then quantized to
INT8 with PyTorch's own dynamic and static (post-training, calibrated) quantization.

Runs in its own virtual environment (build/torch-venv, see setup_torch_venv.sh); PyTorch is
never a dependency of elmq. Reads a split written by the report (an .npz with x_train,
y_train, x_test, y_test), trains one model per seed (one process for all seeds: importing
PyTorch takes seconds) and writes the figures to --out as JSON:

    {"torch_version": ..., "threads": ..., "engine": ..., "variants": [
        {"seed": 0, "format": "fp32", "method": "-", "accuracy": ..., "bytes": ..., ...}, ...]}

Inputs are min-max scaled to [0, 1] with the training rows' range before they reach the
model (outside the timed region, for every variant alike).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.ao import quantization as tq


class Mlp(nn.Module):
    """Linear layers with ReLU between them, initialized as elmq's MLP (quant/mlp/mlp.h):
    He-normal weights (std sqrt(2 / fan_in)), zero biases. The stubs mark where static INT8
    begins and ends (identities in FP32)."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(pairwise(sizes)):
            linear = nn.Linear(n_in, n_out)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
            layers.append(linear)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        self.quant = tq.QuantStub()
        self.dequant = tq.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.body(self.quant(x)))

    def fusable_pairs(self) -> list[list[str]]:
        names = [str(i) for i, m in enumerate(self.body) if isinstance(m, nn.Linear)]
        return [[n, str(int(n) + 1)] for n in names
                if int(n) + 1 < len(self.body) and isinstance(self.body[int(n) + 1], nn.ReLU)]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help=".npz split written by the report")
    p.add_argument("--hidden", required=True, help="hidden layer sizes, e.g. 256,128")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--lr", type=float, required=True, help="Adam learning rate")
    p.add_argument("--seeds", required=True, help="comma-separated seeds, one model each")
    p.add_argument("--latency-rows", type=int, required=True)
    p.add_argument("--min-time", type=float, required=True, help="seconds of batch prediction")
    p.add_argument("--calibration-rows", type=int, required=True,
                   help="training rows that calibrate the static INT8 model")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--model-dir", type=Path, required=True, help="where the models are saved")
    p.add_argument("--out", type=Path, required=True, help="JSON file of the results")
    return p.parse_args()


def scaled(x: np.ndarray, lo: np.ndarray, span: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((x - lo) / span).astype(np.float32))


def train(model: Mlp, x: torch.Tensor, y: torch.Tensor, seed: int,
          args: argparse.Namespace) -> float:
    """Adam on softmax cross-entropy, shuffled mini-batches; returns the wall-clock seconds."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    torch.use_deterministic_algorithms(True)  # training only: quantized kernels have no such mode
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0], args.batch_size):
            idx = order[i:i + args.batch_size]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - start
    torch.use_deterministic_algorithms(False)
    model.eval()
    return seconds


def percentile(values: list[float], q: float) -> float:
    """Nearest rank, as `elmq eval` computes it."""
    v = sorted(values)
    rank = math.ceil(q * len(v))
    return v[min(len(v) - 1, max(rank, 1) - 1)]


@torch.inference_mode()
def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> dict:
    accuracy = float((model(x).argmax(dim=1) == y).double().mean())
    reps, start = 0, time.perf_counter()
    while True:
        model(x)
        reps += 1
        batch_seconds = time.perf_counter() - start
        if batch_seconds >= args.min_time:
            break
    latencies = []
    n_lat = min(args.latency_rows, x.shape[0])
    model(x[:1])  # warm-up
    for i in range(n_lat):
        row = x[i:i + 1]
        t = time.perf_counter()
        model(row)
        latencies.append((time.perf_counter() - t) * 1e6)
    return {"accuracy": accuracy, "throughput_rows_per_second": reps * x.shape[0] / batch_seconds,
            "latency_rows": n_lat, "latency_p50_us": percentile(latencies, 0.50),
            "latency_p99_us": percentile(latencies, 0.99)}


def saved_bytes(model: nn.Module, path: Path) -> int:
    torch.save(model.state_dict(), path)
    return path.stat().st_size


def quantize_static(model: Mlp, calibration: torch.Tensor, engine: str) -> Mlp:
    q = copy.deepcopy(model).eval()
    q.qconfig = tq.get_default_qconfig(engine)
    tq.fuse_modules(q.body, q.fusable_pairs(), inplace=True)
    prepared = tq.prepare(q)
    with torch.inference_mode():
        prepared(calibration)
    return tq.convert(prepared)


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int


def load_split(path: Path) -> Split:
    """The split, min-max scaled to [0, 1] with the training rows' range."""
    data = np.load(path)
    lo = data["x_train"].min(axis=0)
    hi = data["x_train"].max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    classes = np.unique(data["y_train"])
    return Split(scaled(data["x_train"], lo, span),
                 torch.from_numpy(np.searchsorted(classes, data["y_train"])),
                 scaled(data["x_test"], lo, span),
                 torch.from_numpy(np.searchsorted(classes, data["y_test"])), len(classes))


def run_seed(seed: int, split: Split, args: argparse.Namespace, engine: str) -> list[dict]:
    """Trains the FP32 model of one seed and measures it and its two INT8 forms."""
    torch.manual_seed(seed)
    sizes = [split.x_train.shape[1], *(int(h) for h in args.hidden.split(",")), split.n_classes]
    model = Mlp(sizes)
    n_weights = sum(p.numel() for p in model.parameters())
    train_seconds = train(model, split.x_train, split.y_train, seed, args)
    model_dir = args.model_dir / f"seed{seed}"
    model_dir.mkdir(parents=True, exist_ok=True)

    def variant(fmt: str, method: str, m: nn.Module, quantize_seconds: float | None) -> dict:
        path = model_dir / f"mlp-{fmt}-{method.strip('-') or 'fp32'}.pt"
        return {"seed": seed, "format": fmt, "method": method, "n_weights": n_weights,
                "bytes": saved_bytes(m, path), "train_seconds": train_seconds,
                "quantize_seconds": quantize_seconds,
                **measure(m, split.x_test, split.y_test, args)}

    out = [variant("fp32", "-", model, None)]
    start = time.perf_counter()
    dynamic = tq.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)
    out.append(variant("int8", "dynamic", dynamic, time.perf_counter() - start))
    start = time.perf_counter()
    static = quantize_static(model, split.x_train[:args.calibration_rows], engine)
    out.append(variant("int8", "static", static, time.perf_counter() - start))
    return out


def main() -> None:
    args = parse_args()
    warnings.filterwarnings("ignore", module=r"torch\.ao\..*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(args.threads)
    engines = torch.backends.quantized.supported_engines
    engine = "x86" if "x86" in engines else "fbgemm" if "fbgemm" in engines else engines[-1]
    torch.backends.quantized.engine = engine
    split = load_split(args.data)
    variants = [v for seed in map(int, args.seeds.split(","))
                for v in run_seed(seed, split, args, engine)]
    args.out.write_text(json.dumps({
        "torch_version": torch.__version__, "threads": torch.get_num_threads(), "engine": engine,
        "variants": variants}, indent=1))


if __name__ == "__main__":
    main()
