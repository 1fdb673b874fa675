"""Run every script of examples/ on tiny data (files of the official formats written
into tmp_path) with tiny models, in-process."""

import gzip
import os
import pickle
import runpy
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COMPARISONS = ["digits", "mnist", "cifar10", "svhn", "fruits360"]


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch, tmp_path):
    import urllib.request

    def no_network(url, *args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: {url}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("SKLEARN_CKN_DATA", str(tmp_path / "default_home"))


def _labels(n):
    return np.arange(n) % 10


def write_mnist(home, n=(40, 20), rng=None):
    folder = home / "mnist"
    folder.mkdir(parents=True)
    for prefix, count in zip(("train", "t10k"), n):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = _labels(count).astype(np.uint8)
        for kind, array, magic in (("images-idx3", images, 2051), ("labels-idx1", labels, 2049)):
            header = struct.pack(f">{1 + array.ndim}i", magic, *array.shape)
            with gzip.open(folder / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + array.tobytes())


def write_cifar10(home, n=8, rng=None):
    folder = home / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": _labels(n).tolist(),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
             b"dog", b"frog", b"horse", b"ship", b"truck"]  # fmt: skip
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"num_cases_per_batch": n, b"label_names": names, b"num_vis": 3072})
    )


def write_svhn(home, n=(40, 20), rng=None):
    folder = home / "svhn"
    folder.mkdir(parents=True)
    for subset, count in zip(("train", "test"), n):
        X = rng.integers(0, 256, size=(32, 32, 3, count), dtype=np.uint8)
        y = (_labels(count) + 1).reshape(count, 1).astype(np.uint8)  # 1..10, 10 = digit 0
        scipy.io.savemat(folder / f"{subset}_32x32.mat", {"X": X, "y": y})


def write_fruits360(home, rng=None):
    colours = {"Apple Red 1": (200, 20, 30), "Banana": (250, 220, 30), "Kiwi": (110, 90, 40)}
    for tree, count in (("Training", 8), ("Test", 4)):
        for name, colour in colours.items():
            folder = home / "fruits-360" / tree / name
            folder.mkdir(parents=True)
            for i in range(count):
                noise = rng.integers(-30, 30, size=(20, 20, 3))
                pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}_100.jpg", quality=90)


WRITERS = {"mnist": write_mnist, "cifar10": write_cifar10, "svhn": write_svhn,
           "fruits360": write_fruits360}


def run_example(name, argv, monkeypatch):
    path = EXAMPLES / name
    monkeypatch.setattr(sys, "argv", [str(path)] + [str(a) for a in argv])
    return runpy.run_path(str(path), run_name="__main__")


def test_every_example_is_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    # plot_cifar10_grad_cam.py is run by tests/explain/test_example.py.
    expected = sorted([f"plot_{d}_comparison.py" for d in COMPARISONS]
                      + ["plot_ckn_gridsearch_digits.py", "plot_cifar10_grad_cam.py"])
    assert scripts == expected


@pytest.mark.parametrize("dataset", COMPARISONS)
def test_comparison_example(dataset, tmp_path, monkeypatch, capsys):
    home = tmp_path / "data"
    home.mkdir()
    if dataset in WRITERS:
        WRITERS[dataset](home, rng=np.random.default_rng(0))
    out = tmp_path / "out"
    run_example(
        f"plot_{dataset}_comparison.py",
        ["--data-home", home, "--n-train", 200, "--n-test", 100, "--quick", "--out", out],
        monkeypatch,
    )
    printed = capsys.readouterr().out
    assert "CLASS" in printed and "CKN Acc" in printed and "Difference" in printed
    table = pd.read_csv(out / "results.csv")
    assert list(table["model"]) == ["ckn", "cnn", "kernel_svm", "naive_bayes", "knn"]
    per_class = pd.read_csv(out / "per_class_accuracy.csv")
    assert "ckn_minus_cnn" in per_class.columns
    for model in table["model"]:
        assert (out / f"misclassified_{model}.png").exists()
    assert (out / "confusion_matrices.png").exists()
    if dataset == "fruits360":
        assert list(per_class["class"]) == ["Apple Red 1", "Banana", "Kiwi"]
        assert table["n_train"].iloc[0] == 24


def test_gridsearch_example(monkeypatch, capsys):
    namespace = run_example("plot_ckn_gridsearch_digits.py", ["--quick", "--verbose", "0"],
                            monkeypatch)
    search = namespace["search"]
    assert set(search.best_params_) >= {"ckn__n_filters", "svm__C"}
    assert "test accuracy" in capsys.readouterr().out
    assert os.path.isdir(namespace["cache"].name) is False  # cleaned up
