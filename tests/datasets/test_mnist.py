import gzip
import hashlib
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_ckn.datasets import DownloadError, load_mnist
from sklearn_ckn.datasets import _mnist as mnist_module

NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def write_idx(path, array, magic):
    """Write ``array`` (uint8) as an official gzipped idx file."""
    header = struct.pack(f">{1 + array.ndim}i", magic, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_mnist(folder, sizes=(7, 4), seed=0):
    """Tiny MNIST in ``folder``; returns {subset: (images, labels)}."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    data = {}
    for subset, n in zip(("train", "test"), sizes):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(os.path.join(folder, NAMES[subset][0]), images, 2051)
        write_idx(os.path.join(folder, NAMES[subset][1]), labels, 2049)
        data[subset] = (images, labels)
    return data


@pytest.fixture
def home(tmp_path):
    return tmp_path, make_mnist(tmp_path / "mnist")


@pytest.mark.parametrize("subset", ["train", "test"])
def test_round_trip(home, subset):
    data_home, data = home
    bunch = load_mnist(
        data_home, subset=subset, download_if_missing=False, verify_checksums=False
    )
    images, labels = data[subset]
    assert bunch.images.dtype == np.uint8 and bunch.images.shape == images.shape
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.images, images)
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target_names == [str(d) for d in range(10)]
    assert "LeCun" in bunch.DESCR and "60,000" in bunch.DESCR
    bunch.images[0, 0, 0] = 1  # a writable array, not a view of the file bytes


def test_return_X_y_and_n_samples(home):
    data_home, data = home
    X, y = load_mnist(data_home, return_X_y=True, n_samples=3, verify_checksums=False)
    np.testing.assert_array_equal(X, data["train"][0][:3])
    np.testing.assert_array_equal(y, data["train"][1][:3])
    kwargs = dict(return_X_y=True, n_samples=5, shuffle=True, random_state=1)
    X1, y1 = load_mnist(data_home, verify_checksums=False, **kwargs)
    X2, _ = load_mnist(data_home, verify_checksums=False, **kwargs)
    np.testing.assert_array_equal(X1, X2)
    with pytest.raises(ValueError, match="n_samples"):
        load_mnist(data_home, n_samples=100, verify_checksums=False)


def test_invalid_subset(home):
    with pytest.raises(ValueError, match="subset must be one of"):
        load_mnist(home[0], subset="validation", verify_checksums=False)


def test_env_override(home, monkeypatch):
    data_home, data = home
    monkeypatch.setenv("SKLEARN_CKN_DATA", str(data_home))
    bunch = load_mnist(subset="test", verify_checksums=False)
    np.testing.assert_array_equal(bunch.target, data["test"][1])


def test_missing_files_message(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, subset="test", download_if_missing=False)
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and str(tmp_path / "mnist") in msg


def _serve(tmp_path, monkeypatch, md5s=None):
    """Serve a tiny MNIST through file:// mirrors, first one broken."""
    src = tmp_path / "server"
    data = make_mnist(src)
    files = {}
    for subset, names in NAMES.items():
        files[subset] = tuple(
            (name, md5s or hashlib.md5((src / name).read_bytes()).hexdigest()) for name in names
        )
    monkeypatch.setattr(mnist_module, "FILES", files)
    sizes = {name: (src / name).stat().st_size for name in mnist_module.SIZES}
    monkeypatch.setattr(mnist_module, "SIZES", sizes)
    mirrors = ((tmp_path / "nowhere").as_uri() + "/", src.as_uri() + "/")
    monkeypatch.setattr(mnist_module, "MIRRORS", mirrors)
    return data


def test_download(tmp_path, monkeypatch):
    data = _serve(tmp_path, monkeypatch)
    bunch = load_mnist(tmp_path / "home", subset="test")
    np.testing.assert_array_equal(bunch.images, data["test"][0])
    assert sorted(os.listdir(tmp_path / "home" / "mnist")) == sorted(NAMES["test"])


def test_download_checksum_mismatch(tmp_path, monkeypatch):
    _serve(tmp_path, monkeypatch, md5s="0" * 32)
    with pytest.raises(DownloadError, match="checksum mismatch"):
        load_mnist(tmp_path / "home")
    assert not (tmp_path / "home").exists()  # a failed download creates no data home


def test_default_mirrors_and_checksums():
    assert mnist_module.MIRRORS[0].startswith("https://")
    md5s = dict(mnist_module.FILES["train"] + mnist_module.FILES["test"])
    assert md5s["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert md5s["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"


def _corrupt(path, how):
    if how == "magic":
        write_idx(path, np.zeros((2, 28, 28), np.uint8), 2049)
    elif how == "length":
        with gzip.open(path, "wb") as f:
            f.write(struct.pack(">4i", 2051, 3, 28, 28) + bytes(28 * 28 * 2))
    elif how == "header":
        with gzip.open(path, "wb") as f:
            f.write(b"\x00\x00")
    elif how == "not_gzip":
        path.write_bytes(b"definitely not gzip data")
    elif how == "truncated_gzip":
        path.write_bytes(path.read_bytes()[:-40])


@pytest.mark.parametrize("how", ["magic", "length", "header", "not_gzip", "truncated_gzip"])
def test_corrupt_images_file(home, how):
    data_home, _ = home
    path = data_home / "mnist" / NAMES["train"][0]
    _corrupt(path, how)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        load_mnist(data_home, download_if_missing=False, verify_checksums=False)


def test_label_count_mismatch(home):
    data_home, _ = home
    write_idx(data_home / "mnist" / NAMES["test"][1], np.zeros(2, np.uint8), 2049)
    with pytest.raises(ValueError, match="2 labels for 4 images"):
        load_mnist(data_home, subset="test", verify_checksums=False)


def test_labels_beyond_9_name_the_file(home):
    tmp_path, _ = home
    write_idx(str(tmp_path / "mnist" / NAMES["test"][1]), np.array([0, 200, 3, 4]), 2049)
    with pytest.raises(ValueError, match="labels span 0..200, expected digits 0..9") as info:
        load_mnist(tmp_path, subset="test", verify_checksums=False)
    assert NAMES["test"][1] in str(info.value)


# -- issue 28: downloads never write through a symbolic link ------------------------------
@pytest.mark.parametrize("where", ["folder", "dangling-folder", "file"])
def test_download_refuses_symlinks_below_data_home(tmp_path, monkeypatch, where):
    # Before: a data_home/mnist linked elsewhere got the downloads in its target.
    _serve(tmp_path, monkeypatch)
    home, target = tmp_path / "home", tmp_path / "target"
    home.mkdir()
    target.mkdir()
    if where == "folder":
        (home / "mnist").symlink_to(target)
        link = home / "mnist"
    elif where == "dangling-folder":
        (home / "mnist").symlink_to(tmp_path / "nowhere")
        link = home / "mnist"
    else:
        (home / "mnist").mkdir()
        link = home / "mnist" / NAMES["test"][0]
        link.symlink_to(target / "images.gz")
    with pytest.raises(ValueError, match="is a symbolic link") as info:
        load_mnist(home, subset="test")
    assert str(link) in str(info.value) and "refusing to download" in str(info.value)
    assert os.listdir(target) == [] and not (tmp_path / "nowhere").exists()


def test_linked_data_home_and_linked_existing_files_are_fine(tmp_path, monkeypatch):
    data = _serve(tmp_path, monkeypatch)
    (tmp_path / "real_home").mkdir()
    (tmp_path / "home").symlink_to(tmp_path / "real_home")  # data_home itself: allowed
    bunch = load_mnist(tmp_path / "home", subset="test")
    np.testing.assert_array_equal(bunch.target, data["test"][1])
    assert sorted(os.listdir(tmp_path / "real_home" / "mnist")) == sorted(NAMES["test"])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mnist").symlink_to(tmp_path / "real_home" / "mnist")
    bunch = load_mnist(tmp_path / "other", subset="test")  # nothing to download: read
    np.testing.assert_array_equal(bunch.target, data["test"][1])


# -- issue 28: compression bombs and corrupt headers ------------------------------------
def test_gzip_bomb_is_refused_without_decompressing_it(home, traced_memory):
    # Before (checksums off): the whole stream was decompressed before its size was
    # checked: here 320 MB from a 300 KB file.
    data_home, _ = home
    path = data_home / "mnist" / NAMES["test"][0]
    zeros = gzip.compress(bytes(8 << 20), compresslevel=9)
    header = gzip.compress(struct.pack(">4i", 2051, 2, 28, 28) + bytes(2 * 784))
    path.write_bytes(header + zeros * 40)  # gzip members are read as one stream
    assert path.stat().st_size < 400_000
    with traced_memory() as trace, pytest.raises(ValueError, match="more than 1568 data bytes"):
        load_mnist(data_home, subset="test", verify_checksums=False)
    assert trace.peak < 20 << 20


@pytest.mark.parametrize("shape, match", [
    ((-1, 28, -28), r"declares the shape \(-1, 28, -28\), expected \(n, 28, 28\)"),
    ((2**31 - 1, 28, 28), r"with n <= 10000 \(the official file's shape\)"),
    ((2, 28, 27), r"declares the shape \(2, 28, 27\)"),
])
def test_header_shapes_are_checked_first(home, shape, match):
    # Before: (-1, 28, -28) with 784 bytes raised numpy's reshape error, naming no file.
    data_home, _ = home
    path = data_home / "mnist" / NAMES["test"][0]
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">4i", 2051, *shape) + bytes(784))
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(data_home, subset="test", verify_checksums=False)
    assert str(path) in str(info.value)


DIMS = st.sampled_from([-28, -1, -2**31, 0, 2, 28, 29, 2**31 - 1])


@settings(settings.get_profile("loaders"), max_examples=50)
@given(
    which=st.sampled_from([0, 0, 0, 1]),  # images, labels
    right_magic=st.sampled_from([True, True, True, False]),
    dims=st.one_of(st.tuples(DIMS, DIMS, DIMS), st.tuples(DIMS), st.lists(DIMS, max_size=4)),
    n_data=st.sampled_from([None, None, 0, 1, 784, 3 * 784 + 1]),
    damage=st.sampled_from([None, None, None, "not_gzip", "truncated"]),
)
def test_any_idx_file_loads_or_raises_a_value_error_naming_it(
    tmp_path_factory, which, right_magic, dims, n_data, damage
):
    # The property that would have found the bare reshape error: whatever the header
    # and the data, a ValueError naming the file, or a consistent result.
    data_home = tmp_path_factory.mktemp("fuzz")
    make_mnist(data_home / "mnist", sizes=(1, 3))
    path = data_home / "mnist" / NAMES["test"][which]
    magic = (2051, 2049)[which] if right_magic else 2050
    if n_data is None:  # as many bytes as the header's dims multiply to
        n_data = min(abs(int(np.prod(dims, dtype=np.int64))), 10_000)
    payload = struct.pack(f">{1 + len(dims)}i", magic, *dims) + bytes(n_data)
    if damage != "not_gzip":
        payload = gzip.compress(payload)
    path.write_bytes(payload[:-5] if damage == "truncated" else payload)
    try:
        bunch = load_mnist(data_home, subset="test", verify_checksums=False)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:
        assert bunch.images.shape[1:] == (28, 28) and len(bunch.target) == len(bunch.images)
