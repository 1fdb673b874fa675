"""SVHN (Street View House Numbers), cropped digits, from the official ``.mat`` files."""

import math
import os
import struct
import zlib

import numpy as np
import scipy.io

from ._base import (
    DIGIT_NAMES,
    check_subset,
    corrupt,
    fetch_files,
    get_data_home,
    open_regular,
    sample_bunch,
)
from ._docs import loader_doc

__all__ = ["load_svhn"]

FOLDER = "svhn"
URL = "http://ufldl.stanford.edu/housenumbers/"
FILES = {
    "train": ("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test": ("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
    "extra": ("extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7"),
}
#: Official sizes in bytes: checked before hashing, they bound downloads too.
SIZES = {
    "train_32x32.mat": 182040794,
    "test_32x32.mat": 64275384,
    "extra_32x32.mat": 1329278602,
}
#: Images in the official files: the arrays a file declares may not hold more bytes
#: than theirs (X and y), checked before scipy reads or decompresses anything.
COUNTS = {"train": 73257, "test": 26032, "extra": 531131}

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


# MAT-file v5 (MATLAB's format, -v6 and -v7): item sizes of the data types, in bytes
# (miINT8, miUINT8, miINT16, miUINT16, miINT32, miUINT32, miSINGLE, miDOUBLE, miINT64,
# miUINT64), and of the numeric array classes (mxDOUBLE_CLASS .. mxUINT64_CLASS).
_MI_SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
_MX_SIZES = {6: 8, 7: 4, 8: 1, 9: 1, 10: 2, 11: 2, 12: 4, 13: 4, 14: 8, 15: 8}
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _check_mat(f, path, max_bytes):
    """Check the headers of the variables of a MAT-file v5 before scipy reads it.

    Each variable must be a real numeric matrix whose data has the size its
    dimensions declare, and all of them together at most ``max_bytes`` once loaded:
    so that a small file whose compressed variables declare, and decompress to,
    gigabytes is refused at the cost of its headers (a compressed variable's first
    512 bytes are decompressed, no more).
    """
    size = os.fstat(f.fileno()).st_size
    header = f.read(128)
    if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
        raise corrupt(path, "not a MATLAB v5 .mat file (the format of SVHN's files).")
    order = "<" if header[126:128] == b"IM" else ">"
    offset, total = 128, 0
    while offset < size:
        f.seek(offset)
        tag = f.read(8)
        if len(tag) < 8:
            raise corrupt(path, f"truncated element header at byte {offset}.")
        kind, n_bytes = struct.unpack(order + "II", tag)
        if offset + 8 + n_bytes > size:
            raise corrupt(path, f"an element at byte {offset} declares {n_bytes} bytes, "
                          "beyond the end of the file.")
        if kind == _MI_COMPRESSED:
            try:
                head = zlib.decompressobj().decompress(f.read(min(n_bytes, 4096)), 512)
            except zlib.error as exc:
                raise corrupt(path, f"cannot decompress a variable ({exc}).") from None
        elif kind == _MI_MATRIX:
            head = tag + f.read(min(n_bytes, 504))
        else:
            raise corrupt(path, f"an element of type {kind} at byte {offset}, expected "
                          "arrays (types 14 and 15).")
        total += _declared_bytes(head, order, path)
        if total > max_bytes:
            raise corrupt(path, f"its arrays declare more than {max_bytes} bytes, more than "
                          "the official file's; refused before reading their data.")
        offset += 8 + n_bytes
    f.seek(0)


def _declared_bytes(head, order, path):
    """Bytes of the array whose miMATRIX element starts ``head``, checking that its
    data has the size its dimensions declare."""
    def element(pos):  # (type, bytes, start of data, next element), small ones too
        kind, n_bytes = struct.unpack_from(order + "II", head, pos)
        if kind >> 16:  # small data element: 2-byte size and type, data in 4 bytes
            return kind & 0xFFFF, kind >> 16, pos + 4, pos + 8
        return kind, n_bytes, pos + 8, pos + 8 + -(-n_bytes // 8) * 8

    try:
        kind, _, flags_at, _ = element(0)
        if kind != _MI_MATRIX:
            raise corrupt(path, f"an element of type {kind}, expected an array (14).")
        _, _, start, dims_at = element(flags_at)
        flags = struct.unpack_from(order + "I", head, start)[0]
        _, n_bytes, start, name_at = element(dims_at)
        dims = struct.unpack_from(f"{order}{n_bytes // 4}i", head, start)
        _, n_bytes, start, data_at = element(name_at)
        name = head[start:start + n_bytes].decode("latin1")
        data_kind, data_bytes, _, _ = element(data_at)
    except struct.error:
        raise corrupt(path, "an array header is truncated or too long.") from None
    mx_class, is_complex = flags & 0xFF, flags & 0x800
    if mx_class not in _MX_SIZES or is_complex:
        raise corrupt(path, f"the variable {name!r} is not a real numeric array (MATLAB "
                      f"class {mx_class}{', complex' if is_complex else ''}).")
    count = math.prod(dims)
    if min(dims, default=0) < 0 or data_bytes != count * _MI_SIZES.get(data_kind, -1):
        raise corrupt(path, f"the variable {name!r} of shape {dims} has {data_bytes} bytes "
                      f"of data of type {data_kind}: the sizes disagree.")
    return count * _MX_SIZES[mx_class]


def _read_mat(path, max_images):
    with open_regular(path) as f:
        _check_mat(f, path, max_images * (32 * 32 * 3 + 8) + (1 << 16))
        try:
            mat = scipy.io.loadmat(f)
        except Exception as exc:  # scipy raises various types on bad files
            raise corrupt(
                path, f"cannot read the .mat file ({type(exc).__name__}: {exc})."
            ) from exc
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


@loader_doc
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
    {return_X_y}
    download_if_missing : bool, default=True
        If False, raise ``FileNotFoundError`` instead of downloading a missing file.
    verify_checksums : bool, default=True
        Check that the file already in ``data_home`` has the official MD5 digest
        before reading it, so that a corrupt, truncated or substituted file is
        reported instead of read. Each file is hashed once per process (and again
        if it changes). Pass False only for a copy you trust, e.g. a file written
        again by another tool. Downloaded files are always checked.
    {sampling}

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, 32, 32, 3) uint8 RGB channels-last, ``target`` (n,) int64
        digits 0..9 (the files' label 10 becomes 0), ``target_names``
        ``["0", ..., "9"]`` and ``DESCR``.
    {as_tuple}

    Raises
    ------
    FileNotFoundError
        When the file is missing and ``download_if_missing`` is False.
    ValueError
        When the file does not have the official MD5 digest (with
        ``verify_checksums``), is not a regular file, is corrupt, lacks ``X``/``y``,
        has labels that are not whole numbers in 1..10, or declares arrays that are
        not real numeric ones, whose data do not have the size of their dimensions, or
        hold more bytes than those of the official file (checked from their headers
        before anything is read or decompressed); the message names the file.

    See Also
    --------
    {see_also}

    Examples
    --------
    >>> from sklearn_ckn.datasets import load_svhn
    >>> X, y = load_svhn(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (26032, 32, 32, 3)
    """
    check_subset(subset, ("train", "test", "extra"))
    [path] = fetch_files(
        get_data_home(data_home), FOLDER, [FILES[subset]], [URL], SIZES, dataset="SVHN",
        download_if_missing=download_if_missing, verify_checksums=verify_checksums,
    )
    images, target = _read_mat(path, COUNTS[subset])
    return sample_bunch(
        images, target, DIGIT_NAMES, DESCR, n_samples=n_samples, shuffle=shuffle,
        random_state=random_state, return_X_y=return_X_y,
    )
