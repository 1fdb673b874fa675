"""Compare CKN, CNN and classical classifiers on an image data set.

:func:`run_comparison` (and its command line, ``python -m sklearn_ckn compare``) fits
every requested model of :func:`sklearn_ckn.make_model` and writes accuracy tables,
per-class tables, confusion matrices and misclassified examples; the report helpers
(:func:`per_class_accuracy`, :func:`format_per_class_table`,
:func:`plot_confusion_matrices`, :func:`plot_misclassified`) work on any predictions.
"""

from .._plotting import (
    format_per_class_table,
    per_class_accuracy,
    plot_confusion_matrices,
    plot_misclassified,
)
from ._harness import (
    DATASET_PARAMS,
    DATASETS,
    DEFAULT_MAX_TRAIN,
    QUICK_PARAMS,
    ComparisonResult,
    load_comparison_data,
    run_comparison,
    run_example_comparison,
)

__all__ = [
    "DATASETS",
    "DATASET_PARAMS",
    "DEFAULT_MAX_TRAIN",
    "QUICK_PARAMS",
    "ComparisonResult",
    "format_per_class_table",
    "load_comparison_data",
    "per_class_accuracy",
    "plot_confusion_matrices",
    "plot_misclassified",
    "run_comparison",
    "run_example_comparison",
]
