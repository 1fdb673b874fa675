"""CIFAR-10, read from the official "python version" batches."""

import codecs
import importlib
import os
import pickle
import tarfile
import zlib

import numpy as np

from ._base import (
    check_md5,
    check_subset,
    corrupt,
    fetch_file,
    get_data_home,
    missing_files_message,
    sample_bunch,
)

__all__ = ["load_cifar10"]

FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
URL = "https://www.cs.toronto.edu/~kriz/" + ARCHIVE
MD5 = "c58f30108f718f92721af3b95e74349a"
BATCHES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}
# Fixed by the data set; batches.meta, when present, is read instead.
CLASS_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip

DESCR = """\
CIFAR-10
--------
32x32 RGB images (uint8, channels-last) in 10 classes (airplane, automobile, bird,
cat, deer, dog, frog, horse, ship, truck): 50,000 training images (data_batch_1..5)
and 10,000 test images (test_batch), 6,000 per class, read from the "python version"
(cifar-10-batches-py/ or cifar-10-python.tar.gz) of
https://www.cs.toronto.edu/~kriz/cifar.html.

A. Krizhevsky. Learning multiple layers of features from tiny images.
Technical report, University of Toronto, 2009.
"""


def _numpy_function(module, name):
    """``numpy._core.<module>.<name>`` (numpy >= 2) or ``numpy.core.<module>.<name>``."""
    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except (ImportError, AttributeError):  # numpy 1.x
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


_LATIN1_NAMES = {"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"}


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as pickles of bytes use it (protocol 2), latin-1 only."""
    # A fixed list, not codecs.lookup: no codec module is imported on a file's say-so.
    if str(encoding).lower().replace("_", "-") not in _LATIN1_NAMES or errors != "strict":
        raise _RefusedGlobal(f"_codecs.encode with {encoding!r}")
    return codecs.encode(text, "latin1")


#: The only globals a CIFAR-10 pickle may refer to: numpy arrays and dtypes as numpy
#: pickles them (1.x and 2.x names, protocols 2 to 5) and the latin-1 encoding of
#: bytes in protocol 2. Dicts, lists, bytes, str and ints need no global.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_function(
        "multiarray", "_reconstruct"
    ),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_function(
        "multiarray", "_reconstruct"
    ),
    ("numpy.core.numeric", "_frombuffer"): lambda: _numpy_function("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): lambda: _numpy_function("numeric", "_frombuffer"),
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside :data:`_ALLOWED_GLOBALS`."""


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that builds nothing but what CIFAR-10 batches hold.

    ``find_class`` is the only way a pickle can reach code (functions to call,
    classes to build); it is refused for everything outside :data:`_ALLOWED_GLOBALS`,
    so a crafted file cannot run anything (``os.system``, ``builtins.eval``,
    ``__reduce__`` tricks) before it is reported.
    """

    def find_class(self, module, name):
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise _RefusedGlobal(f"{module}.{name}")
        return factory()


def _unpickle(fileobj, name):
    """Unpickle one batch (written by Python 2: keys are bytes), allowing only the
    types CIFAR-10 files hold: dicts, lists, bytes, str, ints and numpy arrays."""
    try:
        return _CifarUnpickler(fileobj, encoding="bytes").load()
    except _RefusedGlobal as exc:
        raise ValueError(
            f"refused to unpickle {name!r}: it refers to {exc}, which CIFAR-10 files never "
            "contain (they hold only dicts, lists, bytes, str, ints and numpy arrays), so "
            "it was not loaded and nothing in it was run. It is not an official CIFAR-10 "
            "file: delete it and get the data again."
        ) from None
    except Exception as exc:  # any unpickling failure means a bad file
        raise corrupt(name, f"cannot unpickle ({type(exc).__name__}: {exc}).") from exc


def _batch_arrays(batch, name):
    """Images (n, 32, 32, 3) and labels of one batch dict, checking its layout."""
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise corrupt(name, "not a CIFAR-10 batch (a dict with b'data' and b'labels').")
    data = np.asarray(batch[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise corrupt(name, f"b'data' is {data.dtype} {data.shape}, expected uint8 (n, 3072).")
    try:
        raw = np.asarray(batch[b"labels"])
    except ValueError as exc:  # ragged nested lists
        raise corrupt(name, f"b'labels' is not a list of integers ({exc}).") from None
    if raw.size and (raw.dtype.kind not in "iu" or raw.ndim != 1):
        raise corrupt(name, f"b'labels' holds {raw.dtype} values, expected integers 0..9.")
    labels = raw.astype(np.int64)
    if labels.shape != (len(data),):
        raise corrupt(name, f"{labels.size} labels for {len(data)} images.")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise corrupt(
            name, f"labels span {labels.min()}..{labels.max()}, expected 0..{len(CLASS_NAMES) - 1}."
        )
    # Rows are the R, G and B 32x32 planes one after the other: go channels-last.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _label_names(meta, name):
    if not isinstance(meta, dict) or b"label_names" not in meta:
        raise corrupt(name, "not a CIFAR-10 batches.meta (a dict with b'label_names').")
    names = meta[b"label_names"]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, (bytes, str)) for n in names):
        raise corrupt(name, "b'label_names' is not a list of names.")
    names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    if len(names) != len(CLASS_NAMES) or len(set(names)) != len(names):
        raise corrupt(
            name, f"b'label_names' has {len(set(names))} distinct names for the "
            f"{len(CLASS_NAMES)} classes of CIFAR-10: {names}."
        )
    return names


def _read_folder(folder, names):
    batches = []
    for name in names:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            batches.append(_batch_arrays(_unpickle(f, path), path))
    meta = os.path.join(folder, "batches.meta")
    if os.path.isfile(meta):
        with open(meta, "rb") as f:
            return batches, _label_names(_unpickle(f, meta), meta)
    return batches, CLASS_NAMES


def _check_archive_md5(archive):
    """The official archive's MD5, checked before a byte of it is unpacked."""
    folder = os.path.join(os.path.dirname(archive), FOLDER)
    check_md5(
        archive, MD5, ARCHIVE,
        fix=f"Delete it to download it again, or extract a copy you trust into {folder!r}",
    )


def _read_archive(archive, names):
    """Read the batches straight from the .tar.gz, in one pass (no extraction)."""
    wanted = {f"{FOLDER}/{name}": name for name in names}
    found, target_names = {}, CLASS_NAMES
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    where = f"{archive}:{member.name}"
                    found[wanted[member.name]] = _batch_arrays(
                        _unpickle(tar.extractfile(member), where), where
                    )
                elif member.name == f"{FOLDER}/batches.meta" and member.isfile():
                    where = f"{archive}:{member.name}"
                    target_names = _label_names(_unpickle(tar.extractfile(member), where), where)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise corrupt(archive, f"cannot read the archive ({exc}).") from exc
    missing = [f"{FOLDER}/{n}" for n in names if n not in found]
    if missing:
        raise corrupt(archive, f"members {missing} are missing.")
    return [found[n] for n in names], target_names


def load_cifar10(
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
    """Load CIFAR-10 (32x32 RGB, 10 classes).

    Reads, in this order of preference, the extracted folder
    ``data_home/cifar-10-batches-py/`` or the archive
    ``data_home/cifar-10-python.tar.gz`` (read in place, without extracting it).
    When neither exists, the archive is downloaded (MD5-verified) and kept.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder containing ``cifar-10-batches-py/`` or the archive; see
        :func:`get_data_home`.
    subset : {"train", "test"}, default="train"
        50,000 training images (``data_batch_1..5``, in order) or the 10,000
        test images (``test_batch``).
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.
    download_if_missing : bool, default=True
        If False, raise ``FileNotFoundError`` instead of downloading the archive.
    verify_checksums : bool, default=True
        Check that an archive already in ``data_home`` has the official MD5
        digest before reading it (hashed once per process, and again if it
        changes). Pass False only for an archive you trust. The extracted folder
        has no official per-file checksums, and a downloaded archive is always
        checked.
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
        in 0..9, ``target_names`` (``"airplane"``, ..., ``"truck"``) and ``DESCR``.
    (images, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When the data are missing and ``download_if_missing`` is False.
    ValueError
        When a batch or the archive is corrupt, holds invalid labels or class names,
        refers to anything but the types above, or when an archive already present
        does not have the official MD5 (with ``verify_checksums``); the message
        names the file.

    See Also
    --------
    sklearn_ckn.datasets.load_dataset : Any registered data set by name.
    sklearn_ckn.datasets.get_data_home : The default folder of the files.

    Notes
    -----
    The official format is Python pickles. They are read with an unpickler that
    builds only what CIFAR-10 files hold (dicts, lists, bytes, str, ints, numpy
    arrays and dtypes) and refuses anything else, so a crafted file cannot run code.
    An archive already in ``data_home`` is checked against the official MD5 before
    it is read (unless ``verify_checksums=False``); the extracted folder has no
    official per-file checksums (copies written again by other tools are common),
    so its files are only checked for their layout, label range (0..9) and class
    names (10 of them).

    Examples
    --------
    >>> from sklearn_ckn.datasets import load_cifar10
    >>> X, y = load_cifar10("../shared/datasets", subset="test",
    ...                     return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((10000, 32, 32, 3), dtype('uint8'))
    """
    check_subset(subset)
    home = get_data_home(data_home)
    folder = os.path.join(home, FOLDER)
    names = BATCHES[subset]
    if all(os.path.isfile(os.path.join(folder, n)) for n in names):
        batches, target_names = _read_folder(folder, names)
    else:
        how = (
            f"or put {ARCHIVE} (from {URL}) in {home!r}; "
            f"{FOLDER}/ must hold {', '.join(names)}."
        )
        archive = os.path.join(home, ARCHIVE)
        if not os.path.isfile(archive) and not download_if_missing:
            raise FileNotFoundError(
                missing_files_message("CIFAR-10", names, folder, how)
                + " (download_if_missing=False, so nothing was downloaded.)"
            )
        if os.path.isfile(archive):  # downloads are verified by fetch_file
            if verify_checksums:
                _check_archive_md5(archive)
        else:
            fetch_file(archive, [URL], MD5, dataset="CIFAR-10", download_if_missing=True)
        batches, target_names = _read_archive(archive, names)
    images = np.concatenate([b[0] for b in batches])
    target = np.concatenate([b[1] for b in batches])
    return sample_bunch(
        images, target, target_names, DESCR, n_samples=n_samples, shuffle=shuffle,
        random_state=random_state, return_X_y=return_X_y,
    )
