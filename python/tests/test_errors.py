"""Every C++ error surfaces as a Python exception with the C++ message; bad
input never crashes the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import elmq
from elmq import _core


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return elmq.ELMClassifier(n_hidden=30).fit(X, y), elmq.ELMRegressor(n_hidden=30).fit(X, X[:, 0])


def test_nan_and_inf_raise_value_error(blobs, fitted):
    X, y = blobs
    clf, reg = fitted
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        elmq.ELMClassifier(n_hidden=10).fit(bad, y)
    # float32 C-contiguous input goes straight to C++, which names row and column.
    with pytest.raises(ValueError, match=r"non-finite value \(nan\) at row 5, column 2"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="non-finite"):
        reg.predict(bad)
    bad[5, 2] = np.inf
    with pytest.raises(ValueError):
        clf.predict_proba(bad.astype(np.float64))
    with pytest.raises(ValueError, match="NaN"):
        elmq.ELMRegressor(n_hidden=10).fit(X, np.where(np.arange(len(X)) == 3, np.nan, 1.0))


def test_wrong_number_of_features(blobs, fitted):
    X, _ = blobs
    clf, reg = fitted
    for est in (clf, reg):
        with pytest.raises(ValueError, match="features"):
            est.predict(X[:, :5])
        with pytest.raises(ValueError, match="features"):
            est.predict(np.ascontiguousarray(X[:, :5]))
    # The C++ message itself, from the core model.
    with pytest.raises(ValueError, match="X has 5 columns, model expects 8"):
        clf.model_.predict(np.ascontiguousarray(X[:, :5]))


def test_unfitted(blobs):
    X, _ = blobs
    for est in (elmq.ELMClassifier(), elmq.ELMRegressor()):
        for method in ("predict", "decision_function", "score", "save"):
            if not hasattr(est, method):
                continue
            with pytest.raises(NotFittedError):
                args = (X, np.zeros(len(X))) if method == "score" else ("m.elmq",) if method == "save" else (X,)
                getattr(est, method)(*args)
    with pytest.raises(NotFittedError):
        elmq.ELMClassifier().predict_proba(X)
    with pytest.raises(ValueError, match="not fitted"):
        _core.ElmModel().predict(X)
    with pytest.raises(ValueError, match="not fitted"):
        _core.ElmModel().to_bytes()


def test_empty_arrays(fitted):
    clf, reg = fitted
    empty = np.empty((0, 8), dtype=np.float32)
    for est in (clf, reg):
        with pytest.raises(ValueError):
            est.predict(empty)
    with pytest.raises(ValueError):
        elmq.ELMClassifier().fit(empty, np.empty(0))
    with pytest.raises(ValueError):
        elmq.ELMRegressor().fit(np.empty((5, 0), dtype=np.float32), np.zeros(5))
    # The C++ layer checks too (no crash on 0 rows or 0 columns).
    with pytest.raises(ValueError, match="at least one row"):
        _core.ElmModel().fit(empty, np.empty(0, dtype=np.int64))
    with pytest.raises(ValueError):
        _core.ElmModel().fit(np.empty((3, 0), dtype=np.float32), np.arange(3, dtype=np.int64))
    assert clf.model_.decision_function(empty).shape == (0, 3)


def test_shape_and_task_mismatch_in_core(blobs, fitted):
    X, y = blobs
    clf, reg = fitted
    with pytest.raises(ValueError, match="rows"):
        _core.ElmModel().fit(X, y[:10].astype(np.int64))
    with pytest.raises(ValueError, match="regression"):
        reg.model_.predict(X)
    with pytest.raises(ValueError, match="at least 2"):
        _core.ElmModel().fit(X, np.zeros(len(X), dtype=np.int64))
    with pytest.raises(TypeError):
        _core.ElmModel().fit(X.astype(np.float64), y)


def test_single_class_message(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="one class"):
        elmq.ELMClassifier(n_hidden=10).fit(X, np.ones(len(X)))


def test_numerical_error_is_runtime_error(blobs):
    X, y = blobs
    # lambda = 0 with more neurons than rows: H^T H is singular.
    with pytest.raises(RuntimeError, match="positive definite") as info:
        elmq.ELMClassifier(n_hidden=50, alpha=0.0, scaling="none").fit(X[:20], y[:20])
    assert isinstance(info.value, elmq.NumericalError)


def test_input_that_overflows_is_a_numerical_error_not_nan():
    # Two features with a training range of ~1e-30: min-max scaling multiplies
    # them by ~1e30, so 1e10 overflows float32 and a neuron computes inf - inf.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    X[:, :2] = rng.uniform(size=(200, 2)) * 1e-30
    y = (X[:, 2] > 0).astype(int)
    clf = elmq.ELMClassifier(n_hidden=32, random_state=0).fit(X, y)
    far = X[:3].copy()
    far[1, :2] = 1e10
    for predict in (clf.predict, clf.decision_function, clf.predict_proba):
        with pytest.raises(elmq.NumericalError, match="input row 1 .*outside the range"):
            predict(far)
    assert np.isfinite(clf.decision_function(X[:3])).all()
    # An online model refuses to learn such a row (it would make its state NaN).
    online = elmq.OnlineELMClassifier(n_hidden=32, random_state=0).partial_fit(X, y, classes=[0, 1])
    before = online.predict(X)
    with pytest.raises(elmq.NumericalError, match="hidden activations"):
        online.partial_fit(far[1:2], y[:1])
    np.testing.assert_array_equal(online.predict(X), before)


def test_corrupt_model_images(fitted, tmp_path):
    clf, _ = fitted
    image = bytearray(clf.model_.to_bytes())
    image[len(image) // 2] ^= 0xFF
    with pytest.raises(ValueError, match="checksum|CRC|corrupt") as info:
        _core.ElmModel.from_bytes(bytes(image))
    assert isinstance(info.value, elmq.FormatError)
    for blob in (b"", b"ELMQ", b"not a model at all, just text" * 10, bytes(image[:40])):
        with pytest.raises(ValueError):
            _core.ElmModel.from_bytes(blob)
    path = tmp_path / "corrupt.elmq"
    path.write_bytes(bytes(image))
    with pytest.raises(ValueError):
        elmq.load(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError):
        elmq.load(path)
    with pytest.raises(OSError):
        elmq.load(tmp_path / "missing.elmq")
    with pytest.raises(OSError):
        _core.ElmModel.load(str(tmp_path / "missing.elmq"))
    with pytest.raises(OSError):
        clf.save(tmp_path / "no-such-dir" / "m.elmq")
