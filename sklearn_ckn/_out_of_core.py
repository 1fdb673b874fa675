"""Features written out of core: batch by batch into an array or a ``.npy`` file.

A long job into a file (``out`` a path, or a ``np.memmap`` of a whole file) is
detectably incomplete and resumable:

* the file's blocks are reserved on disk before anything is computed
  (``os.posix_fallocate`` where the system has it), so a full disk is an ``OSError``
  at the start, not a ``SIGBUS`` when a page of the memory map is first written;
* a small progress record beside it (``<file>.progress.json``) says how many rows are
  written and flushed, for which estimator and images (a fingerprint), and whether
  the file is complete. It is rewritten atomically after every flushed batch, and
  marked incomplete before the first row is written, so a run stopped by Ctrl-C (or a
  crash) leaves a record that says so, also when it reused a file that held the
  features of an earlier run;
* :func:`load_features` refuses a file whose record is missing or incomplete, and
  ``transform_to(..., resume=True)`` continues after the last flushed batch.
"""

import errno
import json
import numbers
import os

import numpy as np

__all__ = ["IncompleteFeaturesError", "load_features", "transform_to"]

#: Chunks of a dask array computed at once by :func:`transform_to`, when not given.
DASK_CHUNKS_IN_FLIGHT = 4
#: The progress record of ``features.npy`` is ``features.npy.progress.json``.
PROGRESS_SUFFIX = ".progress.json"
# Parameters that do not change the features: a run may resume with other values.
_NEUTRAL_PARAMS = {"verbose", "n_jobs", "batch_size", "device"}
_NEUTRAL_ATTRIBUTES = {"device_", "fit_time_", "n_iter_", "history_"}


class IncompleteFeaturesError(ValueError):
    """A features file that :func:`transform_to` has not finished writing.

    Parameters
    ----------
    message : str
        What is wrong and what to do.
    rows_done : int
        Rows written and flushed (0 when nothing is known).
    n_rows : int or None
        Rows of the whole file.

    Examples
    --------
    >>> from sklearn_ckn._out_of_core import IncompleteFeaturesError
    >>> err = IncompleteFeaturesError("features.npy is incomplete", rows_done=256, n_rows=1000)
    >>> err.rows_done, isinstance(err, ValueError)
    (256, True)
    """

    def __init__(self, message, *, rows_done=0, n_rows=None):
        super().__init__(message)
        self.rows_done = rows_done
        self.n_rows = n_rows


def progress_path(path):
    """The path of the progress record of the features file ``path``."""
    return os.fspath(path) + PROGRESS_SUFFIX


def _read_progress(path):
    try:
        with open(progress_path(path)) as f:
            record = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IncompleteFeaturesError(
            f"The progress record {progress_path(path)} cannot be read ({exc}); the features "
            "in it may be incomplete: write them again with transform_to."
        ) from exc
    return record if isinstance(record, dict) else None


def _write_progress(path, record):
    """Replace the progress record atomically (a crash leaves the old or the new one)."""
    target = progress_path(path)
    tmp = target + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def _plain(value):
    """Torch modules and tensors as NumPy arrays: their hash must survive a pickle."""
    import torch

    if isinstance(value, torch.nn.Module):
        return {k: t.detach().cpu().numpy() for k, t in value.state_dict().items()}
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


def fingerprint(estimator, X):
    """A hash of the fitted ``estimator`` and of ``X``'s shape, dtype, first and last rows.

    The same after a pickle round trip and whatever the parameters that do not change
    the features (``verbose``, ``n_jobs``, ``batch_size``, ``device``), so that a run
    resumed in another process, from the pickled estimator, recognises its file.
    """
    import joblib

    get_params = getattr(estimator, "get_params", None)  # any transformer, not only scikit-learn's
    params = {k: v for k, v in (get_params(deep=False) if get_params else {}).items()
              if k not in _NEUTRAL_PARAMS}
    state = {
        k: _plain(v) for k, v in sorted(vars(estimator).items())
        if k.endswith("_") and not k.startswith("_") and k not in _NEUTRAL_ATTRIBUTES
    }
    n = X.shape[0]
    ends = [np.asarray(X[0:1]), np.asarray(X[n - 1:n])] if n else []
    return joblib.hash((type(estimator).__qualname__, params, state, tuple(X.shape), str(X.dtype), ends))


def _check_out(out, n, n_features):
    shape = getattr(out, "shape", None)
    if shape is None or not hasattr(out, "__setitem__"):
        raise TypeError(
            "out must be a path, or a writable array (np.memmap, ndarray, zarr array...), "
            f"got {type(out).__name__}."
        )
    if tuple(shape) != (n, n_features):
        raise ValueError(
            f"out has shape {tuple(shape)}, but the features of {n} images have shape "
            f"({n}, {n_features})."
        )
    dtype = np.dtype(getattr(out, "dtype", np.float32))
    if dtype.kind != "f":
        raise ValueError(f"out must have a floating dtype (float32 is enough), got {dtype}.")
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise ValueError("out is read-only; open the memmap with mode 'w+' or 'r+'.")


def _whole_file(out):
    """The file of a ``np.memmap`` that maps all of it (not a slice), else None."""
    filename = getattr(out, "filename", None)
    if not isinstance(out, np.memmap) or filename is None or not out.flags.c_contiguous:
        return None
    try:
        size = os.path.getsize(filename)
    except OSError:
        return None
    return filename if size - int(out.offset) == out.nbytes else None


def _reserve(filename, offset, nbytes):
    """Give the file real disk blocks for ``nbytes`` from ``offset``: ENOSPC now, not SIGBUS."""
    if not hasattr(os, "posix_fallocate") or nbytes == 0:
        return
    fd = os.open(filename, os.O_RDWR)
    try:
        os.posix_fallocate(fd, offset, nbytes)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return  # a file system that cannot reserve blocks: written as it goes
        raise OSError(
            exc.errno,
            f"Cannot reserve {nbytes:,} bytes on disk for the features in {filename} "
            f"({exc.strerror}); free space or write them elsewhere.",
        ) from exc
    finally:
        os.close(fd)


def _npy_header(path):
    """``(shape, dtype)`` of the ``.npy`` file ``path``, or None if there is none."""
    try:
        existing = np.lib.format.open_memmap(path, mode="r")
    except (OSError, ValueError):
        return None
    header = (tuple(existing.shape), existing.dtype)
    del existing
    return header


def _check_fits(feats, dtype, start):
    """Raise when the features overflow ``dtype`` (float16: beyond 65504)."""
    dtype = np.dtype(dtype)
    feats = np.asarray(feats)
    if feats.dtype.kind != "f" or np.finfo(dtype).max >= np.finfo(feats.dtype).max or feats.size == 0:
        return
    low, high = float(feats.min()), float(feats.max())
    largest = max(-low, high)
    if largest > float(np.finfo(dtype).max):
        raise ValueError(
            f"The features of rows {start} to {start + len(feats)} reach {largest:.4g}, beyond "
            f"the largest {dtype} ({float(np.finfo(dtype).max):.4g}): they would be written as "
            "inf. Use a float32 out, or scale the features first."
        )


def transform_to(estimator, X, out, *, batch_size=None, chunks_in_flight=None, dtype=np.float32,
                 resume=False):
    """Write the features of ``X`` into ``out``, one batch of images at a time.

    Memory is bounded by one batch (its images, its features and the transform's
    working set), not by the ``n x n_features_out_`` output, which ``out`` holds: a
    ``.npy`` file at a path, a ``np.memmap`` on disk, a zarr array, or any array with
    ``shape`` and slice assignment.

    Parameters
    ----------
    estimator : fitted transformer
        A fitted estimator with ``transform`` and ``n_features_out_``, e.g. a
        :class:`~sklearn_ckn.CKNTransformer` or a :class:`~sklearn_ckn.CKNClassifier`.
    X : array-like of images, of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
        Any array whose row slices ``X[start:stop]`` give NumPy arrays: ndarray,
        ``np.memmap``, zarr or h5py arrays; or a dask array, whose chunks are computed
        ``chunks_in_flight`` at a time on the current scheduler and written here.
    out : str, path-like, np.memmap or array of shape (n, `n_features_out_`)
        Where the features go. A path: a ``.npy`` file of ``dtype`` created there (read
        it back with :func:`load_features`). An array of a floating dtype is written in
        place, then flushed when it has ``flush``. A path or a ``np.memmap`` of a whole
        file gets its disk blocks reserved first and a progress record (see Notes).
    batch_size : int, default=None
        Images per batch (NumPy-like ``X``). None: the estimator's ``batch_size``, or
        256 if it has none.
    chunks_in_flight : int, default=None
        Chunks of a dask ``X`` computed at once (memory: that many chunks of features).
        None: 4.
    dtype : dtype, default=np.float32
        Dtype of the file created when ``out`` is a path. float16 halves the file; a
        feature beyond its range (65504) raises an error rather than becoming inf.
    resume : bool, default=False
        When ``out`` has a progress record from an interrupted run of the same
        estimator on the same images, continue after its last flushed batch (and do
        nothing if it is complete); otherwise start from the first row. A record of
        another estimator or other images is an error.

    Returns
    -------
    out : np.memmap or the ``out`` argument
        Filled with ``estimator.transform(X)`` (for a path, the ``.npy`` file opened
        ``r+``).

    Raises
    ------
    ValueError
        If ``out`` has the wrong shape or dtype, if the features overflow its dtype,
        or if ``resume`` finds the record of another estimator or other images.
    OSError
        If the disk cannot hold the file (before any feature is computed).

    See Also
    --------
    sklearn_ckn.transform_dask : Lazy features of a dask array.
    sklearn_ckn.load_features : Reads a complete file back.
    sklearn_ckn.svm.TorchLinearSVC : Fits from a memmap, zarr or dask array by chunks.

    Notes
    -----
    **Progress record.** Beside a file ``features.npy`` (or the file of a
    ``np.memmap`` that maps all of it; not a slice of one, nor an in-memory or zarr
    array), ``features.npy.progress.json`` holds ``rows_done``, ``n_rows``,
    ``fingerprint`` (of the fitted estimator and of ``X``'s shape, dtype, first and
    last images) and ``complete``. It is marked incomplete before the first row is
    written and rewritten atomically after each batch has been written and flushed.
    An interrupted run (Ctrl-C, a crash, a killed job) thus leaves a record that says
    how far it went; :func:`load_features` refuses such a file, and ``resume=True``
    continues it.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_ckn import CKNTransformer, transform_to
    >>> from sklearn_ckn._out_of_core import load_features
    >>> images = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    >>> ckn = CKNTransformer(n_filters=(4, 8), n_patches=500, random_state=0).fit(images)
    >>> out = np.zeros((20, ckn.n_features_out_), dtype=np.float32)  # in memory
    >>> _ = transform_to(ckn, images, out, batch_size=8)
    >>> np.allclose(out, ckn.transform(images), atol=1e-5)
    True
    >>> path = os.path.join(tempfile.mkdtemp(), "features.npy")
    >>> _ = transform_to(ckn, images, path, batch_size=8, resume=True)
    >>> np.allclose(load_features(path), out)
    True
    """
    from ._dask import fitted_n_features_out, is_dask_array

    n_features = fitted_n_features_out(estimator, "transform_to")
    if not hasattr(X, "shape") or not hasattr(X, "__getitem__"):
        X = np.asarray(X)
    n = X.shape[0]
    if not isinstance(n, numbers.Integral):
        raise ValueError(
            "X has an unknown number of images (a dask array of unknown chunk sizes); "
            "call X.compute_chunk_sizes() first."
        )
    if is_dask_array(X):
        k = DASK_CHUNKS_IN_FLIGHT if chunks_in_flight is None else chunks_in_flight
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"chunks_in_flight must be a positive integer, got {k!r}.")
    else:
        if batch_size is None:
            batch_size = getattr(estimator, "batch_size", None) or 256
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    filename = None
    if isinstance(out, (str, os.PathLike)):
        filename = os.fspath(out)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise ValueError(f"dtype must be a floating dtype (float32 is enough), got {dtype}.")
    else:
        _check_out(out, n, n_features)
        filename = _whole_file(out)
    done, record = 0, None
    if filename is not None:
        path_out = isinstance(out, (str, os.PathLike))
        shape = (n, n_features)
        target_dtype = dtype if path_out else np.dtype(out.dtype)
        key = fingerprint(estimator, X)
        old = _read_progress(filename) if resume else None
        if old is not None and old.get("fingerprint") != key:
            raise ValueError(
                f"{filename} holds features of another estimator or other images (its progress "
                "record's fingerprint differs); pass resume=False to write it again."
            )
        same_file = old is not None and tuple(old.get("shape", ())) == shape and (
            old.get("dtype") == str(target_dtype)
        ) and (not path_out or _npy_header(filename) == (shape, target_dtype))
        done = int(old.get("rows_done", 0)) if same_file else 0
        if same_file and old.get("complete") and done == n:
            return np.lib.format.open_memmap(filename, mode="r+") if path_out else out
        record = {"rows_done": done, "n_rows": n, "shape": list(shape), "dtype": str(target_dtype),
                  "fingerprint": key, "complete": False}
        _write_progress(filename, record)  # incomplete from now on, before any row is written
        if path_out:
            out = np.lib.format.open_memmap(filename, mode="r+" if same_file else "w+",
                                            dtype=target_dtype, shape=shape)
        _reserve(filename, int(out.offset), out.nbytes)

    def written(stop):  # rows [0, stop) are in out: flush them, then record it
        if hasattr(out, "flush"):
            out.flush()
        if filename is not None:
            record.update(rows_done=int(stop), complete=bool(stop == n))
            _write_progress(filename, record)

    if is_dask_array(X):
        import dask

        from ._dask import transform_dask

        lazy = transform_dask(estimator, X)
        bounds = np.concatenate([[0], np.cumsum(lazy.chunks[0])]).astype(int)
        blocks = lazy.to_delayed().ravel()
        todo = [i for i in range(len(blocks)) if bounds[i + 1] > done]
        for first in range(0, len(todo), k):
            group = todo[first:first + k]
            for i, feats in zip(group, dask.compute(*[blocks[i] for i in group])):
                _check_fits(feats, out.dtype, bounds[i])
                out[bounds[i]:bounds[i + 1]] = feats
            written(bounds[group[-1] + 1])
    else:
        for start in range(done, n, int(batch_size)):
            stop = min(start + int(batch_size), n)
            feats = estimator.transform(np.asarray(X[start:stop]))
            _check_fits(feats, getattr(out, "dtype", np.float32), start)
            out[start:stop] = feats
            written(stop)
    if n == 0 or done == n:
        written(n)
    return out


def load_features(path, *, mmap_mode="r"):
    """The features that :func:`transform_to` wrote into the ``.npy`` file ``path``, if complete.

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file written by ``transform_to(estimator, X, path)``.
    mmap_mode : {None, "r", "r+", "c"}, default="r"
        As in :func:`numpy.load`: by default a read-only memory map, which the linear
        SVMs of :mod:`sklearn_ckn.svm` read one chunk of rows at a time.

    Returns
    -------
    features : np.memmap or ndarray of shape (n, n_features)
        The features.

    Raises
    ------
    IncompleteFeaturesError
        If ``path`` has no progress record (it was not written by ``transform_to``, or
        its run was stopped before its first row), or a record that says it is
        incomplete: call ``transform_to(..., resume=True)`` to finish it.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_ckn._out_of_core import IncompleteFeaturesError, load_features
    >>> path = os.path.join(tempfile.mkdtemp(), "features.npy")
    >>> np.save(path, np.zeros((3, 2), dtype=np.float32))  # no progress record
    >>> try:
    ...     load_features(path)
    ... except IncompleteFeaturesError as exc:
    ...     print(type(exc).__name__)
    IncompleteFeaturesError
    """
    record = _read_progress(path)
    if record is None:
        raise IncompleteFeaturesError(
            f"{os.fspath(path)} has no progress record ({progress_path(path)}): it was not "
            "written by transform_to, or its writing never started, so it may be incomplete. "
            "Write it with transform_to, or read a file of your own with np.load."
        )
    done, n = int(record.get("rows_done", 0)), record.get("n_rows")
    if not record.get("complete") or done != n:
        raise IncompleteFeaturesError(
            f"{os.fspath(path)} is incomplete: {done} of {n} rows were written before its run "
            "stopped. Finish it with transform_to(estimator, X, path, resume=True).",
            rows_done=done, n_rows=n,
        )
    features = np.load(path, mmap_mode=mmap_mode)
    if list(features.shape) != list(record.get("shape", features.shape)):
        raise IncompleteFeaturesError(
            f"{os.fspath(path)} has shape {features.shape}, but its progress record says "
            f"{tuple(record['shape'])}: the file was replaced since it was written.",
            rows_done=0, n_rows=n,
        )
    return features
