"""Textbook float32 ELM in numpy: the baseline that bench/elm/run_train_bench.sh
times in the same run as elmq.

    H = tanh(X W + b),  beta = solve(H^T H + lambda I, H^T T)

Prints one JSON object: training time (seconds, best of --repeats), test
accuracy, single-sample prediction latency (microseconds, median).
"""
import argparse
import gzip
import json
import os
import time

import numpy as np


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims[0], -1) if ndim > 1 else arr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=os.environ.get("ELMQ_FASHION_MNIST_DIR",
                                                         "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--hidden", type=int, default=2000)
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    d = args.data_dir
    x_train = load_idx(f"{d}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_train = load_idx(f"{d}/train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = load_idx(f"{d}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y_test = load_idx(f"{d}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    rng = np.random.default_rng(0)
    n_in = x_train.shape[1]
    # Same scale rule as elmq's default: pre-activations of unit standard deviation.
    rms = float(np.sqrt(np.mean(x_train.astype(np.float64) ** 2)))
    w = (rng.standard_normal((n_in, args.hidden)) / np.sqrt(n_in) / rms).astype(np.float32)
    b = rng.uniform(-1, 1, args.hidden).astype(np.float32)
    t = np.zeros((len(y_train), 10), dtype=np.float32)
    t[np.arange(len(y_train)), y_train] = 1.0

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        h = np.tanh(x_train @ w + b)
        g = h.T @ h
        g[np.diag_indices_from(g)] += args.lam
        beta = np.linalg.solve(g, h.T @ t)
        times.append(time.perf_counter() - t0)
        del h, g
    acc = float(np.mean(np.argmax(np.tanh(x_test @ w + b) @ beta, axis=1) == y_test))

    lat = []
    for i in range(2000):
        x = x_test[i]
        t0 = time.perf_counter()
        np.argmax(np.tanh(x @ w + b) @ beta)
        lat.append(time.perf_counter() - t0)
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        blas = []
    print(json.dumps({"train_seconds": min(times), "test_accuracy": acc,
                      "predict_row_us_p50": float(np.median(lat) * 1e6),
                      "hidden": args.hidden, "lambda": args.lam, "numpy": np.__version__,
                      "blas": blas}))


if __name__ == "__main__":
    main()
