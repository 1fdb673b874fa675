"""Linear classifiers for CKN features, by name.

CKN features are dense, many (thousands) and numerous (tens of thousands of images):
liblinear's ``LinearSVC`` in the dual spends minutes there. The choices below are the
scikit-learn setups compared in ``benchmarks/bench_linear.py``; ``"logistic"`` is
the default of :func:`sklearn_ckn.make_model` (see the README's benchmark table).
"""

from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ._linear_svc import TorchLinearSVC

__all__ = ["LINEAR_CLASSIFIERS", "linear_steps", "make_linear_classifier"]


def _logistic(C=1.0, random_state=None):
    # L-BFGS on the multinomial loss: each iteration is two dense matrix products,
    # which NumPy's BLAS runs on every core.
    return LogisticRegression(C=C, max_iter=300, tol=1e-4, random_state=random_state)


def _linearsvc_primal(C=0.01, random_state=None):
    # liblinear's trust-region Newton on the squared hinge: n_samples >> n_features.
    return LinearSVC(C=C, dual=False, tol=1e-4, random_state=random_state)


def _linearsvc_dual(C=0.01, random_state=None):
    return LinearSVC(C=C, dual=True, max_iter=2000, random_state=random_state)


def _torch_linearsvc(C=0.01, random_state=None):
    # LinearSVC's model (squared hinge, one-vs-rest) by full-batch L-BFGS in torch:
    # every iteration is two dense matrix products, on the GPU when there is one.
    return TorchLinearSVC(C=C)


def _ridge(C=1.0, random_state=None):
    # One linear system on the features' Gram matrix; alpha = 1 / C.
    return RidgeClassifier(alpha=1.0 / C, solver="auto")


def _sgd(C=1.0, random_state=None):
    return SGDClassifier(loss="hinge", alpha=1e-4 / C, max_iter=30, tol=1e-4, random_state=random_state)


LINEAR_CLASSIFIERS = {
    "logistic": _logistic,
    "linearsvc-primal": _linearsvc_primal,
    "linearsvc-dual": _linearsvc_dual,
    "torch-linearsvc": _torch_linearsvc,
    "ridge": _ridge,
    "sgd": _sgd,
}


def linear_steps(name="logistic", *, C=None, random_state=None, scale=True):
    """Return the ``[("scaler", StandardScaler()), ("clf", classifier)]`` pipeline steps.

    Shared by :func:`make_linear_classifier` and the ``"ckn"`` model of
    :func:`sklearn_ckn.make_model` (whose parameters are then ``clf__C`` etc.).

    Parameters
    ----------
    name : str, default="logistic"
        A key of :data:`LINEAR_CLASSIFIERS` (see :func:`make_linear_classifier`).
    C : float, default=None
        Inverse regularisation strength (the classifier's default if None).
    random_state : int or None, default=None
        Passed to classifiers that use randomness.
    scale : bool, default=True
        Put a ``StandardScaler`` first.

    Returns
    -------
    steps : list of (str, estimator) tuples
        Unfitted ``("scaler", ...)`` (if ``scale``) and ``("clf", ...)`` steps.

    See Also
    --------
    sklearn_ckn.svm.make_linear_classifier : The same steps as one estimator.

    Examples
    --------
    >>> from sklearn_ckn.svm import linear_steps
    >>> [name for name, _ in linear_steps("torch-linearsvc", C=0.01)]
    ['scaler', 'clf']
    """
    try:
        factory = LINEAR_CLASSIFIERS[name]
    except KeyError:
        raise ValueError(
            f"Unknown linear classifier {name!r}; expected one of {sorted(LINEAR_CLASSIFIERS)}."
        ) from None
    kwargs = {"random_state": random_state}
    if C is not None:
        kwargs["C"] = C
    steps = [("clf", factory(**kwargs))]
    return [("scaler", StandardScaler())] + steps if scale else steps


def make_linear_classifier(name="logistic", *, C=None, random_state=None, scale=True):
    """A linear classifier for CKN features, preceded by a ``StandardScaler``.

    Parameters
    ----------
    name : str, default="logistic"
        One of ``"logistic"``, ``"linearsvc-primal"``, ``"linearsvc-dual"``,
        ``"torch-linearsvc"`` (:class:`~sklearn_ckn.svm._linear_svc.TorchLinearSVC`),
        ``"ridge"``, ``"sgd"``.
    C : float, default=None
        Inverse regularisation strength (the classifier's default if None).
    random_state : int or None
        Passed to classifiers that use randomness.
    scale : bool, default=True
        Standardise features first (they otherwise differ in scale across layers
        and positions, which slows every solver down).

    Returns
    -------
    estimator : Pipeline
        Unfitted, with steps ``"scaler"`` (if ``scale``) and ``"clf"``.

    See Also
    --------
    sklearn_ckn.svm.TorchLinearSVC : The linear SVM solved in torch.
    sklearn_ckn.svm.linear_steps : The steps, to put in your own pipeline.

    Examples
    --------
    >>> from sklearn_ckn.svm import make_linear_classifier
    >>> make_linear_classifier("logistic", C=0.5)
    Pipeline(steps=[('scaler', StandardScaler()),
                    ('clf', LogisticRegression(C=0.5, max_iter=300))])
    """
    return Pipeline(linear_steps(name, C=C, random_state=random_state, scale=scale))
