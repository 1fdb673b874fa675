"""Helpers shared by the dataset loaders: data home, verified downloads, checks.

Layout rule shared by every loader: ``data_home`` is the folder that *contains*
the dataset folders, exactly as the official downloads unpack::

    data_home/
        mnist/                    train-images-idx3-ubyte.gz, ...
        cifar-10-batches-py/      data_batch_1..5, test_batch, batches.meta
        cifar-10-python.tar.gz    (alternative to the folder above)
        svhn/                     train_32x32.mat, test_32x32.mat, extra_32x32.mat
        fruits-360/               Training/<class>/*.jpg, Test/<class>/*.jpg
"""

import hashlib
import logging
import numbers
import os
import tempfile
import urllib.request

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["get_data_home", "DownloadError"]

logger = logging.getLogger(__name__)

_ENV_VAR = "SKLEARN_CKN_DATA"
_DEFAULT_HOME = os.path.join("~", "sklearn_ckn_data")
_CHUNK = 1 << 20
#: ``target_names`` of the digit data sets (MNIST, SVHN).
DIGIT_NAMES = [str(d) for d in range(10)]


class DownloadError(OSError):
    """Raised when a dataset file could not be downloaded from any of its addresses.

    An ``OSError``; its message lists every address tried and where to put the file
    by hand.

    See Also
    --------
    sklearn_ckn.datasets.load_dataset : Downloads missing files when allowed.

    Examples
    --------
    >>> from sklearn_ckn.datasets import DownloadError, load_mnist
    >>> try:  # doctest: +SKIP
    ...     load_mnist("/tmp/offline_home")
    ... except DownloadError as exc:
    ...     print("download failed:", exc)
    """


def get_data_home(data_home=None):
    """Return the folder where the dataset loaders look for (and put) their files.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When ``None``, the environment variable
        ``SKLEARN_CKN_DATA`` is used if set, else ``~/sklearn_ckn_data``. A
        leading ``~`` is expanded.

    Returns
    -------
    data_home : str
        The folder, as given or resolved. It is not created here: loaders create
        it only when they download a file, so read-only folders work.

    See Also
    --------
    sklearn_ckn.datasets.load_dataset : Loads the data sets from this folder.

    Examples
    --------
    >>> from sklearn_ckn.datasets import get_data_home
    >>> get_data_home("/tmp/my_data")
    '/tmp/my_data'
    """
    if data_home is None:
        data_home = os.environ.get(_ENV_VAR) or _DEFAULT_HOME
    return os.path.expanduser(os.fspath(data_home))


def check_subset(subset, allowed=("train", "test")):
    """Raise a clear ValueError unless ``subset`` is one of ``allowed``."""
    if not isinstance(subset, str) or subset not in allowed:
        raise ValueError(f"subset must be one of {list(allowed)}, got {subset!r}.")
    return subset


def check_n_samples(n_samples):
    """Validate ``n_samples``: ``None`` or a positive integer."""
    if n_samples is None:
        return None
    if (
        not isinstance(n_samples, numbers.Integral)
        or isinstance(n_samples, bool)
        or n_samples < 1
    ):
        raise ValueError(f"n_samples must be None or a positive integer, got {n_samples!r}.")
    return int(n_samples)


def select_indices(n_total, n_samples=None, shuffle=False, random_state=None):
    """Samples to keep: all or the first ``n_samples``, after an optional shuffle
    with ``random_state``; a slice (a view, no copy) when not shuffling."""
    n_samples = check_n_samples(n_samples)
    if n_samples is not None and n_samples > n_total:
        raise ValueError(f"n_samples={n_samples} is larger than the {n_total} samples available.")
    if not shuffle:
        return slice(0, n_samples)
    return check_random_state(random_state).permutation(n_total)[:n_samples]


def make_bunch(images, target, target_names, descr, return_X_y, **extra):
    """Build the loaders' return value: a Bunch, or ``(images, target)``."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if not images.flags.writeable:  # e.g. np.frombuffer on bytes
        images = images.copy()
    target = np.asarray(target, dtype=np.int64)
    if return_X_y:
        return images, target
    return Bunch(
        images=images, target=target, target_names=list(target_names), DESCR=descr, **extra
    )


def sample_bunch(images, target, target_names, descr, *, n_samples, shuffle, random_state,
                 return_X_y, **extra):
    """The loaders' last step: keep the samples :func:`select_indices` picks and
    return them with :func:`make_bunch`."""
    keep = select_indices(len(images), n_samples, shuffle, random_state)
    extra = {key: value[keep] for key, value in extra.items()}
    return make_bunch(images[keep], target[keep], target_names, descr, return_X_y, **extra)


def missing_files_message(dataset, files, folder, how=None):
    """Message telling which files to place in which folder."""
    names = ", ".join(files)
    msg = f"{dataset} files not found: place {names} in the folder {folder!r}."
    if how:
        msg += " " + how
    return msg


#: MD5 digests already computed in this process, keyed by the file's identity and
#: state (path, device, inode, size, modification and change times): a file is
#: hashed once however many times it is loaded, and again as soon as it changes.
_MD5_CACHE = {}


def _file_key(path):
    st = os.stat(path)
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)


def md5sum(path):
    """MD5 hex digest of a file, read in chunks; computed once per state of the file."""
    key = _file_key(path)
    found = _MD5_CACHE.get(key)
    if found is None:
        digest = hashlib.md5()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        found = _MD5_CACHE[key] = digest.hexdigest()
    return found


def check_md5(path, md5, what, fix=None):
    """Raise a ValueError unless the file ``path`` has the official MD5 ``md5``.

    The message names the file, the expected and the found digests, and how to fix
    it: ``fix`` (default: delete the file so that it is downloaded again) or
    ``verify_checksums=False`` for a copy the user trusts.
    """
    found = md5sum(path)
    if found != md5:
        fix = fix or "Delete it so that the loader downloads the official file again"
        raise ValueError(
            f"{path!r} is not the official {what}: md5 {found}, expected {md5} (the file "
            f"is corrupt, truncated, or another file of that name). {fix}, or pass "
            "verify_checksums=False to load it unchecked (only for a copy you trust)."
        )


def download(url, path, md5=None, timeout=60):
    """Download ``url`` to ``path`` atomically, checking its MD5 if given.

    The bytes go to a temporary file in the destination folder (same file
    system, so the final ``os.replace`` is atomic); it is removed on any error,
    so ``path`` is either absent or complete and verified. Folders created for it
    are removed again on error, so a failed download leaves no trace.
    """
    folder = os.path.dirname(os.path.abspath(path))
    created = _missing_folders(folder)
    os.makedirs(folder, exist_ok=True)
    prefix = "." + os.path.basename(path) + "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=folder)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        digest = hashlib.md5()
        # Some servers refuse Python's default User-Agent.
        request = urllib.request.Request(url, headers={"User-Agent": "sklearn-ckn"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        if md5 is not None and digest.hexdigest() != md5:
            raise OSError(
                f"checksum mismatch for {os.path.basename(path)} downloaded from {url}: "
                f"md5 {digest.hexdigest()}, expected {md5}."
            )
        os.replace(tmp, path)
        _MD5_CACHE[_file_key(path)] = digest.hexdigest()  # verified: no need to hash again
    except BaseException:
        # Never leave a half or unverified file behind (KeyboardInterrupt included),
        # nor the folders created for it (a mistyped data home stays absent).
        if os.path.exists(tmp):
            os.remove(tmp)
        _remove_empty(created)
        raise
    return path


def _missing_folders(folder):
    """``folder`` and its missing parents, deepest first ([] when it exists)."""
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def _remove_empty(folders):
    """Remove ``folders`` (deepest first) while they are empty."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:  # not empty (another file appeared) or already gone
            break


def fetch_file(path, urls, md5, *, dataset, download_if_missing, how=None,
               verify_checksums=True):
    """Return ``path``, downloading it first from the first working of ``urls``.

    A file already present is checked against ``md5`` (see :func:`check_md5`)
    unless ``verify_checksums`` is False or ``md5`` is None; a downloaded one is
    always checked.

    Raises ``FileNotFoundError`` when the file is missing and downloading is not
    allowed, and :class:`DownloadError` (an ``OSError``) when every address
    failed; both messages name the file and the folder to put it in.
    """
    folder, name = os.path.split(path)
    if os.path.isfile(path):
        if verify_checksums and md5 is not None:
            check_md5(path, md5, f"{dataset} file {name}")
        return path
    if not download_if_missing:
        raise FileNotFoundError(
            missing_files_message(dataset, [name], folder, how)
            + " (download_if_missing=False, so nothing was downloaded.)"
        )
    errors = []
    for url in urls:
        logger.info("Downloading %s to %s", url, path)
        try:
            return download(url, path, md5)
        except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
            errors.append(f"{url}: {exc}")
    raise DownloadError(
        f"could not download {name}; tried:\n  "
        + "\n  ".join(errors)
        + "\n"
        + missing_files_message(dataset, [name], folder, how)
    )


def corrupt(path, what):
    """A ValueError naming the corrupt file."""
    return ValueError(f"corrupt or truncated file {path!r}: {what}")
