"""The training and test images of a comparison, read through the data set registry
(:func:`sklearn_ckn.datasets.load_dataset`)."""

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ..datasets import available_datasets, load_dataset
from ._checks import check_choice
from ._config import DEFAULT_IMAGE_SIZE, has_official_split, resizes_images

__all__ = ["load_comparison_data", "stratified_subset"]


def stratified_subset(y, n, random_state):
    """Sorted indices of ``n`` of the samples, stratified when every class allows it."""
    if n is None or n >= len(y):
        return np.arange(len(y))
    try:
        idx, _ = train_test_split(
            np.arange(len(y)), train_size=n, stratify=y, random_state=random_state
        )
    except ValueError:  # a class too small to stratify, or n < n_classes
        idx = np.random.RandomState(random_state).permutation(len(y))[:n]
    return np.sort(idx)


def _load_subset(dataset, subset, n, random_state, **kwargs):
    """Bunch of ``n`` random images of a subset (all of them if ``n`` is None or larger
    than the subset)."""
    if n is None:
        return load_dataset(dataset, subset=subset, **kwargs)
    try:
        return load_dataset(
            dataset, subset=subset, n_samples=n, shuffle=True, random_state=random_state,
            **kwargs,
        )
    except ValueError:
        everything = load_dataset(dataset, subset=subset, **kwargs)
        if len(everything.target) >= n:
            raise  # the sample failed for another reason than its size
        return everything


def _split_in_two(dataset, n_train, n_test, random_state):
    bunch = load_dataset(dataset)
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.images, bunch.target, test_size=0.25, stratify=bunch.target,
        random_state=random_state,
    )
    tr = stratified_subset(y_train, n_train, random_state)
    te = stratified_subset(y_test, n_test, random_state)
    return Bunch(
        X_train=X_train[tr], y_train=y_train[tr], X_test=X_test[te], y_test=y_test[te],
        target_names=list(bunch.target_names),
        split=(
            f"{dataset} has no official split: stratified 75%/25% train/test split "
            f"(train_test_split, random_state={random_state})"
            + (", then stratified samples" if (n_train or n_test) else "")
        ),
    )


def load_comparison_data(
    dataset="digits", data_home=None, *, n_train=None, n_test=None, random_state=0,
    image_size=None, download_if_missing=True, verify_checksums=True,
):
    """Training and test images of a data set, as the comparison uses them.

    Parameters
    ----------
    dataset : str, default="digits"
        A name of :func:`sklearn_ckn.datasets.available_datasets`. A data set without
        official train and test sets (``"digits"``, scikit-learn's bundled 8x8
        digits) is split 75% / 25%, stratified and seeded by ``random_state``
        (1,347 / 450 digits). The others use their official train and test sets,
        read from ``data_home``.
    data_home : str or path-like, default=None
        Folder containing the data set folders (see :mod:`sklearn_ckn.datasets`).
    n_train, n_test : int, default=None
        Use a random sample of this many training / test images (stratified for
        digits); None (or a larger number) uses all of them.
    random_state : int, default=0
        Seed of the split and of the samples.
    image_size : int or (int, int), default=None
        Data sets whose loader resizes images (Fruits-360) only: the size the images
        are resized to; None means 32x32, ``0`` keeps the files' size (100x100).
    download_if_missing : bool, default=True
        If False, missing data files raise ``FileNotFoundError`` instead of being
        downloaded.
    verify_checksums : bool, default=True
        Check files already in ``data_home`` against the official MD5 checksums
        (see :func:`sklearn_ckn.datasets.load_dataset`).

    Returns
    -------
    data : Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test`` (uint8 images, int64
        labels), ``target_names`` and ``split`` (a sentence saying how the split
        was made).

    See Also
    --------
    sklearn_ckn.datasets.load_dataset : Loads one subset of a data set.
    sklearn_ckn.compare.run_comparison : Fits and scores models on these data.

    Examples
    --------
    >>> from sklearn_ckn.compare import load_comparison_data
    >>> data = load_comparison_data("digits")
    >>> data.X_train.shape, data.X_test.shape
    ((1347, 8, 8), (450, 8, 8))
    """
    check_choice("dataset", dataset, available_datasets(), "datasets")
    if not has_official_split(dataset):
        return _split_in_two(dataset, n_train, n_test, random_state)
    kwargs = {"data_home": data_home, "download_if_missing": download_if_missing,
              "verify_checksums": verify_checksums}
    if resizes_images(dataset):
        # Classes default to the sorted union of both trees: train and test agree.
        size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
        kwargs["image_size"] = None if size in (0, (0, 0)) else size
    train = _load_subset(dataset, "train", n_train, random_state, **kwargs)
    test = _load_subset(dataset, "test", n_test, random_state, **kwargs)
    return Bunch(
        X_train=train.images, y_train=train.target, X_test=test.images, y_test=test.target,
        target_names=list(test.target_names),
        split=(
            "official train and test sets"
            + (" (random samples, random_state=%d)" % random_state if (n_train or n_test) else "")
        ),
    )
