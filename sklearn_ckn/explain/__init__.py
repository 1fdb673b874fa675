"""Explaining CNN and CKN classifiers of images: class activation maps and filters.

* :func:`grad_cam`: heat maps ``(n, H, W)`` in [0, 1] (Grad-CAM, HiResCAM or LayerCAM)
  of a fitted :class:`~sklearn_ckn.CNNClassifier` or of a fitted pipeline
  ``CKNTransformer -> [scalers] -> linear classifier``;
* :func:`plot_grad_cam` / :class:`GradCAMDisplay`: each image and one heat-map overlay
  per model;
* :func:`plot_filters` / :class:`FiltersDisplay`: the first-layer filters (CNN kernels,
  CKN anchors);
* :func:`make_localisation_task`, :func:`mass_in_region`, :func:`pointing_game`,
  :func:`deletion_insertion`: measuring whether maps point at the evidence;
* :func:`as_differentiable`: a fitted estimator as a differentiable torch model (one
  adapter class per model family, see :mod:`sklearn_ckn.explain._adapters`).

See ``docs/explain.md``.
"""

from ._adapters import ModelAdapter, as_differentiable
from ._grad_cam import METHODS, grad_cam
from ._localisation import (
    deletion_insertion,
    make_localisation_task,
    mass_in_region,
    pointing_game,
)
from ._filters import FiltersDisplay, plot_filters
from ._plotting import GradCAMDisplay, plot_grad_cam

__all__ = [
    "METHODS",
    "FiltersDisplay",
    "GradCAMDisplay",
    "ModelAdapter",
    "as_differentiable",
    "deletion_insertion",
    "grad_cam",
    "make_localisation_task",
    "mass_in_region",
    "plot_filters",
    "plot_grad_cam",
    "pointing_game",
]
