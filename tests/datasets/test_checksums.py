"""Official checksums of files already in data_home (issue 17): checked by default,
clear errors, skipped on request, each file hashed once per state."""

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest

from sklearn_ckn.datasets import _base, load_cifar10, load_mnist, load_svhn
from sklearn_ckn.datasets import _cifar10 as cifar_module
from sklearn_ckn.datasets import _mnist as mnist_module
from sklearn_ckn.datasets import _svhn as svhn_module


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _official_mnist(monkeypatch, folder):
    """Make the fake files in ``folder`` the official ones: the tables hold their MD5s
    and sizes."""
    table = {
        subset: tuple((name, _md5(folder / name)) for name, _ in files)
        for subset, files in mnist_module.FILES.items()
    }
    monkeypatch.setattr(mnist_module, "FILES", table)
    monkeypatch.setattr(mnist_module, "SIZES", {
        name: (folder / name).stat().st_size for name in mnist_module.SIZES
    })
    return table


def _flip_last_byte(path):
    """Change the file's content in place, keeping its size."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def mnist_home(tmp_path, fake_datasets):
    fake_datasets["mnist"](tmp_path, n=(12, 6))
    return tmp_path


def test_mnist_fake_files_are_not_the_official_ones(mnist_home, monkeypatch):
    path = mnist_home / "mnist" / "t10k-images-idx3-ubyte.gz"
    with pytest.raises(ValueError) as info:
        load_mnist(mnist_home, subset="test", download_if_missing=False)
    msg = str(info.value)
    assert str(path) in msg and "not the official MNIST file" in msg
    assert f"{path.stat().st_size} bytes, expected 1648877" in msg  # not even hashed
    assert "Delete it" in msg and "verify_checksums=False" in msg
    # Of the official size: hashed.
    monkeypatch.setitem(mnist_module.SIZES, path.name, path.stat().st_size)
    with pytest.raises(ValueError) as info:
        load_mnist(mnist_home, subset="test", download_if_missing=False)
    expected = dict(mnist_module.FILES["test"])["t10k-images-idx3-ubyte.gz"]
    assert f"md5 {_md5(path)}, expected {expected}" in str(info.value)


def test_file_of_another_size_is_not_hashed(mnist_home, monkeypatch):
    # Before: a sparse 1 GB file (8 KB on disk) in place of an MNIST file was read
    # whole to hash it; its size tells it is not the official file.
    path = mnist_home / "mnist" / "t10k-images-idx3-ubyte.gz"
    with open(path, "r+b") as f:
        f.truncate(1 << 30)

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed")

    monkeypatch.setattr(_base, "md5sum", no_hashing)
    with pytest.raises(ValueError, match=f"{1 << 30} bytes, expected 1648877"):
        load_mnist(mnist_home, subset="test", download_if_missing=False)


def test_mnist_matching_checksums_pass(mnist_home, monkeypatch):
    _official_mnist(monkeypatch, mnist_home / "mnist")
    bunch = load_mnist(mnist_home, subset="test", download_if_missing=False)
    unchecked = load_mnist(mnist_home, subset="test", verify_checksums=False)
    assert bunch.images.shape == (6, 28, 28)
    np.testing.assert_array_equal(bunch.images, unchecked.images)


def test_mnist_tampered_file_raises_even_after_a_good_load(mnist_home, monkeypatch):
    table = _official_mnist(monkeypatch, mnist_home / "mnist")
    load_mnist(mnist_home, subset="train")  # hashed and cached
    path = mnist_home / "mnist" / "train-labels-idx1-ubyte.gz"
    _flip_last_byte(path)  # same size: the cache must still see the change
    with pytest.raises(ValueError, match="not the official MNIST file") as info:
        load_mnist(mnist_home, subset="train")
    expected = dict(table["train"])["train-labels-idx1-ubyte.gz"]
    assert f"{str(path)!r} is not" in str(info.value)
    assert f"md5 {_md5(path)}, expected {expected}" in str(info.value)


def test_verify_checksums_false_hashes_nothing(mnist_home, tmp_path, fake_datasets,
                                               monkeypatch):
    def no_hashing(path):
        raise AssertionError(f"{path} was hashed")

    monkeypatch.setattr(_base, "md5sum", no_hashing)
    fake_datasets["svhn"](tmp_path, n=(4, 3))
    assert load_mnist(mnist_home, subset="test", verify_checksums=False).images.shape[0] == 6
    assert load_svhn(tmp_path, subset="test", verify_checksums=False).images.shape[0] == 3


def test_each_file_state_is_hashed_once(mnist_home, monkeypatch):
    _official_mnist(monkeypatch, mnist_home / "mnist")
    hashed = []
    real_md5 = hashlib.md5

    def counting_md5(*args, **kwargs):
        hashed.append(1)
        return real_md5(*args, **kwargs)

    monkeypatch.setattr(_base.hashlib, "md5", counting_md5)
    load_mnist(mnist_home, subset="test")
    first = len(hashed)
    assert first == 2  # the two files of the subset
    load_mnist(mnist_home, subset="test")
    load_mnist(mnist_home, subset="test", n_samples=2)
    assert len(hashed) == first  # cached by path, size and times
    path = mnist_home / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes())  # same bytes, rewritten: hashed again
    load_mnist(mnist_home, subset="test")
    assert len(hashed) == first + 1


def test_svhn_checksums(tmp_path, fake_datasets, monkeypatch):
    fake_datasets["svhn"](tmp_path, n=(4, 3))
    path = tmp_path / "svhn" / "test_32x32.mat"
    with pytest.raises(ValueError, match="not the official SVHN file test_32x32.mat") as info:
        load_svhn(tmp_path, subset="test")
    assert str(path) in str(info.value) and "bytes, expected 64275384" in str(info.value)
    monkeypatch.setitem(svhn_module.FILES, "test", ("test_32x32.mat", _md5(path)))
    monkeypatch.setitem(svhn_module.SIZES, "test_32x32.mat", path.stat().st_size)
    assert load_svhn(tmp_path, subset="test").images.shape == (3, 32, 32, 3)
    _flip_last_byte(path)
    with pytest.raises(ValueError, match=f"md5 {_md5(path)}, expected"):
        load_svhn(tmp_path, subset="test")


def _cifar_archive(path, n=2):
    rng = np.random.default_rng(0)
    members = {
        "test_batch": {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                       b"labels": list(range(n))},
        "batches.meta": {b"label_names": [f"c{i}".encode() for i in range(10)]},
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            payload = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def test_cifar10_archive_checksum(tmp_path, monkeypatch):
    archive = tmp_path / "cifar-10-python.tar.gz"
    _cifar_archive(archive)
    with pytest.raises(ValueError, match="not the official cifar-10-python.tar.gz") as info:
        load_cifar10(tmp_path, subset="test", download_if_missing=False)
    msg = str(info.value)
    assert f"{archive.stat().st_size} bytes, expected {cifar_module.SIZE}" in msg
    assert "verify_checksums=False" in msg and "cifar-10-batches-py" in msg
    monkeypatch.setattr(cifar_module, "SIZE", archive.stat().st_size)
    with pytest.raises(ValueError, match="not the official cifar-10-python.tar.gz") as info:
        load_cifar10(tmp_path, subset="test", download_if_missing=False)
    assert f"md5 {_md5(archive)}, expected {cifar_module.MD5}" in str(info.value)
    # skipped on request: the archive is read (still with the restricted unpickler)
    bunch = load_cifar10(tmp_path, subset="test", verify_checksums=False)
    assert bunch.images.shape == (2, 32, 32, 3) and bunch.target_names[0] == "c0"
    monkeypatch.setattr(cifar_module, "MD5", _md5(archive))
    assert load_cifar10(tmp_path, subset="test").target.tolist() == [0, 1]


def test_downloaded_file_is_not_hashed_again(tmp_path, monkeypatch):
    server = tmp_path / "server"
    server.mkdir()
    payload = b"the official bytes" * 1000
    (server / "blob.bin").write_bytes(payload)
    md5 = hashlib.md5(payload).hexdigest()
    dest = tmp_path / "home" / "blob.bin"
    _base.fetch_file(str(dest), [(server / "blob.bin").as_uri()], md5, dataset="Blob",
                     download_if_missing=True)

    def no_rehash(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(_base.hashlib, "md5", no_rehash)
    _base.fetch_file(str(dest), [], md5, dataset="Blob", download_if_missing=True)
