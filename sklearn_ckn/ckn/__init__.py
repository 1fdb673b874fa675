"""Convolutional kernel networks with the scikit-learn API.

:class:`CKNTransformer` is the unsupervised CKN (anchors learned by spherical k-means,
layer by layer) whose features feed any scikit-learn estimator. The torch layers it
fits live in :mod:`sklearn_ckn.core`.
"""

from ._transformer import CKNTransformer

__all__ = ["CKNTransformer"]
