"""Freed memory kept in the process while a torch estimator trains (glibc's malloc).

A training step allocates and frees the same large tensors again and again (a CKN-5
layer's maps for a batch of 128 CIFAR-10 images take 16 MiB each). glibc's malloc
hands such blocks back to the kernel when they are freed (``mmap`` for blocks over
its threshold, trimming of the heap's top for the others), so the next step finds
fresh pages, and the kernel zeroes each of them on a page fault. On the 2-core AMD
EPYC a warm ``partial_fit`` epoch of ``CKNClassifier("ckn5")`` over 1,024 CIFAR-10
images (8 steps) took 37,000 to 147,000 such faults and 1.93 s (median of 3); with the
memory kept during the call, 1.75 s and 1.82 s in two runs and about 65,000 faults:
the memory is given back when a call ends, and its first step faults it in again
(``benchmarks/results/runs/supervised.cost_per_flop/19c8e082f7-before-8b19015.json``,
``19c8e082f7-c8ca5599614f-dirty.json``, ``19c8e082f7-bca7f6825f03.json``).

While :func:`retained_heap` is active, blocks under 32 MiB (glibc's largest
``M_MMAP_THRESHOLD``) come from the heap and freed memory at its top stays there up
to 1 GiB (``M_TRIM_THRESHOLD``): a step reuses the previous step's pages. When the
last active call ends, the trim threshold becomes 64 MiB (twice the mmap threshold:
where glibc's own adaptive rule settles after a 32 MiB block) and ``malloc_trim``
gives the freed memory back; the mmap threshold stays at 32 MiB (setting it ends
glibc's adaptation for the process). The process's peak memory is what training
needs, as before; it is kept for the duration of the call instead of being
returned and faulted in again at every step.

Nothing changes where malloc is not glibc's (macOS, Windows, musl) or with the
environment variable ``SKLEARN_CKN_RETAIN_HEAP=0``.
"""

import contextlib
import ctypes
import os
import threading

__all__ = ["retained_heap"]

# mallopt's parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Blocks under this size come from the heap while training (glibc's maximum).
MMAP_THRESHOLD = 32 * 2**20
#: Freed memory at the heap's top kept while training.
TRIM_THRESHOLD_TRAINING = 2**30
#: The trim threshold after training (glibc's adaptive value for MMAP_THRESHOLD).
TRIM_THRESHOLD_AFTER = 2 * MMAP_THRESHOLD

_lock = threading.Lock()
_active = 0


def _glibc():
    """glibc's C library with ``mallopt`` and ``malloc_trim``, or None."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has it
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (AttributeError, OSError, TypeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


_LIBC = _glibc()


def _enabled():
    return _LIBC is not None and os.environ.get("SKLEARN_CKN_RETAIN_HEAP", "1") != "0"


@contextlib.contextmanager
def retained_heap():
    """Keep freed memory in the process for the duration of the block (see the module).

    Calls may nest and run in several threads at once: the settings are set by the
    first active call and undone when the last one ends.

    Yields
    ------
    active : bool
        Whether the settings apply (glibc, not turned off by the environment).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn._heap import retained_heap
    >>> with retained_heap():
    ...     for _ in range(3):  # the second and third blocks reuse the first's pages
    ...         x = torch.ones(2**22)
    ...         del x
    """
    global _active
    if not _enabled():
        yield False
        return
    with _lock:
        _active += 1
        if _active == 1:
            _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            _LIBC.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_TRAINING)
    try:
        yield True
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                _LIBC.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_AFTER)
                _LIBC.malloc_trim(0)
