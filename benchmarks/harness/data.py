"""The data and split code of every case (one copy): train/test sets, subsets, validation
splits, synthetic images.

Subsets are chosen one of four ways (``how``), each the way a former script chose
them, so that the figures they wrote can be measured again:

* ``"first"``: the first ``n`` images of the file (``bench_ckn``, ``bench_defaults``,
  ``bench_mixed_precision``);
* ``"stratified"``: a class-stratified random subset, sorted (``bench_cnn``);
* ``"random"``: a random subset in file order (``bench_ckn_supervised``);
* ``"shuffle"``: a random subset in random order (``bench_ckn_large``: the hold-out
  for C is then the last rows).
"""

import numpy as np

__all__ = ["load_train_test", "subset_indices", "validation_splits", "synthetic_images", "SUBSETS"]

SUBSETS = ("first", "stratified", "random", "shuffle")


def subset_indices(y, n, how="first", seed=0, rng=None):
    """Indices of ``n`` of the labels ``y`` (all when ``n`` is None or too large; see
    the module's docstring for ``how``). ``rng`` (a numpy Generator) replaces ``seed``
    for ``"random"`` so that two draws can share one generator."""
    N = len(y)
    if how == "shuffle":
        return np.random.default_rng(seed).permutation(N)[:n]
    if n is None or n >= N:
        return np.arange(N)
    if how == "first":
        return np.arange(n)
    if how == "stratified":
        from sklearn.model_selection import train_test_split

        idx, _ = train_test_split(np.arange(N), train_size=n, stratify=y, random_state=seed)
        return np.sort(idx)
    if how == "random":
        rng = rng if rng is not None else np.random.default_rng(seed)
        return np.sort(rng.permutation(N)[:n])
    raise ValueError(f"how must be one of {SUBSETS}, got {how!r}")


def load_train_test(dataset, data_home, n_train=None, n_test=None, *, how="first", seed=0,
                    test_size=0.25, **loader_kwargs):
    """``(X_train, y_train, X_test, y_test)`` of a data set of the registry.

    Data sets with official train and test sets are read from ``data_home`` (never
    downloaded); the others (``"digits"``) are split here, stratified, with
    ``test_size`` and ``seed`` (as ``sklearn-ckn compare`` splits them); ``"synthetic"``
    is :func:`synthetic_images`. Subsets of ``n_train`` / ``n_test`` images are taken
    ``how`` (:func:`subset_indices`); with ``"random"`` one generator draws both, the
    training subset first.
    """
    if dataset == "synthetic":
        X, y = synthetic_images((n_train or 200) + (n_test or 100), seed=seed, **loader_kwargs)
        return X[: n_train or 200], y[: n_train or 200], X[n_train or 200:], y[n_train or 200:]
    from sklearn_ckn.datasets import DATASETS, load_dataset

    if not DATASETS[dataset].subsets:
        from sklearn.model_selection import train_test_split

        X, y = load_dataset(dataset, data_home=data_home, return_X_y=True, **loader_kwargs)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, stratify=y,
                                                            random_state=seed)
    else:
        kwargs = dict(data_home=data_home, return_X_y=True, download_if_missing=False, **loader_kwargs)
        if how == "first":  # the loader reads no more than it returns
            X_train, y_train = load_dataset(dataset, subset="train", n_samples=n_train, **kwargs)
            X_test, y_test = load_dataset(dataset, subset="test", n_samples=n_test, **kwargs)
            return X_train, y_train, X_test, y_test
        X_train, y_train = load_dataset(dataset, subset="train", **kwargs)
        X_test, y_test = load_dataset(dataset, subset="test", **kwargs)
    rng = np.random.default_rng(seed)
    keep = subset_indices(y_train, n_train, how, seed, rng=rng)
    X_train, y_train = X_train[keep], y_train[keep]
    if how == "shuffle":  # the test set in file order
        keep = np.arange(min(len(y_test), n_test or len(y_test)))
    else:
        keep = subset_indices(y_test, n_test, how, seed, rng=rng)
    return X_train, y_train, X_test[keep], y_test[keep]


def validation_splits(y, folds=1, seed=0, n_images=None):
    """``[(fit_index, validation_index), ...]``: a stratified 20% hold-out (``folds=1``)
    or stratified ``folds``-fold cross-validation.

    With mirror images (``y`` holds ``n_images`` labels, then those of their mirrors
    in the same order) an image and its mirror fall on the same side of each split.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    n = len(y) if n_images is None else n_images
    index = np.arange(n)
    if folds == 1:
        splits = [tuple(train_test_split(index, test_size=0.2, stratify=y[:n], random_state=seed))]
    else:
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(index, y[:n]))
    if n < len(y):
        splits = [(np.concatenate([a, a + n]), np.concatenate([b, b + n])) for a, b in splits]
    return splits


def synthetic_images(n, shape=(32, 32, 3), n_classes=10, seed=0):
    """``n`` random ``uint8`` images of ``shape`` and random labels: for speed figures
    (costs do not depend on pixel values) and smoke runs, not for accuracies."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    return X, rng.integers(0, n_classes, size=n)
