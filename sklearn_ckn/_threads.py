"""CPU thread limits for the torch estimators (their ``n_jobs`` parameter).

One policy, shared by every torch estimator (``CKNTransformer``, ``TorchLinearSVC``,
``CNNClassifier``) and by Grad-CAM and the comparison harness:

* ``n_jobs=None`` (the default): one thread inside a joblib worker (``GridSearchCV``,
  ``cross_val_score`` ... with ``n_jobs`` other than 1, any backend), where the
  workers already use the cores; elsewhere torch's current setting is left alone
  (all cores unless ``torch.set_num_threads`` changed it);
* ``n_jobs=k >= 1``: ``k`` threads; ``n_jobs=-1``: all cores, ``-2``: all but one,
  and so on (joblib's meaning, counting the cores this process may use).

The limit covers torch's intra-op pool (``torch.set_num_threads``) and the BLAS /
OpenMP pools that threadpoolctl knows (NumPy's BLAS, scikit-learn's OpenMP), for the
duration of the call only: the previous settings are restored afterwards.

``OMP_WAIT_POLICY=PASSIVE`` (an environment variable, read when OpenMP starts) stops
idle OpenMP threads from spin-waiting; on a busy machine this matters more than the
thread count (figures in ``docs/ckn.md``).
"""

import contextlib
import numbers

__all__ = ["cpu_threads", "in_joblib_worker", "resolve_n_threads", "torch_threads"]


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
    >>> resolve_n_threads(None) is None  # outside a joblib worker
    True
    """
    if n_jobs is None:
        return 1 if in_joblib_worker() else None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(
            f"n_jobs must be None, a positive integer or a negative integer (-1: all "
            f"cores), got {n_jobs!r}."
        )
    n_jobs = int(n_jobs)
    if n_jobs > 0:
        return n_jobs
    from joblib import cpu_count

    return max(1, cpu_count() + 1 + n_jobs)


@contextlib.contextmanager
def cpu_threads(n):
    """Limit torch's and the BLAS / OpenMP pools' threads to ``n`` (None: no change)."""
    if n is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
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
