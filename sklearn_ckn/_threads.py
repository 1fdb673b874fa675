"""CPU thread limits for the torch estimators (their ``n_jobs`` parameter).

One policy, shared by every torch estimator (``CKNTransformer``, ``TorchLinearSVC``,
``CNNClassifier``) and by Grad-CAM and the comparison harness:

* ``n_jobs=None`` (the default): one thread inside a joblib worker (``GridSearchCV``,
  ``cross_val_score`` ... with ``n_jobs`` other than 1, any backend), where the
  workers already use the cores; elsewhere as many threads as the machine has cores
  free now, at most torch's current setting (all cores unless
  ``torch.set_num_threads`` changed it): the idle time of the cores is measured over
  50 ms (:func:`sklearn_ckn._cpu_load.free_cores`, reused for
  :data:`FREE_CORES_TTL` seconds), so that a machine where another process keeps a
  core busy (a browser, a second notebook kernel) runs on the cores left. Torch's
  OpenMP threads synchronise at the end of every parallel region, and a thread that
  shares a busy core delays all the others: with a core busy, the README's quick
  start took 1.35 times as long with 2 threads as with one. The CKN's features do not
  depend on the thread count (bit for bit); ``SKLEARN_CKN_ADAPTIVE_THREADS=0`` turns
  the measurement off (torch's setting is then left alone);
* ``n_jobs=k >= 1``: ``k`` threads, at most :data:`MAX_THREADS_PER_CORE` per core
  (more only oversubscribe the CPU, and GNU OpenMP aborts the whole process when
  asked for absurd counts such as 10**12); ``n_jobs=-1``: all cores, ``-2``: all but
  one, and so on (joblib's meaning, counting the cores this process may use).

The limit covers torch's intra-op pool (``torch.set_num_threads``) and the BLAS /
OpenMP pools that threadpoolctl knows (NumPy's BLAS, scikit-learn's OpenMP), for the
duration of the call only: the previous settings are restored afterwards. These
settings belong to the process, so calls running at the same time in several threads
share them: the settings found by the first call are restored when the last one ends
(while several run, the most recent call's limit holds), and nested calls get the
enclosing call's limit back when they end.

In a child process created by ``os.fork`` (``multiprocessing``'s default start method
on Linux) torch runs with one thread: GNU OpenMP's thread pool does not survive a
fork, and a child entering a parallel region with the parent's thread count hangs.

``OMP_WAIT_POLICY=PASSIVE`` (an environment variable, read when OpenMP starts) stops
idle OpenMP threads from spin-waiting; on a busy machine this matters more than the
thread count (figures in ``docs/ckn.md``).
"""

import contextlib
import numbers
import os
import threading
import time

__all__ = [
    "cpu_threads",
    "in_forked_child",
    "in_joblib_worker",
    "resolve_n_threads",
    "torch_threads",
]

#: ``n_jobs`` above this many threads per core is capped there.
MAX_THREADS_PER_CORE = 4

#: Seconds a measurement of the free cores is reused by ``n_jobs=None``.
FREE_CORES_TTL = 2.0

_free_measured = (float("-inf"), None)  # (time.monotonic(), free cores)


def _adaptive():
    return os.environ.get("SKLEARN_CKN_ADAPTIVE_THREADS", "1").strip() not in ("0", "false", "")


def _free_threads():
    """``n_jobs=None`` outside a worker: the free cores if fewer than torch's threads."""
    global _free_measured
    if not _adaptive():
        return None
    import torch

    from ._cpu_load import free_cores

    when, free = _free_measured
    now = time.monotonic()
    if free is None or now - when > FREE_CORES_TTL:
        free = free_cores()
        _free_measured = (now, free)
    return free if free < torch.get_num_threads() else None

_forked = False


def _after_fork_in_child():
    global _forked, _lock, _active, _saved
    _forked = True
    # The parent's bookkeeping (and a lock it may have held) does not apply here.
    _lock, _active, _saved = threading.Lock(), [], None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def in_forked_child():
    """True in a process created by ``os.fork`` after this module was imported.

    Examples
    --------
    >>> from sklearn_ckn._threads import in_forked_child
    >>> in_forked_child()
    False
    """
    return _forked


def in_joblib_worker():
    """True inside a joblib worker (process or thread), False elsewhere.

    joblib runs every task of a parallel call under a nested backend whose
    ``nesting_level`` is at least 1 (loky, multiprocessing and threading backends);
    a sequential ``Parallel(n_jobs=1)`` runs at level 0 in the caller.
    """
    try:
        from joblib.parallel import get_active_backend

        backend, _ = get_active_backend()
    except Exception:  # pragma: no cover - joblib missing or changed
        return False
    return (getattr(backend, "nesting_level", 0) or 0) >= 1


def resolve_n_threads(n_jobs):
    """Threads to use for ``n_jobs`` (see the module docstring); None leaves them alone.

    Parameters
    ----------
    n_jobs : int or None
        The estimator's ``n_jobs``.

    Returns
    -------
    n_threads : int or None
        A positive thread count, or None for "do not change the settings".

    Raises
    ------
    ValueError
        For 0, non-integers and booleans.

    Examples
    --------
    >>> from sklearn_ckn._threads import resolve_n_threads
    >>> resolve_n_threads(2)
    2
    >>> n = resolve_n_threads(None)  # outside a worker: the free cores (None: all)
    >>> n is None or n >= 1
    True

    In a forked child process (see the module docstring) the answer is always 1.
    """
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0
    ):
        raise ValueError(
            f"n_jobs must be None, a positive integer or a negative integer (-1: all "
            f"cores), got {n_jobs!r}."
        )
    if in_forked_child():
        return 1
    if n_jobs is None:
        return 1 if in_joblib_worker() else _free_threads()
    n_jobs = int(n_jobs)
    from joblib import cpu_count

    if n_jobs > 0:
        return min(n_jobs, MAX_THREADS_PER_CORE * max(cpu_count(), 1))
    return max(1, cpu_count() + 1 + n_jobs)


_lock = threading.Lock()
_active = []  # one token [n] per call inside cpu_threads, in the order they entered
_saved = None  # (torch threads, threadpoolctl limiter) found by the first of them


def _release_blas_control():
    """Let the calling thread set OpenBLAS's process-wide limit (threadpoolctl >= 3.6).

    threadpoolctl lets only one thread at a time change the limit of an OpenBLAS with
    its own (pthreads) pool, and silently ignores the others: the thread that ends the
    last of several overlapping calls could not restore the limit. Every change made
    here is serialised by ``_lock``, so the calling thread may take control.
    """
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # pragma: no cover - older threadpoolctl: no such control
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear()


def _apply(n):
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    _release_blas_control()
    try:
        return threadpool_limits(limits=n)
    finally:
        _release_blas_control()


def _restore(limiter):
    _release_blas_control()
    try:
        limiter.restore_original_limits()
    finally:
        _release_blas_control()


@contextlib.contextmanager
def cpu_threads(n):
    """Limit torch's and the BLAS / OpenMP pools' threads to ``n`` (None: no change).

    The settings are the process's: see the module docstring for calls that overlap
    in several threads, and for nested calls.
    """
    global _saved
    if n is None:
        yield
        return
    import torch

    token = [int(n)]
    with _lock:
        if not _active:
            previous = torch.get_num_threads()
            limiter = _apply(token[0])  # remembers the limits it replaced
            _saved = (previous, limiter)
        else:
            _apply(token[0])
        _active.append(token)
    try:
        yield
    finally:
        with _lock:
            if any(t is token for t in _active):
                _active[:] = [t for t in _active if t is not token]
                if _active:
                    _apply(_active[-1][0])  # the limit of the latest call still running
                elif _saved is not None:
                    previous, limiter = _saved
                    _saved = None
                    _restore(limiter)
                    torch.set_num_threads(previous)


@contextlib.contextmanager
def torch_threads(n_jobs):
    """Run the block with the threads that ``n_jobs`` asks for (see the module docstring).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn._threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    with cpu_threads(resolve_n_threads(n_jobs)):
        yield
