"""Shared synthetic data and small fitted models for the Grad-CAM tests.

The task: 16x16 grey noise images (values in [0, 0.5]) with a 4x4 square at a random
place, bright (1.0) for class 1 and dark (0.0) for class 0. Only the square decides
the class, so a good explanation of class 1 puts its mass on the square.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_ckn import CKNTransformer, CNNClassifier  # noqa: E402

SIZE, SQUARE = 16, 4


def make_squares(n, seed, corner=None, size=SIZE, square=SQUARE):
    """Images ``(n, size, size)``, labels (alternating 0, 1) and square corners ``(n, 2)``."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, size, size)) * 0.5).astype(np.float32)
    y = np.arange(n) % 2
    if corner is None:
        corners = rng.integers(0, size - square + 1, size=(n, 2))
    else:
        corners = np.tile(np.asarray(corner), (n, 1))
    for i, (r, c) in enumerate(corners):
        X[i, r:r + square, c:c + square] = 1.0 if y[i] else 0.0
    return X, y, corners


def mass_ratio(maps, corners, square=SQUARE):
    """Fraction of each map's mass inside its square, over the fraction a uniform map has."""
    h, w = maps.shape[1:]
    inside = np.array([m[r:r + square, c:c + square].sum() for m, (r, c) in zip(maps, corners)])
    total = maps.reshape(len(maps), -1).sum(axis=1)
    return inside / total / (square * square / (h * w))


@pytest.fixture(scope="session")
def squares():
    return make_squares(400, seed=0)


@pytest.fixture(scope="session")
def squares_test():
    return make_squares(100, seed=1)


@pytest.fixture(scope="session")
def cnn_squares(squares):
    X, y, _ = squares
    return CNNClassifier(
        "resnet-small", architecture_params={"widths": (16,)}, epochs=5, batch_size=32,
        device="cpu", random_state=0,
    ).fit(X, y)


@pytest.fixture(scope="session")
def ckn_squares(squares):
    X, y, _ = squares
    ckn = CKNTransformer(
        n_filters=(16, 32), subsamplings=(1, 4), n_patches=5000, kmeans_max_iter=5,
        device="cpu", random_state=0,
    )
    return make_pipeline(ckn, StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)


@pytest.fixture(scope="session", params=["cnn", "ckn"])
def family(request):
    return request.param


@pytest.fixture(scope="session")
def squares_model(family, request):
    return request.getfixturevalue(f"{family}_squares")
