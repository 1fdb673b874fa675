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
import http.client
import logging
import numbers
import os
import stat
import tempfile
import time
import urllib.request

try:  # advisory locks tell a live download's temporary file from a stale one
    import fcntl
except ImportError:  # Windows, where a file open in another process cannot be removed
    fcntl = None

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["get_data_home", "DownloadError"]

logger = logging.getLogger(__name__)

_ENV_VAR = "SKLEARN_CKN_DATA"
_DEFAULT_HOME = os.path.join("~", "sklearn_ckn_data")
_CHUNK = 1 << 20
#: A download from one address is given up after ``DOWNLOAD_DEADLINE`` seconds plus one
#: second per ``DOWNLOAD_MIN_RATE`` bytes of the file's official size (MNIST's largest
#: file: 4 min 11 s), however slowly the server sends its bytes; the next address is
#: then tried.
DOWNLOAD_DEADLINE = 100
DOWNLOAD_MIN_RATE = 64 * 1024
#: A download stops as soon as it exceeds the official size by this fraction (plus
#: 64 KiB): it cannot be the official file.
DOWNLOAD_SIZE_MARGIN = 0.01
#: Temporary files of downloads are ``.<name>.<random>.part`` in the destination folder.
PART_SUFFIX = ".part"
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


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(mode, path):
    if not stat.S_ISREG(mode):
        kind = next((kind for test, kind in _KINDS if test(mode)), "not a regular file")
        raise ValueError(
            f"{path!r} is {kind}, not a regular file: the loaders read only regular files "
            "(reading a FIFO or a device could block or never end). Replace it with the "
            "data set's file."
        )


def open_regular(path):
    """Open ``path`` for binary reading, refusing anything but a regular file.

    Every loader opens the files of ``data_home`` with it. A FIFO, device, socket or
    folder named like a data file raises a ValueError naming it without being read:
    ``os.stat`` is checked first, and the file is opened non-blocking (opening a FIFO
    would otherwise wait for a writer forever) and checked again with ``os.fstat``, so
    that a file swapped in between cannot block either. Symbolic links are followed:
    reading through them is fine.
    """
    _check_regular(os.stat(path).st_mode, path)
    nonblock = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0)
                 | getattr(os, "O_NOCTTY", 0))
    try:
        _check_regular(os.fstat(fd).st_mode, path)
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
        with open_regular(path) as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        found = _MD5_CACHE[key] = digest.hexdigest()
    return found


def check_md5(path, md5, what, fix=None, size=None):
    """Raise a ValueError unless the file ``path`` has the official MD5 ``md5``.

    When the official ``size`` in bytes is given, a file of another size is refused
    without being read: hashing a sparse or huge file in its place would take as long
    as reading it. The message names the file, the expected and the found digests (or
    sizes), and how to fix it: ``fix`` (default: delete the file so that it is
    downloaded again) or ``verify_checksums=False`` for a copy the user trusts.
    """
    found = os.stat(path)
    _check_regular(found.st_mode, path)  # a FIFO is a FIFO, not a file of 0 bytes
    found_size = found.st_size
    if size is not None and found_size != size:
        difference = f"{found_size} bytes, expected {size}"
    else:
        found = md5sum(path)
        difference = None if found == md5 else f"md5 {found}, expected {md5}"
    if difference is not None:
        fix = fix or "Delete it so that the loader downloads the official file again"
        raise ValueError(
            f"{path!r} is not the official {what}: {difference} (the file is corrupt, "
            f"truncated, or another file of that name). {fix}, or pass "
            "verify_checksums=False to load it unchecked (only for a copy you trust)."
        )


def download_limits(size):
    """``(max_bytes, deadline)`` of a download of a file of official ``size`` bytes:
    see :data:`DOWNLOAD_SIZE_MARGIN`, :data:`DOWNLOAD_DEADLINE` and
    :data:`DOWNLOAD_MIN_RATE`."""
    return (size + max(int(size * DOWNLOAD_SIZE_MARGIN), 1 << 16),
            DOWNLOAD_DEADLINE + size / DOWNLOAD_MIN_RATE)


def download(url, path, md5=None, timeout=60, *, max_bytes=None, deadline=None):
    """Download ``url`` to ``path`` atomically, checking its MD5 if given.

    The bytes go to a temporary file ``.<name>.<random>.part`` in the destination
    folder (same file system, so the final ``os.replace`` is atomic); it is removed on
    any error, KeyboardInterrupt included, so ``path`` is either absent or complete and
    verified. Folders created for it are removed again on error, so a failed download
    leaves no trace. Temporary files that a killed download left for ``path`` are
    removed first (see :func:`remove_stale_parts`).

    ``timeout`` bounds each network operation; ``deadline`` (seconds) the whole
    download and ``max_bytes`` its size: past either, an ``OSError`` saying so is
    raised (``TimeoutError`` for the deadline). The deadline is checked after every
    read of the body (``read1``: whatever has arrived); the status line and headers
    before it are bounded by ``timeout`` per read and by http.client's own limits
    (lines of 64 KiB, 100 headers). The server's ``Content-Length`` is checked
    against ``max_bytes`` before any byte of the body is read.
    """
    folder = os.path.dirname(os.path.abspath(path))
    created = _missing_folders(folder)
    os.makedirs(folder, exist_ok=True)
    remove_stale_parts(path)
    try:
        fd, tmp = _locked_part(path)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        name = os.path.basename(path)
        start = time.monotonic()
        digest = hashlib.md5()
        # Some servers refuse Python's default User-Agent.
        request = urllib.request.Request(url, headers={"User-Agent": "sklearn-ckn"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            announced = _content_length(resp)
            if max_bytes is not None and announced is not None and announced > max_bytes:
                raise OSError(
                    f"{url} announces {announced} bytes for {name}, more than the "
                    f"{max_bytes} bytes allowed (the official size and a margin)."
                )
            # read1: whatever has arrived (one network read), so that the deadline is
            # checked however slowly the bytes come.
            read = getattr(resp, "read1", resp.read)
            received = 0
            for chunk in iter(lambda: read(_CHUNK), b""):
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise OSError(
                        f"{url} sent more than the {max_bytes} bytes allowed for {name} "
                        "(the official size and a margin): not the official file."
                    )
                if deadline is not None and time.monotonic() - start > deadline:
                    raise TimeoutError(
                        f"download of {name} from {url} gave up after {deadline:.0f} s "
                        f"(its deadline), with {received} bytes received."
                    )
                digest.update(chunk)
                out.write(chunk)
            if announced is not None and received < announced:
                raise http.client.IncompleteRead(b"", announced - received)
        if md5 is not None and digest.hexdigest() != md5:
            raise OSError(
                f"checksum mismatch for {name} downloaded from {url}: "
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


def _content_length(resp):
    try:
        return int(resp.headers["Content-Length"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _part_prefix(path):
    return "." + os.path.basename(path) + "."


def _locked_part(path):
    """A new temporary file for ``path``, locked (where ``fcntl`` exists) for as long as
    it is open, so that :func:`remove_stale_parts` never removes a live one."""
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        fd, tmp = tempfile.mkstemp(prefix=_part_prefix(path), suffix=PART_SUFFIX, dir=folder)
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits while a cleaner holds it...
        if os.fstat(fd).st_nlink:
            return fd, tmp
        os.close(fd)  # ... which removed it in between: take another name


def _remove_unlocked(part):
    """Remove ``part`` unless it is not a regular file or a process holds its lock.

    It is removed while this process holds the lock: a download that created it but
    has not locked it yet sees, once it has, that its file is gone
    (:func:`_locked_part`)."""
    if fcntl is None:  # Windows: a file open in another process cannot be removed
        os.remove(part)
        return
    fd = os.open(part, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(f"{part!r} is not a regular file")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: in use
        os.remove(part)
    finally:
        os.close(fd)


def remove_stale_parts(path):
    """Remove the temporary files of downloads of ``path`` that are not running.

    A download killed by a signal (SIGKILL, SIGTERM) leaves its
    ``.<name>.<random>.part`` file behind. A file is stale when no process holds its
    lock (``fcntl.flock``; a process's locks go when it dies); without ``fcntl``
    (Windows), removing a file that another process has open fails, and it is kept.
    Returns the paths removed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _part_prefix(path)
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)
                 and n.endswith(PART_SUFFIX)]
    except OSError:
        return []
    removed = []
    for name in names:
        part = os.path.join(folder, name)
        try:
            _remove_unlocked(part)
        except OSError:  # in use, gone, a folder, a dangling link...
            continue
        removed.append(part)
        logger.info("Removed %s, left by an interrupted download", part)
    return removed


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
               verify_checksums=True, size=None, data_home=None):
    """Return ``path``, downloading it first from the first working of ``urls``.

    A file already present is checked against ``md5`` (see :func:`check_md5`)
    unless ``verify_checksums`` is False or ``md5`` is None; a downloaded one is
    always checked. ``size``, the official size in bytes, is checked first (before
    hashing), bounds the download and sets its deadline (:func:`download_limits`).

    Before downloading, no part of ``path`` below ``data_home`` (default: the file's
    own folder) may be a symbolic link: the loaders read through links, but never
    write through them (into wherever they point). ``data_home`` itself may be one.

    Raises ``FileNotFoundError`` when the file is missing and downloading is not
    allowed, ValueError when a link is in the way, and :class:`DownloadError` (an
    ``OSError``) when every address failed (network and HTTP errors, wrong checksum,
    too large, too slow); the messages name the file and the folder to put it in.
    """
    folder, name = os.path.split(path)
    if os.path.exists(path):  # a FIFO or a folder in its place is refused when opened
        if verify_checksums and md5 is not None:
            check_md5(path, md5, f"{dataset} file {name}", size=size)
        return path
    if not download_if_missing:
        raise FileNotFoundError(
            missing_files_message(dataset, [name], folder, how)
            + " (download_if_missing=False, so nothing was downloaded.)"
        )
    refuse_links(path, folder if data_home is None else data_home)
    max_bytes, deadline = (None, None) if size is None else download_limits(size)
    errors = []
    for url in urls:
        logger.info("Downloading %s to %s", url, path)
        try:
            return download(url, path, md5, max_bytes=max_bytes, deadline=deadline)
        # URLError, HTTPError and timeouts are OSErrors; a server breaking HTTP
        # (BadStatusLine, IncompleteRead, LineTooLong) raises an HTTPException.
        except (OSError, ValueError, http.client.HTTPException) as exc:
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
    raise DownloadError(
        f"could not download {name}; tried:\n  "
        + "\n  ".join(errors)
        + "\n"
        + missing_files_message(dataset, [name], folder, how)
    )


def fetch_files(home, folder, files, mirrors, sizes, *, dataset, download_if_missing,
                verify_checksums):
    """Paths of the official ``files`` (``(name, md5)`` pairs) of ``home/folder``, in order,
    each fetched with :func:`fetch_file` from the first working of ``mirrors`` (base
    addresses, the name appended) and checked against its official size in ``sizes``."""
    return [
        fetch_file(os.path.join(home, folder, name), [mirror + name for mirror in mirrors], md5,
                   dataset=dataset, download_if_missing=download_if_missing,
                   verify_checksums=verify_checksums, size=sizes.get(name), data_home=home)
        for name, md5 in files
    ]


def refuse_links(path, data_home):
    """Raise a ValueError if ``path`` or a folder between ``data_home`` and it is a
    symbolic link (dangling or not): files are never written through one."""
    data_home = os.path.abspath(data_home)
    relative = os.path.relpath(os.path.abspath(path), data_home)
    current = data_home
    for part in relative.split(os.sep):
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise ValueError(
                f"{current!r} is a symbolic link (to {os.readlink(current)!r}): refusing "
                f"to download {os.path.basename(path)} through it, into wherever it "
                "points. Replace the link by a folder of its own, or put the data set's "
                "files where it points yourself (links to existing files are read)."
            )


def corrupt(path, what):
    """A ValueError naming the corrupt file."""
    return ValueError(f"corrupt or truncated file {path!r}: {what}")
