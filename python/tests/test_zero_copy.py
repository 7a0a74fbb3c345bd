"""numpy in, numpy out: C-contiguous float32 reaches C++ without a copy.

Two independent proofs: the binding reports the address C++ received (equal
to the numpy buffer's), and tracemalloc (which sees every numpy allocation)
shows that the estimator layer allocates no array of X's size for such input,
while it converts float64 input exactly once.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import elmq
from elmq import _core


def test_binding_sees_the_numpy_buffer():
    X = np.arange(60, dtype=np.float32).reshape(10, 6)
    assert _core._data_pointer(X) == X.ctypes.data
    rows = X[3:7]  # a C-contiguous view of some rows
    assert _core._data_pointer(rows) == rows.ctypes.data
    ro = X.copy()
    ro.setflags(write=False)  # read-only arrays are fine for const input
    assert _core._data_pointer(ro) == ro.ctypes.data
    y = np.arange(10, dtype=np.int64)
    assert _core._label_pointer(y) == y.ctypes.data


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 3), dtype=np.float64),
        np.asfortranarray(np.zeros((4, 3), dtype=np.float32)),
        np.zeros((4, 6), dtype=np.float32)[:, ::2],
        [[1.0, 2.0], [3.0, 4.0]],
    ],
    ids=["float64", "fortran", "strided", "list"],
)
def test_binding_refuses_silent_copies(bad):
    with pytest.raises(TypeError):
        _core._data_pointer(bad)


def test_binding_refuses_other_label_dtypes():
    with pytest.raises(TypeError):
        _core._label_pointer(np.arange(5, dtype=np.int32))


def _peak_numpy_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def big():
    rng = np.random.RandomState(0)
    X = rng.randn(20000, 100).astype(np.float32)  # 8 MB
    y = (X[:, 0] > 0).astype(np.int64)
    return X, y


def test_estimator_passes_float32_without_copy(big):
    X, y = big
    clf = elmq.ELMClassifier(n_hidden=32, alpha=1.0, n_jobs=1)
    clf.fit(X[:2000], y[:2000])  # warm-up: imports and caches outside the measurement
    threshold = X.nbytes // 4
    assert _peak_numpy_bytes(lambda: clf.fit(X, y)) < threshold
    assert _peak_numpy_bytes(lambda: clf.predict(X)) < threshold
    assert _peak_numpy_bytes(lambda: clf.decision_function(X)) < threshold
    reg = elmq.ELMRegressor(n_hidden=32, alpha=1.0, n_jobs=1).fit(X[:2000], X[:2000, :1])
    assert _peak_numpy_bytes(lambda: reg.fit(X, X[:, :1])) < threshold


def test_estimator_converts_other_dtypes_once(big):
    X, y = big
    X64 = X.astype(np.float64)
    clf = elmq.ELMClassifier(n_hidden=32, alpha=1.0, n_jobs=1).fit(X[:2000], y[:2000])
    peak = _peak_numpy_bytes(lambda: clf.predict(X64))
    # One float32 copy (X.nbytes), not two.
    assert X.nbytes <= peak < 2 * X.nbytes
    np.testing.assert_array_equal(clf.predict(X64), clf.predict(X))
