"""Small dense eigendecompositions, run where the thread pool cannot slow them down.

A CKN computes many small symmetric eigendecompositions: the Nystrom matrix of every
layer (``F x F``, at every training step of the supervised CKN), the ZCA map of the
first layer and the per-image local whitening (batches of ``C p^2 x C p^2``
matrices). LAPACK's ``syevd`` on such matrices gains nothing from several threads and
loses a lot when a core is busy: torch's OpenMP threads then wait for the busy core at
every parallel region (a 128 x 128 ``eigh`` took 500-700 ms with 2 threads while
another process kept a core busy, 4-9 ms on one thread, about 1 ms on a quiet
machine). :func:`eigh` therefore runs matrices up to :data:`SINGLE_THREAD_MAX_SIZE`
on one thread (and larger ones on the pool, where the work amortises the
synchronisation).
"""

import threading

import torch

__all__ = ["SINGLE_THREAD_MAX_SIZE", "eigh"]

#: Largest matrix side solved on one CPU thread.
SINGLE_THREAD_MAX_SIZE = 1024

_lock = threading.Lock()


def eigh(a):
    """``torch.linalg.eigh`` of a (batch of) symmetric matrix, on one CPU thread when small.

    Torch's batched CPU ``eigh`` solves the problems one after the other, each on the
    whole thread pool, whose wake-ups dominate for small matrices (32 matrices of
    27 x 27 in float64: 4.7 ms on 2 threads, 1.4 ms on 1, on a 2-core Xeon; see the
    module docstring for a busy machine). The thread count is restored at once; a
    lock keeps two threads from interleaving their changes (a thread finding it taken
    keeps the current count).

    Parameters
    ----------
    a : torch.Tensor of shape (..., n, n)
        Symmetric matrices.

    Returns
    -------
    eigenvalues : torch.Tensor of shape (..., n)
        In ascending order.
    eigenvectors : torch.Tensor of shape (..., n, n)
        As columns.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.linalg import eigh
    >>> eigh(torch.diag(torch.tensor([3.0, 1.0, 2.0]))).eigenvalues
    tensor([1., 2., 3.])
    """
    small = a.shape[-1] <= SINGLE_THREAD_MAX_SIZE
    if a.device.type != "cpu" or not small or torch.get_num_threads() == 1:
        return torch.linalg.eigh(a)
    if not _lock.acquire(blocking=False):
        return torch.linalg.eigh(a)
    try:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return torch.linalg.eigh(a)
        finally:
            torch.set_num_threads(previous)
    finally:
        _lock.release()
