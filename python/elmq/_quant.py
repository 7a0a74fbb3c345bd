"""Quantized models and the MLP baseline: elmq.quantize, QuantizedModel, MLPClassifier.

    >>> clf = elmq.ELMClassifier(n_hidden=2000, keep_training_state=True).fit(X, y)
    >>> q = elmq.quantize(clf, "int4-g32", method="gptq")   # GPTQ on the exact ridge Hessian
    >>> q.score(X_test, y_test), q.bytes_, q.bits_per_weight_
    >>> qw = elmq.quantize(clf, "int8", w_format="ternary", X=X, y=y)  # beta re-solved on ternary W
    >>> mlp = elmq.MLPClassifier(hidden_layer_sizes=(256, 256), epochs=10).fit(X, y)
    >>> q8 = elmq.quantize(mlp, "int8", activations="static", X=X[:2000])

A QuantizedModel predicts on elmq's integer kernels (the C++ QuantizedElm /
QuantizedMlp); it is saved in the same file format as the C++ library and the
CLI (``elmq eval``, ``elmq info`` read it) and pickles as that file image.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Optional, Union

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _core
from ._estimators import (
    ELMClassifier,
    ELMRegressor,
    _as_float32_c,
    _PicklesModelImage,
    _check_sample_weight,
    _core_label_map,
    _resolve_n_jobs,
    _resolve_seed,
    _to_core_labels,
)

__all__ = ["quantize", "QuantizedModel", "MLPClassifier", "quant_formats", "kernel_info"]


def quant_formats() -> list[str]:
    """Every storage format name, as :func:`quantize` and the CLI accept them."""
    return list(_core.quant_format_names())


def kernel_info() -> dict[str, str]:
    """Which kernels the quantized products run on this machine.

    ``{"path": ..., "report": ...}``: ``path`` is one of ``scalar``, ``avx2``,
    ``avxvnni``, ``avx512vnni``, ``avx512bf16`` (chosen once per process from
    the CPU; the environment variable ``ELMQ_KERNEL_PATH``, read at that moment,
    can lower it); ``report`` adds the CPU features and the variable's effect,
    e.g. ``"avx2 (cpu: avx2 fma f16c; ELMQ_KERNEL_PATH unset)"``. Worth printing
    beside any timing of a quantized model.
    """
    return {"path": _core.kernel_path(), "report": _core.kernel_dispatch_report()}


class _Labels:
    """Labels of any sortable type <-> the int64 labels the C++ models hold."""

    def __init__(self, classes: np.ndarray):
        self.classes = classes
        self.core, self.codes = _core_label_map(classes)

    def to_core(self, y: np.ndarray, where: str) -> np.ndarray:
        return _to_core_labels(self.classes, self.core, y, where)

    def from_core(self, labels: np.ndarray) -> np.ndarray:
        if self.codes:
            return self.classes[labels]
        dtype = self.classes.dtype  # integer labels are the C++ labels themselves
        return labels if labels.dtype == dtype else labels.astype(dtype)


def _x(X: Any, n_features: int, where: str) -> np.ndarray:
    X = _as_float32_c(X)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"{where}: X has shape {X.shape}, expected (n_samples, {n_features})")
    return X


class QuantizedModel:
    """A quantized ELM or MLP; prediction runs on elmq's integer kernels.

    Made by :func:`quantize` (or :func:`elmq.load` on a quantized model file).
    It is a fitted predictor, not an estimator: it has no ``fit``.

    Attributes
    ----------
    classes_ : ndarray
        Class labels (classifiers).
    n_features_in_ : int
    bytes_ : int
        Parameter storage in bytes (weights in their formats, with scales and
        padding; biases and input scaling in float32).
    bits_per_weight_ : float
    info_ : dict
        What quantization did: formats, method, losses (ELM: the increase of the
        ridge objective; RTN's for comparison), layer errors (MLP), seconds.
    core_ : elmq._core.QuantizedElm or elmq._core.QuantizedMlp
    """

    def __init__(self, core: Any, labels: Optional[_Labels] = None, y_ndim: Optional[int] = None,
                 multilabel_dtype: Any = None):
        if not isinstance(core, (_core.QuantizedElm, _core.QuantizedMlp)):
            raise TypeError(f"QuantizedModel wraps a QuantizedElm or QuantizedMlp, got {type(core).__name__}")
        if not core.fitted:
            raise ValueError("QuantizedModel: the model is empty")
        self.core_ = core
        self._regression = isinstance(core, _core.QuantizedElm) and core.task == _core.Task.REGRESSION
        self._multilabel = isinstance(core, _core.QuantizedElm) and core.task == _core.Task.MULTILABEL
        if labels is None and not self._regression:
            labels = _Labels(np.asarray(core.classes))
        self._labels = labels
        # Regression outputs: 1-D for one output unless the estimator was fitted on a 2-D y.
        self._y_ndim = y_ndim if y_ndim is not None else (1 if core.n_outputs == 1 else 2)
        self._multilabel_dtype = multilabel_dtype
        self.n_features_in_ = int(core.n_features)
        if labels is not None:
            self.classes_ = labels.classes

    @property
    def bytes_(self) -> int:
        return int(self.core_.bytes)

    @property
    def bits_per_weight_(self) -> float:
        return float(self.core_.bits_per_weight)

    @property
    def info_(self) -> dict:
        return dict(self.core_.info)

    def __repr__(self) -> str:
        i = self.core_.info
        kind = "ELM" if isinstance(self.core_, _core.QuantizedElm) else "MLP"
        fmt = f"W {i['w_format']}, beta {i['beta_format']} {i['beta_method']}" if kind == "ELM" \
            else f"{'/'.join(sorted(set(i['formats'])))} {i['method']}, {i['activations']} activations"
        return f"QuantizedModel({kind}: {fmt}; {self.bytes_} bytes, {self.bits_per_weight_:.2f} bpw)"

    # ------------------------------------------------------------ prediction
    def decision_function(self, X: Any) -> np.ndarray:
        """Raw outputs, float32 (n_samples, n_outputs)."""
        return self.core_.decision_function(_x(X, self.n_features_in_, "decision_function"))

    def predict(self, X: Any) -> np.ndarray:
        """Labels (classifiers), 0/1 matrix (multilabel) or float64 targets (regression)."""
        X = _x(X, self.n_features_in_, "predict")
        if self._regression:
            out = self.core_.predict_regression(X).astype(np.float64)
            return out.ravel() if self._y_ndim == 1 else out
        if self._multilabel:
            out = self.core_.predict_multilabel(X)
            return out if self._multilabel_dtype is None else out.astype(self._multilabel_dtype)
        return self._labels.from_core(self.core_.predict(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float32 (n_samples, n_classes) (single-label classifiers)."""
        if self._regression or self._multilabel:
            raise ValueError("predict_proba: this quantized model is not a single-label classifier")
        return self.core_.predict_proba(_x(X, self.n_features_in_, "predict_proba"))

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classifiers; multilabel: exact-match ratio) or R^2 (regression)."""
        pred = self.predict(X)
        y = np.asarray(y)
        if self._regression:
            return float(r2_score(y, pred))
        if self._multilabel:
            return float(np.mean(np.all(pred == y, axis=1)))
        return float(np.mean(pred == column_or_1d(y)))

    # ------------------------------------------------------------ persistence
    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the model file (kind 'quantized-elm' or 'quantized-mlp'), as C++ and the CLI do.

        Class labels are stored as int64: labels of other types come back as
        0..K-1 from :func:`elmq.load` (pickle keeps them).
        """
        self.core_.save(os.fspath(path))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        core = state.pop("core_")
        state["_kind"] = "elm" if isinstance(core, _core.QuantizedElm) else "mlp"
        state["_image"] = core.to_bytes()
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        image, kind = state.pop("_image"), state.pop("_kind")
        if not isinstance(image, bytes):
            raise ValueError("QuantizedModel: pickled model image must be bytes")
        cls = _core.QuantizedElm if kind == "elm" else _core.QuantizedMlp
        state["core_"] = cls.from_bytes(image)
        self.__dict__.update(state)


def _check_name(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"quantize: {name} must be a string, got {type(value).__name__}")
    return value


def quantize(estimator: Any, format: str = "int8", *, method: str = "rtn",
             w_format: str = "f32", activations: str = "dynamic", inputs: str = "dynamic",
             calibration: str = "minmax", lambda_scale: float = 1.0, X: Any = None,
             y: Any = None, sample_weight: Any = None,
             n_jobs: Optional[int] = None) -> QuantizedModel:
    """Quantize a fitted ELM or MLP (the C++ ``quantize_elm`` / ``quantize_mlp``).

    Parameters
    ----------
    estimator : ELMClassifier, ELMRegressor or MLPClassifier
        A fitted estimator (not modified).
    format : str, default="int8"
        Storage format of the output weights beta (ELM) or of every layer (MLP):
        one of :func:`quant_formats` (``"int8"``, ``"int4-g32"``, ``"int3"``,
        ``"int2-g32-asym"``, ``"ternary"``, ...).
    method : {"rtn", "gptq", "awq"}, default="rtn"
        ELM: round to nearest, or GPTQ with the exact ridge Hessian G + lambda I
        (needs the training statistics: ``keep_training_state=True``, or X and y).
        MLP: also "awq"; GPTQ and AWQ need calibration rows X.
    w_format : str, default="f32"
        ELM only: format of the input weights W. When W changes, beta is solved
        again on the quantized layer, which needs the training data X and y.
    activations : {"dynamic", "static"}, default="dynamic"
        How activations are quantized: int8 per row at run time, or static ranges
        (ELM: analytic for bounded activations; MLP: calibrated on X).
    inputs : {"dynamic", "uint8"}, default="dynamic"
        ELM only: "uint8" feeds integer inputs in [0, 255] (pixels) to the kernel as
        bytes, the scaler folded into W.
    calibration : {"minmax", "moving-average", "percentile", "mse"}, default="minmax"
        MLP with static activations: how the ranges are calibrated.
    lambda_scale : float, default=1.0
        ELM only: re-solve beta with lambda * lambda_scale before quantizing (a larger
        lambda gives a smaller, more quantizable beta).
    X, y : array-like, optional
        ELM: the training data (X with labels or targets, as given to fit). MLP:
        calibration rows X (a few thousand training rows).
    sample_weight : array-like, optional
        ELM: the sample weights given to fit.
    n_jobs : int, optional
        Threads for quantization and the model's batch prediction (None: all cores).

    Returns
    -------
    QuantizedModel

    Raises
    ------
    TypeError
        For an estimator of another type, or option values that are not strings.
    ValueError
        For an unknown format/method, options that do not apply, missing data, or an
        unfitted estimator (NotFittedError).
    """
    for value, name in ((format, "format"), (method, "method"), (w_format, "w_format"),
                        (activations, "activations"), (inputs, "inputs"),
                        (calibration, "calibration")):
        _check_name(value, name)
    if isinstance(lambda_scale, bool) or not isinstance(lambda_scale, numbers.Real):
        raise TypeError(f"quantize: lambda_scale must be a number, got {type(lambda_scale).__name__}")
    threads = _resolve_n_jobs(n_jobs)
    if isinstance(estimator, MLPClassifier):
        if w_format != "f32" or inputs != "dynamic" or lambda_scale != 1.0 or y is not None \
                or sample_weight is not None:
            raise ValueError("quantize: w_format, inputs, lambda_scale, y and sample_weight apply to "
                             "ELMs; an MLP takes format, method, activations, calibration and X")
        model = estimator._fitted_model()
        x = np.empty((0, model.n_features), dtype=np.float32) if X is None \
            else _x(X, model.n_features, "quantize")
        core = _core.quantize_mlp(model, format, method, activations, calibration, threads, x)
        core.set_threads(threads)
        return QuantizedModel(core, estimator._labels)
    if not isinstance(estimator, (ELMClassifier, ELMRegressor)):
        raise TypeError("quantize: expected a fitted ELMClassifier, ELMRegressor or MLPClassifier, "
                        f"got {type(estimator).__name__}")
    if calibration != "minmax":
        raise ValueError("quantize: calibration applies to MLPs (an ELM's static activation ranges "
                         "are analytic)")
    model = estimator._fitted_model()
    if (X is None) != (y is None):
        raise ValueError("quantize: give the training data as X and y together")
    kwargs: dict[str, Any] = {}
    regression = isinstance(estimator, ELMRegressor)
    multilabel = not regression and estimator._multilabel
    if X is not None:
        x = _x(X, model.n_features, "quantize")
        sw = _check_sample_weight(sample_weight, x.shape[0])
        kwargs["x"] = x
        kwargs["sample_weight"] = np.empty(0, np.float32) if sw is None else sw
        y = np.asarray(y)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"quantize: X has {x.shape[0]} rows, y has {y.shape[0]}")
        if regression:
            kwargs["targets"] = estimator._targets(y)
        elif multilabel:
            kwargs["targets"] = _as_float32_c(y)
        else:
            # ELMClassifier maps its classes_ the same way (_core_label_map).
            kwargs["labels"] = _Labels(estimator.classes_).to_core(column_or_1d(y), "quantize")
    elif sample_weight is not None:
        raise ValueError("quantize: sample_weight goes with X and y")
    core = _core.quantize_elm(model, format, method, w_format, activations, inputs,
                              float(lambda_scale), threads, **kwargs)
    core.set_threads(threads)
    if regression:
        return QuantizedModel(core, None, y_ndim=estimator._y_ndim)
    return QuantizedModel(core, _Labels(estimator.classes_),
                          multilabel_dtype=estimator.__dict__.get("_y_dtype") if multilabel else None)


class MLPClassifier(ClassifierMixin, _PicklesModelImage, BaseEstimator):
    """The deep baseline: a ReLU MLP trained by backprop in C++ (softmax cross-entropy).

    Mini-batch Adam (or SGD with momentum), He initialisation, min-max input
    scaling, a stratified validation split with the best epoch kept; seeded and
    deterministic for a given thread count. Quantize it with :func:`quantize`.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
    epochs : int, default=10
    batch_size : int, default=256
    solver : {"adam", "sgd"}, default="adam"
    learning_rate_init : float, default=1e-3
    alpha : float, default=0.0
        L2 weight decay (weights, not biases).
    momentum : float, default=0.9
        SGD only.
    validation_fraction : float, default=0.1
        Held out (stratified) to pick the best epoch; 0 keeps the last epoch.
    n_iter_no_change : int, default=0
        Early stopping patience in epochs (0: never stop early).
    scaling : {"minmax", "standardize", "none"}, default="minmax"
    random_state : int, RandomState, Generator or None
    n_jobs : int, optional
        Threads (None: all cores). Results depend on the thread count only
        through the summation order of the products.

    Attributes
    ----------
    classes_, n_features_in_, history_ (per-epoch losses and validation accuracy),
    n_parameters_, model_ (the C++ :class:`elmq._core.Mlp`).
    """

    def __init__(self, hidden_layer_sizes: Any = (256, 256), epochs: int = 10,
                 batch_size: int = 256, solver: str = "adam", learning_rate_init: float = 1e-3,
                 alpha: float = 0.0, momentum: float = 0.9, validation_fraction: float = 0.1,
                 n_iter_no_change: int = 0, scaling: str = "minmax", random_state: Any = None,
                 n_jobs: Optional[int] = None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.epochs = epochs
        self.batch_size = batch_size
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.momentum = momentum
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scaling = scaling
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _make_model(self) -> Any:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be integers, got {self.hidden_layer_sizes!r}")
        seed = _resolve_seed(self.random_state)
        return _core.Mlp(hidden=[int(s) for s in sizes], epochs=int(self.epochs),
                         batch_size=int(self.batch_size), optimizer=str(self.solver),
                         learning_rate=float(self.learning_rate_init),
                         weight_decay=float(self.alpha), momentum=float(self.momentum),
                         validation_fraction=float(self.validation_fraction),
                         patience=int(self.n_iter_no_change), scaling=str(self.scaling),
                         seed=seed, threads=_resolve_n_jobs(self.n_jobs))

    def fit(self, X: Any, y: Any) -> "MLPClassifier":
        """Train on X (n_samples, n_features) and class labels y (at least 2 classes)."""
        X, y = validate_data(self, X, y, dtype=np.float32, order="C")
        check_classification_targets(y)
        y = column_or_1d(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"MLPClassifier.fit: y holds {len(classes)} class; at least 2 are needed")
        model = self._make_model()  # validates the parameters (ValueError naming the bad one)
        labels = _Labels(classes)
        model.fit(X, labels.to_core(y, "fit"))
        self._model, self._labels = model, labels
        self.classes_ = classes
        self.history_ = model.history
        self.n_parameters_ = int(model.n_parameters)
        return self

    def _fitted_model(self) -> Any:
        model = self.__dict__.get("_model")
        if model is None:
            raise NotFittedError("This MLPClassifier instance is not fitted yet. Call 'fit' first.")
        return model

    @property
    def model_(self) -> Any:
        """The fitted C++ model (:class:`elmq._core.Mlp`)."""
        return self._fitted_model()

    def __sklearn_is_fitted__(self) -> bool:
        return "_model" in self.__dict__

    def _input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float32, order="C", reset=False)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (n_samples,)."""
        X = self._input(X)
        return self._labels.from_core(self._model.predict(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax probabilities, float32 (n_samples, n_classes)."""
        X = self._input(X)
        return self._model.predict_proba(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits, float32 (n_samples, n_classes); for two classes the 1-D margin
        ``logit[:, 1] - logit[:, 0]`` (positive means ``classes_[1]``), as in scikit-learn."""
        X = self._input(X)
        d = self._model.decision_function(X)
        return d[:, 1] - d[:, 0] if d.shape[1] == 2 else d

    def quantize(self, format: str = "int8", **kwargs: Any) -> QuantizedModel:
        """``elmq.quantize(self, format, **kwargs)``."""
        return quantize(self, format, **kwargs)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the model file (kind 'mlp'; labels stored as int64, see QuantizedModel.save)."""
        self._fitted_model().save(os.fspath(path))

    _core_model_type = _core.Mlp

    def _after_unpickle(self) -> None:
        self._model.set_threads(_resolve_n_jobs(self.__dict__.get("n_jobs")))

    @classmethod
    def _from_model(cls, model: Any) -> "MLPClassifier":
        sizes = list(model.sizes)
        est = cls(hidden_layer_sizes=tuple(sizes[1:-1]))
        est._model = model
        est._labels = _Labels(np.asarray(model.classes))
        est.classes_ = est._labels.classes
        est.n_features_in_ = int(model.n_features)
        est.history_ = model.history
        est.n_parameters_ = int(model.n_parameters)
        return est
