import hashlib
import os

import numpy as np
import pytest
import scipy.io

from sklearn_ckn.datasets import load_svhn
from sklearn_ckn.datasets import _svhn as svhn_module


def write_mat(path, n, seed=0, **override):
    """A tiny SVHN .mat in the official layout: X (32, 32, 3, n), y (n, 1) in 1..10."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10, 10 = digit 0
    mdict = {"X": X, "y": y, **override}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    scipy.io.savemat(path, {k: v for k, v in mdict.items() if v is not None})
    return X, y


@pytest.fixture
def home(tmp_path):
    data = {}
    for subset, n in (("train", 12), ("test", 5), ("extra", 3)):
        data[subset] = write_mat(str(tmp_path / "svhn" / f"{subset}_32x32.mat"), n, seed=n)
    return tmp_path, data


@pytest.mark.parametrize("subset", ["train", "test", "extra"])
def test_round_trip(home, subset):
    data_home, data = home
    X, y = data[subset]
    bunch = load_svhn(data_home, subset=subset, download_if_missing=False, verify_checksums=False)
    assert bunch.images.shape == (X.shape[3], 32, 32, 3) and bunch.images.dtype == np.uint8
    assert bunch.images.flags.c_contiguous
    for i in range(X.shape[3]):
        np.testing.assert_array_equal(bunch.images[i], X[:, :, :, i])
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, y.ravel() % 10)
    assert bunch.target_names == [str(d) for d in range(10)] and "Netzer" in bunch.DESCR


def test_label_10_is_digit_0(home):
    _, y = load_svhn(home[0], return_X_y=True, verify_checksums=False)
    assert y[9] == 0 and y[0] == 1 and y.max() == 9


def test_n_samples_and_invalid_subset(home):
    data_home, data = home
    X, _ = load_svhn(
        data_home, subset="test", return_X_y=True, n_samples=2, verify_checksums=False
    )
    np.testing.assert_array_equal(X[1], data["test"][0][:, :, :, 1])
    with pytest.raises(ValueError, match="subset"):
        load_svhn(data_home, subset="valid", verify_checksums=False)


def test_missing_message(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_svhn(tmp_path, subset="test", download_if_missing=False)
    assert "test_32x32.mat" in str(info.value) and str(tmp_path / "svhn") in str(info.value)


def test_download(tmp_path, monkeypatch):
    X, _ = write_mat(str(tmp_path / "server" / "test_32x32.mat"), 4)
    md5 = hashlib.md5((tmp_path / "server" / "test_32x32.mat").read_bytes()).hexdigest()
    monkeypatch.setattr(svhn_module, "URL", (tmp_path / "server").as_uri() + "/")
    monkeypatch.setitem(svhn_module.FILES, "test", ("test_32x32.mat", md5))
    bunch = load_svhn(tmp_path / "home", subset="test")
    np.testing.assert_array_equal(bunch.images[3], X[:, :, :, 3])
    assert os.listdir(tmp_path / "home" / "svhn") == ["test_32x32.mat"]


def test_default_checksums():
    assert svhn_module.FILES["train"][1] == "e26dedcc434d2e4c54c9b2d4a06d8373"
    assert svhn_module.FILES["test"][1] == "eb5a983be6a315427106f1b164d9cef3"


@pytest.mark.parametrize(
    "override, match",
    [
        ({"X": None}, "no 'X' and 'y'"),
        ({"X": np.zeros((28, 28, 3, 2), np.uint8)}, "expected uint8"),
        ({"X": np.zeros((32, 32, 3, 2), np.float64)}, "expected uint8"),
        ({"y": np.ones((3, 1), np.uint8)}, "3 labels for 2 images"),
        ({"y": np.full((2, 1), 11, np.uint8)}, "labels span"),
        ({"y": np.array([[1.0], [np.nan]])}, "y holds nan"),
        ({"y": np.array([[2.5], [3.0]])}, "y holds 2.5"),
        ({"y": np.array([[0], [3]], np.int16)}, "labels span 0..3, expected 1..10"),
        ({"y": np.array([["a"], ["b"]])}, "expected integer labels"),
    ],
)
def test_invalid_mat_content(tmp_path, override, match):
    override.setdefault("X", np.zeros((32, 32, 3, 2), np.uint8))
    write_mat(str(tmp_path / "svhn" / "train_32x32.mat"), 2, **override)
    with pytest.raises(ValueError, match=match) as info:
        load_svhn(tmp_path, verify_checksums=False)
    assert "train_32x32.mat" in str(info.value)


def test_garbage_mat(tmp_path):
    (tmp_path / "svhn").mkdir()
    (tmp_path / "svhn" / "train_32x32.mat").write_bytes(b"MATLAB garbage" * 20)
    with pytest.raises(ValueError, match="train_32x32.mat.*cannot read"):
        load_svhn(tmp_path, verify_checksums=False)


def test_whole_float_labels_are_accepted(tmp_path):
    write_mat(str(tmp_path / "svhn" / "train_32x32.mat"), 2, y=np.array([[10.0], [3.0]]))
    np.testing.assert_array_equal(load_svhn(tmp_path, verify_checksums=False).target, [0, 3])
