"""OnlineELMClassifier: scikit-learn partial_fit on the online sequential ELM engine.

    >>> clf = elmq.OnlineELMClassifier(n_hidden=1000, alpha=1.0, forgetting=0.999)
    >>> for X_chunk, y_chunk in stream:
    ...     pred = clf.predict(X_chunk) if clf.samples_learned_ else None   # prequential
    ...     clf.partial_fit(X_chunk, y_chunk, classes=all_classes)          # O(k L^2) per chunk

Unlike ``ELMClassifier.partial_fit`` (which accumulates the Gram matrix and
solves it again, O(L^3) per call), every chunk is learned by recursive least
squares on the inverse Gram matrix (elm/online_elm.h): a forgetting factor
follows a drifting stream, ``unlearn`` removes samples, and classes may appear
mid-stream.
"""

from __future__ import annotations

import numbers
import os
from typing import Any, Optional, Union

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from . import _core
from ._estimators import ELMClassifier, _PicklesModelImage, _check_sample_weight

__all__ = ["OnlineELMClassifier"]


class OnlineELMClassifier(ClassifierMixin, _PicklesModelImage, BaseEstimator):
    """Online sequential ELM classifier (OS-ELM) with a scikit-learn ``partial_fit``.

    Parameters
    ----------
    n_hidden, activation, weight_init, scaling, hidden, weight_scale, bias_scale, rbf_width,
    random_state :
        The hidden layer and input scaling, as for :class:`ELMClassifier`. The scaler is
        fitted on the first chunk.
    alpha : float, default=1.0
        Ridge penalty (> 0): the prior of the recursion (no held-out search online).
    forgetting : float, default=1.0
        Forgetting factor in (0, 1]: each learned sample multiplies the weight of the
        earlier ones by it (memory of about 1 / (1 - forgetting) samples).
    precision : {"float32", "float64"}, default="float32"
        Precision of the stored inverse Gram matrix (float32 reads half the bytes).
    keep_statistics : bool, default=True
        Keep the Gram statistics in double for periodic exact re-solves (bounded drift,
        ridge refresh under forgetting, exact unlearning). Without them, prefer
        ``precision="float64"`` for long streams of ill-conditioned features: the float32
        recursion alone can drift or stop being positive definite after millions of
        updates (measured in elm/online_elm.h).
    row_threads : int, default=1
        Threads for a one-row ``partial_fit`` (the real-time case): 1 keeps it on the calling
        thread; n != 1 (0 = all cores) runs the hidden layer's product beside the spread
        updates of the state on two threads, for layers of 2**16 weights and more. The model
        is the same bit for bit whatever the value (a runtime setting: not saved, reapplied
        after unpickling). Keep 1 when other threads already use the cores.
    integer_labels : bool, default=True
        Labels must be integers (they are the model's int64 labels). New labels in a later
        chunk add classes (the output layer grows).

    Attributes
    ----------
    classes_ : ndarray of int64
        Known classes, sorted (grows as new labels arrive).
    samples_learned_ : int
    model_ : elmq._core.OnlineElm
    """

    def __init__(self, n_hidden: int = 1000, activation: str = "tanh", weight_init: str = "normal",
                 alpha: float = 1.0, scaling: str = "minmax", hidden: Optional[str] = None,
                 weight_scale: float = 1.0, bias_scale: float = 1.0, rbf_width: float = 1.0,
                 forgetting: float = 1.0, precision: str = "float32", keep_statistics: bool = True,
                 row_threads: int = 1, random_state: Any = None):
        self.n_hidden = n_hidden
        self.activation = activation
        self.weight_init = weight_init
        self.alpha = alpha
        self.scaling = scaling
        self.hidden = hidden
        self.weight_scale = weight_scale
        self.bias_scale = bias_scale
        self.rbf_width = rbf_width
        self.forgetting = forgetting
        self.precision = precision
        self.keep_statistics = keep_statistics
        self.row_threads = row_threads
        self.random_state = random_state

    def _config(self) -> _core.ElmConfig:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, numbers.Real) or not self.alpha > 0:
            raise ValueError(f"OnlineELMClassifier: alpha must be a number > 0, got {self.alpha!r}")
        # The hidden-layer parameters are ELMClassifier's: reuse its checks and conversion.
        return ELMClassifier(n_hidden=self.n_hidden, activation=self.activation,
                             weight_init=self.weight_init, alpha=float(self.alpha),
                             scaling=self.scaling, hidden=self.hidden,
                             weight_scale=self.weight_scale, bias_scale=self.bias_scale,
                             rbf_width=self.rbf_width, random_state=self.random_state,
                             n_jobs=1)._make_config()

    def _row_threads(self) -> int:
        n = self.__dict__.get("row_threads", 1)
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n < 2**31:
            raise ValueError(f"OnlineELMClassifier: row_threads must be an integer in [0, 2**31), "
                             f"got {n!r}")
        return int(n)

    def _labels(self, y: Any, n: int, where: str) -> np.ndarray:
        y = column_or_1d(np.asarray(y))
        check_classification_targets(y)
        if y.shape[0] != n:
            raise ValueError(f"OnlineELMClassifier.{where}: X has {n} rows, y has {y.shape[0]}")
        if y.dtype.kind not in "iu" or (y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max):
            raise ValueError(f"OnlineELMClassifier.{where}: labels must be integers, got dtype {y.dtype}")
        return np.ascontiguousarray(y, dtype=np.int64)

    def _fitted_model(self) -> Any:
        model = self.__dict__.get("_model")
        if model is None:
            raise NotFittedError("This OnlineELMClassifier instance is not fitted yet. "
                                 "Call 'partial_fit' or 'fit' first.")
        return model

    def __sklearn_is_fitted__(self) -> bool:
        return "_model" in self.__dict__

    @property
    def model_(self) -> Any:
        return self._fitted_model()

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self._fitted_model().classes)

    @property
    def samples_learned_(self) -> int:
        model = self.__dict__.get("_model")
        return 0 if model is None else int(model.samples_learned)

    # ------------------------------------------------------------ learning
    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> "OnlineELMClassifier":
        """Learn a chunk of rows in order (recursive least squares; old rows are never re-read).

        ``classes`` (optional) declares labels before their first sample; labels first
        seen in ``y`` are added as well.
        """
        first = "_model" not in self.__dict__
        X = validate_data(self, X, dtype=np.float32, order="C", reset=first)
        y = self._labels(y, X.shape[0], "partial_fit")
        sw = _check_sample_weight(sample_weight, X.shape[0])
        if first:
            if X.shape[0] == 0:
                raise ValueError("OnlineELMClassifier.partial_fit: the first chunk is empty")
            row_threads = self._row_threads()
            declared = np.empty(0, np.int64) if classes is None else \
                self._labels(classes, np.asarray(classes).size, "partial_fit")
            self._model = _core.OnlineElm.create(
                self._config(), X, np.unique(declared), forgetting=float(self.forgetting),
                precision=str(self.precision), keep_statistics=bool(self.keep_statistics))
            self._model.row_threads = row_threads
        elif classes is not None:
            self._model.add_classes(np.unique(self._labels(classes, np.asarray(classes).size,
                                                           "partial_fit")))
        self._model.learn(X, y, np.empty(0, np.float32) if sw is None else sw)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "OnlineELMClassifier":
        """Start over and learn every row (equals the batch ridge solution up to float32 rounding)."""
        self.__dict__.pop("_model", None)
        return self.partial_fit(X, y, sample_weight=sample_weight)

    def unlearn(self, X: Any, y: Any, sample_weight: Any = None) -> "OnlineELMClassifier":
        """Remove rows learned earlier: the model becomes the one trained without them."""
        model = self._fitted_model()
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        y = self._labels(y, X.shape[0], "unlearn")
        sw = _check_sample_weight(sample_weight, X.shape[0])
        model.unlearn(X, y, np.empty(0, np.float32) if sw is None else sw)
        return self

    # ------------------------------------------------------------ prediction
    def _input(self, X: Any) -> np.ndarray:
        self._fitted_model()
        return validate_data(self, X, dtype=np.float32, order="C", reset=False)

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw outputs, float32 (n_samples, n_classes); two classes: the 1-D margin."""
        X = self._input(X)
        d = self._model.decision_function(X)
        return d[:, 1] - d[:, 0] if d.shape[1] == 2 else d

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (int64)."""
        X = self._input(X)
        return self._model.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """softmax(outputs / proba_temperature), as ELMClassifier; argmax is ``predict``."""
        X = self._input(X)
        d = self._model.decision_function(X).astype(np.float64) / self._model.proba_temperature
        d -= d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def to_elm_classifier(self) -> ELMClassifier:
        """A batch :class:`ELMClassifier` with the current output weights (e.g. to quantize)."""
        from ._persistence import from_core_model
        return from_core_model(self._fitted_model().to_elm_model())

    # ------------------------------------------------------------ persistence
    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the whole online state (kind 'online-elm'); ``elmq.load`` resumes it."""
        self._fitted_model().save(os.fspath(path))

    _core_model_type = _core.OnlineElm

    def _after_unpickle(self) -> None:
        # A runtime setting, not part of the file.
        self._model.row_threads = self._row_threads()

    def set_params(self, **params: Any) -> "OnlineELMClassifier":
        """Set the parameters; a new ``row_threads`` also applies to a fitted model."""
        super().set_params(**params)
        if "row_threads" in params and "_model" in self.__dict__:
            self._model.row_threads = self._row_threads()
        return self

    @classmethod
    def _from_model(cls, model: Any) -> "OnlineELMClassifier":
        params = ELMClassifier._params_from_config(model.config)
        for p in ("validation_fraction", "chunk_rows"):
            params.pop(p)
        params.update(alpha=float(model.lambda_), forgetting=float(model.forgetting),
                      precision=model.precision, keep_statistics=bool(model.keep_statistics))
        est = cls(**params)
        est._model = model
        est.n_features_in_ = int(model.n_features)
        return est
