"""The comparison's data: the registry's loaders, official or stratified splits."""

import numpy as np
import pytest

from sklearn_ckn.compare import load_comparison_data, run_comparison
from sklearn_ckn.compare._data import stratified_subset

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py


def test_digits_split_is_stratified():
    data = load_comparison_data("digits", random_state=0)
    assert len(data.y_train) == 1347 and len(data.y_test) == 450
    assert data.X_train.shape[1:] == (8, 8) and data.X_train.dtype == np.uint8
    per_class = np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert np.abs(np.bincount(data.y_test) - 0.25 * per_class).max() <= 1  # stratified
    assert "stratified" in data.split
    small = load_comparison_data("digits", n_train=100, n_test=50, random_state=1)
    assert len(small.y_train) == 100 and len(small.y_test) == 50
    assert np.bincount(small.y_train).min() >= 9
    assert data.target_names == [str(d) for d in range(10)]


def test_stratified_subset():
    y = np.repeat(np.arange(4), 10)
    idx = stratified_subset(y, 8, random_state=0)
    assert np.all(np.diff(idx) > 0) and np.bincount(y[idx]).tolist() == [2, 2, 2, 2]
    assert stratified_subset(y, None, 0).tolist() == list(range(40))
    assert len(stratified_subset(y, 3, 0)) == 3  # fewer than the classes: not stratified


def test_official_split_from_files(tmp_path, fake_datasets):
    fake_datasets["mnist"](tmp_path, n=(40, 20))
    result = run_comparison(
        "mnist", data_home=tmp_path, models=["naive_bayes", "knn"], n_train=30, verbose=0,
        out=tmp_path / "out", verify_checksums=False,  # fake files: not the official ones
    )
    assert list(result.table["n_train"]) == [30, 30]
    assert list(result.table["n_test"]) == [20, 20]  # fewer than asked: all of them
    assert result.data.X_train.shape[1:] == (28, 28)
    assert "official" in result.info["split"]


def test_samples_larger_than_a_subset_use_all_of_it(tmp_path, fake_datasets):
    fake_datasets["mnist"](tmp_path, n=(40, 20))
    data = load_comparison_data("mnist", tmp_path, n_train=30, n_test=500, random_state=0,
                                verify_checksums=False)
    assert len(data.y_train) == 30 and len(data.y_test) == 20
    with pytest.raises(ValueError, match="n_samples"):  # other errors are not hidden
        load_comparison_data("mnist", tmp_path, n_train=-1, verify_checksums=False)


def test_fake_files_fail_the_checksums(tmp_path, fake_datasets):
    fake_datasets["mnist"](tmp_path, n=(40, 20))
    with pytest.raises(ValueError, match="(?i)md5|checksum"):
        load_comparison_data("mnist", tmp_path)
