"""Train/test splits written as .npz files, so the PyTorch reference sees the rows elmq sees.

The elmq Python package, when it is installed in this interpreter, reads every data set
through the C++ registry (the same files and the same seeded stratified split as the CLI).
Without it, Fashion-MNIST (whose split is fixed by its files) is read from its IDX files
here; the small sets need the package, because their split is elmq's own.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .settings import PRIMARY_DATASET, SPLIT_SEED, TEST_FRACTION

#: Where elm/data/datasets.h looks for Fashion-MNIST, in its order.
_FASHION_DIRS = (os.environ.get("ELMQ_FASHION_MNIST_DIR", ""), "/usr/share/datasets/fashion-mnist")


class DataUnavailable(Exception):
    """The split cannot be produced in this environment."""


def export_split(name: str, path: Path) -> None:
    """Writes x_train, y_train, x_test, y_test (float32 features, int64 labels) to `path`.

    @raises DataUnavailable when neither the elmq package nor a reader here can load `name`.
    """
    try:
        import elmq  # noqa: PLC0415 (optional: the package is not needed for the CLI rows)
    except ImportError:
        elmq = None
    if elmq is not None:
        s = elmq.load_dataset(name, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
        arrays = (s.x_train, s.y_train, s.x_test, s.y_test)
    elif name == PRIMARY_DATASET:
        arrays = _read_fashion_mnist()
    else:
        raise DataUnavailable(f"the split of {name} needs the elmq Python package "
                              "(pip install . in the report's Python)")
    path.parent.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = arrays
    np.savez(path, x_train=np.asarray(x_train, np.float32), y_train=np.asarray(y_train, np.int64),
             x_test=np.asarray(x_test, np.float32), y_test=np.asarray(y_test, np.int64))


def _read_fashion_mnist() -> tuple[np.ndarray, ...]:
    for directory in filter(None, _FASHION_DIRS):
        try:
            return tuple(_idx(directory, f"{part}-idx{dims}-ubyte")
                         for part, dims in (("train-images", 3), ("train-labels", 1),
                                            ("t10k-images", 3), ("t10k-labels", 1)))
        except FileNotFoundError:
            continue
    raise DataUnavailable(f"Fashion-MNIST not found in {', '.join(filter(None, _FASHION_DIRS))}")


def _idx(directory: str, stem: str) -> np.ndarray:
    """An IDX file (big-endian header: magic, then one uint32 per dimension), plain or .gz."""
    base = Path(directory) / stem
    if base.exists():
        raw = base.read_bytes()
    else:
        raw = gzip.decompress(base.with_name(stem + ".gz").read_bytes())
    n_dims = raw[3]
    dims = np.frombuffer(raw, ">u4", count=n_dims, offset=4).astype(np.int64)
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * n_dims)
    if n_dims == 1:
        return data.astype(np.int64)
    return data.reshape(int(dims[0]), -1).astype(np.float32)
