import dataclasses
import inspect

import numpy as np
import pytest

from sklearn_ckn import datasets
from sklearn_ckn.datasets import (
    DATASETS,
    DatasetInfo,
    available_datasets,
    get_dataset_info,
    load_dataset,
)

NAMES = ["digits", "mnist", "svhn", "cifar10", "fruits360"]


def test_names_in_fixed_order():
    assert available_datasets() == NAMES
    assert list(DATASETS) == NAMES
    assert all(DATASETS[name].name == name for name in NAMES)


def test_registry_is_read_only():
    with pytest.raises(TypeError):
        DATASETS["mine"] = DATASETS["digits"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DATASETS["mnist"].n_classes = 3
    available_datasets().append("mine")  # a copy: the registry is unchanged
    assert available_datasets() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_info_matches_its_loader(name):
    info = get_dataset_info(name)
    assert isinstance(info, DatasetInfo)
    assert getattr(datasets, info.loader.__name__) is info.loader  # a public loader
    params = inspect.signature(info.loader).parameters
    assert info.loader_parameters == tuple(params)
    assert ("subset" in params) == bool(info.subsets)
    assert ("data_home" in params) == (info.folder is not None)
    if info.subsets:
        assert info.subsets[:2] == ("train", "test")
    if info.downloadable:
        assert "download_if_missing" in params
    assert info.display_name and info.description and "\n" not in info.description
    assert len(info.image_shape) in (2, 3) and info.image_shape[-1] in (3, info.image_shape[1])


def test_properties_of_the_known_sets():
    shapes = {name: DATASETS[name].image_shape for name in NAMES}
    assert shapes == {"digits": (8, 8), "mnist": (28, 28), "svhn": (32, 32, 3),
                      "cifar10": (32, 32, 3), "fruits360": (100, 100, 3)}
    assert [DATASETS[n].downloadable for n in NAMES] == [False, True, True, True, False]
    # read from the loaders' signatures: only the official files have digests
    assert [DATASETS[n].verifies_checksums for n in NAMES] == [False, True, True, True, False]
    assert DATASETS["fruits360"].n_classes is None  # one class per folder of the copy
    assert DATASETS["svhn"].subsets == ("train", "test", "extra")


@pytest.mark.parametrize("bad", ["MNIST", "cifar", "", None, 3])
def test_unknown_name_lists_the_valid_ones(bad):
    with pytest.raises(ValueError, match="Unknown dataset") as info:
        get_dataset_info(bad)
    assert all(name in str(info.value) for name in NAMES)
    with pytest.raises(ValueError, match="Unknown dataset"):
        load_dataset(bad)


def test_load_digits_ignores_data_home_and_download(tmp_path):
    X, y = load_dataset("digits", data_home=tmp_path / "nowhere", download_if_missing=False,
                        return_X_y=True, n_class=3)
    expected_X, expected_y = datasets.load_digits_images(n_class=3, return_X_y=True)
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(y, expected_y)
    assert not (tmp_path / "nowhere").exists()


def test_digits_has_no_subset():
    with pytest.raises(ValueError, match="no subsets"):
        load_dataset("digits", subset="train")


def test_unknown_keyword_names_the_loader():
    with pytest.raises(TypeError, match="load_mnist.*image_size") as info:
        load_dataset("mnist", image_size=32)
    assert "n_samples" in str(info.value)


def test_passes_keywords_to_the_loader(tmp_path, fake_datasets):
    fake_datasets["mnist"](tmp_path, n=(40, 20))
    bunch = load_dataset("mnist", data_home=tmp_path, subset="test", n_samples=5,
                         shuffle=True, random_state=0, verify_checksums=False)
    direct = datasets.load_mnist(tmp_path, subset="test", n_samples=5, shuffle=True,
                                 random_state=0, verify_checksums=False)
    np.testing.assert_array_equal(bunch.images, direct.images)
    np.testing.assert_array_equal(bunch.target, direct.target)
    # verify_checksums=True is the default, and the fake files are not the official ones
    with pytest.raises(ValueError, match="not the official MNIST file"):
        load_dataset("mnist", data_home=tmp_path, subset="test")
    # download_if_missing reaches the loader
    with pytest.raises(FileNotFoundError, match="download_if_missing=False"):
        load_dataset("mnist", data_home=tmp_path / "empty", download_if_missing=False)


def test_verify_checksums_only_to_loaders_that_take_it(tmp_path, fake_datasets):
    fake_datasets["fruits360"](tmp_path)
    for verify in (True, False):
        bunch = load_dataset("fruits360", data_home=tmp_path, subset="test",
                             verify_checksums=verify, image_size=8)
        assert bunch.images.shape == (12, 8, 8, 3)
    fake_datasets["cifar10"](tmp_path, n=4)  # the extracted folder: nothing to verify
    X, y = load_dataset("cifar10", data_home=tmp_path, subset="test", return_X_y=True)
    assert X.shape == (4, 32, 32, 3) and y.tolist() == [0, 1, 2, 3]
