"""The model registry: :func:`make_model` builds every model of the comparison by
name, :func:`available_models` lists the names (both re-exported by :mod:`sklearn_ckn`).

Every model is an unfitted scikit-learn classifier that takes image arrays directly
(``(n, H, W)``, ``(n, H, W, C)`` or 2-D rows with ``image_shape``; ``uint8`` pixels are
scaled to [0, 1]), so that all of them can be cloned, cross-validated, grid-searched
and put in pipelines:

* ``"ckn"``: ``Pipeline([("ckn", CKNTransformer()), ("scaler", StandardScaler()),
  ("clf", TorchLinearSVC(C=0.01))])`` (the steps after ``ckn`` come from
  ``_ckn_linear_stage``);
* ``"ckn_supervised"``: :class:`~sklearn_ckn.CKNClassifier` (the same network,
  anchors and head trained end to end);
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

from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from ._baselines import ImageFlattener, KernelSVC

__all__ = ["available_models", "make_model"]


# -- the models ------------------------------------------------------------------------

_COMMON = ("random_state", "image_shape", "device", "verbose")


def _ckn_linear_stage(random_state=None):
    """The steps that follow ``CKNTransformer`` in the ``"ckn"`` model.

    ``StandardScaler`` + :class:`~sklearn_ckn.svm.TorchLinearSVC` (``C=0.01``):
    the fastest and most accurate of the linear setups compared on CKN features in
    ``benchmarks/bench_linear.py`` (see :func:`sklearn_ckn.svm.linear_steps`). Step names are
    ``"scaler"`` and ``"clf"``.
    """
    from .svm import linear_steps

    return linear_steps("torch-linearsvc", random_state=random_state)


def _make_ckn(random_state=None, image_shape=None, device="auto", verbose=0):
    from .ckn import CKNTransformer

    # The benchmarked configuration, pinned: the pooling and the k-means of the
    # comparisons and raw features (the StandardScaler step scales them, no signed
    # power) rather than the transformer's size-adaptive defaults.
    ckn = CKNTransformer(
        subsamplings=(2, 4), power=1.0, normalize=None, n_patches=100_000, kmeans_tol=1e-5,
        kmeans_precision="float32", image_shape=image_shape, device=device,
        random_state=random_state, verbose=verbose,
    )
    steps = _ckn_linear_stage(random_state=random_state)
    clf = steps[-1][1]
    if "device" in clf.get_params():  # the torch classifier runs where the CKN runs
        clf.set_params(device=device)
    return Pipeline([("ckn", ckn)] + steps)


def _make_ckn_supervised(random_state=None, image_shape=None, device="auto", verbose=0):
    from .ckn import CKNClassifier, CKNTransformer

    # The benchmarked start, pinned: 64/256 filters, the k-means of the comparisons and
    # standardised features without a per-image L2 normalisation (weight decay 6.4e-5
    # on features of standard deviation 0.08 is the 1e-2 on unit-variance features the
    # comparisons were tuned with).
    ckn = CKNTransformer(n_filters=(64, 256), power=1.0, normalize="standard",
                         n_patches=100_000, kmeans_tol=1e-5, kmeans_precision="float32",
                         image_shape=image_shape)
    # The loss of the recorded comparisons (benchmarks/results/compare_*): the squared
    # hinge, CKNClassifier's default when they ran; rerun them before changing it.
    return CKNClassifier(
        ckn=ckn, loss="squared_hinge", weight_decay=6.4e-5, device=device,
        random_state=random_state, verbose=verbose,
    )


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
    "ckn_supervised": _make_ckn_supervised,
    "cnn": _make_cnn,
    "kernel_svm": _make_kernel_svm,
    "naive_bayes": _make_naive_bayes,
    "knn": _make_knn,
}


def available_models():
    """Return the names accepted by :func:`make_model`.

    Returns
    -------
    names : list of str
        ``["ckn", "ckn_supervised", "cnn", "kernel_svm", "naive_bayes", "knn"]``.

    See Also
    --------
    sklearn_ckn.make_model : Build one of them.

    Examples
    --------
    >>> from sklearn_ckn import available_models
    >>> available_models()
    ['ckn', 'ckn_supervised', 'cnn', 'kernel_svm', 'naive_bayes', 'knn']
    """
    return list(_MODELS)


def make_model(name, *, random_state=None, image_shape=None, device="auto", verbose=0, **params):
    """Build an unfitted scikit-learn classifier of images by name.

    Parameters
    ----------
    name : str
        One of :func:`available_models`: ``"ckn"`` (CKN features, standardised, then
        a squared-hinge linear SVM), ``"ckn_supervised"``
        (:class:`~sklearn_ckn.CKNClassifier`, the CKN trained end to end), ``"cnn"``
        (:class:`~sklearn_ckn.CNNClassifier`),
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
        Torch device of the ``"ckn"`` (network and linear SVM), ``"ckn_supervised"``
        and ``"cnn"`` models; ignored by the others.
    verbose : int, default=0
        Verbosity of the ``"ckn"``, ``"ckn_supervised"`` and ``"cnn"`` models
        (progress bars).
    **params
        Further parameters, set with ``set_params``: ``<step>__<param>`` for the
        pipelines (steps: ``ckn``, ``scaler``, ``clf`` for ``"ckn"``; ``flatten``,
        ``svm`` for ``"kernel_svm"``; ``flatten``, ``nb`` for ``"naive_bayes"``;
        ``flatten``, ``knn`` for ``"knn"``), plain names for ``"cnn"`` and
        ``"ckn_supervised"``.

    Returns
    -------
    model : estimator
        An unfitted classifier with ``fit``, ``predict`` and ``score`` that takes
        images directly.

    Raises
    ------
    ValueError
        For an unknown name or parameter.

    See Also
    --------
    sklearn_ckn.available_models : The names it accepts.
    sklearn_ckn.compare.run_comparison : Fit and score them on a data set.

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

