"""sklearn-ckn: Convolutional Kernel Networks with the scikit-learn API.

Estimators
    :class:`CKNTransformer` (unsupervised CKN features), :class:`CKNClassifier`
    (supervised CKN, trained end to end), :class:`CNNClassifier` (the
    CNN baseline), :class:`TorchLinearSVC` (linear SVM for CKN features),
    :class:`KernelSVC` and :class:`ImageFlattener` (pixel baselines).
Models by name
    :func:`make_model`, :func:`available_models` (the registry: :mod:`sklearn_ckn.models`).
Out of core and Dask
    :func:`transform_to` (features written batch by batch into a ``np.memmap``, a
    ``.npy`` file, resumable, or a zarr array), :func:`load_features` (a complete
    file only; :class:`IncompleteFeaturesError` otherwise), :func:`transform_dask`
    (lazy features of a dask array of images).
Subpackages
    :mod:`sklearn_ckn.core` (the algorithm in plain PyTorch, no scikit-learn),
    :mod:`sklearn_ckn.ckn`, :mod:`sklearn_ckn.cnn`, :mod:`sklearn_ckn.svm`,
    :mod:`sklearn_ckn.datasets` (loaders), :mod:`sklearn_ckn.explain` (Grad-CAM),
    :mod:`sklearn_ckn.compare` (the comparison harness).

Modules whose name starts with an underscore are private; everything public is
re-exported here or from a subpackage.
"""

import importlib

__version__ = "0.1.0.dev0"

# Public names, imported on first use so that ``import sklearn_ckn`` stays light.
_LAZY = {
    "CKNClassifier": "sklearn_ckn.ckn",
    "CKNTransformer": "sklearn_ckn.ckn",
    "CNNClassifier": "sklearn_ckn.cnn",
    "TorchLinearSVC": "sklearn_ckn.svm",
    "KernelSVC": "sklearn_ckn._baselines",
    "ImageFlattener": "sklearn_ckn._baselines",
    "make_model": "sklearn_ckn.models",
    "available_models": "sklearn_ckn.models",
    "transform_dask": "sklearn_ckn._dask",
    "transform_to": "sklearn_ckn._out_of_core",
    "load_features": "sklearn_ckn._out_of_core",
    "IncompleteFeaturesError": "sklearn_ckn._out_of_core",
}
_SUBPACKAGES = ("ckn", "cnn", "compare", "core", "datasets", "explain", "svm")

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"sklearn_ckn.{name}")
    raise AttributeError(f"module 'sklearn_ckn' has no attribute {name!r}")


def __dir__():
    return sorted(__all__ + list(_SUBPACKAGES))
