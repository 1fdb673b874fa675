"""Linear classifiers for CKN features.

* :class:`TorchLinearSVC`: the squared-hinge linear SVM (LinearSVC's model) solved by
  preconditioned L-BFGS in torch, the fastest accurate linear stage measured on CKN
  features; it also fits on features larger than memory (a ``np.memmap``, zarr or dask
  array), read one chunk of rows at a time;
* :class:`TorchLinearSVCCV`: the same with ``C`` chosen by cross-validation along a
  warm-started path of values that share one preconditioner;
* :func:`linear_steps` and :func:`make_linear_classifier`: the linear setups compared
  in ``benchmarks/bench_linear.py`` by name (:data:`LINEAR_CLASSIFIERS`), with or
  without a ``StandardScaler`` in front.
"""

from ._linear import LINEAR_CLASSIFIERS, linear_steps, make_linear_classifier
from ._linear_svc import TorchLinearSVC
from ._linear_svc_cv import TorchLinearSVCCV

__all__ = ["LINEAR_CLASSIFIERS", "TorchLinearSVC", "TorchLinearSVCCV", "linear_steps", "make_linear_classifier"]
