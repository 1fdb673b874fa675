"""Fixtures shared by tests in several folders.

* ``hermetic``: no network and an empty default data home (opt in with
  ``pytestmark = pytest.mark.usefixtures("hermetic")``);
* ``bars``: a tiny two-class image task for the torch classifiers;
* ``fake_datasets``: writers of tiny data sets in the official file layouts, so that
  the loaders, the comparison and the examples run on them.

Tests run with ``--import-mode=importlib``, where helper modules cannot be imported by
name: the writers are handed out by a fixture.
"""

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import scipy.io
from PIL import Image


# n_jobs=None measures the machine's free cores (sklearn_ckn._threads): off in the tests,
# whose thread counts must not depend on what else the machine runs (tests/test_threads.py
# turns it on with a measurement it controls).
os.environ["SKLEARN_CKN_ADAPTIVE_THREADS"] = "0"


@pytest.fixture
def hermetic(monkeypatch, tmp_path):
    """No network; an empty default data home, whatever the developer's machine has."""
    import urllib.request

    def no_network(url, *args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: {url}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("SKLEARN_CKN_DATA", str(tmp_path / "default_home"))


# -- tiny data sets in the official layouts; labels 0..9 in turn ---------------------------
def _labels(n):
    return np.arange(n) % 10


def write_mnist(data_home, n=(40, 20), seed=0):
    """``mnist/`` with ``n = (train, test)`` random images, gzipped idx files."""
    rng = np.random.default_rng(seed)
    folder = data_home / "mnist"
    folder.mkdir(parents=True)
    for prefix, count in zip(("train", "t10k"), n):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = _labels(count).astype(np.uint8)
        for kind, array, magic in (("images-idx3", images, 2051), ("labels-idx1", labels, 2049)):
            header = struct.pack(f">{1 + array.ndim}i", magic, *array.shape)
            with gzip.open(folder / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + array.tobytes())


CIFAR10_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
                 b"dog", b"frog", b"horse", b"ship", b"truck"]  # fmt: skip


def write_cifar10(data_home, n=8, seed=0):
    """``cifar-10-batches-py/`` with ``n`` random images per batch (5 train, 1 test)."""
    rng = np.random.default_rng(seed)
    folder = data_home / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": _labels(n).tolist(),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"num_cases_per_batch": n, b"label_names": CIFAR10_NAMES, b"num_vis": 3072})
    )


def write_svhn(data_home, n=(40, 20), seed=0):
    """``svhn/{train,test}_32x32.mat`` with ``n = (train, test)`` random images."""
    rng = np.random.default_rng(seed)
    folder = data_home / "svhn"
    folder.mkdir(parents=True)
    for subset, count in zip(("train", "test"), n):
        X = rng.integers(0, 256, size=(32, 32, 3, count), dtype=np.uint8)
        y = (_labels(count) + 1).reshape(count, 1).astype(np.uint8)  # 1..10, 10 = digit 0
        scipy.io.savemat(folder / f"{subset}_32x32.mat", {"X": X, "y": y})


def write_fruits360(data_home, seed=0):
    """``fruits-360/{Training,Test}/<class>/`` with 8 / 4 noisy 20x20 JPEGs of 3 fruits."""
    rng = np.random.default_rng(seed)
    colours = {"Apple Red 1": (200, 20, 30), "Banana": (250, 220, 30), "Kiwi": (110, 90, 40)}
    for tree, count in (("Training", 8), ("Test", 4)):
        for name, colour in colours.items():
            folder = data_home / "fruits-360" / tree / name
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(-30, 30, size=(20, 20, 3))
                pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}_100.jpg", quality=90)


@pytest.fixture(scope="session")
def fake_datasets():
    """``{name: writer}``; ``writer(data_home, ..., seed=0)`` writes that data set's folder
    into the ``pathlib.Path`` ``data_home`` (created if needed)."""
    return {"mnist": write_mnist, "cifar10": write_cifar10, "svhn": write_svhn,
            "fruits360": write_fruits360}


def _bars(n, size=8, seed=0, channel_axis=False):
    """2 classes: a horizontal (0) or vertical (1) bright bar, plus noise.

    Returns float32 images of shape ``(n, size, size)`` (``(n, size, size, 1)``, the
    layout ``ImageBatches`` takes, with ``channel_axis``) and labels of shape ``(n,)``.
    """
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    line = np.arange(size)[None, :] == rng.randint(0, size, n)[:, None]  # (n, size)
    X = np.where(y[:, None, None] == 0, line[:, :, None], line[:, None, :]).astype(np.float32)
    X = X + 0.3 * rng.randn(n, size, size).astype(np.float32)
    return (X[..., None] if channel_axis else X), y


@pytest.fixture(scope="session")
def bars():
    """The function ``bars(n, size=8, seed=0, channel_axis=False) -> (X, y)``."""
    return _bars


def estimator_checks(estimators):
    """``parametrize_with_checks(estimators)`` with its cases in a list.

    Older scikit-learn (the oldest supported) hands pytest a generator of cases,
    which pytest deprecates (``PytestRemovedIn10Warning``): pytest 10 would not
    collect these tests.
    """
    from sklearn.utils.estimator_checks import parametrize_with_checks

    mark = parametrize_with_checks(estimators).mark
    names, cases = mark.args[:2]
    return pytest.mark.parametrize(names, list(cases), *mark.args[2:], **mark.kwargs)
