"""Behaviour of ELMClassifier / ELMRegressor beyond scikit-learn's generic checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import elmq
from elmq import _core


def test_public_api():
    for name in elmq.__all__:
        assert hasattr(elmq, name), name
    assert elmq.__version__ == _core.__version__
    assert issubclass(elmq.FormatError, ValueError)
    assert issubclass(elmq.NumericalError, RuntimeError)
    assert "GIL" in _core.ElmModel.__doc__
    assert "Parameters" in elmq.ELMClassifier.__doc__
    assert "Returns" in elmq.ELMRegressor.fit.__doc__


@pytest.mark.parametrize("cls", [elmq.ELMClassifier, elmq.ELMRegressor])
def test_defaults_equal_the_cpp_defaults(cls):
    cfg, group = _core.ElmConfig(), _core.NeuronGroup()
    params = cls().get_params()
    assert params["n_hidden"] == cfg.hidden.n_neurons == group.count
    assert params["activation"] == _core.activation_name(group.activation)
    assert params["weight_init"] == _core.weight_init_name(group.init)
    assert params["weight_scale"] == group.weight_scale
    assert params["bias_scale"] == group.bias_scale
    assert params["rbf_width"] == group.rbf_width
    assert params["scaling"] == _core.scaling_name(cfg.scaling)
    assert (params["alpha"] == "auto") == cfg.ridge.auto_lambda
    assert params["validation_fraction"] == cfg.ridge.validation_fraction
    assert params["chunk_rows"] == cfg.chunk_rows
    assert elmq.DEFAULT_SEED == cfg.hidden.seed
    if cls is elmq.ELMClassifier:
        assert params["proba_temperature"] == pytest.approx(cfg.proba_temperature)
        assert params["class_weight"] is None and cfg.class_weight == _core.ClassWeight.NONE
    # The same configuration reaches C++.
    made = cls()._make_config()
    assert made.scaling == cfg.scaling and made.hidden.seed == cfg.hidden.seed
    assert made.ridge.relative_grid == cfg.ridge.relative_grid


def test_init_only_stores_parameters():
    est = elmq.ELMClassifier(n_hidden=-5, activation="nonsense", alpha="bogus")
    assert est.get_params()["n_hidden"] == -5  # validated at fit, not in __init__
    with pytest.raises(ValueError):
        est.fit(np.ones((4, 2)), [0, 1, 0, 1])


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_hidden=0), "count"),
        (dict(activation="softmax"), "activation"),
        (dict(weight_init="glorot"), "glorot"),
        (dict(alpha="best"), "alpha"),
        (dict(alpha=-1.0), "lambda"),
        (dict(scaling="zscore"), "scaling"),
        (dict(validation_fraction=0.9), "validation_fraction"),
        (dict(chunk_rows=0), "chunk_rows"),
        (dict(n_jobs=0), "n_jobs"),
        (dict(random_state=-1), "random_state"),
        (dict(proba_temperature=0.0), "proba_temperature"),
        (dict(class_weight="uniform"), "class_weight"),
        (dict(hidden="10:swish"), "swish"),
    ],
)
def test_bad_parameters_raise_value_error(blobs, params, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        elmq.ELMClassifier(**params).fit(X, y)


def test_classifier_accuracy_and_attributes():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    clf = elmq.ELMClassifier(n_hidden=500, random_state=0)
    assert clf.fit(Xtr, ytr) is clf
    assert clf.score(Xte, yte) > 0.93
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_features_in_ == 64
    assert clf.n_outputs_ == 10
    assert clf.alpha_ > 0
    assert len(clf.lambda_path_) == len(clf.validation_mse_) >= 9
    assert clf.alpha_ >= clf.lambda_path_.min()
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(Xte))
    dec = clf.decision_function(Xte)
    np.testing.assert_array_equal(clf.classes_[dec.argmax(axis=1)], clf.predict(Xte))
    assert clf.model_.n_hidden == 500


def test_fixed_alpha_has_no_search(blobs):
    X, y = blobs
    clf = elmq.ELMClassifier(n_hidden=50, alpha=0.5).fit(X, y)
    assert clf.alpha_ == 0.5
    assert clf.lambda_path_.size == 0 and clf.validation_mse_.size == 0


def test_string_labels_binary_decision(blobs):
    X, y = blobs
    names = np.array(["cat", "dog"])[(y > 0).astype(int)]
    clf = elmq.ELMClassifier(n_hidden=60, random_state=1).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog"])
    pred = clf.predict(X)
    assert pred.dtype == names.dtype and set(pred) <= {"cat", "dog"}
    dec = clf.decision_function(X)
    assert dec.shape == (len(X),)
    np.testing.assert_array_equal(np.where(dec > 0, "dog", "cat"), pred)
    assert clf.score(X, names) > 0.95


def test_arbitrary_integer_labels_reach_cpp_unchanged(blobs):
    X, y = blobs
    labels = np.array([-7, 10, 1 << 40])[y]
    clf = elmq.ELMClassifier(n_hidden=60).fit(X, labels)
    np.testing.assert_array_equal(clf.model_.classes, [-7, 10, 1 << 40])
    assert set(clf.predict(X)) <= {-7, 10, 1 << 40}
    labels32 = y.astype(np.int32) + 5
    pred = elmq.ELMClassifier(n_hidden=60).fit(X, labels32).predict(X)
    assert pred.dtype == np.int32


def test_multilabel(blobs):
    X, y = blobs
    Y = np.column_stack([y == 0, y != 1, X[:, 0] > 0]).astype(np.int64)
    clf = elmq.ELMClassifier(n_hidden=200, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    pred = clf.predict(X)
    assert pred.shape == Y.shape and pred.dtype == Y.dtype
    assert (pred == Y).mean() > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and np.all((proba > 0) & (proba < 1))
    np.testing.assert_array_equal(proba > 0.5, pred == 1)
    dec = clf.decision_function(X)
    np.testing.assert_array_equal(dec > 0.5, pred == 1)
    with pytest.raises(ValueError, match="multilabel"):
        clf.partial_fit(X, Y)


def test_multiclass_multioutput_is_rejected(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="multioutput"):
        elmq.ELMClassifier(n_hidden=20).fit(X, np.column_stack([y, y]))


def test_regressor_multi_and_single_output(regression_data):
    X, Y = regression_data
    reg = elmq.ELMRegressor(n_hidden=300, random_state=0).fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == Y.shape and pred.dtype == np.float64
    assert reg.score(X, Y) > 0.95
    assert reg.n_outputs_ == 2
    # With a fixed alpha, each output column is an independent ridge problem.
    fixed = elmq.ELMRegressor(n_hidden=300, alpha=0.1, random_state=0).fit(X, Y)
    reg1 = elmq.ELMRegressor(n_hidden=300, alpha=0.1, random_state=0).fit(X, Y[:, 0])
    assert reg1.predict(X).shape == (len(X),)
    # (Up to float32 rounding of H^T T, which is a matrix-vector product for one output and a
    # matrix product for two, amplified by cond(G + alpha I): measured 1.1e-4 with OpenBLAS.)
    np.testing.assert_allclose(reg1.predict(X), fixed.predict(X)[:, 0], rtol=1e-3, atol=1e-3)
    reg2 = elmq.ELMRegressor(n_hidden=300, random_state=0).fit(X, Y[:, :1])
    assert reg2.predict(X).shape == (len(X), 1)


def test_class_weight(blobs):
    X, y = blobs
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:10], np.flatnonzero(y == 2)[:10]]
    Xi, yi = X[keep], y[keep]
    base = elmq.ELMClassifier(n_hidden=40, alpha=1.0, random_state=0)
    plain = clone(base).fit(Xi, yi)
    balanced = clone(base).set_params(class_weight="balanced").fit(Xi, yi)
    assert not np.allclose(plain.decision_function(X), balanced.decision_function(X))
    # 'balanced' in C++ equals the same weights given per class from Python.
    counts = np.bincount(yi)
    as_dict = {c: len(yi) / (3 * counts[c]) for c in range(3)}
    weighted = clone(base).set_params(class_weight=as_dict).fit(Xi, yi)
    np.testing.assert_allclose(weighted.decision_function(X), balanced.decision_function(X),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="balanced"):
        clone(base).set_params(class_weight="balanced").partial_fit(Xi, yi, classes=[0, 1, 2])


def test_sample_weight_zero_and_ones(blobs):
    X, y = blobs
    est = elmq.ELMClassifier(n_hidden=50, random_state=0)
    a = clone(est).fit(X, y).decision_function(X)
    b = clone(est).fit(X, y, sample_weight=np.ones(len(y))).decision_function(X)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="zero"):
        clone(est).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        clone(est).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        clone(est).fit(X, y, sample_weight=np.ones(3))


def test_random_state_semantics(blobs):
    X, y = blobs
    a = elmq.ELMClassifier(n_hidden=30).fit(X, y)
    b = elmq.ELMClassifier(n_hidden=30, random_state=elmq.DEFAULT_SEED).fit(X, y)
    np.testing.assert_array_equal(a.model_.hidden_weights, b.model_.hidden_weights)
    c = elmq.ELMClassifier(n_hidden=30, random_state=7).fit(X, y)
    assert not np.array_equal(a.model_.hidden_weights, c.model_.hidden_weights)
    rs1 = elmq.ELMClassifier(n_hidden=30, random_state=np.random.RandomState(3)).fit(X, y)
    rs2 = elmq.ELMClassifier(n_hidden=30, random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(rs1.model_.hidden_weights, rs2.model_.hidden_weights)
    gen = elmq.ELMClassifier(n_hidden=30, random_state=np.random.default_rng(0)).fit(X, y)
    assert gen.model_.hidden_weights.shape == (30, X.shape[1])


def test_results_do_not_depend_on_n_jobs(blobs):
    X, y = blobs
    Xb = np.tile(X, (10, 1))  # several chunks and prediction tasks
    yb = np.tile(y, 10)
    ref = elmq.ELMClassifier(n_hidden=120, n_jobs=1, chunk_rows=500).fit(Xb, yb)
    for n_jobs in (2, -1, None):
        other = elmq.ELMClassifier(n_hidden=120, n_jobs=n_jobs, chunk_rows=500).fit(Xb, yb)
        np.testing.assert_array_equal(ref.model_.beta, other.model_.beta)
        np.testing.assert_array_equal(ref.decision_function(Xb), other.decision_function(Xb))


def test_n_jobs_is_a_runtime_setting(blobs):
    import pickle

    X, y = blobs
    clf = elmq.ELMClassifier(n_hidden=20, n_jobs=1).fit(X, y)
    assert clf.model_.config.threads == 1
    clf.set_params(n_jobs=-1)
    assert clf.model_.config.threads == 0
    clf.set_params(n_jobs=2)
    back = pickle.loads(pickle.dumps(clf))
    assert back.model_.config.threads == 2
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    with pytest.raises(ValueError, match="threads"):
        clf.model_.set_threads(-1)


def test_partial_fit_matches_fit(blobs):
    X, y = blobs
    params = dict(n_hidden=60, chunk_rows=70, random_state=2)
    full = elmq.ELMClassifier(**params).fit(X, y)
    # One partial_fit on all rows is a fit (same scaler, chunks, lambda search).
    once = elmq.ELMClassifier(**params).partial_fit(X, y, classes=np.unique(y))
    assert once.alpha_ == full.alpha_
    np.testing.assert_array_equal(once.lambda_path_, full.lambda_path_)
    np.testing.assert_array_equal(once.model_.beta, full.model_.beta)
    # In batches, the scaler (and the input RMS the hidden weights are scaled by)
    # comes from the first batch only, so the model differs slightly.
    inc = elmq.ELMClassifier(**params)
    for start in range(0, len(X), 70):
        inc.partial_fit(X[start:start + 70], y[start:start + 70],
                        classes=np.unique(y) if start == 0 else None)
    assert inc.model_.lambda_search.fit_rows == full.model_.lambda_search.fit_rows
    assert abs(inc.score(X, y) - full.score(X, y)) < 0.03


def test_partial_fit_rules(blobs):
    X, y = blobs
    clf = elmq.ELMClassifier(n_hidden=30)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X[50:], y[50:], classes=[0, 1, 5])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:5, :3], y[:5])
    clf.partial_fit(X[50:], y[50:])
    assert clf.score(X, y) > 0.9
    # fit then partial_fit continues (the statistics are kept by default) ...
    cont = elmq.ELMClassifier(n_hidden=30).fit(X[:150], y[:150]).partial_fit(X[150:], y[150:])
    assert cont.score(X, y) > 0.9
    # ... unless they were freed.
    lean = elmq.ELMClassifier(n_hidden=30, keep_training_state=False).fit(X, y)
    assert not lean.model_.has_training_state
    with pytest.raises(ValueError, match="training statistics"):
        lean.partial_fit(X, y)
    reg = elmq.ELMRegressor(n_hidden=30)
    reg.partial_fit(X[:100], X[:100, 0]).partial_fit(X[100:], X[100:, 0])
    assert reg.score(X, X[:, 0]) > 0.9
    with pytest.raises(ValueError, match="columns"):
        reg.partial_fit(X[:10], X[:10, :2])


def test_pipeline_gridsearch_cross_val_score():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), elmq.ELMClassifier(n_hidden=50, scaling="none"))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85
    grid = GridSearchCV(
        elmq.ELMClassifier(random_state=0),
        {"n_hidden": [20, 80], "activation": ["tanh", "relu"], "alpha": ["auto", 1.0]},
        cv=3,
    )
    grid.fit(X, y)
    assert grid.best_score_ > 0.85
    assert set(grid.best_params_) == {"n_hidden", "activation", "alpha"}
    assert grid.best_estimator_.n_features_in_ == 4
    cv = KFold(3, shuffle=True, random_state=0)
    reg_scores = cross_val_score(elmq.ELMRegressor(n_hidden=50), X[:, :3], X[:, 3], cv=cv)
    assert reg_scores.mean() > 0.7
    par = cross_val_score(elmq.ELMClassifier(n_hidden=30, n_jobs=1), X, y, cv=3, n_jobs=2)
    assert par.mean() > 0.85


def test_lists_and_dataframes(blobs):
    X, y = blobs
    ref = elmq.ELMClassifier(n_hidden=40, random_state=0).fit(X, y)
    from_list = elmq.ELMClassifier(n_hidden=40, random_state=0).fit(X.tolist(), y.tolist())
    np.testing.assert_array_equal(from_list.predict(X.tolist()), ref.predict(X))
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    from_df = elmq.ELMClassifier(n_hidden=40, random_state=0).fit(df, pd.Series(y))
    np.testing.assert_array_equal(from_df.feature_names_in_, df.columns)
    np.testing.assert_array_equal(from_df.predict(df), ref.predict(X))
    with pytest.warns(UserWarning, match="feature names"):
        from_df.predict(X)
    # float64 and Fortran-ordered inputs are converted (once) to the same values.
    np.testing.assert_array_equal(ref.predict(np.asfortranarray(X.astype(np.float64))),
                                  ref.predict(X))


def test_load_dataset_binding():
    assert elmq.dataset_names() == ["fashion-mnist", "iris", "wine", "breast_cancer", "digits"]
    ds = elmq.load_dataset("iris", test_fraction=0.2, seed=1)
    assert ds.x_train.dtype == np.float32 and ds.x_train.flags.c_contiguous
    assert ds.y_train.dtype == np.int64
    assert ds.x_train.shape[0] + ds.x_test.shape[0] == 150
    assert ds.class_names and "iris" in ds.source
    clf = elmq.ELMClassifier(n_hidden=60).fit(ds.x_train, ds.y_train)
    assert clf.score(ds.x_test, ds.y_test) > 0.8
    with pytest.raises(ValueError, match="unknown|known"):
        elmq.load_dataset("no-such-set")
    with pytest.raises(OSError):
        elmq.load_dataset("iris", data_dir="/nonexistent-elmq-dir")
