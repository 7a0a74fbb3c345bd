"""scikit-learn estimators on top of :mod:`elmq._core`.

Everything numerical happens in C++; this module validates and converts the
inputs once (to C-contiguous float32 / int64), maps labels, and keeps the
scikit-learn conventions (``__init__`` stores parameters, ``fit`` returns
``self``, fitted attributes end in ``_``).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d, validate_data

from . import _core

__all__ = ["ELMClassifier", "ELMRegressor"]

#: Seed used when ``random_state=None``: unseeded fits are reproducible.
#: The parameter defaults equal the C++ ``ElmConfig{}`` (and so the CLI's);
#: python/tests/test_estimators.py checks that they stay in step.
DEFAULT_SEED = 42

_F32 = np.dtype(np.float32)
_NO_WEIGHTS = np.empty(0, dtype=np.float32)
_NO_WEIGHTS.setflags(write=False)
_INT64_MAX = np.iinfo(np.int64).max

#: scikit-learn checks (``sklearn.utils.estimator_checks``) that cannot pass by
#: design, with the reason; pass to ``parametrize_with_checks(...,
#: expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)``.
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_sample_weight_equivalence_on_dense_data": (
        "a sample weight of k is not k repeated rows for an elmq model: the input scaler "
        "(elm/scaler.h, Scaler::fit) is fitted without weights, and alpha='auto' holds out "
        "rows for the lambda search by their row index, so repeating a row changes both"
    ),
    "check_methods_subset_invariance": (
        "predictions are float32 matrix products; Eigen picks its product kernel by size "
        "(coefficient-based for tiny products, blocked GEMM otherwise), so a row predicted "
        "in a batch of 4 and in a batch of 20 can differ in the last bits (~2e-7 relative), "
        "above the check's atol of 1e-7"
    ),
}


def _as_float32_c(a: Any) -> np.ndarray:
    """One explicit conversion to C-contiguous float32 (no copy if it already is)."""
    return np.ascontiguousarray(a, dtype=np.float32)


def _core_label_map(classes: np.ndarray) -> tuple[np.ndarray, bool]:
    """Sorted class labels -> (the int64 labels C++ holds, whether they are positions).

    Integer labels go to C++ as they are (so model files hold the real labels);
    any other labels as their positions in ``classes``.
    """
    if classes.dtype.kind == "i" or (classes.dtype.kind == "u" and classes.max() <= _INT64_MAX):
        return classes.astype(np.int64), False
    return np.arange(len(classes), dtype=np.int64), True


def _to_core_labels(classes: np.ndarray, core: np.ndarray, y: np.ndarray, where: str) -> np.ndarray:
    """y (values of ``classes``) -> the matching int64 labels ``core``; ValueError for others."""
    idx = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    bad = classes[idx] != y
    if np.any(bad):
        raise ValueError(f"{where}: y contains labels not in classes_: {np.unique(y[bad])[:10]!r}")
    return core[idx]


def _resolve_n_jobs(n_jobs: Optional[int]) -> int:
    """scikit-learn's n_jobs -> the C++ thread count (0 = all cores)."""
    if n_jobs is None:
        return 0
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None or -1 (all cores) or n >= 1")
    if n_jobs == -1:
        return 0
    if n_jobs < -1:
        return max(1, _core.max_threads() + 1 + n_jobs)
    return n_jobs


def _resolve_seed(random_state: Any) -> int:
    """random_state -> the uint64 seed of the hidden layer."""
    if random_state is None:
        return DEFAULT_SEED
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(random_state)
        if not 0 <= seed < 2**64:
            raise ValueError(f"random_state must be in [0, 2**64), got {seed}")
        return seed
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, _INT64_MAX, dtype=np.int64))
    rng = check_random_state(random_state)  # raises ValueError for anything else
    return int(rng.randint(0, _INT64_MAX, dtype=np.int64))


def _f32_param(value: float) -> float:
    """A float32 config value as the shortest decimal that rounds to it (0.1, not 0.100000001)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def _check_sample_weight(sample_weight: Any, n_samples: int) -> Optional[np.ndarray]:
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        return np.full(n_samples, sample_weight, dtype=np.float32)
    sw = _as_float32_c(sample_weight)
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(f"sample_weight.shape == {sw.shape}, expected ({n_samples},)")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError("sample_weight must be finite and >= 0")
    if n_samples > 0 and not np.any(sw > 0):
        raise ValueError("sample_weight: every weight is zero, nothing to fit")
    return sw


class _PicklesModelImage:
    """Pickles an estimator's C++ model (``self._model``) as its elmq file image.

    Subclasses name the ``_core`` class that reads the image back
    (``_core_model_type``); ``_model_image`` may add options (the ELM's
    training statistics) and ``_after_unpickle`` restores runtime settings.
    """

    _core_model_type: Any = None

    def _model_image(self, model: Any) -> bytes:
        return model.to_bytes()

    def _after_unpickle(self) -> None:
        pass

    def __getstate__(self) -> dict:
        # object.__getstate__ returns the instance __dict__ itself: copy it.
        state = dict(super().__getstate__())
        model = state.pop("_model", None)
        if model is not None:
            state["_model_image"] = self._model_image(model)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        image = state.pop("_model_image", None)
        if image is not None:
            if not isinstance(image, bytes):
                raise ValueError(
                    f"{type(self).__name__}: pickled model image must be bytes, "
                    f"got {type(image).__name__}"
                )
            state["_model"] = self._core_model_type.from_bytes(image)
        super().__setstate__(state)
        if "_model" in self.__dict__:
            self._after_unpickle()


class _BaseELM(_PicklesModelImage, BaseEstimator):
    """Shared parameters, configuration, persistence and prediction plumbing."""


    def __init__(
        self,
        n_hidden: int = 1000,
        activation: str = "tanh",
        weight_init: str = "normal",
        alpha: Union[str, float] = "auto",
        scaling: str = "minmax",
        hidden: Optional[str] = None,
        weight_scale: float = 1.0,
        bias_scale: float = 1.0,
        rbf_width: float = 1.0,
        validation_fraction: float = 0.2,
        chunk_rows: int = 8192,
        random_state: Any = None,
        n_jobs: Optional[int] = None,
        keep_training_state: bool = True,
    ):
        self.n_hidden = n_hidden
        self.activation = activation
        self.weight_init = weight_init
        self.alpha = alpha
        self.scaling = scaling
        self.hidden = hidden
        self.weight_scale = weight_scale
        self.bias_scale = bias_scale
        self.rbf_width = rbf_width
        self.validation_fraction = validation_fraction
        self.chunk_rows = chunk_rows
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.keep_training_state = keep_training_state

    # ------------------------------------------------------------ configuration
    def _make_config(self) -> _core.ElmConfig:
        name = type(self).__name__
        for pname in ("activation", "weight_init", "scaling"):
            if not isinstance(getattr(self, pname), str):
                raise ValueError(f"{name}: {pname} must be a string, got {getattr(self, pname)!r}")
        if self.hidden is not None:
            if not isinstance(self.hidden, str):
                raise ValueError(f"{name}: hidden must be None or a spec like '1500:tanh,500:rbf'")
            groups = _core.HiddenLayerConfig.parse_groups(self.hidden)
        else:
            if isinstance(self.n_hidden, bool) or not isinstance(self.n_hidden, numbers.Integral):
                raise ValueError(f"{name}: n_hidden must be an integer >= 1, got {self.n_hidden!r}")
            group = _core.NeuronGroup()
            group.count = int(self.n_hidden)
            group.activation = _core.parse_activation(self.activation)
            groups = [group]
        init = _core.parse_weight_init(self.weight_init)
        for group in groups:
            group.init = init
            group.weight_scale = float(self.weight_scale)
            group.bias_scale = float(self.bias_scale)
            group.rbf_width = float(self.rbf_width)

        cfg = _core.ElmConfig()
        hidden = _core.HiddenLayerConfig()
        hidden.groups = groups
        hidden.seed = _resolve_seed(self.random_state)
        cfg.hidden = hidden
        cfg.scaling = _core.parse_scaling(self.scaling)

        ridge = _core.RidgeConfig()
        if isinstance(self.alpha, str):
            if self.alpha != "auto":
                raise ValueError(f"{name}: alpha must be 'auto' or a number >= 0, got {self.alpha!r}")
            ridge.auto_lambda = True
        elif isinstance(self.alpha, numbers.Real) and not isinstance(self.alpha, bool):
            ridge.auto_lambda = False
            ridge.lambda_ = float(self.alpha)
        else:
            raise ValueError(f"{name}: alpha must be 'auto' or a number >= 0, got {self.alpha!r}")
        ridge.validation_fraction = float(self.validation_fraction)
        cfg.ridge = ridge

        if isinstance(self.chunk_rows, bool) or not isinstance(self.chunk_rows, numbers.Integral):
            raise ValueError(f"{name}: chunk_rows must be an integer, got {self.chunk_rows!r}")
        cfg.chunk_rows = int(self.chunk_rows)
        cfg.threads = _resolve_n_jobs(self.n_jobs)
        self._configure_task(cfg)
        try:
            cfg.validate()
        except ValueError as e:
            raise ValueError(f"{name}: invalid parameter: {e}") from e
        return cfg

    def _configure_task(self, cfg: _core.ElmConfig) -> None:
        """Task-specific settings (overridden by the classifier)."""

    # ------------------------------------------------------------ fitted state
    def __sklearn_is_fitted__(self) -> bool:
        return "_model" in self.__dict__

    def _fitted_model(self) -> _core.ElmModel:
        model = self.__dict__.get("_model")
        if model is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        return model

    def _predict_input(self, X: Any) -> tuple[_core.ElmModel, np.ndarray]:
        try:
            model = self._model
        except AttributeError:
            model = self._fitted_model()  # raises NotFittedError
        # Fast path (one-row latency): a float32 C-contiguous 2-D array of the
        # right width goes to C++ as it is; C++ checks finiteness (ValueError).
        if type(X) is np.ndarray and X.dtype is _F32 and X.ndim == 2:
            n, d = X.shape
            if (n > 0 and d == self.n_features_in_ and X.flags.c_contiguous
                    and "feature_names_in_" not in self.__dict__):
                return model, X
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        return model, X

    def _set_model(self, model: _core.ElmModel) -> None:
        self._model = model
        search = model.lambda_search
        self.alpha_ = float(model.lambda_)
        self.lambda_path_ = np.asarray(search.lambdas, dtype=np.float64)
        self.validation_mse_ = np.asarray(search.validation_mse, dtype=np.float64)
        self.n_outputs_ = int(model.n_outputs)

    @staticmethod
    def _weights_or_empty(sw: Optional[np.ndarray]) -> np.ndarray:
        return _NO_WEIGHTS if sw is None else sw

    # ------------------------------------------------------------ persistence
    _core_model_type = _core.ElmModel

    def _model_image(self, model: _core.ElmModel) -> bytes:
        # The same bytes as the C++ save (FileKind 'elm'), with the training
        # statistics when partial_fit can continue from them.
        return model.to_bytes(model.has_training_state)

    def _after_unpickle(self) -> None:
        # Threads are a runtime setting, not part of the file: apply n_jobs.
        self._model.set_threads(_resolve_n_jobs(self.__dict__.get("n_jobs")))

    def set_params(self, **params: Any):
        """Set the parameters; a new ``n_jobs`` also applies to an already fitted model."""
        super().set_params(**params)
        if "n_jobs" in params and "_model" in self.__dict__:
            self._model.set_threads(_resolve_n_jobs(self.n_jobs))
        return self

    def save(self, path: Union[str, os.PathLike], include_training_state: bool = False) -> None:
        """Write the fitted model as an elmq model file (the format the CLI reads).

        Parameters
        ----------
        path : str or path-like
            Destination; written atomically (temporary file + rename).
        include_training_state : bool, default=False
            Store the L x L training statistics (if the model has them) so that
            ``partial_fit`` can continue after :func:`elmq.load`; as ``ElmModel::save``
            and the CLI, files hold only the model by default.

        Raises
        ------
        NotFittedError
            If the estimator is not fitted.
        OSError
            If the file cannot be written.

        Notes
        -----
        The file holds the C++ model: class labels are stored as int64, so a
        classifier trained on non-integer labels (e.g. strings) is saved with
        labels 0..K-1 (the positions in ``classes_``). Pickle keeps ``classes_``.
        """
        model = self._fitted_model()
        model.save(os.fspath(path), bool(include_training_state))

    @property
    def model_(self) -> _core.ElmModel:
        """The fitted C++ model (:class:`elmq._core.ElmModel`)."""
        return self._fitted_model()

    @classmethod
    def _params_from_config(cls, cfg: _core.ElmConfig) -> dict[str, Any]:
        """Estimator parameters from a C++ config (float32 fields shown as the decimals given)."""
        groups = cfg.hidden.groups
        first = groups[0]
        params: dict[str, Any] = dict(
            n_hidden=int(sum(g.count for g in groups)),
            activation=_core.activation_name(first.activation),
            weight_init=_core.weight_init_name(first.init),
            alpha="auto" if cfg.ridge.auto_lambda else float(cfg.ridge.lambda_),
            scaling=_core.scaling_name(cfg.scaling),
            hidden=None,
            weight_scale=_f32_param(first.weight_scale),
            bias_scale=_f32_param(first.bias_scale),
            rbf_width=_f32_param(first.rbf_width),
            validation_fraction=float(cfg.ridge.validation_fraction),
            chunk_rows=int(cfg.chunk_rows),
            random_state=int(cfg.hidden.seed),
        )
        if len(groups) > 1:
            params["hidden"] = ",".join(
                f"{g.count}:{_core.activation_name(g.activation)}" for g in groups
            )
        return params


class ELMClassifier(ClassifierMixin, _BaseELM):
    """Extreme Learning Machine classifier (multiclass and multilabel).

    A fixed random hidden layer (``n_hidden`` neurons) followed by ridge-regressed
    output weights on one-hot targets; the prediction is the argmax of the
    outputs. The computation runs in C++ (``elmq._core``) with the GIL
    released, so Python threads can fit and predict in parallel.

    Parameters
    ----------
    n_hidden : int, default=1000
        Number of hidden neurons L (ignored when ``hidden`` is given).
    activation : {'tanh', 'sigmoid', 'relu', 'sin', 'linear', 'rbf'}, default='tanh'
        Activation of the hidden neurons (ignored when ``hidden`` is given).
    weight_init : {'normal', 'uniform', 'ternary'}, default='normal'
        Distribution of the random input weights (variance ``weight_scale**2 / d``).
    alpha : 'auto' or float >= 0, default='auto'
        The ridge penalty lambda. ``'auto'`` chooses it on a held-out
        ``validation_fraction`` of the rows from a log grid; the chosen value is
        ``alpha_`` and the curve ``lambda_path_`` / ``validation_mse_``.
    scaling : {'minmax', 'standardize', 'none'}, default='minmax'
        Input scaling fitted on the training data and stored with the model
        (to [0, 1], zero mean and unit variance, or none).
    hidden : str, optional
        Several neuron groups, e.g. ``'1500:tanh,500:rbf'``; overrides
        ``n_hidden`` and ``activation``.
    weight_scale, bias_scale : float, default=1.0
        Scale of the random weights' standard deviation; biases ~ U(-bias_scale, bias_scale).
    rbf_width : float, default=1.0
        RBF neurons: sigma = rbf_width * median centre distance.
    validation_fraction : float in (0, 0.5], default=0.2
        Rows held out to choose lambda when ``alpha='auto'`` (the final model
        is solved on all rows).
    chunk_rows : int, default=8192
        Rows per training chunk (memory about ``chunk_rows * L * 4`` bytes).
    random_state : None, int or numpy RandomState/Generator, default=None
        Seed of the hidden layer. ``None`` uses the fixed seed 42 (elmq's
        default, so unseeded fits are reproducible and equal the CLI's default);
        an int is the seed; a RandomState/Generator draws a seed at ``fit``.
    n_jobs : int, default=None
        Threads for training and prediction. ``None`` or -1: all cores; n >= 1:
        n threads; n < -1: all cores + 1 + n. Results do not depend on it.
        A runtime setting: ``set_params(n_jobs=...)`` applies it to a fitted
        model; unpickled models use their ``n_jobs``, loaded files all cores.
    class_weight : None, 'balanced' or dict, default=None
        Weights per class (multiplying ``sample_weight``); 'balanced' uses
        ``n_samples / (n_classes * count(class))``. Multiclass ``fit`` only.
    proba_temperature : float > 0, default=0.1
        ``predict_proba = softmax(decision_function / proba_temperature)``.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
        Class labels (multilabel: ``arange(n_labels)``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Feature names (only if X had string column names, e.g. a DataFrame).
    alpha_ : float
        The ridge penalty of the solution.
    lambda_path_ : ndarray
        Absolute lambdas tried by the automatic search (empty if alpha is fixed).
    validation_mse_ : ndarray
        Held-out mean squared error for each entry of ``lambda_path_``.
    n_outputs_ : int
        Columns of the output layer (classes, or labels for multilabel).
    model_ : elmq._core.ElmModel
        The fitted C++ model.

    keep_training_state : bool, default=True
        Keep the accumulated training statistics (two L x L float64 matrices,
        16 MB for L=1000) after ``fit``, so that ``partial_fit`` continues
        training with more rows; pickles then carry them too. False frees them
        (smaller memory and pickles; ``partial_fit`` then raises ValueError).

    Notes
    -----
    A pickle (and ``copy.deepcopy``) holds the model in the binary format of the
    C++ ``ElmModel::save``, with the training statistics when the model has them.
    """


    def __init__(
        self,
        n_hidden: int = 1000,
        activation: str = "tanh",
        weight_init: str = "normal",
        alpha: Union[str, float] = "auto",
        scaling: str = "minmax",
        hidden: Optional[str] = None,
        weight_scale: float = 1.0,
        bias_scale: float = 1.0,
        rbf_width: float = 1.0,
        validation_fraction: float = 0.2,
        chunk_rows: int = 8192,
        random_state: Any = None,
        n_jobs: Optional[int] = None,
        keep_training_state: bool = True,
        class_weight: Union[None, str, Mapping] = None,
        proba_temperature: float = 0.1,
    ):
        super().__init__(
            n_hidden=n_hidden,
            activation=activation,
            weight_init=weight_init,
            alpha=alpha,
            scaling=scaling,
            hidden=hidden,
            weight_scale=weight_scale,
            bias_scale=bias_scale,
            rbf_width=rbf_width,
            validation_fraction=validation_fraction,
            chunk_rows=chunk_rows,
            random_state=random_state,
            n_jobs=n_jobs,
            keep_training_state=keep_training_state,
        )
        self.class_weight = class_weight
        self.proba_temperature = proba_temperature

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _configure_task(self, cfg: _core.ElmConfig) -> None:
        cfg.proba_temperature = float(self.proba_temperature)

    # ------------------------------------------------------------ targets
    def _check_targets(self, y: Any) -> tuple[np.ndarray, bool]:
        """Validated y and whether it is a multilabel indicator matrix."""
        if sp.issparse(y):
            y = y.toarray()
        y = np.asarray(y)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type == "multilabel-indicator":
            return y, True
        if y_type.endswith("-multioutput"):
            raise ValueError(
                f"{type(self).__name__}: multiclass-multioutput targets are not supported "
                "(use a 1-D label vector or a 0/1 multilabel indicator matrix)"
            )
        return column_or_1d(y, warn=True), False

    def _core_labels(self, y: np.ndarray, where: str) -> np.ndarray:
        """Labels as the int64 values the C++ model knows (see _fit_classes)."""
        return _to_core_labels(self.classes_, self._core_classes, y, f"{type(self).__name__}.{where}")

    def _fit_classes(self, classes: np.ndarray) -> None:
        self.classes_ = classes
        self._core_classes, self._label_codes = _core_label_map(classes)

    def _class_weighted(self, sw: Optional[np.ndarray], y: np.ndarray, multilabel: bool,
                        cfg: _core.ElmConfig, where: str) -> Optional[np.ndarray]:
        cw = self.class_weight
        if cw is None:
            return sw
        if multilabel:
            raise ValueError(f"{type(self).__name__}.{where}: class_weight is not supported for multilabel y")
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(
                    f"{type(self).__name__}: class_weight must be None, 'balanced' or a dict, got {cw!r}"
                )
            if where != "fit":
                raise ValueError(
                    f"{type(self).__name__}.partial_fit: class_weight='balanced' needs all the "
                    "data at once; use fit, or pass a dict of class weights"
                )
            cfg.class_weight = _core.ClassWeight.BALANCED
            return sw
        if isinstance(cw, Mapping):
            w = _as_float32_c(compute_sample_weight(dict(cw), y))
            return w if sw is None else _as_float32_c(sw * w)
        raise ValueError(
            f"{type(self).__name__}: class_weight must be None, 'balanced' or a dict, got {cw!r}"
        )

    # ------------------------------------------------------------ training
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "ELMClassifier":
        """Fit the classifier.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
            Training data; C-contiguous float32 is used without a copy, anything
            else (lists, DataFrames, float64, Fortran order) is converted once.
        y : array-like (n_samples,) or (n_samples, n_labels)
            Class labels (any hashable, sortable values), or a 0/1 multilabel
            indicator matrix.
        sample_weight : array-like (n_samples,), optional
            Non-negative weights per sample.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True,
                             accept_sparse=False, y_numeric=False)
        y, multilabel = self._check_targets(y)
        cfg = self._make_config()
        sw = _check_sample_weight(sample_weight, X.shape[0])
        sw = self._class_weighted(sw, y, multilabel, cfg, "fit")
        model = _core.ElmModel(cfg)
        if multilabel:
            model.fit_multilabel(X, _as_float32_c(y), self._weights_or_empty(sw))
            self.classes_ = np.arange(y.shape[1])
            self._core_classes = self.classes_.astype(np.int64)
            self._label_codes = False
            self._y_dtype = y.dtype
        else:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__}.fit: y holds 1 class ({classes[0]!r}); at least 2 "
                    "classes are needed (a classifier can't train when only one class is present)"
                )
            self._fit_classes(classes)
            labels = self._core_labels(y, "fit")
            model.fit(X, labels, self._weights_or_empty(sw))
        if not self.keep_training_state:
            model.drop_training_state()
        self._multilabel = multilabel
        self._set_model(model)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> "ELMClassifier":
        """Incremental fit on a batch of samples (multiclass only).

        The statistics of every batch are accumulated and the output weights
        re-solved, so a sequence of ``partial_fit`` calls equals one ``fit`` on
        all rows except that the input scaler is fitted on the first batch.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : array-like (n_samples,)
        classes : array-like, required on the first call
            Every label that will ever appear; may be omitted afterwards.
        sample_weight : array-like (n_samples,), optional

        Returns
        -------
        self
        """
        first = "_model" not in self.__dict__
        name = type(self).__name__
        if first and classes is None:
            raise ValueError(f"{name}.partial_fit: classes must be passed on the first call")
        if not first and not self._model.has_training_state:
            raise ValueError(
                f"{name}.partial_fit: this model has no training statistics (it was fitted "
                "with keep_training_state=False, or loaded from a file saved without them); "
                "start the stream with partial_fit on an unfitted estimator"
            )
        if not first and self._multilabel:
            raise ValueError(f"{name}.partial_fit: multilabel models are trained with fit only")
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True,
                             accept_sparse=False, reset=first)
        y, multilabel = self._check_targets(y)
        if multilabel:
            raise ValueError(f"{name}.partial_fit: multilabel y is supported by fit only")
        cfg = self._make_config()
        sw = _check_sample_weight(sample_weight, X.shape[0])
        sw = self._class_weighted(sw, y, False, cfg, "partial_fit")
        if first:
            all_classes = np.unique(np.asarray(classes))
            if len(all_classes) < 2:
                raise ValueError(f"{name}.partial_fit: classes must hold at least 2 distinct labels")
            self._fit_classes(all_classes)
            model = _core.ElmModel(cfg)
            core_classes = self._core_classes
        else:
            model = self._model
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(
                    f"{name}.partial_fit: `classes={classes!r}` is not the same as on the first "
                    f"call ({self.classes_!r})"
                )
            core_classes = np.empty(0, dtype=np.int64)
        labels = self._core_labels(y, "partial_fit")
        model.partial_fit(X, labels, core_classes, self._weights_or_empty(sw))
        self._multilabel = False
        self._set_model(model)
        return self

    # ------------------------------------------------------------ prediction
    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (n_samples,), or a 0/1 matrix (n_samples, n_labels) for multilabel."""
        model, X = self._predict_input(X)
        if self._multilabel:
            return model.predict_multilabel(X).astype(self._y_dtype, copy=False)
        labels = model.predict(X)
        if self._label_codes:
            return self.classes_[labels]
        dtype = self.classes_.dtype
        return labels if dtype is labels.dtype or dtype == labels.dtype else labels.astype(dtype)

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw network outputs, float32.

        Returns (n_samples, n_classes); for two classes the 1-D margin
        ``output[:, 1] - output[:, 0]`` (positive means ``classes_[1]``), as in
        scikit-learn. Multilabel: (n_samples, n_labels), label on when > 0.5.
        """
        model, X = self._predict_input(X)
        d = model.decision_function(X)
        if not self._multilabel and d.shape[1] == 2:
            return d[:, 1] - d[:, 0]
        return d

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float32 (n_samples, n_classes).

        ``softmax(outputs / proba_temperature)``; rows sum to 1 and the argmax is
        ``predict``. Multilabel: float64 (n_samples, n_labels), each label treated as
        two classes with outputs (1 - d, d): ``expit((2 d - 1) / proba_temperature)``,
        above 0.5 exactly where ``predict`` says 1.
        """
        model, X = self._predict_input(X)
        if self._multilabel:
            # Each label as a two-class problem with outputs (1 - d, d):
            # softmax((1 - d, d) / T)[1] = expit((2d - 1) / T), > 0.5 iff predicted.
            d = model.decision_function(X).astype(np.float64)
            return expit((2.0 * d - 1.0) / float(model.config.proba_temperature))
        return model.predict_proba(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @classmethod
    def _from_model(cls, model: _core.ElmModel) -> "ELMClassifier":
        cfg = model.config
        params = cls._params_from_config(cfg)
        params["class_weight"] = "balanced" if cfg.class_weight == _core.ClassWeight.BALANCED else None
        params["proba_temperature"] = _f32_param(cfg.proba_temperature)
        est = cls(**params)
        est.n_features_in_ = int(model.n_features)
        if model.task == _core.Task.MULTILABEL:
            est._multilabel = True
            est.classes_ = np.arange(model.n_outputs)
            est._core_classes = est.classes_.astype(np.int64)
            est._label_codes = False
            est._y_dtype = np.dtype(np.int64)
        else:
            est._multilabel = False
            est._fit_classes(np.asarray(model.classes, dtype=np.int64))
        est._set_model(model)
        return est


class ELMRegressor(RegressorMixin, _BaseELM):
    """Extreme Learning Machine regressor (single and multi-output).

    A fixed random hidden layer followed by ridge-regressed output weights,
    computed in C++ (``elmq._core``) with the GIL released.

    Parameters
    ----------
    n_hidden, activation, weight_init, alpha, scaling, hidden, weight_scale, \
bias_scale, rbf_width, validation_fraction, chunk_rows, random_state, n_jobs, \
keep_training_state
        As for :class:`ELMClassifier`.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only for inputs with column names)
    alpha_ : float
        The ridge penalty of the solution.
    lambda_path_, validation_mse_ : ndarray
        The automatic lambda search (empty if alpha is fixed).
    n_outputs_ : int
        Number of regression targets.
    model_ : elmq._core.ElmModel

    Notes
    -----
    Predictions are float64 (scikit-learn's convention for regressors; the
    model computes in float32), shaped like the training ``y``: (n_samples,)
    for a 1-D y, else (n_samples, n_outputs).
    """


    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return _as_float32_c(y.reshape(-1, 1) if y.ndim == 1 else y)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "ELMRegressor":
        """Fit the regressor.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
            C-contiguous float32 is used without a copy; anything else is converted once.
        y : array-like (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like (n_samples,), optional

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True,
                             y_numeric=True)
        cfg = self._make_config()
        sw = _check_sample_weight(sample_weight, X.shape[0])
        model = _core.ElmModel(cfg)
        model.fit_regression(X, self._targets(y), self._weights_or_empty(sw))
        if not self.keep_training_state:
            model.drop_training_state()
        self._y_ndim = y.ndim
        self._set_model(model)
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> "ELMRegressor":
        """Incremental fit on a batch of samples (statistics accumulate; see ELMClassifier.partial_fit).

        Returns
        -------
        self
        """
        first = "_model" not in self.__dict__
        if not first and not self._model.has_training_state:
            raise ValueError(
                f"{type(self).__name__}.partial_fit: this model has no training statistics "
                "(it was fitted with keep_training_state=False, or loaded from a file saved "
                "without them); start the stream with partial_fit on an unfitted estimator"
            )
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True,
                             y_numeric=True, reset=first)
        cfg = self._make_config()
        sw = _check_sample_weight(sample_weight, X.shape[0])
        model = _core.ElmModel(cfg) if first else self._model
        model.partial_fit_regression(X, self._targets(y), self._weights_or_empty(sw))
        if first:
            self._y_ndim = y.ndim
        self._set_model(model)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, float64: (n_samples,) or (n_samples, n_outputs)."""
        model, X = self._predict_input(X)
        # float64 out, as scikit-learn expects of regressors (the model computes in float32).
        out = model.predict_regression(X).astype(np.float64)
        return out.ravel() if self._y_ndim == 1 else out

    @classmethod
    def _from_model(cls, model: _core.ElmModel) -> "ELMRegressor":
        est = cls(**cls._params_from_config(model.config))
        est.n_features_in_ = int(model.n_features)
        est._y_ndim = 1 if model.n_outputs == 1 else 2
        est._set_model(model)
        return est
