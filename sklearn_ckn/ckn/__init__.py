"""Convolutional kernel networks with the scikit-learn API.

:class:`CKNTransformer` is the unsupervised CKN (anchors learned by spherical k-means,
layer by layer) whose features feed any scikit-learn estimator; :class:`CKNClassifier`
is the supervised CKN, which starts from it and learns the anchors of every layer and
a linear head end to end (Mairal, 2016). Both use the torch layers of
:mod:`sklearn_ckn.core`.
"""

from ._classifier import ARCHITECTURES, CKNClassifier
from ._transformer import CKNTransformer

__all__ = ["ARCHITECTURES", "CKNClassifier", "CKNTransformer"]
