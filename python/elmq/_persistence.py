"""Reading elmq model files (the files the C++ library and the CLI write)."""

from __future__ import annotations

import os
from typing import Union

from . import _core
from ._estimators import ELMClassifier, ELMRegressor
from ._online import OnlineELMClassifier
from ._quant import MLPClassifier, QuantizedModel

__all__ = ["load", "from_core_model"]


def from_core_model(model: _core.ElmModel) -> Union[ELMClassifier, ELMRegressor]:
    """Wrap a fitted :class:`elmq._core.ElmModel` in the matching estimator.

    Classification and multilabel models become an :class:`ELMClassifier`,
    regression models an :class:`ELMRegressor`; the estimator's parameters
    are read back from the model's configuration (``n_jobs`` is left at None).

    Raises
    ------
    ValueError
        If the model is not fitted.
    """
    if not model.fitted:
        raise ValueError("elmq.from_core_model: the model is not fitted")
    if model.task == _core.Task.REGRESSION:
        return ELMRegressor._from_model(model)
    return ELMClassifier._from_model(model)


def load(path: Union[str, os.PathLike]) -> Union[ELMClassifier, ELMRegressor, MLPClassifier,
                                                  OnlineELMClassifier, QuantizedModel]:
    """Load a model file written by ``save``, the C++ library or the CLI.

    Parameters
    ----------
    path : str or path-like
        An elmq model file of kind 'elm', 'online-elm', 'mlp', 'quantized-elm' or
        'quantized-mlp'.

    Returns
    -------
    ELMClassifier, ELMRegressor, OnlineELMClassifier, MLPClassifier or QuantizedModel
        A fitted estimator or quantized model. Class labels are the int64 labels
        stored in the file.

    Raises
    ------
    OSError
        If the file cannot be read.
    elmq.FormatError (a ValueError)
        If it is not a valid elmq file, or holds another kind of model.
    """
    with open(os.fspath(path), "rb") as f:
        image = f.read()
    kind = _core.peek_file_kind(image)
    if kind == _core.FileKind.ELM:
        return from_core_model(_core.ElmModel.from_bytes(image))
    if kind == _core.FileKind.ONLINE_ELM:
        online = _core.OnlineElm.from_bytes(image)
        if online.task != _core.Task.CLASSIFICATION:
            raise _core.FormatError(
                f"elmq.load: {os.fspath(path)!r} holds an online {_core.task_name(online.task)} "
                "model; OnlineELMClassifier is a classifier (use elmq._core.OnlineElm.load)"
            )
        return OnlineELMClassifier._from_model(online)
    if kind == _core.FileKind.MLP:
        return MLPClassifier._from_model(_core.Mlp.from_bytes(image))
    if kind == _core.FileKind.QUANTIZED_ELM:
        return QuantizedModel(_core.QuantizedElm.from_bytes(image))
    if kind == _core.FileKind.QUANTIZED_MLP:
        return QuantizedModel(_core.QuantizedMlp.from_bytes(image))
    raise _core.FormatError(
        f"elmq.load: {os.fspath(path)!r} holds a '{_core.file_kind_name(kind)}' model, which "
        "elmq.load does not read"
    )
