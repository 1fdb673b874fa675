"""CNN baselines with the scikit-learn API.

:class:`CNNClassifier` trains a LeNet-5 or a compact residual network
(:data:`ARCHITECTURES`) with the plain-PyTorch training loop of
:mod:`sklearn_ckn.core.training`, shared with the supervised CKN.
"""

from ._architectures import ARCHITECTURES, build_architecture
from ._classifier import CNNClassifier

__all__ = ["CNNClassifier", "ARCHITECTURES", "build_architecture"]
