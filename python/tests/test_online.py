"""OnlineELMClassifier: partial_fit on the online sequential ELM engine (digits)."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

import elmq


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.3, random_state=0, stratify=y)


PARAMS = dict(n_hidden=128, alpha=1.0, random_state=3)


def test_streaming_equals_the_batch_ridge_solution(digits):
    Xtr, Xte, ytr, yte = digits
    # The batch model with the same layer, the same fixed lambda and the scaler fitted on the
    # first chunk (fit_scaler + accumulate + solve: every row at once).
    batch = elmq.ELMClassifier(alpha=1.0, n_hidden=128, random_state=3, n_jobs=1)
    cfg = batch._make_config()
    core = elmq._core.ElmModel(cfg)
    core.fit_scaler(np.ascontiguousarray(Xtr[:100]))
    core.accumulate(np.ascontiguousarray(Xtr), ytr.astype(np.int64), np.arange(10, dtype=np.int64))
    core.solve()
    online = elmq.OnlineELMClassifier(**PARAMS, precision="float64")
    for start in range(0, len(Xtr), 100):  # chunks of 100 rows, the first fits the scaler
        online.partial_fit(Xtr[start:start + 100], ytr[start:start + 100], classes=np.arange(10))
    assert online.samples_learned_ == len(Xtr)
    beta_batch = core.beta
    beta_online = online.model_.beta
    # float64 state: equal to the batch solve up to the batch model's float32 Gram products.
    err = np.abs(beta_online - beta_batch).max() / np.abs(beta_batch).max()
    assert err < 2e-3, err
    np.testing.assert_array_equal(online.classes_, np.arange(10))
    agree = (online.predict(Xte) == core.predict(np.ascontiguousarray(Xte))).mean()
    assert agree >= 0.99
    assert online.score(Xte, yte) >= 0.9


def test_classes_grow_mid_stream_and_unlearning(digits):
    Xtr, Xte, ytr, yte = digits
    low = ytr < 5
    clf = elmq.OnlineELMClassifier(**PARAMS).partial_fit(Xtr[low], ytr[low])
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    assert set(clf.predict(Xte)) <= set(range(5))
    clf.partial_fit(Xtr[~low], ytr[~low])  # labels 5..9 first seen here
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.score(Xte, yte) >= 0.9
    # Unlearning the second chunk gives back the first model: to the state's rounding, amplified
    # by cond(G + alpha I) (the C++ suite's bound for a float32 state, 2e-3 of max |beta|;
    # measured 3e-4 to 5e-4 here), and to 1e-12 with a float64 state.
    for precision, bound in (("float32", 2e-3), ("float64", 1e-9)):
        params = dict(PARAMS, precision=precision)
        both = elmq.OnlineELMClassifier(**params).partial_fit(Xtr[low], ytr[low])
        both.partial_fit(Xtr[~low], ytr[~low])
        first = elmq.OnlineELMClassifier(**params).partial_fit(Xtr[low], ytr[low])
        both.unlearn(Xtr[~low], ytr[~low])
        b0, scale = first.model_.beta, np.abs(first.model_.beta).max()
        assert np.abs(both.model_.beta[:, :5] - b0).max() <= bound * scale, precision
        assert np.abs(both.model_.beta[:, 5:]).max() <= bound * scale, precision


def test_forgetting_follows_a_changed_mapping(digits):
    Xtr, Xte, ytr, yte = digits
    swapped = (ytr + 1) % 10  # concept drift: every label moves by one
    keep = elmq.OnlineELMClassifier(**PARAMS, forgetting=1.0)
    forget = elmq.OnlineELMClassifier(**PARAMS, forgetting=0.99)
    for clf in (keep, forget):
        clf.partial_fit(Xtr, ytr, classes=np.arange(10))
        for start in range(0, 600, 50):
            clf.partial_fit(Xtr[start:start + 50], swapped[start:start + 50])
    target = (yte + 1) % 10
    assert forget.score(Xte, target) >= 0.8
    assert forget.score(Xte, target) > keep.score(Xte, target) + 0.2


def test_persistence_and_resume(tmp_path, digits):
    Xtr, Xte, ytr, _ = digits
    a = elmq.OnlineELMClassifier(**PARAMS).partial_fit(Xtr[:500], ytr[:500])
    b = pickle.loads(pickle.dumps(a))
    a.save(tmp_path / "s.elmq")
    c = elmq.load(tmp_path / "s.elmq")
    assert isinstance(c, elmq.OnlineELMClassifier) and c.get_params()["n_hidden"] == 128
    for est in (a, b, c):
        est.partial_fit(Xtr[500:], ytr[500:])
    # State included: resuming equals never stopping, bit for bit.
    np.testing.assert_array_equal(b.model_.beta, a.model_.beta)
    np.testing.assert_array_equal(c.model_.beta, a.model_.beta)
    proba = a.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(np.argmax(proba, axis=1), a.predict(Xte))
    # A batch ELMClassifier with the current weights, e.g. to quantize it.
    batch = a.to_elm_classifier()
    np.testing.assert_array_equal(batch.predict(Xte), a.predict(Xte))


def test_row_threads_split_one_row_updates_without_changing_a_bit(digits):
    Xtr, Xte, ytr, _ = digits
    # 1100 x 64 weights: over the 2**16 from which a one-row update is split.
    params = dict(n_hidden=1100, alpha=1.0, forgetting=0.999, random_state=5)
    one = elmq.OnlineELMClassifier(**params)
    two = elmq.OnlineELMClassifier(row_threads=2, **params)
    for i in range(300):  # the real-time case: one row per call
        for est in (one, two):
            est.partial_fit(Xtr[i:i + 1], ytr[i:i + 1], classes=np.arange(10))
    assert one.model_.row_threads == 1 and two.model_.row_threads == 2
    assert one.model_.to_bytes() == two.model_.to_bytes()  # the whole state
    # A runtime setting: not in the file, reapplied after unpickling and by set_params.
    copy = pickle.loads(pickle.dumps(two))
    assert copy.model_.row_threads == 2
    copy.set_params(row_threads=0)
    assert copy.model_.row_threads == 0
    copy.partial_fit(Xtr[300:301], ytr[300:301])
    one.partial_fit(Xtr[300:301], ytr[300:301])
    np.testing.assert_array_equal(copy.model_.beta, one.model_.beta)
    for bad in (-1, 1.5, True, "2", 2**40):
        with pytest.raises(ValueError, match="row_threads"):
            elmq.OnlineELMClassifier(row_threads=bad).partial_fit(Xtr[:20], ytr[:20])
    with pytest.raises(ValueError, match="row_threads"):
        copy.set_params(row_threads=-2)
    with pytest.raises(ValueError):
        copy.model_.row_threads = -1


def test_bad_input(digits):
    Xtr, Xte, ytr, _ = digits
    with pytest.raises(NotFittedError):
        elmq.OnlineELMClassifier().predict(Xte)
    with pytest.raises(ValueError, match="alpha"):
        elmq.OnlineELMClassifier(alpha=0.0).partial_fit(Xtr, ytr)
    with pytest.raises(ValueError):
        elmq.OnlineELMClassifier(forgetting=1.5).partial_fit(Xtr, ytr)
    with pytest.raises(ValueError, match="integers"):
        elmq.OnlineELMClassifier().partial_fit(Xtr[:10], np.array(["a", "b"] * 5))
    clf = elmq.OnlineELMClassifier(**PARAMS).partial_fit(Xtr[:50], ytr[:50])
    bad = np.array(Xtr[:4])
    bad[2, 3] = np.nan
    n = clf.samples_learned_
    with pytest.raises(ValueError):
        clf.partial_fit(bad, ytr[:4])
    assert clf.samples_learned_ == n  # nothing learned from a bad chunk
    with pytest.raises(ValueError):
        clf.partial_fit(Xtr[:4, :10], ytr[:4])
    with pytest.raises(ValueError, match="rows"):
        clf.partial_fit(Xtr[:4], ytr[:3])
