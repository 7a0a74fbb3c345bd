"""Overhead of the Python layer over the C++ calls it wraps.

1. Predicting one sample: ELMClassifier.predict from Python (timeit) against
   the same C++ call, ElmModel::predict on a 1-row matrix, timed in a C++ loop
   (elmq._core._time_predict_ns), and against the allocation-free
   ElmModel::predict_row (_time_predict_row_ns).
2. Fitting Fashion-MNIST (60,000 x 784, 2000 tanh neurons by default): the
   estimator's fit from Python against `elmq train` of the CLI (its
   train_seconds), when --cli is given. Build both with the same flags (e.g. one
   CMake build dir with -DELMQ_BUILD_PYTHON=ON -DELMQ_BUILD_CLI=ON) for a fair
   comparison.

    python python/benchmarks/overhead.py [--cli build/x/cli/elmq] [--hidden 2000]
        [--max-train-rows N] [--threads 0] [--skip-fit]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import timeit

import numpy as np

import elmq
from elmq import _core


def one_sample(n_hidden: int, repeats: int, rounds: int = 15) -> dict:
    ds = elmq.load_dataset("fashion-mnist", max_train_rows=5000, max_test_rows=100)
    clf = elmq.ELMClassifier(n_hidden=n_hidden, alpha=1.0, n_jobs=1).fit(ds.x_train, ds.y_train)
    x1 = np.ascontiguousarray(ds.x_test[:1])
    model = clf.model_
    # The four timings are interleaved round by round and the best round of
    # each is kept, so that load from other processes affects them alike.
    timers = {
        "python_estimator_predict_ns": lambda: timeit.timeit(lambda: clf.predict(x1), number=repeats)
        / repeats * 1e9,
        "python_core_predict_ns": lambda: timeit.timeit(lambda: model.predict(x1), number=repeats)
        / repeats * 1e9,
        "cpp_predict_ns": lambda: _core._time_predict_ns(model, x1, repeats),
        "cpp_predict_row_ns": lambda: _core._time_predict_row_ns(model, x1, repeats),
    }
    best = {k: float("inf") for k in timers}
    for _ in range(rounds):
        for key, timer in timers.items():
            best[key] = min(best[key], timer())
    result = {"n_hidden": n_hidden, "n_features": int(x1.shape[1]), "repeats": repeats,
              "rounds": rounds, **best}
    result["estimator_overhead_ns"] = best["python_estimator_predict_ns"] - best["cpp_predict_ns"]
    result["binding_overhead_ns"] = best["python_core_predict_ns"] - best["cpp_predict_ns"]
    return result


def fit_fashion(cli: str | None, n_hidden: int, max_train_rows: int | None, threads: int,
                runs: int) -> dict:
    ds = elmq.load_dataset("fashion-mnist", max_train_rows=max_train_rows)
    cmd = [cli, "train", "--dataset", "fashion-mnist", "--hidden", f"{n_hidden}:tanh",
           "--threads", str(threads), "--json", "-q"] if cli else None
    if cmd and max_train_rows:
        cmd += ["--max-train-rows", str(max_train_rows)]
    py_times, cli_times, cli_acc = [], [], None
    # Python and CLI runs alternate, so that load from other processes hits both alike.
    for _ in range(runs):
        clf = elmq.ELMClassifier(n_hidden=n_hidden, n_jobs=threads if threads > 0 else None)
        start = time.perf_counter()
        clf.fit(ds.x_train, ds.y_train)
        py_times.append(time.perf_counter() - start)
        if cmd:
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            cli_times.append(out["train_seconds"])
            cli_acc = out["test_accuracy"]
    result = {
        "rows": int(ds.x_train.shape[0]),
        "n_hidden": n_hidden,
        "threads": threads,
        "python_fit_seconds": py_times,
        "python_test_accuracy": clf.score(ds.x_test, ds.y_test),
    }
    if cmd:
        result["cli_train_seconds"] = cli_times
        result["cli_test_accuracy"] = cli_acc
        result["python_over_cli_median"] = statistics.median(py_times) / statistics.median(cli_times)
        result["python_over_cli_best"] = min(py_times) / min(cli_times)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", help="path of the elmq CLI for the fit comparison")
    ap.add_argument("--hidden", type=int, default=2000)
    ap.add_argument("--predict-hidden", type=int, nargs="+", default=[64, 1000])
    ap.add_argument("--max-train-rows", type=int)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--skip-fit", action="store_true")
    args = ap.parse_args()
    for n_hidden in args.predict_hidden:
        print(json.dumps({"one_sample": one_sample(n_hidden, args.repeats)}, indent=2))
    if not args.skip_fit:
        print(json.dumps({"fit": fit_fashion(args.cli, args.hidden, args.max_train_rows,
                                              args.threads, args.runs)}, indent=2))


if __name__ == "__main__":
    main()
