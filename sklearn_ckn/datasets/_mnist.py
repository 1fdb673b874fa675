"""MNIST handwritten digits, read from the official idx ``.gz`` files."""

import gzip
import math
import struct
import zlib

import numpy as np

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

__all__ = ["load_mnist"]

FOLDER = "mnist"
# Mirrors tried in order: the S3 copy is reliable; the original site often is not.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
}
#: Official sizes in bytes: checked before hashing, they bound downloads too.
SIZES = {
    "train-images-idx3-ubyte.gz": 9912422,
    "train-labels-idx1-ubyte.gz": 28881,
    "t10k-images-idx3-ubyte.gz": 1648877,
    "t10k-labels-idx1-ubyte.gz": 4542,
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
IMAGE_SHAPE = (28, 28)
#: Images in the official files: a header declaring more is refused before any data is
#: decompressed.
COUNTS = {"train": 60000, "test": 10000}

DESCR = """\
MNIST handwritten digits
------------------------
28x28 grey images (uint8, 0 = background) of the digits 0-9:
60,000 training and 10,000 test images, read from the four official idx files
(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
t10k-labels-idx1-ubyte.gz) from http://yann.lecun.com/exdb/mnist/.

Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning applied to
document recognition. Proceedings of the IEEE, 86(11):2278-2324, 1998.
"""


def _read_idx(path, magic, max_items):
    """Read one idx file (big-endian header) into an array, checking its layout.

    The header is read and checked first (magic number, 28x28 images, at most
    ``max_items`` of them); then exactly the bytes it declares are decompressed, plus
    one to detect excess, so that a small file decompressing to gigabytes (a gzip
    bomb) costs no more than the official file.
    """
    ndim = 3 if magic == IMAGES_MAGIC else 1
    header_size = 4 * (1 + ndim)
    with open_regular(path) as raw:
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                header = f.read(header_size)
                if len(header) < header_size:
                    raise corrupt(
                        path, f"only {len(header)} bytes, shorter than the idx header."
                    )
                found, *dims = struct.unpack(f">{1 + ndim}i", header)
                shape = tuple(dims)
                _check_header(path, found, magic, shape, max_items)
                expected = math.prod(shape)
                raw_data = f.read(expected + 1)
        except (OSError, EOFError, zlib.error) as exc:  # bad or truncated gzip stream
            raise corrupt(path, f"cannot decompress ({exc}).") from exc
    if len(raw_data) != expected:
        found = f"more than {expected}" if len(raw_data) > expected else len(raw_data)
        raise corrupt(path, f"{found} data bytes, expected {expected} for shape {shape}.")
    return np.frombuffer(raw_data, dtype=np.uint8).reshape(shape)


def _check_header(path, found, magic, shape, max_items):
    if found != magic:
        raise corrupt(path, f"magic number {found}, expected {magic}.")
    expected = (-1,) + IMAGE_SHAPE if magic == IMAGES_MAGIC else (-1,)
    if not 0 <= shape[0] <= max_items or shape[1:] != expected[1:]:
        spelled = str(expected).replace("-1", "n")
        raise corrupt(
            path, f"the header declares the shape {shape}, expected {spelled} with "
            f"n <= {max_items} (the official file's shape)."
        )


@loader_doc
def load_mnist(
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
    """Load the MNIST handwritten digits (28x28 grey, 10 classes).

    Reads ``data_home/mnist/`` holding the official gzipped idx files, downloading
    the two files of ``subset`` when they are missing. Files already present are
    checked against the official MD5 digests too (see ``verify_checksums``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder containing ``mnist/``; see :func:`get_data_home`.
    subset : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    {return_X_y}
    download_if_missing : bool, default=True
        If False, raise ``FileNotFoundError`` instead of downloading missing files.
    verify_checksums : bool, default=True
        Check that the two files already in ``data_home`` have the official MD5
        digests before reading them, so that a corrupt, truncated or substituted
        file is reported instead of read. Each file is hashed once per process (and
        again if it changes). Pass False only for a copy you trust, e.g. files
        written again by another tool. Downloaded files are always checked.
    {sampling}

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, 28, 28) uint8, ``target`` (n,) int64 digits,
        ``target_names`` ``["0", ..., "9"]`` and ``DESCR``.
    {as_tuple}

    Raises
    ------
    FileNotFoundError
        When a file is missing and ``download_if_missing`` is False.
    ValueError
        When a file does not have the official MD5 digest (with
        ``verify_checksums``) or is corrupt (bad magic number, a header declaring
        another shape than (n, 28, 28) images or (n,) labels with n up to the
        official 60,000 or 10,000, more or fewer bytes than it declares, labels
        beyond 0..9); the message names the file. The header is checked before any
        data is decompressed, and no more than it declares is, so a small file that
        decompresses to gigabytes is refused at the cost of the official one.

    See Also
    --------
    {see_also}

    Examples
    --------
    >>> from sklearn_ckn.datasets import load_mnist
    >>> mnist = load_mnist("../shared/datasets", subset="test")  # doctest: +SKIP
    >>> mnist.images.shape, mnist.target[:5]  # doctest: +SKIP
    ((10000, 28, 28), array([7, 2, 1, 0, 4]))
    """
    check_subset(subset)
    paths = fetch_files(
        get_data_home(data_home), FOLDER, FILES[subset], MIRRORS, SIZES, dataset="MNIST",
        download_if_missing=download_if_missing, verify_checksums=verify_checksums,
    )
    images = _read_idx(paths[0], IMAGES_MAGIC, COUNTS[subset])
    target = _read_idx(paths[1], LABELS_MAGIC, COUNTS[subset])
    if len(images) != len(target):
        raise corrupt(paths[1], f"{len(target)} labels for {len(images)} images in {paths[0]!r}.")
    if target.size and target.max() > 9:
        raise corrupt(
            paths[1], f"labels span {target.min()}..{target.max()}, expected digits 0..9."
        )
    return sample_bunch(
        images, target, DIGIT_NAMES, DESCR, n_samples=n_samples, shuffle=shuffle,
        random_state=random_state, return_X_y=return_X_y,
    )
