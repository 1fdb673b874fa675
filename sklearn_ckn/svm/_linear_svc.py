"""A linear SVM (squared hinge, one-vs-rest) trained by full-batch L-BFGS in torch."""

import collections
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._compat import (
    DOC_LINK_MODULE,
    DOC_LINK_TEMPLATE,
    Interval,
    LinearClassifierMixin,
    StrOptions,
    doc_link_url_params,
    fit_context,
)
from .._device import resolve_device
from .._images import check_classification_labels
from .._threads import torch_threads
from ..core.linear_svm import fit_squared_hinge_ovr
from ._streaming import (
    check_streamed_shape,
    is_streamed,
    streamed_decision_function,
    streamed_predict,
    streamed_rows,
)

__all__ = ["TorchLinearSVC"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


_FitData = collections.namedtuple("_FitData", "X y classes streamed Xt Yt")


#: The parameters of the solver shared by TorchLinearSVC and TorchLinearSVCCV.
_SOLVER_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "dtype": [StrOptions(set(_DTYPES))],
    "device": [str],
    "n_jobs": [Interval(numbers.Integral, None, None, closed="neither"), None],
    "chunk_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
}


class _ThreadedLinearClassifier(LinearClassifierMixin):
    """scikit-learn's linear ``decision_function`` / ``predict``, run with ``n_jobs`` threads.

    Features larger than memory (``np.memmap``, zarr, h5py or dask arrays) are read one
    chunk of rows at a time (:mod:`sklearn_ckn.svm._streaming`). Also the training
    data of the linear SVMs' ``fit`` (:meth:`_fit_data`) and their solution.
    """

    _doc_link_module = DOC_LINK_MODULE  # the HTML repr links to the API page
    _doc_link_template = DOC_LINK_TEMPLATE
    _doc_link_url_param_generator = doc_link_url_params


    def decision_function(self, X):
        """Class scores ``X @ coef_.T + intercept_`` (with ``n_jobs`` BLAS threads).

        Parameters
        ----------
        X : array-like, np.memmap, zarr or dask array of shape (n_samples, n_features)
            Samples. A ``np.memmap``, zarr or h5py array is read ``chunk_size`` rows at
            a time; a dask array gives a lazy result.

        Returns
        -------
        scores : ndarray or dask array of shape (n_samples,) or (n_samples, n_classes)
            Signed distances to the hyperplanes (one column for two classes); a lazy
            dask array (same row chunks) for a dask ``X``.
        """
        with torch_threads(self.n_jobs):
            if is_streamed(X):
                check_is_fitted(self)
                return streamed_decision_function(self, X, getattr(self, "chunk_size", None))
            return super().decision_function(X)

    def predict(self, X):
        """Class labels: the class of the largest score (the sign of it for two classes).

        Parameters
        ----------
        X : array-like, np.memmap, zarr or dask array of shape (n_samples, n_features)
            Samples, read as in :meth:`decision_function`.

        Returns
        -------
        labels : ndarray or dask array of shape (n_samples,)
            Predicted classes; a lazy dask array for a dask ``X``.
        """
        if is_streamed(X):
            check_is_fitted(self)
            with torch_threads(self.n_jobs):
                return streamed_predict(self, X, getattr(self, "chunk_size", None))
        return super().predict(X)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit one squared-hinge SVM per class, one-vs-rest (``TorchLinearSVCCV``: at the ``C`` it chose).

        ``TorchLinearSVCCV`` first chooses ``C`` by cross-validation along a warm-started
        path, then fits it on all of ``X``.

        Parameters
        ----------
        X : array-like, np.memmap, zarr or dask array of shape (n_samples, n_features)
            Training features. A ``np.memmap``, zarr, h5py or dask array is read one
            chunk of ``chunk_size`` rows at a time (see the class's Notes).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        with torch_threads(self.n_jobs):
            data = self._fit_data(X, y)
            W, b = self._solve(data)
        self.classes_ = data.classes
        return self._set_solution(W, b)

    def _fit_data(self, X, y):
        """The validated training data of ``fit``, as the solver's tensors.

        Checks the labels (not mixed types, at least two classes) and ``X`` (in memory:
        scikit-learn's checks; streamed: its shape, its values when read), binarises
        ``y`` one-vs-rest and puts both on the estimator's device and dtype.

        Returns
        -------
        data : _FitData
            ``X`` (validated, or the streamed original), ``y``, ``classes``, ``streamed``,
            ``Xt`` (a tensor or RowChunks) and ``Yt`` (targets in {-1, +1}).
        """
        check_classification_labels(y)  # before scikit-learn's own, vaguer message
        name = type(self).__name__
        streamed = is_streamed(X)
        if streamed:
            y = self._check_streamed_y(X, y)
        else:
            X, y = validate_data(self, X, y, dtype=[np.float32, np.float64], y_numeric=False)
        check_classification_targets(y)
        binarizer = LabelBinarizer(neg_label=-1, pos_label=1)
        Y = binarizer.fit_transform(y)
        classes = binarizer.classes_
        if len(classes) < 2:
            raise ValueError(
                f"{name} needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {classes[0]!r}."
            )
        device = resolve_device(self.device)
        dtype = _DTYPES[self.dtype]
        if streamed:
            Xt = streamed_rows(X, dtype=dtype, device=device, chunk_size=self.chunk_size, name=name)
        else:
            if not X.flags.writeable:  # torch cannot wrap read-only memory
                X = X.copy()
            Xt = torch.as_tensor(X).to(device=device, dtype=dtype)
        Yt = torch.as_tensor(Y).to(device=device, dtype=dtype)
        return _FitData(X, y, classes, streamed, Xt, Yt)

    def _set_solver_params(self, **params):
        """Store the parameters of ``_SOLVER_CONSTRAINTS`` as given (``__init__``'s rule)."""
        for name, value in params.items():
            setattr(self, name, value)

    def _set_solution(self, W, b):
        """``coef_`` and ``intercept_`` from the solver's ``W`` (d, k) and ``b`` (k,)."""
        # Stored as NumPy arrays: the fitted model pickles and loads without a GPU, and
        # scikit-learn's LinearClassifierMixin provides decision_function and predict.
        self.coef_ = W.T.cpu().numpy().astype(np.float64)
        self.intercept_ = b.cpu().numpy().astype(np.float64)
        return self

    def _check_streamed_y(self, X, y):
        """``y`` of a streamed ``X``: in memory, one label per row; sets ``n_features_in_``."""
        if hasattr(y, "compute") and hasattr(y, "chunks"):  # a dask array of labels: n values
            y = y.compute()
        n, d = check_streamed_shape(X, type(self).__name__)
        y = column_or_1d(y, warn=True)
        if len(y) != n:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: [{n}, {len(y)}]."
            )
        self.n_features_in_ = d
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return y


class TorchLinearSVC(_ThreadedLinearClassifier, BaseEstimator):
    """Linear SVM with the squared hinge loss, solved by L-BFGS in torch.

    The same model as scikit-learn's ``LinearSVC(loss="squared_hinge")``: for each
    class, one-vs-rest, it minimises
    :math:`\\frac{1}{2}\\|w\\|^2 + C\\sum_i \\max(0, 1 - y_i(\\langle w, x_i\\rangle + b))^2`
    (the intercept :math:`b` is not penalised). All classes are solved together by
    full-batch L-BFGS, preconditioned by the Cholesky factor of the features' Gram
    matrix (estimated on at most ``max(10000, n_features)`` rows; above 16,384 features,
    a low-rank square root from 10,000 rows), so each of its few iterations is two dense
    matrix products on the CPU's or the GPU's matmul units. With no more rows than
    features (and at most 10,000), the fit runs on the rows' own coordinates instead
    (:mod:`sklearn_ckn.core.row_span`: the solution lies in their span), whose
    iterations read ``n x n`` numbers, not ``X``. On 50,000-60,000 dense CKN
    features of 4,096-16,384 dimensions it took 12-93 s on a 2-core CPU, where liblinear
    had not finished after 400 s (see the README's benchmark tables).

    Parameters
    ----------
    C : float, default=1.0
        Weight of the loss against the L2 penalty, as in ``LinearSVC``.
    fit_intercept : bool, default=True
        Learn an (unpenalised) intercept per class.
    max_iter : int, default=500
        Maximum number of L-BFGS iterations.
    tol : float, default=1e-2
        Stop when ten L-BFGS iterations lower the objective by less than ``tol``
        times its value: on the CKN features of the benchmarks, near the optimum
        for classification (benchmark case ``linear.stage``, docs/benchmarks.md);
        lower it (and use ``dtype="float64"``) for coefficients close to another
        solver's.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the computation. float32 is about twice as fast and enough for
        classification; float64 for tight agreement with other solvers.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    n_jobs : int, default=None
        CPU threads (torch and BLAS) of ``fit`` and ``decision_function``, restored
        afterwards. None: one thread inside a joblib worker (e.g. under
        ``GridSearchCV(n_jobs=2)``), the current setting elsewhere; -1: all cores.
    chunk_size : int, default=None
        Rows read at a time from features larger than memory (``X`` a ``np.memmap``,
        a zarr, h5py or dask array; see Notes). None: 64 MiB worth of rows (rounded to
        the array's own row chunks), or a dask array's own row blocks. Unused for
        in-memory ``X``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights (one row for a binary problem, as in scikit-learn).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : int
        L-BFGS iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` has string column names.

    See Also
    --------
    sklearn.svm.LinearSVC : The same model, solved by liblinear.
    sklearn_ckn.svm.make_linear_classifier : The linear stages compared for CKN features.
    sklearn_ckn.svm.TorchLinearSVCCV : The same model, with ``C`` chosen by cross-validation.

    Notes
    -----
    **Features larger than memory.** When ``X`` is a ``np.memmap``, a zarr or h5py
    array, or a dask array, ``fit`` reads it one chunk of ``chunk_size`` rows at a time
    (a dask array: one row block at a time, computed on the current scheduler), once
    per L-BFGS evaluation, and never holds it whole: memory is the model, the
    preconditioner (a ``(d + 1) x (d + 1)`` matrix; above 16,384 features,
    ``10,000 x d``) and one chunk, whatever ``n``. It reaches the same optimum as the
    in-memory fit (up to rounding). The labels ``y`` are held in memory. Each chunk's
    values are checked when first read. ``decision_function`` and ``predict`` of such
    an ``X`` return NumPy arrays computed chunk by chunk, or lazy dask arrays for a
    dask ``X``. A dask array is recomputed at every pass: persist it or store it (e.g.
    ``to_zarr``) first if its blocks are costly. To load a ``np.memmap`` in memory
    instead, pass ``np.array(X)``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_ckn.svm import TorchLinearSVC
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = TorchLinearSVC(C=0.01, device="cpu").fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        **_SOLVER_CONSTRAINTS,
    }

    def __init__(self, C=1.0, *, fit_intercept=True, max_iter=500, tol=1e-2, dtype="float32", device="auto",
                 n_jobs=None, chunk_size=None):
        self.C = C
        self._set_solver_params(fit_intercept=fit_intercept, max_iter=max_iter, tol=tol, dtype=dtype,
                                device=device, n_jobs=n_jobs, chunk_size=chunk_size)

    fit = _ThreadedLinearClassifier.fit  # listed on this class's API page

    def _solve(self, data):
        """The one-vs-rest squared-hinge SVMs at ``C``: ``(W, b)``; sets ``n_iter_``."""
        W, b, self.n_iter_ = fit_squared_hinge_ovr(
            data.Xt, data.Yt, C=float(self.C), fit_intercept=self.fit_intercept,
            max_iter=self.max_iter, tol=self.tol,
        )
        return W, b
