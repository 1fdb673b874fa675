"""Row chunks: the rows of an ``(n, d)`` matrix read one chunk of consecutive rows at a time.

The linear SVM solvers (:mod:`.linear_svm`, :mod:`.squared_hinge`, :mod:`.preconditioner`)
read their features through :class:`RowChunks`: a tensor in memory is one chunk, and
features that do not fit in memory (a ``np.memmap``, a zarr or dask array: see
:mod:`sklearn_ckn.svm._streaming`) are a sequence of row chunks loaded one at a time.
Sums over rows (an objective, its gradient, a Gram matrix) are then accumulated chunk
by chunk, and memory holds one chunk, never the ``n x d`` matrix.
"""

import itertools

import torch

__all__ = ["RowChunks"]


class RowChunks:
    """The rows of an ``(n, d)`` matrix, read one chunk of consecutive rows at a time.

    The solvers of this module take a ``RowChunks`` wherever they take ``X``: each pass
    over the data (an objective and gradient, the preconditioner's Gram matrix) loads
    chunk ``0``, uses it, then chunk ``1``, and so on, so that only one chunk of rows is
    in memory at a time. A tensor is one chunk (:meth:`from_tensor`). The solvers only
    read chunks, never write into them: a chunk may map a read-only file.

    Parameters
    ----------
    load : callable
        ``load(i)`` returns the rows ``bounds[i]:bounds[i + 1]`` as a tensor or a NumPy
        array of shape ``(bounds[i + 1] - bounds[i], n_features)``; it is converted to
        ``dtype`` on ``device``.
    bounds : sequence of int
        Increasing row offsets, from ``0`` to ``n``.
    n_features : int
        Number of columns ``d``.
    dtype : torch.dtype
        Dtype of the computation.
    device : torch.device or str, default="cpu"
        Where the chunks are moved to.

    Attributes
    ----------
    shape : tuple of int
        ``(n, n_features)``.
    bounds : list of int
        The row offsets.

    See Also
    --------
    sklearn_ckn.svm.TorchLinearSVC : Fits from row chunks.
    sklearn_ckn.transform_to : Writes features by batches.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_ckn.core.linear_svm import fit_squared_hinge_ovr
    >>> from sklearn_ckn.core.row_chunks import RowChunks
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> Y = torch.as_tensor(np.where(X[:, :1] > 0, 1.0, -1.0))
    >>> chunks = RowChunks(lambda i: X[30 * i:30 * (i + 1)], [0, 30, 60, 90, 100], 5,
    ...                    dtype=torch.float64)
    >>> len(chunks), chunks.shape
    (4, (100, 5))
    >>> W, b, n_iter = fit_squared_hinge_ovr(chunks, Y, C=1.0)
    >>> W.shape
    torch.Size([5, 1])
    """

    def __init__(self, load, bounds, n_features, *, dtype, device="cpu"):
        bounds = [int(v) for v in bounds]
        if len(bounds) < 2 or bounds[0] != 0 or any(a >= b for a, b in itertools.pairwise(bounds)):
            raise ValueError(f"bounds must increase strictly from 0 to n, got {bounds[:5]}...")
        self._load = load
        self.bounds = bounds
        self.shape = (bounds[-1], int(n_features))
        self.dtype = dtype
        self.device = torch.device(device)

    @classmethod
    def from_tensor(cls, X, chunk_size=None):
        """Views of ``chunk_size`` rows of the tensor ``X`` (all of it, by default).

        Parameters
        ----------
        X : torch.Tensor of shape (n, d)
            Features.
        chunk_size : int, default=None
            Rows per chunk; None: one chunk.

        Returns
        -------
        chunks : RowChunks
            Its chunks are views of ``X``, not copies.
        """
        n, d = X.shape
        step = n if chunk_size is None else max(int(chunk_size), 1)
        bounds = list(range(0, n, max(step, 1))) + [n]
        return cls(lambda i: X[bounds[i]:bounds[i + 1]], bounds, d, dtype=X.dtype, device=X.device)

    @classmethod
    def wrap(cls, X):
        """``X`` itself when it is a ``RowChunks``, else a tensor ``X`` as one chunk.

        Parameters
        ----------
        X : torch.Tensor or RowChunks of shape (n, d)
            Features.

        Returns
        -------
        chunks : RowChunks
            ``X`` or :meth:`from_tensor` of ``X``.
        """
        return X if isinstance(X, cls) else cls.from_tensor(X)

    def __len__(self):
        return len(self.bounds) - 1

    def chunk(self, i):
        """Load the rows ``bounds[i]:bounds[i + 1]`` as a tensor of ``dtype`` on ``device``.

        Parameters
        ----------
        i : int
            Chunk index.

        Returns
        -------
        rows : torch.Tensor of shape (bounds[i + 1] - bounds[i], n_features)
            The chunk.
        """
        rows = torch.as_tensor(self._load(i)).to(device=self.device, dtype=self.dtype)
        expected = (self.bounds[i + 1] - self.bounds[i], self.shape[1])
        if tuple(rows.shape) != expected:
            raise ValueError(f"Chunk {i} has shape {tuple(rows.shape)}, expected {expected}.")
        return rows

    def __iter__(self):
        """Yield ``(start, stop, rows)`` for every chunk, loading one at a time."""
        for i in range(len(self)):
            yield self.bounds[i], self.bounds[i + 1], self.chunk(i)

    def sampled(self, rows, block_bytes=64 * 2**20):
        """Yield the rows ``rows`` (sorted indices), a block at a time, chunk by chunk.

        Within a chunk, rows are gathered ``block_bytes`` at a time, so that no copy
        of all the sampled rows of a large in-memory ``X`` (one chunk) is ever made;
        the rows of a chunk taken whole are views. A chunk without sampled rows is
        not read.

        Parameters
        ----------
        rows : torch.Tensor of shape (m,)
            Increasing row indices.
        block_bytes : int, default=64 MiB
            Largest block of gathered rows.

        Yields
        ------
        lo, hi : int
            The block holds the rows ``rows[lo:hi]``.
        block : torch.Tensor of shape (hi - lo, n_features)
            Those rows.
        """
        rows_cpu = rows.cpu()
        itemsize = torch.empty(0, dtype=self.dtype).element_size()
        block = max(1, block_bytes // max(self.shape[1] * itemsize, 1))
        for i in range(len(self)):
            start, stop = self.bounds[i], self.bounds[i + 1]
            lo = int(torch.searchsorted(rows_cpu, start))
            hi = int(torch.searchsorted(rows_cpu, stop))
            if hi == lo:  # no sampled row: the chunk is not read
                continue
            Xc = self.chunk(i)
            every = hi - lo == stop - start  # every row of the chunk: views, no copy
            for a in range(lo, hi, block):
                b = min(a + block, hi)
                yield a, b, (Xc[a - lo:b - lo] if every else Xc[rows[a:b].to(Xc.device) - start])
