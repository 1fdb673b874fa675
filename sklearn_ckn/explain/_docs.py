"""The fitted model that the examples of the Grad-CAM docstrings explain, written once.

:data:`example_doc` fills a docstring's line ``{fitted_pipeline}`` (see
:mod:`sklearn_ckn._docstrings`) with doctest lines that fit ``model``, a
``CKNTransformer -> LogisticRegression`` pipeline, on 40 noise images ``X`` of
12x12 whose class ``y`` (1) shows as a bright square at the top left: the examples
then explain that one model each their own way.
"""

from .._docstrings import fill_doc

__all__ = ["example_doc"]

FITTED_PIPELINE = """\
>>> import numpy as np
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn_ckn import CKNTransformer
>>> rng = np.random.default_rng(0)
>>> X, y = rng.random((40, 12, 12)), np.arange(40) % 2
>>> X[y == 1, 2:5, 2:5] += 2.0          # class 1: a bright square at the top left
>>> ckn = CKNTransformer(n_filters=8, subsamplings=3, random_state=0, device="cpu")
>>> model = make_pipeline(ckn, LogisticRegression()).fit(X, y)
"""

example_doc = fill_doc(fitted_pipeline=FITTED_PIPELINE)
