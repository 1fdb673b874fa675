import hashlib
import os
import struct
import zlib

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

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
        ({"y": np.array([["a"], ["b"]])}, "variable 'y' is not a real numeric array"),
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
    with pytest.raises(ValueError, match="train_32x32.mat.*not a MATLAB v5 .mat file"):
        load_svhn(tmp_path, verify_checksums=False)


def test_whole_float_labels_are_accepted(tmp_path):
    write_mat(str(tmp_path / "svhn" / "train_32x32.mat"), 2, y=np.array([[10.0], [3.0]]))
    np.testing.assert_array_equal(load_svhn(tmp_path, verify_checksums=False).target, [0, 3])


# -- issue 28: compressed variables declaring (and decompressing to) gigabytes ----------
def test_compressed_files_round_trip(tmp_path):
    X, y = write_mat(str(tmp_path / "svhn" / "test_32x32.mat"), 5)
    scipy.io.savemat(tmp_path / "svhn" / "test_32x32.mat", {"X": X, "y": y.astype(float)},
                     do_compression=True)
    bunch = load_svhn(tmp_path, subset="test", verify_checksums=False)
    np.testing.assert_array_equal(bunch.images[4], X[:, :, :, 4])


def _mat_header():
    return b"MATLAB 5.0 MAT-file, handmade".ljust(116) + bytes(8) + b"\x00\x01IM"


def _matrix(name, dims, data_bytes, data=b"", mx_class=9, data_type=2):
    """A miMATRIX element (little-endian) declaring ``dims`` and ``data_bytes``."""
    dims_data = struct.pack(f"<{len(dims)}i", *dims)
    body = (struct.pack("<IIII", 6, 8, mx_class, 0)
            + struct.pack("<II", 5, len(dims_data))
            + dims_data.ljust(-(-len(dims_data) // 8) * 8, b"\0")
            + struct.pack("<I", 1 | len(name) << 16) + name.ljust(4, b"\0")
            + struct.pack("<II", data_type, data_bytes) + data)
    return struct.pack("<II", 14, len(body)) + body


def _compressed(element):
    payload = zlib.compress(element)
    return struct.pack("<II", 15, len(payload)) + payload


def _write(tmp_path, *elements):
    path = tmp_path / "svhn" / "test_32x32.mat"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(_mat_header() + b"".join(elements))
    return path


def test_compression_bomb_is_refused_before_decompressing(tmp_path, monkeypatch, traced_memory):
    # Before (checksums off): scipy decompressed whatever the arrays declared; here
    # 6 MB of images from a 6 KB file, for a data set (patched) of 10 images.
    monkeypatch.setitem(svhn_module.COUNTS, "test", 10)
    n = 2000
    zeros = bytes(32 * 32 * 3 * n)
    y = _compressed(_matrix(b"y", (n, 1), n, bytes(n)))
    path = _write(tmp_path, _compressed(_matrix(b"X", (32, 32, 3, n), len(zeros), zeros)), y)
    assert path.stat().st_size < 10_000
    with traced_memory() as trace, pytest.raises(ValueError, match="declare more than 96336"):
        load_svhn(tmp_path, subset="test", verify_checksums=False)
    assert trace.peak < 2 << 20


@pytest.mark.parametrize("element, match", [
    (_compressed(_matrix(b"X", (32, 32, 3, 10**6), 3072 * 10**6)), "declare more than"),
    (_compressed(_matrix(b"X", (2, 2), 10**9)), "'X' of shape .*the sizes disagree"),
    (_compressed(_matrix(b"X", (-1, 2), 0)), "'X' of shape .*the sizes disagree"),
    (_matrix(b"X", (2, 2), 4, b"\0" * 8, mx_class=4), "'X' is not a real numeric array"),
    (struct.pack("<II", 14, 10**9) + bytes(64), "declares 1000000000 bytes, beyond the end"),
    (struct.pack("<II", 15, 32) + bytes(32), "cannot decompress a variable"),
    (struct.pack("<II", 3, 8) + bytes(8), "an element of type 3"),
], ids=["huge", "data-size", "negative-dim", "char", "beyond-end", "bad-zlib", "type"])
def test_declared_arrays_are_checked_first(tmp_path, traced_memory, element, match):
    path = _write(tmp_path, element)
    with traced_memory() as trace, pytest.raises(ValueError, match=match) as info:
        load_svhn(tmp_path, subset="test", verify_checksums=False)
    assert str(path) in str(info.value) and trace.peak < 2 << 20


@settings(settings.get_profile("loaders"))
@given(
    dims=st.lists(st.sampled_from([-1, 0, 1, 3, 32, 2**31 - 1]), min_size=1, max_size=4),
    data_bytes=st.sampled_from([0, 1, 3072, 2**32 - 1, None]),
    mx_class=st.sampled_from([6, 9, 4, 2**31]),
    compressed=st.booleans(),
    cut=st.sampled_from([None, 10, 40]),
)
def test_any_mat_header_loads_or_raises_a_value_error_naming_it(
    tmp_path_factory, traced_memory, dims, data_bytes, mx_class, compressed, cut
):
    # The property that would have found the bomb: whatever the arrays declare, a
    # ValueError naming the file or a consistent result, at a bounded cost.
    home = tmp_path_factory.mktemp("fuzz")
    count = max(0, int(np.prod(dims, dtype=np.int64)))
    if data_bytes is None:
        data_bytes = min(count, 1 << 16)
    data = bytes(min(data_bytes, 1 << 16))
    element = _matrix(b"X", tuple(dims), data_bytes, data, mx_class=mx_class)
    element = _compressed(element) if compressed else element
    path = _write(home, element[:cut], _matrix(b"y", (1, 1), 1, b"\x01"))
    with traced_memory() as trace:
        try:
            bunch = load_svhn(home, subset="test", verify_checksums=False)
        except ValueError as exc:
            assert str(path) in str(exc)
        else:
            assert bunch.images.shape[1:] == (32, 32, 3)
    assert trace.peak < 8 << 20
