"""Files of data_home that are not what their name says (issue 28): every loader
refuses them with a ValueError naming the file, quickly, and never runs or hangs on
them."""

import os

import pytest

from sklearn_ckn.datasets import load_cifar10, load_fruits360, load_mnist, load_svhn

# (writer, loader, path of the file to replace, loader keyword arguments)
CASES = {
    "mnist": ("mnist", load_mnist, "mnist/t10k-images-idx3-ubyte.gz", {}),
    "mnist-checksums": ("mnist", load_mnist, "mnist/t10k-images-idx3-ubyte.gz",
                        {"verify_checksums": True}),
    "svhn": ("svhn", load_svhn, "svhn/test_32x32.mat", {}),
    "cifar10-batch": ("cifar10", load_cifar10, "cifar-10-batches-py/test_batch", {}),
    "cifar10-meta": ("cifar10", load_cifar10, "cifar-10-batches-py/batches.meta", {}),
    "cifar10-archive": (None, load_cifar10, "cifar-10-python.tar.gz", {}),
    "fruits360": ("fruits360", load_fruits360, "fruits-360/Test/Kiwi/0_100.jpg", {}),
}


def _setup(tmp_path, fake_datasets, case):
    writer, loader, name, kwargs = CASES[case]
    if writer is not None:
        fake_datasets[writer](tmp_path)
    path = tmp_path / name
    if path.exists():
        path.unlink()
    kwargs = {"verify_checksums": False, **kwargs}
    if loader is load_fruits360:
        kwargs.pop("verify_checksums")
    else:
        kwargs["download_if_missing"] = False
    return path, lambda: loader(tmp_path, subset="test", **kwargs)


@pytest.mark.parametrize("case", CASES)
def test_fifo_is_refused_without_blocking(tmp_path, fake_datasets, no_hang, case):
    # Before: opening the FIFO waited for a writer forever (load_fruits360), or the
    # loader took it for a missing file.
    path, load = _setup(tmp_path, fake_datasets, case)
    os.mkfifo(path)
    with no_hang(5), pytest.raises(ValueError, match="is a FIFO") as info:
        load()
    assert str(path) in str(info.value) and "not a regular file" in str(info.value)


@pytest.mark.parametrize("case", ["mnist", "svhn", "cifar10-batch", "fruits360"])
def test_folder_in_place_of_a_file_is_refused(tmp_path, fake_datasets, case):
    path, load = _setup(tmp_path, fake_datasets, case)
    path.mkdir()
    with pytest.raises(ValueError, match="is a folder, not a regular file") as info:
        load()
    assert str(path) in str(info.value)


def test_device_is_refused(tmp_path, fake_datasets, no_hang):
    # A link to /dev/zero: reading it would never end.
    path, load = _setup(tmp_path, fake_datasets, "mnist")
    path.symlink_to("/dev/zero")
    with no_hang(5), pytest.raises(ValueError, match="is a character device") as info:
        load()
    assert str(path) in str(info.value)


def test_links_to_regular_files_are_read(tmp_path, fake_datasets):
    fake_datasets["mnist"](tmp_path / "elsewhere")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "mnist").symlink_to(tmp_path / "elsewhere" / "mnist")
    bunch = load_mnist(tmp_path / "home", subset="test", verify_checksums=False)
    assert bunch.images.shape == (20, 28, 28)
