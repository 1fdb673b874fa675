"""Explaining CNN and CKN classifiers of images: Grad-CAM and first-layer filters.

* :func:`grad_cam`: Grad-CAM heat maps ``(n, H, W)`` in [0, 1] of a fitted
  :class:`~sklearn_ckn.CNNClassifier` or of a fitted pipeline ``CKNTransformer ->
  [scalers] -> linear classifier``;
* :func:`plot_grad_cam`: a figure with each image and one Grad-CAM overlay per model;
* :func:`plot_filters`: the first-layer filters (CNN kernels, CKN anchors).

How estimators become differentiable torch models is in
:mod:`sklearn_ckn.explain._adapters`; see ``docs/explain.md``.
"""

from ._grad_cam import grad_cam
from ._plotting import plot_filters, plot_grad_cam

__all__ = ["grad_cam", "plot_grad_cam", "plot_filters"]
