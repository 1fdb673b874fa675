"""CPU thread limits for the torch estimators (their ``n_jobs`` parameter)."""

import contextlib

__all__ = ["cpu_threads", "torch_threads"]


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
    """Run with ``n_jobs`` threads (joblib's meaning; None leaves the settings alone)."""
    if n_jobs is None:
        yield
        return
    from joblib import effective_n_jobs

    with cpu_threads(max(1, effective_n_jobs(n_jobs))):
        yield
