"""elmq: Extreme Learning Machines in C++ with a scikit-learn interface.

    >>> import elmq
    >>> clf = elmq.ELMClassifier(n_hidden=2000, random_state=0).fit(X_train, y_train)
    >>> clf.score(X_test, y_test)
    >>> clf.save("model.elmq")          # the same file format as the C++ library and the CLI
    >>> clf2 = elmq.load("model.elmq")
    >>> q = elmq.quantize(clf, "int4-g32", method="gptq", X=X_train, y=y_train)
    >>> mlp = elmq.MLPClassifier(hidden_layer_sizes=(256, 256)).fit(X_train, y_train)

C-contiguous float32 input reaches C++ without a copy; other dtypes and
layouts (lists, pandas DataFrames, float64, Fortran order) are converted once.
The GIL is released while C++ trains and predicts. Errors from C++ surface as
ValueError (bad input; :class:`FormatError` for corrupt files), RuntimeError
(:class:`NumericalError`) or OSError (files), with the C++ message.
"""

from . import _core
from ._core import FormatError, NumericalError
from ._datasets import dataset_names, load_dataset
from ._estimators import DEFAULT_SEED, EXPECTED_FAILED_CHECKS, ELMClassifier, ELMRegressor
from ._persistence import from_core_model, load
from ._online import OnlineELMClassifier
from ._quant import MLPClassifier, QuantizedModel, kernel_info, quant_formats, quantize

__version__: str = _core.__version__

__all__ = [
    "ELMClassifier",
    "ELMRegressor",
    "MLPClassifier",
    "OnlineELMClassifier",
    "quantize",
    "QuantizedModel",
    "quant_formats",
    "kernel_info",
    "load",
    "from_core_model",
    "load_dataset",
    "dataset_names",
    "FormatError",
    "NumericalError",
    "DEFAULT_SEED",
    "EXPECTED_FAILED_CHECKS",
    "__version__",
]
