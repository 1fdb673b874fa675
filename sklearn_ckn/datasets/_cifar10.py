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
    open_regular,
    sample_bunch,
)
from ._docs import loader_doc

__all__ = ["load_cifar10"]

FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
URL = "https://www.cs.toronto.edu/~kriz/" + ARCHIVE
MD5 = "c58f30108f718f92721af3b95e74349a"
SIZE = 170498071  # bytes, official: checked before hashing, bounds the download
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


#: Bounds on a CIFAR-10 pickle, far above the official files (31 MB, about 30,000
#: pickle opcodes and objects, containers 2 deep), so that a small crafted file cannot
#: cost more than a large official one:
#: its size in bytes,
MAX_PICKLE_BYTES = 128 << 20
#: the opcodes the unpickler runs (each builds at most one object) and the objects of
#: the result counted as if shared references were copies (a 6 KB list of lists of
#: lists sharing their items through the pickle memo stands for 10^9 labels),
MAX_PICKLE_OBJECTS = 500_000
#: how deep lists, tuples and dicts nest,
MAX_PICKLE_DEPTH = 8
#: and the bytes unpacked from an archive before a member is read (the official
#: archive: about 186 MB), so that a gzip bomb stops there (with verify_checksums=False).
MAX_ARCHIVE_BYTES = 1 << 30

_LATIN1_NAMES = {"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"}


def _latin1_encode(unpickler):
    def encode(text, encoding="latin1", errors="strict"):
        """``_codecs.encode`` as pickles of bytes use it (protocol 2), latin-1 only."""
        # A fixed list, not codecs.lookup: no codec module is imported on a file's say-so.
        if str(encoding).lower().replace("_", "-") not in _LATIN1_NAMES or errors != "strict":
            raise _RefusedGlobal(f"_codecs.encode with {encoding!r}")
        unpickler.spend(len(text))  # a memoised str can be encoded again and again
        return codecs.encode(text, "latin1")

    return encode


class _NdarrayType:
    """``numpy.ndarray`` as numpy's pickles name it: the type of the array that
    ``_reconstruct`` builds, never called (``ndarray((10**8,), "O")`` from a pickle
    would build 10^8 objects)."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("a call of numpy.ndarray (numpy pickles never call it)")

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _NdarrayType()


def _empty_array(unpickler):
    reconstruct = _numpy_function("multiarray", "_reconstruct")

    def empty_array(subtype, shape, dtype):
        """numpy's ``_reconstruct``: only the empty array that numpy pickles (its
        ``__setstate__`` then fills it from bytes of the file, without copying them)."""
        if subtype is not _NDARRAY or shape != (0,):
            raise pickle.UnpicklingError(
                f"_reconstruct({subtype!r}, {shape!r}) (numpy pickles an empty ndarray)"
            )
        return reconstruct(np.ndarray, shape, dtype)  # its dtype comes with __setstate__

    return empty_array


def _plain_dtype(unpickler):
    def plain_dtype(spec, *args):
        """``numpy.dtype``: numbers only (no object arrays, which could hold anything)."""
        dtype = np.dtype(spec, *args)
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise _RefusedGlobal(f"numpy.dtype({spec!r})")
        return dtype

    return plain_dtype


#: The only globals a CIFAR-10 pickle may refer to: numpy arrays and dtypes as numpy
#: pickles them (1.x and 2.x names, protocols 2 to 5) and the latin-1 encoding of
#: bytes in protocol 2; each maps to a factory taking the unpickler (whose budget they
#: spend). Dicts, lists, bytes, str and ints need no global.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): lambda unpickler: _NDARRAY,
    ("numpy", "dtype"): _plain_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,
    ("numpy.core.numeric", "_frombuffer"): lambda u: _numpy_function("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): lambda u: _numpy_function("numeric", "_frombuffer"),
    ("_codecs", "encode"): _latin1_encode,
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside :data:`_ALLOWED_GLOBALS`."""


class _TooLarge(pickle.UnpicklingError):
    """A pickle built more than the bounds above allow."""


def _counted(load):
    def counted(unpickler):
        unpickler.opcodes_left -= 1
        if unpickler.opcodes_left < 0:
            raise _TooLarge(f"it runs more than {MAX_PICKLE_OBJECTS} pickle opcodes")
        load(unpickler)

    return counted


class _CifarUnpickler(pickle._Unpickler):
    """An unpickler that builds nothing but what CIFAR-10 batches hold, and not more
    of it than the bounds above.

    ``find_class`` is the only way a pickle can reach code (functions to call,
    classes to build); it is refused for everything outside :data:`_ALLOWED_GLOBALS`,
    so a crafted file cannot run anything (``os.system``, ``builtins.eval``,
    ``__reduce__`` tricks) before it is reported. It is Python's own unpickler in pure
    Python, which runs one function per opcode: each is counted
    (:data:`MAX_PICKLE_OBJECTS`), and the bytes that the allowed functions build are
    bounded by the file's size.
    """

    dispatch = {code: _counted(load) for code, load in pickle._Unpickler.dispatch.items()}

    def __init__(self, fileobj, size):
        super().__init__(fileobj, encoding="bytes")
        self.opcodes_left = MAX_PICKLE_OBJECTS
        self.bytes_left = size

    def spend(self, n_bytes):
        self.bytes_left -= n_bytes
        if self.bytes_left < 0:
            raise _TooLarge("its functions build more bytes than the file has")

    def find_class(self, module, name):
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise _RefusedGlobal(f"{module}.{name}")
        return factory(self)


def _unpickle(fileobj, name, size):
    """Unpickle one batch of ``size`` bytes (written by Python 2: keys are bytes),
    allowing only the types CIFAR-10 files hold (dicts, lists, bytes, str, ints and
    numpy arrays) and no more of them than :data:`MAX_PICKLE_BYTES`,
    :data:`MAX_PICKLE_OBJECTS` and :data:`MAX_PICKLE_DEPTH` allow."""
    if size > MAX_PICKLE_BYTES:
        raise corrupt(
            name, f"{size} bytes, more than the {MAX_PICKLE_BYTES} a CIFAR-10 file may have "
            "(the official batches have 31 MB)."
        )
    try:
        obj = _CifarUnpickler(fileobj, size).load()
    except _RefusedGlobal as exc:
        raise ValueError(
            f"refused to unpickle {name!r}: it refers to {exc}, which CIFAR-10 files never "
            "contain (they hold only dicts, lists, bytes, str, ints and numpy arrays), so "
            "it was not loaded and nothing in it was run. It is not an official CIFAR-10 "
            "file: delete it and get the data again."
        ) from None
    except _TooLarge as exc:
        raise corrupt(name, f"refused to unpickle it: {exc} (not a CIFAR-10 file).") from None
    except Exception as exc:  # any unpickling failure means a bad file
        raise corrupt(name, f"cannot unpickle ({type(exc).__name__}: {exc}).") from exc
    _check_tree(obj, name)
    return obj


def _children(item):
    if isinstance(item, dict):
        return [*item.keys(), *item.values()]
    if isinstance(item, (list, tuple, set, frozenset)):
        return item
    return None  # a leaf: numbers, bytes, str, numpy arrays (of numbers)


def _check_tree(obj, name):
    """Refuse containers nested deeper than :data:`MAX_PICKLE_DEPTH`, holding
    themselves, or holding more than :data:`MAX_PICKLE_OBJECTS` objects once shared
    references are counted as copies: what a later conversion (``np.asarray``,
    ``repr``) would build. The count is kept per container (post-order, iterative), so
    it costs the size of the pickle, not of its expansion."""
    totals = {}  # id(container) -> (objects in it, counting itself; nesting height)
    open_ = set()  # containers whose contents are being counted: seeing one again is a cycle
    stack = [(obj, False)]
    while stack:
        item, counted = stack.pop()
        children = _children(item)
        key = id(item)
        if children is None or (not counted and key in totals):
            continue
        if counted:
            size, height = 1, 1
            for child in children:
                child_size, child_height = totals.get(id(child), (1, 0))
                size += child_size
                height = max(height, child_height + 1)
            if height > MAX_PICKLE_DEPTH:
                raise corrupt(name, f"containers nested more than {MAX_PICKLE_DEPTH} deep "
                              "(CIFAR-10 files nest 2 deep).")
            if size > MAX_PICKLE_OBJECTS:
                raise corrupt(
                    name, f"more than {MAX_PICKLE_OBJECTS} objects once the references "
                    "that the pickle shares are counted as copies (not a CIFAR-10 file)."
                )
            totals[key] = size, height
            open_.discard(key)
            continue
        if key in open_:
            raise corrupt(name, "a list, tuple or dict holds itself (not a CIFAR-10 file).")
        open_.add(key)
        stack.append((item, True))
        stack.extend((child, False) for child in children if id(child) not in totals)


def _batch_arrays(batch, name):
    """Images (n, 32, 32, 3) and labels of one batch dict, checking its layout.

    Types and lengths are checked before anything is converted: ``np.asarray`` of a
    list of lists would build all that the pickle shares."""
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise corrupt(name, "not a CIFAR-10 batch (a dict with b'data' and b'labels').")
    data = _image_rows(batch[b"data"], name)
    labels = _labels(batch[b"labels"], len(data), name)
    # Rows are the R, G and B 32x32 planes one after the other: go channels-last.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _image_rows(data, name):
    """``b'data'``: a uint8 array (n, 3072), or bytes of n images."""
    if isinstance(data, (bytes, bytearray)):
        if len(data) % 3072:
            raise corrupt(name, f"b'data' has {len(data)} bytes, not a whole number of "
                          "3072-byte images.")
        data = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3072)
    elif not isinstance(data, np.ndarray):
        raise corrupt(name, f"b'data' is a {type(data).__name__}, expected a uint8 array "
                      "(n, 3072).")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise corrupt(name, f"b'data' is {data.dtype} {data.shape}, expected uint8 (n, 3072).")
    return data


def _labels(labels, n_images, name):
    """``b'labels'``: a list of ``n_images`` ints or a 1-D integer array, in 0..9."""
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
            raise corrupt(name, f"b'labels' is a {labels.dtype} array of shape "
                          f"{labels.shape}, expected integers 0..9.")
    elif isinstance(labels, (list, tuple)):
        if len(labels) == n_images:
            bad = next((label for label in labels if type(label) is not int), _NONE)
            if bad is not _NONE:
                raise corrupt(name, f"b'labels' holds a {type(bad).__name__}, expected "
                              "integers 0..9.")
    else:
        raise corrupt(name, f"b'labels' is a {type(labels).__name__}, expected a list of "
                      "integers 0..9.")
    if len(labels) != n_images:
        raise corrupt(name, f"{len(labels)} labels for {n_images} images.")
    try:
        labels = np.asarray(labels).astype(np.int64) if n_images else np.zeros(0, np.int64)
    except OverflowError:  # Python ints beyond 64 bits
        raise corrupt(name, "b'labels' holds integers beyond 64 bits, expected 0..9.") from None
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise corrupt(
            name, f"labels span {labels.min()}..{labels.max()}, expected 0..{len(CLASS_NAMES) - 1}."
        )
    return labels


_NONE = object()  # "no bad label", as None could be one


#: Longest class name accepted in batches.meta (the official ones: 10 characters).
MAX_NAME_LENGTH = 100


def _label_names(meta, name):
    if not isinstance(meta, dict) or b"label_names" not in meta:
        raise corrupt(name, "not a CIFAR-10 batches.meta (a dict with b'label_names').")
    names = meta[b"label_names"]
    n_classes = len(CLASS_NAMES)
    if not isinstance(names, (list, tuple)) or not all(
        isinstance(n, (bytes, str)) and len(n) <= MAX_NAME_LENGTH for n in names[:n_classes + 1]
    ):
        raise corrupt(name, f"b'label_names' is not a list of names (of at most "
                      f"{MAX_NAME_LENGTH} characters).")
    if len(names) != n_classes:
        raise corrupt(name, f"b'label_names' has {len(names)} names, expected the "
                      f"{n_classes} class names of CIFAR-10.")
    names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    if len(set(names)) != len(names):
        raise corrupt(
            name, f"b'label_names' has {len(set(names))} distinct names for the "
            f"{n_classes} classes of CIFAR-10: {names}."
        )
    return names


def _read_file(path, read):
    """``read(unpickled, path)`` of the pickle file ``path``, a regular file."""
    with open_regular(path) as f:
        return read(_unpickle(f, path, os.fstat(f.fileno()).st_size), path)


def _read_folder(folder, names):
    batches = [_read_file(os.path.join(folder, name), _batch_arrays) for name in names]
    meta = os.path.join(folder, "batches.meta")
    if os.path.exists(meta):  # a FIFO here is refused, not skipped
        return batches, _read_file(meta, _label_names)
    return batches, CLASS_NAMES


def _check_archive_md5(archive):
    """The official archive's MD5, checked before a byte of it is unpacked."""
    folder = os.path.join(os.path.dirname(archive), FOLDER)
    check_md5(
        archive, MD5, ARCHIVE, size=SIZE,
        fix=f"Delete it to download it again, or extract a copy you trust into {folder!r}",
    )


def _read_archive(archive, names):
    """Read the batches straight from the .tar.gz, in one pass (no extraction)."""
    wanted = {f"{FOLDER}/{name}": name for name in names}
    found, target_names = {}, CLASS_NAMES
    try:
        with open_regular(archive) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
            for member in tar:
                # Checked before the loop moves on, which unpacks (skips) this member.
                if member.offset_data + member.size > MAX_ARCHIVE_BYTES:
                    raise corrupt(archive, f"it unpacks to more than {MAX_ARCHIVE_BYTES} "
                                  "bytes (the official archive: about 186 MB).")
                where = f"{archive}:{member.name}"
                if member.name in wanted and member.isfile():
                    batch = _unpickle(tar.extractfile(member), where, member.size)
                    found[wanted[member.name]] = _batch_arrays(batch, where)
                elif member.name == f"{FOLDER}/batches.meta" and member.isfile():
                    meta = _unpickle(tar.extractfile(member), where, member.size)
                    target_names = _label_names(meta, where)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise corrupt(archive, f"cannot read the archive ({exc}).") from exc
    missing = [f"{FOLDER}/{n}" for n in names if n not in found]
    if missing:
        raise corrupt(archive, f"members {missing} are missing.")
    return [found[n] for n in names], target_names


@loader_doc
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
    {return_X_y}
    download_if_missing : bool, default=True
        If False, raise ``FileNotFoundError`` instead of downloading the archive.
    verify_checksums : bool, default=True
        Check that an archive already in ``data_home`` has the official MD5
        digest before reading it (hashed once per process, and again if it
        changes). Pass False only for an archive you trust. The extracted folder
        has no official per-file checksums, and a downloaded archive is always
        checked.
    {sampling}

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, 32, 32, 3) uint8 RGB channels-last, ``target`` (n,) int64
        in 0..9, ``target_names`` (``"airplane"``, ..., ``"truck"``) and ``DESCR``.
    {as_tuple}

    Raises
    ------
    FileNotFoundError
        When the data are missing and ``download_if_missing`` is False.
    ValueError
        When a batch or the archive is corrupt, holds invalid labels or class names,
        refers to anything but the types above, exceeds the bounds of the Notes, when
        a file in ``data_home`` is not a regular file, or when an archive already present
        does not have the official MD5 (with ``verify_checksums``); the message
        names the file.

    See Also
    --------
    {see_also}

    Notes
    -----
    The official format is Python pickles. They are read with an unpickler that
    builds only what CIFAR-10 files hold (dicts, lists, bytes, str, ints, numpy
    arrays of numbers and dtypes) and refuses anything else, so a crafted file cannot
    run code; nor can a small one cost more than an official one: files above
    ``MAX_PICKLE_BYTES`` (128 MiB), pickles running more than
    ``MAX_PICKLE_OBJECTS`` (500,000) opcodes or holding more objects once the
    references they share are counted as copies, nested more than
    ``MAX_PICKLE_DEPTH`` (8) deep, or archives unpacking to more than
    ``MAX_ARCHIVE_BYTES`` (1 GiB) are refused, and labels and data are checked for
    their types and lengths before they are converted to arrays.
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
    # Present means present: a FIFO or a folder in their place is refused when opened.
    if all(os.path.exists(os.path.join(folder, n)) for n in names):
        batches, target_names = _read_folder(folder, names)
    else:
        how = (
            f"or put {ARCHIVE} (from {URL}) in {home!r}; "
            f"{FOLDER}/ must hold {', '.join(names)}."
        )
        archive = os.path.join(home, ARCHIVE)
        if not os.path.exists(archive) and not download_if_missing:
            raise FileNotFoundError(
                missing_files_message("CIFAR-10", names, folder, how)
                + " (download_if_missing=False, so nothing was downloaded.)"
            )
        if os.path.exists(archive):  # downloads are verified by fetch_file
            if verify_checksums:
                _check_archive_md5(archive)
        else:
            fetch_file(archive, [URL], MD5, dataset="CIFAR-10", download_if_missing=True,
                       size=SIZE, data_home=home)
        batches, target_names = _read_archive(archive, names)
    images = np.concatenate([b[0] for b in batches])
    target = np.concatenate([b[1] for b in batches])
    return sample_bunch(
        images, target, target_names, DESCR, n_samples=n_samples, shuffle=shuffle,
        random_state=random_state, return_X_y=return_X_y,
    )
