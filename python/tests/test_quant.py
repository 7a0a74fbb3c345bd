"""elmq.quantize, QuantizedModel and MLPClassifier on real data (scikit-learn's digits)."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_diabetes
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

import elmq


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def elm(digits):
    Xtr, _, ytr, _ = digits
    return elmq.ELMClassifier(n_hidden=300, keep_training_state=True, random_state=0,
                              n_jobs=1).fit(Xtr, ytr)


@pytest.fixture(scope="module")
def mlp(digits):
    Xtr, _, ytr, _ = digits
    return elmq.MLPClassifier(hidden_layer_sizes=(64,), epochs=25, batch_size=32,
                              learning_rate_init=3e-3, random_state=0, n_jobs=1).fit(Xtr, ytr)


# ---------------------------------------------------------------- ELM

def test_int8_elm_keeps_accuracy_and_matches_its_float_reference(digits, elm):
    _, Xte, _, yte = digits
    q = elmq.quantize(elm, "int8", n_jobs=1)
    assert isinstance(q, elmq.QuantizedModel)
    assert abs(q.score(Xte, yte) - elm.score(Xte, yte)) <= 0.01
    # The integer kernels differ from the dequantized-float model only by the
    # int8 quantization of inputs and activations (relative rms well below 2%).
    x = np.ascontiguousarray(Xte, dtype=np.float32)
    ref = q.core_.decision_function_reference(x)
    d = q.decision_function(x)
    assert np.linalg.norm(d - ref) / np.linalg.norm(ref) < 0.02
    assert q.bytes_ < q.core_.fp32_bytes
    assert q.info_["beta_format"] == "int8" and q.info_["w_format"] == "f32"


@pytest.mark.parametrize("fmt", ["int4-g32", "int3", "int2-g32-asym", "ternary"])
def test_gptq_never_worse_than_rtn_on_the_ridge_objective(digits, elm, fmt):
    _, Xte, _, yte = digits
    g = elmq.quantize(elm, fmt, method="gptq", n_jobs=1)
    r = elmq.quantize(elm, fmt, method="rtn", n_jobs=1)
    assert g.info_["beta_method"] == "gptq"
    assert g.info_["beta_loss"] <= g.info_["beta_rtn_loss"]
    assert g.info_["beta_loss"] <= r.info_["beta_loss"] * (1 + 1e-9)
    assert g.score(Xte, yte) >= elm.score(Xte, yte) - 0.03


def test_quantized_w_needs_the_data_and_is_resolved_on_it(digits, elm):
    Xtr, Xte, ytr, yte = digits
    with pytest.raises(ValueError, match="training data"):
        elmq.quantize(elm, "int8", w_format="ternary")
    q = elmq.quantize(elm, "int8", w_format="ternary", X=Xtr, y=ytr, n_jobs=1)
    assert q.info_["beta_resolved"] and not q.info_["w_exact"]
    assert q.score(Xte, yte) >= elm.score(Xte, yte) - 0.03
    assert q.bits_per_weight_ < 4


def test_gptq_without_training_state_uses_the_data(digits):
    Xtr, Xte, ytr, yte = digits
    clf = elmq.ELMClassifier(n_hidden=200, keep_training_state=False, random_state=1,
                             n_jobs=1).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="training"):
        elmq.quantize(clf, "int4-g32", method="gptq")
    q = elmq.quantize(clf, "int4-g32", method="gptq", X=Xtr, y=ytr, n_jobs=1)
    assert q.info_["beta_loss"] <= q.info_["beta_rtn_loss"]


def test_string_labels_and_persistence(tmp_path, digits):
    Xtr, Xte, ytr, yte = digits
    names = np.array([f"digit-{d}" for d in range(10)])
    clf = elmq.ELMClassifier(n_hidden=200, keep_training_state=True, random_state=0,
                             n_jobs=1).fit(Xtr, names[ytr])
    q = elmq.quantize(clf, "int4-g32", method="gptq", n_jobs=1)
    pred = q.predict(Xte)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    assert q.score(Xte, names[yte]) == pytest.approx(np.mean(pred == names[yte]))
    p = pickle.loads(pickle.dumps(q))
    np.testing.assert_array_equal(p.predict(Xte), pred)
    np.testing.assert_array_equal(p.predict_proba(Xte), q.predict_proba(Xte))
    # The file holds int64 labels (positions in classes_), read by C++ and the CLI.
    q.save(tmp_path / "q.elmq")
    loaded = elmq.load(tmp_path / "q.elmq")
    assert isinstance(loaded, elmq.QuantizedModel)
    np.testing.assert_array_equal(names[loaded.predict(Xte)], pred)
    assert elmq._core.peek_file_kind((tmp_path / "q.elmq").read_bytes()) == \
        elmq._core.FileKind.QUANTIZED_ELM


def test_quantized_regression():
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    reg = elmq.ELMRegressor(n_hidden=100, keep_training_state=True, random_state=0,
                            n_jobs=1).fit(Xtr, ytr)
    q = elmq.quantize(reg, "int8", method="gptq", n_jobs=1)
    pred = q.predict(Xte)
    assert pred.shape == (len(yte),) and pred.dtype == np.float64
    assert q.score(Xte, yte) >= reg.score(Xte, yte) - 0.02
    with pytest.raises(ValueError, match="classifier"):
        q.predict_proba(Xte)


def test_quantize_rejects_bad_arguments(digits, elm):
    Xtr, Xte, ytr, _ = digits
    with pytest.raises(ValueError, match="int4-g32"):  # the message lists the valid names
        elmq.quantize(elm, "int5")
    with pytest.raises(ValueError):
        elmq.quantize(elm, "int8", method="awq")  # an MLP method
    with pytest.raises(TypeError):
        elmq.quantize(elm, 8)
    with pytest.raises(TypeError):
        elmq.quantize(object(), "int8")
    with pytest.raises(ValueError, match="together"):
        elmq.quantize(elm, "int8", X=Xtr)
    with pytest.raises(ValueError, match="not in classes_"):
        elmq.quantize(elm, "int8", w_format="int4", X=Xtr, y=ytr + 100)
    with pytest.raises(NotFittedError):
        elmq.quantize(elmq.ELMClassifier(), "int8")
    q = elmq.quantize(elm, "int8", n_jobs=1)
    bad = np.array(Xte[:3], dtype=np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(ValueError):
        q.predict(bad)
    with pytest.raises(ValueError, match="expected"):
        q.predict(Xte[:, :10])
    assert "int3" in elmq.quant_formats()


def test_kernel_info_names_the_path_and_the_environment_can_lower_it():
    info = elmq.kernel_info()
    assert info["path"] in {"scalar", "avx2", "avxvnni", "avx512vnni", "avx512bf16"}
    assert info["report"].startswith(info["path"] + " (cpu: ")
    # Chosen once per process: ask a new one with ELMQ_KERNEL_PATH set.
    code = "import elmq; i = elmq.kernel_info(); print(i['path']); print(i['report'])"
    env = {**os.environ, "ELMQ_KERNEL_PATH": "scalar"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "scalar"
    assert "ELMQ_KERNEL_PATH=scalar" in out[1]


# ---------------------------------------------------------------- MLP

def test_mlp_learns_and_is_deterministic(digits, mlp):
    Xtr, Xte, ytr, yte = digits
    assert mlp.score(Xte, yte) >= 0.93
    assert len(mlp.history_["epochs"]) >= 1 and mlp.n_parameters_ == 64 * 64 + 64 + 64 * 10 + 10
    again = elmq.MLPClassifier(hidden_layer_sizes=(64,), epochs=25, batch_size=32,
                               learning_rate_init=3e-3, random_state=0, n_jobs=1).fit(Xtr, ytr)
    np.testing.assert_array_equal(again.predict_proba(Xte), mlp.predict_proba(Xte))
    proba = mlp.predict_proba(Xte)
    np.testing.assert_array_equal(np.argmax(proba, axis=1), np.searchsorted(mlp.classes_, mlp.predict(Xte)))


def test_mlp_persistence(tmp_path, digits, mlp):
    _, Xte, _, _ = digits
    p = pickle.loads(pickle.dumps(mlp))
    np.testing.assert_array_equal(p.predict_proba(Xte), mlp.predict_proba(Xte))
    mlp.save(tmp_path / "m.elmq")
    loaded = elmq.load(tmp_path / "m.elmq")
    assert isinstance(loaded, elmq.MLPClassifier)
    np.testing.assert_array_equal(loaded.predict(Xte), mlp.predict(Xte))


@pytest.mark.parametrize("fmt,method,activations", [
    ("int8", "rtn", "dynamic"), ("int8", "rtn", "static"), ("int4-g32", "gptq", "dynamic"),
    ("int3", "gptq", "dynamic"), ("int4-g32", "awq", "dynamic")])
def test_quantized_mlp(tmp_path, digits, mlp, fmt, method, activations):
    Xtr, Xte, _, yte = digits
    q = mlp.quantize(fmt, method=method, activations=activations, X=Xtr[:600], n_jobs=1)
    assert q.info_["method"] == method and q.info_["activations"] == activations
    assert set(q.info_["formats"]) == {fmt}
    budget = 0.01 if fmt == "int8" else 0.03
    assert q.score(Xte, yte) >= mlp.score(Xte, yte) - budget
    q.save(tmp_path / "q.elmq")
    np.testing.assert_array_equal(elmq.load(tmp_path / "q.elmq").predict(Xte), q.predict(Xte))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(q)).predict(Xte), q.predict(Xte))


def test_mlp_rejects_bad_input(digits, mlp):
    Xtr, Xte, ytr, _ = digits
    with pytest.raises(ValueError, match="calibration"):
        mlp.quantize("int8", activations="static")
    with pytest.raises(ValueError, match="ELMs"):
        mlp.quantize("int8", w_format="int4")
    with pytest.raises(ValueError):
        elmq.MLPClassifier(hidden_layer_sizes=(0,)).fit(Xtr, ytr)
    with pytest.raises(ValueError):
        elmq.MLPClassifier(solver="lbfgs").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="at least 2"):
        elmq.MLPClassifier().fit(Xtr[:5], np.zeros(5))
    with pytest.raises(NotFittedError):
        elmq.MLPClassifier().predict(Xte)
    bad = np.array(Xte[:3])
    bad[0, 0] = np.inf
    with pytest.raises(ValueError):
        mlp.predict(bad)
    with pytest.raises(ValueError):
        mlp.predict(Xte[:, :5])


def test_multi_output_regression_file_keeps_its_shape(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(300, 4)).astype(np.float32)
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] * X[:, 3]])
    reg = elmq.ELMRegressor(n_hidden=60, random_state=0, n_jobs=1).fit(X, Y)
    q = elmq.quantize(reg, "int8", n_jobs=1)
    assert q.predict(X).shape == (300, 2)
    q.save(tmp_path / "r.elmq")
    loaded = elmq.load(tmp_path / "r.elmq")
    assert loaded.predict(X).shape == (300, 2)
    np.testing.assert_array_equal(loaded.predict(X), q.predict(X))
    assert loaded.score(X, Y) > 0.8
