"""One entry point for every model of the comparison: :func:`make_model`.

Every model is an unfitted scikit-learn classifier that takes image arrays directly
(``(n, H, W)``, ``(n, H, W, C)`` or 2-D rows with ``image_shape``; ``uint8`` pixels are
scaled to [0, 1]), so that all of them can be cloned, cross-validated, grid-searched
and put in pipelines:

* ``"ckn"``: ``Pipeline([("ckn", CKNTransformer()), ("scaler", StandardScaler()),
  ("clf", TorchLinearSVC(C=0.01))])`` (the steps after ``ckn`` come from
  ``_ckn_linear_stage``);
* ``"cnn"``: :class:`~sklearn_ckn.CNNClassifier`;
* ``"kernel_svm"``: ``Pipeline([("flatten", ImageFlattener()), ("svm", KernelSVC())])``,
  an exact RBF ``SVC`` up to ``EXACT_SVM_MAX_SAMPLES`` (10,000) training images and a
  ``Nystroem`` + ``TorchLinearSVC`` approximation above (decided in ``fit``);
* ``"naive_bayes"``: ``Pipeline([("flatten", ImageFlattener()), ("nb", GaussianNB())])``;
* ``"knn"``: ``Pipeline([("flatten", ImageFlattener()), ("knn", KNeighborsClassifier())])``
  (5 neighbours, Euclidean distance).

The pixel models work on pixels in [0, 1] (``uint8`` input) without per-pixel
standardisation: on MNIST it costs the RBF SVM and k-NN accuracy (it inflates the
near-constant border pixels), and the RBF bandwidth ``gamma="scale"`` already adapts
to the global scale of other inputs.

Parameters of :func:`make_model` follow scikit-learn's naming: for a pipeline they
are ``<step>__<param>`` (``make_model("ckn", ckn__n_filters=(32, 128), clf__C=0.5)``),
for a single estimator plain names (``make_model("cnn", epochs=3)``). A few common
keywords are accepted by every model and routed to the steps that use them:
``random_state``, ``image_shape``, ``device`` and ``verbose``.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, _fit_context
from sklearn.kernel_approximation import Nystroem
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import SVC
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ._images import validate_images
from .linear_svm import TorchLinearSVC

__all__ = ["ImageFlattener", "KernelSVC", "available_models", "make_model"]

#: Training-set size above which ``"kernel_svm"`` switches from an exact ``SVC``
#: (time and memory quadratic or worse in the number of samples) to ``Nystroem`` +
#: ``TorchLinearSVC`` (linear in the number of samples).
EXACT_SVM_MAX_SAMPLES = 10_000


class ImageFlattener(TransformerMixin, BaseEstimator):
    """Flatten images of any accepted layout into 2-D float rows.

    ``(n, H, W)``, ``(n, H, W, C)`` and 2-D ``(n, H * W * C)`` inputs (see
    :func:`sklearn_ckn._images.validate_images`) become ``(n, H * W * C)`` rows in
    channels-last order. ``uint8`` pixels are scaled to [0, 1] and returned as
    float32; other integer and boolean dtypes are cast to float32 unchanged;
    floating dtypes are kept.

    Parameters
    ----------
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)`` of the images when ``X`` is 2-D; checked against
        the rows' length. It does not change the output (rows are already flat).

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(H, W, C)`` of the training images.
    n_features_in_ : int
        Number of input features (``H * W * C``).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the input columns, when ``X`` was a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn.models import ImageFlattener
    >>> X = np.full((2, 3, 3), 255, dtype=np.uint8)
    >>> ImageFlattener().fit_transform(X)[0, :3]
    array([1., 1., 1.], dtype=float32)
    """

    _parameter_constraints = {"image_shape": [tuple, list, None]}

    def __init__(self, image_shape=None):
        self.image_shape = image_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the image shape.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Training images.
        y : None
            Ignored.

        Returns
        -------
        self : ImageFlattener
        """
        validate_images(self, X, reset=True, image_shape=self.image_shape)
        return self

    def transform(self, X):
        """Flatten (and for ``uint8``, scale) the images.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Images of the training images' shape.

        Returns
        -------
        X_flat : ndarray of shape (n, H*W*C)
            float32 (floating inputs keep their dtype).
        """
        check_is_fitted(self, "image_shape_")
        images = validate_images(self, X, reset=False, image_shape=self.image_shape)
        flat = images.reshape(images.shape[0], -1)
        if flat.dtype == np.uint8:
            return flat.astype(np.float32) / np.float32(255.0)
        if flat.dtype.kind != "f":
            return flat.astype(np.float32)
        return np.array(flat, copy=True)

    def get_feature_names_out(self, input_features=None):
        """Feature names: the input column names, else ``pixel_y{row}_x{col}_c{channel}``.

        Parameters
        ----------
        input_features : array-like of str or None
            Input feature names; must match ``feature_names_in_`` if it exists.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "image_shape_")
        names = _check_feature_names_in(self, input_features, generate_names=False)
        if names is not None:
            return np.asarray(names, dtype=object)
        h, w, c = self.image_shape_
        return np.asarray(
            [f"pixel_y{i}_x{j}_c{k}" for i in range(h) for j in range(w) for k in range(c)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class KernelSVC(ClassifierMixin, BaseEstimator):
    """RBF-kernel SVM that switches to a Nystroem approximation on large data.

    ``fit`` decides, from the number of training samples: up to
    ``exact_max_samples`` it fits an exact :class:`~sklearn.svm.SVC` with the RBF
    kernel; above, :class:`~sklearn.kernel_approximation.Nystroem` features of the
    same kernel (``n_components`` landmarks) followed by
    :class:`~sklearn_ckn.linear_svm.TorchLinearSVC` (``LinearSVC``'s squared-hinge
    model, solved by L-BFGS in torch) with the same ``C``, whose cost grows linearly
    with the number of samples. Works on 2-D features (use it
    after :class:`ImageFlattener`).

    Parameters
    ----------
    C : float, default=10.0
        Regularisation parameter (inverse strength), for both routes.
    gamma : {"scale"} or float, default="scale"
        RBF bandwidth ``exp(-gamma ||x - x'||^2)``; ``"scale"`` is
        ``1 / (n_features * X.var())`` computed on the training data, as in ``SVC``.
    exact_max_samples : int, default=10_000
        Largest training set fitted with the exact ``SVC``.
    n_components : int, default=2000
        Nystroem landmarks (approximate route only).
    max_iter : int, default=500
        L-BFGS iteration limit of ``TorchLinearSVC`` (approximate route only).
    random_state : int, RandomState instance or None, default=None
        Seeds the Nystroem landmark sampling.

    Attributes
    ----------
    estimator_ : SVC or Pipeline
        The fitted exact ``SVC`` or ``Nystroem`` + ``TorchLinearSVC`` pipeline.
    approximate_ : bool
        Whether the Nystroem route was taken.
    gamma_ : float
        The RBF bandwidth used.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_iter_ : int or ndarray
        Solver iterations of the ``SVC`` (per pair of classes) or the ``TorchLinearSVC``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "gamma": [StrOptions({"scale"}), Interval(numbers.Real, 0, None, closed="neither")],
        "exact_max_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        C=10.0,
        gamma="scale",
        exact_max_samples=EXACT_SVM_MAX_SAMPLES,
        n_components=2000,
        max_iter=500,
        random_state=None,
    ):
        self.C = C
        self.gamma = gamma
        self.exact_max_samples = exact_max_samples
        self.n_components = n_components
        self.max_iter = max_iter
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the exact or the approximate kernel SVM, depending on ``len(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self : KernelSVC
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if self.gamma == "scale":
            var = float(X.var())
            self.gamma_ = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
        else:
            self.gamma_ = float(self.gamma)
        self.approximate_ = X.shape[0] > self.exact_max_samples
        if self.approximate_:
            self.estimator_ = make_pipeline(
                Nystroem(
                    gamma=self.gamma_,
                    n_components=min(self.n_components, X.shape[0]),
                    random_state=self.random_state,
                ),
                TorchLinearSVC(C=self.C, max_iter=self.max_iter),
            )
        else:
            self.estimator_ = SVC(C=self.C, kernel="rbf", gamma=self.gamma_)
        self.estimator_.fit(X, y)
        self.classes_ = self.estimator_.classes_
        last = self.estimator_[-1] if self.approximate_ else self.estimator_
        self.n_iter_ = last.n_iter_
        return self

    def _check_X(self, X):
        check_is_fitted(self, "estimator_")
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        X = self._check_X(X)
        return self.estimator_.predict(X)

    def decision_function(self, X):
        """One-vs-rest decision values (two classes: one column).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        X = self._check_X(X)
        return self.estimator_.decision_function(X)


# -- the models ------------------------------------------------------------------------

_COMMON = ("random_state", "image_shape", "device", "verbose")


def _ckn_linear_stage(random_state=None):
    """The steps that follow ``CKNTransformer`` in the ``"ckn"`` model.

    ``StandardScaler`` + :class:`~sklearn_ckn.linear_svm.TorchLinearSVC` (``C=0.01``):
    the fastest and most accurate of the linear setups compared on CKN features in
    ``benchmarks/bench_linear.py`` (see :mod:`sklearn_ckn.linear`). Step names are
    ``"scaler"`` and ``"clf"``.
    """
    from .linear import linear_steps

    return linear_steps("torch-linearsvc", random_state=random_state)


def _make_ckn(random_state=None, image_shape=None, device="auto", verbose=0):
    from .ckn import CKNTransformer

    ckn = CKNTransformer(
        image_shape=image_shape, device=device, random_state=random_state, verbose=verbose
    )
    steps = _ckn_linear_stage(random_state=random_state)
    clf = steps[-1][1]
    if "device" in clf.get_params():  # the torch classifier runs where the CKN runs
        clf.set_params(device=device)
    return Pipeline([("ckn", ckn)] + steps)


def _make_cnn(random_state=None, image_shape=None, device="auto", verbose=0):
    from .cnn import CNNClassifier

    return CNNClassifier(
        image_shape=image_shape, device=device, random_state=random_state, verbose=verbose
    )


def _make_kernel_svm(random_state=None, image_shape=None, device="auto", verbose=0):
    return Pipeline(
        [
            ("flatten", ImageFlattener(image_shape=image_shape)),
            ("svm", KernelSVC(random_state=random_state)),
        ]
    )


def _make_naive_bayes(random_state=None, image_shape=None, device="auto", verbose=0):
    return Pipeline(
        [
            ("flatten", ImageFlattener(image_shape=image_shape)),
            ("nb", GaussianNB()),
        ]
    )


def _make_knn(random_state=None, image_shape=None, device="auto", verbose=0):
    return Pipeline(
        [
            ("flatten", ImageFlattener(image_shape=image_shape)),
            ("knn", KNeighborsClassifier(n_neighbors=5)),
        ]
    )


_MODELS = {
    "ckn": _make_ckn,
    "cnn": _make_cnn,
    "kernel_svm": _make_kernel_svm,
    "naive_bayes": _make_naive_bayes,
    "knn": _make_knn,
}


def available_models():
    """Names accepted by :func:`make_model`.

    Returns
    -------
    names : list of str
        ``["ckn", "cnn", "kernel_svm", "naive_bayes", "knn"]``.

    Examples
    --------
    >>> from sklearn_ckn import available_models
    >>> available_models()
    ['ckn', 'cnn', 'kernel_svm', 'naive_bayes', 'knn']
    """
    return list(_MODELS)


def make_model(name, *, random_state=None, image_shape=None, device="auto", verbose=0, **params):
    """Build an unfitted scikit-learn classifier of images by name.

    Parameters
    ----------
    name : str
        One of :func:`available_models`: ``"ckn"`` (CKN features, standardised, then
        a squared-hinge linear SVM), ``"cnn"`` (:class:`~sklearn_ckn.CNNClassifier`),
        ``"kernel_svm"`` (RBF SVM on pixels; Nystroem approximation above 10,000
        training images, see :class:`KernelSVC`), ``"naive_bayes"`` (Gaussian naive
        Bayes on pixels) or ``"knn"`` (5 nearest neighbours on pixels). Pixel models
        see ``uint8`` images scaled to [0, 1].
    random_state : int, RandomState instance or None, default=None
        Routed to every step that has one (the CKN, the CNN,
        the Nystroem sampling); ignored by the deterministic models.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(H, W, C)`` when the images are given as 2-D rows; routed to
        the first step.
    device : str, default="auto"
        Torch device of the ``"ckn"`` (network and linear SVM) and ``"cnn"`` models;
        ignored by the others.
    verbose : int, default=0
        Verbosity of the ``"ckn"`` and ``"cnn"`` models (progress bars).
    **params
        Further parameters, set with ``set_params``: ``<step>__<param>`` for the
        pipelines (steps: ``ckn``, ``scaler``, ``clf`` for ``"ckn"``; ``flatten``,
        ``svm`` for ``"kernel_svm"``; ``flatten``, ``nb`` for ``"naive_bayes"``;
        ``flatten``, ``knn`` for ``"knn"``), plain names for ``"cnn"``.

    Returns
    -------
    model : estimator
        An unfitted classifier with ``fit``, ``predict`` and ``score`` that takes
        images directly.

    Raises
    ------
    ValueError
        For an unknown name or parameter.

    Examples
    --------
    >>> from sklearn_ckn import make_model
    >>> model = make_model("ckn", ckn__n_filters=(32, 128), random_state=0)
    >>> model.get_params()["ckn__n_filters"]
    (32, 128)
    >>> make_model("cnn", epochs=3).epochs
    3
    """
    if not isinstance(name, str) or name not in _MODELS:
        raise ValueError(f"Unknown model {name!r}; available models: {available_models()}.")
    model = _MODELS[name](
        random_state=random_state, image_shape=image_shape, device=device, verbose=verbose
    )
    if params:
        model.set_params(**params)
    return model

