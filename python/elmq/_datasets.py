"""The named benchmark datasets of elm/data (Fashion-MNIST and scikit-learn's small sets)."""

from __future__ import annotations

import os
from typing import Optional, Union

from . import _core

__all__ = ["load_dataset", "dataset_names"]


def dataset_names() -> list[str]:
    """The registered dataset names: fashion-mnist, iris, wine, breast_cancer, digits."""
    return list(_core.dataset_names())


def load_dataset(
    name: str,
    *,
    data_dir: Optional[Union[str, os.PathLike]] = None,
    test_fraction: float = 0.25,
    seed: int = 0,
    max_train_rows: Optional[int] = None,
    max_test_rows: Optional[int] = None,
) -> _core.DatasetSplit:
    """Load a named dataset, split into train and test.

    Parameters
    ----------
    name : str
        One of :func:`dataset_names`.
    data_dir : path, optional
        Directory holding the files; default: the usual places (for Fashion-MNIST
        ``$ELMQ_FASHION_MNIST_DIR`` then ``/usr/share/datasets/fashion-mnist``; for the
        scikit-learn sets ``$ELMQ_SKLEARN_DATA`` then scikit-learn's installed data).
    test_fraction : float, default=0.25
        Fraction of each class held out (stratified, seeded); fashion-mnist has a fixed split.
    seed : int, default=0
        Seed of the split shuffle.
    max_train_rows, max_test_rows : int, optional
        Keep only the first rows (the files' first rows for fashion-mnist).

    Returns
    -------
    elmq._core.DatasetSplit
        ``x_train``, ``x_test`` (float32, pixels 0..255 for fashion-mnist),
        ``y_train``, ``y_test`` (int64), ``class_names``, ``source``. The arrays
        are views of the C++ buffers (no copy).

    Raises
    ------
    ValueError
        Unknown name or bad options.
    OSError
        The files are not found (the message lists where it looked).
    """
    opts = _core.DatasetOptions()
    if data_dir is not None:
        opts.data_dir = os.fspath(data_dir)
    opts.test_fraction = float(test_fraction)
    opts.seed = int(seed)
    opts.max_train_rows = -1 if max_train_rows is None else int(max_train_rows)
    opts.max_test_rows = -1 if max_test_rows is None else int(max_test_rows)
    return _core.load_dataset(name, opts)
