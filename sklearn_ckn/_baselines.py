"""Baseline classifiers on raw pixels: :class:`ImageFlattener` and :class:`KernelSVC`.

They take the same image arrays as the CKN and CNN estimators, so that every model of
the comparison can be cloned, cross-validated and put in pipelines alike.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.kernel_approximation import Nystroem
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import (
    DOC_LINK_MODULE,
    DOC_LINK_TEMPLATE,
    Interval,
    StrOptions,
    check_feature_names_in,
    doc_link_url_params,
    fit_context,
)
from ._images import check_classification_labels, validate_images
from .svm import TorchLinearSVC

__all__ = ["EXACT_SVM_MAX_SAMPLES", "ImageFlattener", "KernelSVC"]


#: Training-set size above which ``"kernel_svm"`` switches from an exact ``SVC``
#: (time and memory quadratic or worse in the number of samples) to ``Nystroem`` +
#: ``TorchLinearSVC`` (linear in the number of samples).
EXACT_SVM_MAX_SAMPLES = 10_000


def _scale_gamma(X):
    """``1 / (n_features * X.var())``, the variance in float64 (1.0 if it is zero, as in SVC)."""
    # In float32 the squares of |x| ~ 1e19 overflow: the variance was inf and gamma 0.
    with np.errstate(over="ignore", under="ignore"):  # an inf or 0 variance: an error below
        var = float(np.var(X, dtype=np.float64))
    if var == 0 and np.min(X) == np.max(X):
        return 1.0  # constant features: every distance is 0, any gamma gives the same kernel
    gamma = 1.0 / (X.shape[1] * var) if var > 0 else np.inf  # Python floats: inf, no error
    if not (np.isfinite(var) and 0 < gamma < np.inf):
        raise ValueError(
            f"gamma='scale' is undefined for these features: their variance is {var:.3g} in "
            f"float64 (largest |x| {float(np.max(np.abs(X))):.3g}). Standardise X (e.g. with "
            "StandardScaler) or pass gamma as a number."
        )
    return gamma


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
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input columns, when ``X`` was a DataFrame.

    See Also
    --------
    sklearn_ckn.KernelSVC : A kernel SVM on the flattened pixels.
    sklearn_ckn.ckn.CKNTransformer : Features learned from the images instead of raw pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn import ImageFlattener
    >>> X = np.full((2, 3, 3), 255, dtype=np.uint8)
    >>> ImageFlattener().fit_transform(X)[0, :3]
    array([1., 1., 1.], dtype=float32)
    """

    _doc_link_module = DOC_LINK_MODULE  # the HTML repr links to the API page
    _doc_link_template = DOC_LINK_TEMPLATE
    _doc_link_url_param_generator = doc_link_url_params

    _parameter_constraints = {"image_shape": [tuple, list, None]}

    def __init__(self, image_shape=None):
        self.image_shape = image_shape

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the image shape.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Training images: only their shape is used.
        y : None
            Ignored.

        Returns
        -------
        self : ImageFlattener
            The fitted transformer.
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
            The flattened images: float32 (floating inputs keep their dtype).
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
            One name per output column.
        """
        check_is_fitted(self, "image_shape_")
        names = check_feature_names_in(self, input_features, generate_names=False)
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


#: Largest absolute feature value of :class:`KernelSVC`: the RBF kernel's squared
#: distances overflow float64 (about 1.8e308) beyond the square root of it, and the
#: scores become NaN.
MAX_ABS_FEATURE = 1e150


def _check_magnitude(X):
    """A clear ``ValueError`` for features whose squared distances overflow float64."""
    largest = float(np.abs(X).max()) if X.size else 0.0
    if largest > MAX_ABS_FEATURE:
        raise ValueError(
            f"KernelSVC needs features of absolute value at most {MAX_ABS_FEATURE:g} (their "
            f"squared distances overflow float64 beyond); X holds {largest:.3g}: standardise "
            "X (e.g. StandardScaler())."
        )


class KernelSVC(ClassifierMixin, BaseEstimator):
    """RBF-kernel SVM that switches to a Nystroem approximation on large data.

    ``fit`` decides, from the number of training samples: up to
    ``exact_max_samples`` it fits an exact :class:`~sklearn.svm.SVC` with the RBF
    kernel; above, :class:`~sklearn.kernel_approximation.Nystroem` features of the
    same kernel (``n_components`` landmarks) followed by
    :class:`~sklearn_ckn.svm.TorchLinearSVC` (``LinearSVC``'s squared-hinge
    model, solved by L-BFGS in torch) with the same ``C``, whose cost grows linearly
    with the number of samples. Works on 2-D features (use it
    after :class:`ImageFlattener`).

    Parameters
    ----------
    C : float, default=10.0
        Regularisation parameter (inverse strength), for both routes.
    gamma : {"scale"} or float, default="scale"
        RBF bandwidth ``exp(-gamma ||x - x'||^2)``; ``"scale"`` is
        ``1 / (n_features * X.var())`` computed on the training data, as in ``SVC``
        (the variance in float64, whatever ``X``'s dtype; 1.0 when it is zero, i.e.
        all values are equal). A variance that overflows or underflows float64 is an
        error: standardise ``X`` or give a number.
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

    See Also
    --------
    sklearn.svm.SVC : The exact kernel SVM.
    sklearn_ckn.ImageFlattener : Images to rows of pixels.
    sklearn_ckn.make_model : The models of the CKN-versus-CNN study, by name.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ckn import KernelSVC
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (20, 4)), rng.normal(3, 1, (20, 4))])
    >>> y = np.repeat([0, 1], 20)
    >>> clf = KernelSVC(random_state=0).fit(X, y)
    >>> clf.approximate_, float(clf.score(X, y))
    (False, 1.0)
    """

    _doc_link_module = DOC_LINK_MODULE  # the HTML repr links to the API page
    _doc_link_template = DOC_LINK_TEMPLATE
    _doc_link_url_param_generator = doc_link_url_params

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

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the exact or the approximate kernel SVM, depending on ``len(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Labels, all numbers or all strings.

        Returns
        -------
        self : KernelSVC
            The fitted classifier.
        """
        check_classification_labels(y)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        _check_magnitude(X)
        check_classification_targets(y)
        self.gamma_ = _scale_gamma(X) if self.gamma == "scale" else float(self.gamma)
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

    def _delegate(self, method, X):
        """``estimator_.method(X)`` on ``X`` checked against the training features."""
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        _check_magnitude(X)
        return getattr(self.estimator_, method)(X)

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The predicted class labels.
        """
        return self._delegate("predict", X)

    def decision_function(self, X):
        """One-vs-rest decision values (two classes: one column).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples with the ``n_features_in_`` columns of the training data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Signed distances to the separating hyperplanes: the exact ``SVC``'s
            one-vs-rest scores, or the ``TorchLinearSVC``'s on the Nystroem features.
        """
        return self._delegate("decision_function", X)
