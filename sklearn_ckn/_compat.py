"""The one module that touches scikit-learn's private API, with fallbacks.

scikit-learn moves or removes private helpers between releases (the reference CKN
broke when ``sklearn.linear_model.base`` went away). Every other module imports them
from here; if an import fails on a future release, the fallback below keeps the
package working (parameter validation then uses the small checker of this module).
"""

import functools
import itertools
import numbers

import numpy as np

from ._urls import DOCUMENTATION_URL

__all__ = [
    "DOC_LINK_MODULE",
    "DOC_LINK_TEMPLATE",
    "Interval",
    "LinearClassifierMixin",
    "StrOptions",
    "check_feature_names_in",
    "check_partial_fit_first_call",
    "doc_link_url_params",
    "fit_context",
]

# Links from an estimator's HTML repr (``estimator_html_repr``, notebooks) to its page
# of the API reference. scikit-learn (>= 1.4) builds the link from three private class
# attributes, which every public estimator sets to these values:
#     _doc_link_module = DOC_LINK_MODULE
#     _doc_link_template = DOC_LINK_TEMPLATE
#     _doc_link_url_param_generator = doc_link_url_params
# On a scikit-learn without the mechanism they are unused attributes. The pages are
# those docs/conf.py generates: generated/<public module>.<class name>.html.
DOC_LINK_MODULE = "sklearn_ckn"
DOC_LINK_TEMPLATE = (
    f"{DOCUMENTATION_URL}/en/latest/generated/{{estimator_module}}.{{estimator_name}}.html"
)


def doc_link_url_params(estimator):
    """Fields of :data:`DOC_LINK_TEMPLATE` for ``estimator``'s class.

    The module is the public (sub)package the class is documented in: its defining
    module up to the first private part (``sklearn_ckn.ckn._transformer`` gives
    ``sklearn_ckn.ckn``).
    """
    cls = type(estimator)
    parts = itertools.takewhile(lambda p: not p.startswith("_"), cls.__module__.split("."))
    return {"estimator_module": ".".join(parts), "estimator_name": cls.__name__}

try:  # scikit-learn >= 1.3
    from sklearn.base import _fit_context as fit_context
    from sklearn.utils._param_validation import Interval, StrOptions
except ImportError:  # pragma: no cover - exercised only on a future scikit-learn

    class Interval:
        """``left <= x <= right`` (bounds optional) for a numeric ``type``."""

        def __init__(self, type, left, right, *, closed):
            self.type, self.left, self.right, self.closed = type, left, right, closed

        def is_satisfied_by(self, value):
            if isinstance(value, bool) or not isinstance(value, self.type):
                return False
            lo_ok = self.left is None or (
                value >= self.left if self.closed in ("left", "both") else value > self.left
            )
            hi_ok = self.right is None or (
                value <= self.right if self.closed in ("right", "both") else value < self.right
            )
            return bool(lo_ok and hi_ok)

        def __str__(self):
            return f"{self.type} in [{self.left}, {self.right}] ({self.closed} closed)"

    class StrOptions:
        """One of a set of strings."""

        def __init__(self, options):
            self.options = set(options)

        def is_satisfied_by(self, value):
            return isinstance(value, str) and value in self.options

        def __str__(self):
            return f"a str among {sorted(self.options)}"

    def _satisfied(constraint, value):
        if constraint == "no_validation":
            return True
        if constraint is None:
            return value is None
        if constraint == "boolean":
            return isinstance(value, (bool, np.bool_))
        if constraint == "verbose":
            return isinstance(value, (numbers.Integral, bool, np.bool_))
        if constraint == "random_state":
            return value is None or isinstance(value, (numbers.Integral, np.random.RandomState))
        if constraint == "array-like":
            return hasattr(value, "__len__") or hasattr(value, "shape")
        if isinstance(constraint, str):
            return True  # a constraint name this fallback does not know: accept
        if isinstance(constraint, type):
            return isinstance(value, constraint)
        if callable(constraint) and not hasattr(constraint, "is_satisfied_by"):
            return constraint is callable and callable(value)
        return constraint.is_satisfied_by(value)

    def _validate_params(estimator):
        constraints = getattr(estimator, "_parameter_constraints", {})
        for name, value in estimator.get_params(deep=False).items():
            allowed = constraints.get(name, "no_validation")
            if allowed == "no_validation":
                continue
            if not any(_satisfied(c, value) for c in allowed):
                raise ValueError(
                    f"The {name!r} parameter of {type(estimator).__name__} must be one of "
                    f"{[str(c) for c in allowed]}; got {value!r}."
                )

    def fit_context(prefer_skip_nested_validation):
        def decorator(fit_method):
            @functools.wraps(fit_method)
            def wrapper(estimator, *args, **kwargs):
                _validate_params(estimator)
                return fit_method(estimator, *args, **kwargs)

            return wrapper

        return decorator


try:
    from sklearn.utils.validation import _check_feature_names_in as check_feature_names_in
except ImportError:  # pragma: no cover

    def check_feature_names_in(estimator, input_features=None, *, generate_names=True):
        names = getattr(estimator, "feature_names_in_", None)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if names is not None and not np.array_equal(names, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
            return input_features
        if names is not None:
            return names
        if not generate_names:
            return None
        return np.asarray([f"x{i}" for i in range(estimator.n_features_in_)], dtype=object)


try:
    from sklearn.utils.multiclass import (
        _check_partial_fit_first_call as check_partial_fit_first_call,
    )
except ImportError:  # pragma: no cover

    def check_partial_fit_first_call(clf, classes=None):
        if getattr(clf, "classes_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            if getattr(clf, "classes_", None) is not None:
                if not np.array_equal(clf.classes_, np.unique(classes)):
                    raise ValueError(
                        f"`classes={classes!r}` is not the same as on last call to "
                        f"partial_fit, was: {clf.classes_!r}"
                    )
                return False
            clf.classes_ = np.unique(classes)
            return True
        return False


try:
    from sklearn.linear_model._base import LinearClassifierMixin
except ImportError:  # pragma: no cover
    from sklearn.base import ClassifierMixin

    class LinearClassifierMixin(ClassifierMixin):
        """``decision_function`` and ``predict`` from ``coef_`` and ``intercept_``."""

        def decision_function(self, X):
            from sklearn.utils.validation import check_is_fitted, validate_data

            check_is_fitted(self)
            X = validate_data(self, X, accept_sparse="csr", reset=False)
            scores = X @ self.coef_.T + self.intercept_
            return scores.ravel() if scores.shape[1] == 1 else scores

        def predict(self, X):
            scores = self.decision_function(X)
            if scores.ndim == 1:
                indices = (scores > 0).astype(int)
            else:
                indices = scores.argmax(axis=1)
            return self.classes_[indices]
