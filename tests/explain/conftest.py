"""Shared synthetic data and small fitted models for the explanation tests.

The task (:func:`sklearn_ckn.explain.make_localisation_task`): 16x16 grey noise images
with a bright 5x5 cross (class 0) or plus (class 1) at a known place near the top-left
corner, and two look-alike crosses / pluses elsewhere, chosen at random whatever the
class. Only the pattern at the known place decides the class, so a good map of the
explained class puts its mass there, not on the distractors. Three model families: a
CNN, a CKN pipeline and a supervised CKNClassifier (``model`` runs a test on each).
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ckn import CKNClassifier, CKNTransformer, CNNClassifier
from sklearn_ckn.explain import make_localisation_task, mass_in_region

SIZE = 16


def mass_ratio(maps, masks):
    """Share of each map's mass in its region, over the share a uniform map has."""
    masks = np.asarray(masks, dtype=bool)
    return mass_in_region(maps, masks) / masks.mean(axis=(1, 2))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def task():
    return make_localisation_task(400, SIZE, random_state=0)


@pytest.fixture(scope="session")
def task_test():
    return make_localisation_task(100, SIZE, random_state=1)


@pytest.fixture(scope="session")
def cnn_model(task):
    X, y, _ = task
    return CNNClassifier(
        "resnet-small", architecture_params={"widths": (8, 16)}, epochs=6, batch_size=32,
        device="cpu", random_state=0,
    ).fit(X, y)


@pytest.fixture(scope="session")
def ckn_model(task):
    X, y, _ = task
    ckn = CKNTransformer(
        n_filters=(16, 32), subsamplings=(2, 4), n_patches=5000, kmeans_max_iter=5,
        device="cpu", random_state=0,
    )
    return make_pipeline(ckn, StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)


@pytest.fixture(scope="session")
def cknsup_model(task):
    X, y, _ = task
    ckn = CKNTransformer(n_filters=(16, 32), subsamplings=(2, 4), n_patches=5000,
                         kmeans_max_iter=5)
    return CKNClassifier(ckn=ckn, epochs=2, device="cpu", random_state=0).fit(X, y)


@pytest.fixture(scope="session", params=["cnn", "ckn", "cknsup"])
def family(request):
    return request.param


@pytest.fixture(scope="session")
def model(family, request):
    return request.getfixturevalue(f"{family}_model")
