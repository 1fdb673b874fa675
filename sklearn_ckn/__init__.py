"""sklearn-ckn: Convolutional Kernel Networks with the scikit-learn API.

The algorithm core (:mod:`sklearn_ckn.core`) is plain PyTorch; the estimators
(:class:`CKNTransformer`, :class:`CNNClassifier`, :class:`TorchLinearSVC`) adapt it
to scikit-learn.
"""

import importlib

__version__ = "0.1.0.dev0"

# Public names, imported on first use so that ``import sklearn_ckn`` stays light.
_LAZY = {
    "CKNTransformer": "sklearn_ckn.ckn",
    "CNNClassifier": "sklearn_ckn.cnn",
    "TorchLinearSVC": "sklearn_ckn.linear_svm",
    "make_model": "sklearn_ckn.models",
    "available_models": "sklearn_ckn.models",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sklearn_ckn' has no attribute {name!r}")


def __dir__():
    return __all__
