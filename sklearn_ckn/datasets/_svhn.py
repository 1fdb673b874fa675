"""SVHN (Street View House Numbers), cropped digits, from the official ``.mat`` files."""

import os

import numpy as np
import scipy.io

from ._base import DIGIT_NAMES, check_subset, corrupt, fetch_file, get_data_home, sample_bunch

__all__ = ["load_svhn"]

FOLDER = "svhn"
URL = "http://ufldl.stanford.edu/housenumbers/"
FILES = {
    "train": ("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test": ("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
    "extra": ("extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7"),
}

DESCR = """\
SVHN (Street View House Numbers), format 2: cropped digits
----------------------------------------------------------
32x32 RGB images (uint8, channels-last) of house-number digits 0-9 cropped from
Google Street View: 73,257 training, 26,032 test and 531,131 extra (easier)
images, read from train_32x32.mat, test_32x32.mat and extra_32x32.mat of
http://ufldl.stanford.edu/housenumbers/. The files label the digit 0 as 10; it is
mapped back to 0 here.

Y. Netzer, T. Wang, A. Coates, A. Bissacco, B. Wu and A. Y. Ng. Reading digits in
natural images with unsupervised feature learning. NIPS Workshop on Deep Learning
and Unsupervised Feature Learning, 2011.
"""


def _read_mat(path):
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises various types on bad files
        raise corrupt(path, f"cannot read the .mat file ({type(exc).__name__}: {exc}).") from exc
    if "X" not in mat or "y" not in mat:
        raise corrupt(path, "no 'X' and 'y' variables; not an SVHN cropped-digits file.")
    X, y = mat["X"], np.asarray(mat["y"]).ravel()
    if X.dtype != np.uint8 or X.ndim != 4 or X.shape[:3] != (32, 32, 3):
        raise corrupt(path, f"X is {X.dtype} {X.shape}, expected uint8 (32, 32, 3, n).")
    if y.shape != (X.shape[3],):
        raise corrupt(path, f"{y.size} labels for {X.shape[3]} images.")
    if y.dtype.kind not in "iuf":
        raise corrupt(path, f"y is {y.dtype}, expected integer labels 1..10.")
    if y.dtype.kind == "f":  # MATLAB's default double: the values must be whole numbers
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise corrupt(
                path, f"y holds {y[bad][0]} (label {int(np.argmax(bad))}), expected integer "
                "labels 1..10."
            )
    if y.size and (y.min() < 1 or y.max() > 10):
        raise corrupt(path, f"labels span {y.min():g}..{y.max():g}, expected 1..10.")
    # MATLAB stores images last (H, W, C, n): put them first; label 10 is the digit 0.
    return X.transpose(3, 0, 1, 2), y.astype(np.int64) % 10


def load_svhn(
    data_home=None,
    *,
    subset="train",
    return_X_y=False,
    download_if_missing=True,
    verify_checksums=True,
    n_samples=None,
    shuffle=False,
    random_state=None,
):
    """Load SVHN cropped digits (32x32 RGB, 10 classes).

    Reads ``data_home/svhn/<subset>_32x32.mat``, downloading it when it is
    missing. A file already present is checked against the official MD5 digest
    too (see ``verify_checksums``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder containing ``svhn/``; see :func:`get_data_home`.
    subset : {"train", "test", "extra"}, default="train"
        73,257 training, 26,032 test or 531,131 extra images.
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.
    download_if_missing : bool, default=True
        If False, raise ``FileNotFoundError`` instead of downloading a missing file.
    verify_checksums : bool, default=True
        Check that the file already in ``data_home`` has the official MD5 digest
        before reading it, so that a corrupt, truncated or substituted file is
        reported instead of read. Each file is hashed once per process (and again
        if it changes). Pass False only for a copy you trust, e.g. a file written
        again by another tool. Downloaded files are always checked.
    n_samples : int, default=None
        Keep only the first ``n_samples`` images (after shuffling, if ``shuffle``);
        ``None`` keeps them all.
    shuffle : bool, default=False
        Shuffle the images (with ``random_state``) before taking ``n_samples``.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle; unused when ``shuffle`` is False.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, 32, 32, 3) uint8 RGB channels-last, ``target`` (n,) int64
        digits 0..9 (the files' label 10 becomes 0), ``target_names``
        ``["0", ..., "9"]`` and ``DESCR``.
    (images, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When the file is missing and ``download_if_missing`` is False.
    ValueError
        When the file does not have the official MD5 digest (with
        ``verify_checksums``), is corrupt, lacks ``X``/``y`` or has labels that are not
        whole numbers in 1..10; the message names the file.

    See Also
    --------
    sklearn_ckn.datasets.load_dataset : Any registered data set by name.
    sklearn_ckn.datasets.get_data_home : The default folder of the files.

    Examples
    --------
    >>> from sklearn_ckn.datasets import load_svhn
    >>> X, y = load_svhn(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (26032, 32, 32, 3)
    """
    check_subset(subset, ("train", "test", "extra"))
    name, md5 = FILES[subset]
    path = fetch_file(
        os.path.join(get_data_home(data_home), FOLDER, name),
        [URL + name],
        md5,
        dataset="SVHN",
        download_if_missing=download_if_missing,
        verify_checksums=verify_checksums,
    )
    images, target = _read_mat(path)
    return sample_bunch(
        images, target, DIGIT_NAMES, DESCR, n_samples=n_samples, shuffle=shuffle,
        random_state=random_state, return_X_y=return_X_y,
    )
