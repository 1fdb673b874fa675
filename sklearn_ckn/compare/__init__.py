"""Compare CKN, CNN and classical classifiers on an image data set.

:func:`run_comparison` (and its command line, ``python -m sklearn_ckn compare`` or
``sklearn-ckn compare``) loads a data set of :mod:`sklearn_ckn.datasets`' registry,
fits every requested model of :func:`~sklearn_ckn.make_model` on the training images,
scores it on the test images and writes, into ``out``:

``results.csv`` / ``results.json``
    One row per model: accuracy, balanced accuracy, optional cross-validated accuracy,
    fit and predict seconds, ``n_train`` (training images available), ``n_train_used``
    (images the model was fitted on: fewer when the model has a size cap),
    ``n_test``. The JSON also holds the data set, sizes, versions, machine, the
    command line and ``"complete": true``.
``per_class_accuracy.csv``
    One row per class, one accuracy column per model, and ``ckn_minus_cnn`` when both
    ran.
``predictions.csv``
    The true label and every model's prediction of each test image.
``confusion_matrices.png``
    One panel per model.
``misclassified_<model>.png``
    A grid of misclassified test images per model, "Pred: <name> / True: <name>".

The run writes into a new folder beside ``out``, renamed to ``out`` once every file
is written: an interrupted run leaves ``out`` as it was. An existing ``out`` is
refused unless ``overwrite=True`` (``--overwrite``), which replaces it once the new
results are complete.

Splits: data sets with official train and test sets (MNIST, CIFAR-10, SVHN,
Fruits-360) use them (``n_train`` / ``n_test`` draw a random sample of them); the
bundled digits have none, so a stratified 75% / 25% split (1,347 / 450 images, seeded
by ``random_state``) is used.

The options, with their defaults and texts, are declared once, in
:class:`ComparisonOptions`. Every one is checked before anything is loaded or fitted
(a bad one raises :class:`ParameterError`). The report helpers
(:func:`per_class_accuracy`, :func:`format_per_class_table`,
:func:`plot_confusion_matrices`, :func:`plot_misclassified` and their displays) work
on any predictions.
"""

import importlib

# Public names, imported on first use: the command line's parser reads the settings of
# ``_config`` and ``_options`` without importing torch, matplotlib or the models
# (``--help`` stays fast).
_LAZY = {
    "DATASET_PARAMS": "._config",
    "DEFAULT_MAX_TRAIN": "._config",
    "QUICK_PARAMS": "._config",
    "ComparisonOptions": "._options",
    "ComparisonResult": "._comparison",
    "ConfusionMatricesDisplay": "._confusion",
    "MisclassifiedDisplay": "._misclassified",
    "ParameterError": "._checks",
    "format_per_class_table": "._per_class",
    "load_comparison_data": "._data",
    "per_class_accuracy": "._per_class",
    "plot_confusion_matrices": "._confusion",
    "plot_misclassified": "._misclassified",
    "run_comparison": "._comparison",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
