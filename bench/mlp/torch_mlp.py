#!/usr/bin/env python3
"""PyTorch reference for the elmq MLP benchmark (bench/mlp/run_mlp_bench.sh).

Runs only in the benchmark's own virtual environment (torch is never an elmq
dependency). Two parts, both on Fashion-MNIST:

1. Training: the same recipe as elmq's MLP baseline -- 784-256-256-10, ReLU,
   softmax cross-entropy, Adam lr 1e-3, batch 256, 10 epochs, 10% of the
   training rows held out for validation (best epoch kept) -- timed per epoch
   with the same thread count. Data are preloaded tensors indexed per batch
   (no DataLoader), so the time is PyTorch's compute, not its data pipeline.

2. Quantization of the network trained by elmq (weights exported by
   elmq_bench_mlp --export-dir as .npy files): FP32, torch.ao dynamic INT8
   (quantize_dynamic, qint8 weights per tensor) and static INT8 (eager mode,
   QuantStub/DeQuantStub, per-channel weights, histogram observers, calibrated
   on the first 2048 training rows, engine x86 or fbgemm). Reports test
   accuracy and latency at batch 1 and 256 for 1 and 2 threads, and the ratio
   to FP32.

Prints one JSON object (after the human-readable lines) for the runner.
"""
import argparse
import gzip
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

# torch.ao.quantization is deprecated in favour of torchao, which is not
# installed here; the eager-mode API is still the documented x86 INT8 path.
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.ao\..*")
warnings.filterwarnings("ignore", message=r".*quantize_per_tensor.*")


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_file(d, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{stem}[.gz] not found in {d}")


def load_fashion_mnist(d):
    xtr = read_idx(find_file(d, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32)
    ytr = read_idx(find_file(d, "train-labels-idx1-ubyte")).astype(np.int64)
    xte = read_idx(find_file(d, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32)
    yte = read_idx(find_file(d, "t10k-labels-idx1-ubyte")).astype(np.int64)
    return xtr, ytr, xte, yte


def make_net(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def accuracy(net, x, y, batch=2048):
    with torch.inference_mode():
        correct = 0
        for i in range(0, x.shape[0], batch):
            correct += (net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def train(args, xtr, ytr, xte, yte):
    torch.manual_seed(args.seed)
    # Per-feature min-max scaling fitted on the training rows (elmq's default).
    n = xtr.shape[0]
    perm = torch.randperm(n)
    n_val = int(round(n * 0.1))
    val_idx, fit_idx = perm[:n_val], perm[n_val:]
    lo = xtr[fit_idx].min(0).values
    span = xtr[fit_idx].max(0).values - lo
    span[span == 0] = 1
    scale = lambda x: (x - lo) / span
    xf, yf = scale(xtr[fit_idx]), ytr[fit_idx]
    xv, yv = scale(xtr[val_idx]), ytr[val_idx]
    xt = scale(xte)
    net = make_net([784] + args.hidden + [10])
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state, epochs = -1.0, None, []
    t_start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(xf.shape[0])
        total = 0.0
        for i in range(0, xf.shape[0], args.batch):
            idx = order[i:i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xf[idx]), yf[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
        net.eval()
        val_acc = accuracy(net, xv, yv)
        if val_acc > best:
            best = val_acc
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        dt = time.perf_counter() - t0
        epochs.append({"epoch": epoch, "train_loss": total / xf.shape[0], "val_accuracy": val_acc,
                       "seconds": dt})
        print(f"torch epoch {epoch:2d}: loss {total / xf.shape[0]:.4f}, val acc {val_acc:.4f}, "
              f"{dt:.2f} s", file=sys.stderr)
    train_seconds = time.perf_counter() - t_start
    net.load_state_dict(best_state)
    test_acc = accuracy(net, xt, yte)
    return {"train_seconds": train_seconds,
            "epoch_seconds": [e["seconds"] for e in epochs],
            "mean_epoch_seconds": train_seconds / args.epochs,
            "test_accuracy": test_acc, "epochs": epochs}


class Quantizable(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.net = net
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.net(self.quant(x)))


def latency(fn, x, threads, min_time=0.3):
    """Best of 5 windows: (wall seconds, calling thread's CPU seconds) per call.
    With one thread PyTorch runs the ops on the calling thread, so the CPU time
    is robust to other load on the machine."""
    torch.set_num_threads(threads)
    with torch.inference_mode():
        for _ in range(5):
            fn(x)
        best, best_cpu = float("inf"), float("inf")
        for _ in range(5):
            n, t0, c0 = 0, time.perf_counter(), time.thread_time()
            while True:
                fn(x)
                n += 1
                t = time.perf_counter() - t0
                if t >= min_time / 5:
                    break
            best = min(best, t / n)
            best_cpu = min(best_cpu, (time.thread_time() - c0) / n)
    return best, best_cpu


def quantized_part(args, xtr, xte, yte):
    d = args.elmq_weights
    meta = json.load(open(os.path.join(d, "meta.json")))
    sizes = meta["sizes"]
    offset = torch.from_numpy(np.load(os.path.join(d, "input_offset.npy")))
    scale = torch.from_numpy(np.load(os.path.join(d, "input_scale.npy")))
    net = make_net(sizes)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, lin in enumerate(linears):
        lin.weight.data = torch.from_numpy(np.load(os.path.join(d, f"W{i}.npy")))
        lin.bias.data = torch.from_numpy(np.load(os.path.join(d, f"b{i}.npy")))
    net.eval()
    prep = lambda x: (x - offset) * scale
    xt = prep(xte)
    xcal = prep(xtr[:2048])

    engines = torch.backends.quantized.supported_engines
    engine = "x86" if "x86" in engines else "fbgemm"
    torch.backends.quantized.engine = engine

    dyn = torch.ao.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8)

    static = Quantizable(make_net(sizes))
    static.net.load_state_dict(net.state_dict())
    static.eval()
    static.qconfig = torch.ao.quantization.get_default_qconfig(engine)
    prepared = torch.ao.quantization.prepare(static)
    with torch.inference_mode():
        for i in range(0, xcal.shape[0], 256):
            prepared(xcal[i:i + 256])
    stat = torch.ao.quantization.convert(prepared)

    models = {"fp32": net, "int8-dynamic": dyn, "int8-static": stat}
    out = {"engine": engine, "models": {}}
    for name, m in models.items():
        acc = accuracy(m, xt, yte)
        row = {"test_accuracy": acc, "latency": {}, "latency_cpu": {}}
        for threads in (1, 2):
            for batch in (1, 256):
                wall, cpu = latency(m, xt[:batch], threads)
                row["latency"][f"b{batch}/t{threads}"] = wall
                if threads == 1:
                    row["latency_cpu"][f"b{batch}/t1"] = cpu
        out["models"][name] = row
    for name, row in out["models"].items():
        row["speedup_vs_fp32"] = {
            k: out["models"]["fp32"]["latency"][k] / v for k, v in row["latency"].items()}
        row["speedup_vs_fp32_cpu"] = {
            k: out["models"]["fp32"]["latency_cpu"][k] / v for k, v in row["latency_cpu"].items()}
        lat = " ".join(f"{k}={v * 1e6:.1f}us(x{row['speedup_vs_fp32'][k]:.2f})"
                       for k, v in row["latency"].items())
        print(f"torch {name:13s} acc {row['test_accuracy']:.4f}  {lat}", file=sys.stderr)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("ELMQ_FASHION_MNIST_DIR",
                                                        "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, nargs="*", default=[256, 256])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--elmq-weights", help="directory written by elmq_bench_mlp --export-dir")
    p.add_argument("--skip-train", action="store_true")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    xtr, ytr, xte, yte = (torch.from_numpy(a) for a in load_fashion_mnist(args.data_dir))
    result = {"torch_version": torch.__version__, "threads": args.threads,
              "mkldnn": torch.backends.mkldnn.is_available(),
              "config": torch.__config__.parallel_info().splitlines()[:3]}
    if not args.skip_train:
        result["train"] = train(args, xtr, ytr, xte, yte)
        t = result["train"]
        print(f"torch training: {t['mean_epoch_seconds']:.3f} s/epoch, test accuracy "
              f"{t['test_accuracy']:.4f}", file=sys.stderr)
    if args.elmq_weights:
        result["quantized"] = quantized_part(args, xtr, xte, yte)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
