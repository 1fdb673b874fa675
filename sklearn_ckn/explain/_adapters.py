"""Fitted estimators as differentiable torch models, for Grad-CAM.

:func:`as_differentiable` adapts a fitted estimator into a
:class:`DifferentiableClassifier`: a torch module mapping image tensors
``(b, C, H, W)`` to class scores ``(b, n_classes)``, plus what Grad-CAM needs to run
it (input validation, device, classes, the target layer and its activations).

Two families are supported:

* a fitted :class:`~sklearn_ckn.CNNClassifier`: its ``network_`` is the model and the
  scores are its logits (no test-time augmentation, float32);
* a fitted :class:`~sklearn.pipeline.Pipeline` ``CKNTransformer -> [scalers] ->
  linear classifier``: :class:`CKNClassifierNet` chains the fitted CKN layers, torch
  versions of the scalers (:class:`ShiftScale` for ``StandardScaler``,
  ``MaxAbsScaler`` and ``RobustScaler``, :class:`MinMaxScale` for ``MinMaxScaler``,
  :class:`RowNormalize` for ``Normalizer``) and :class:`LinearHead`, built from the
  classifier's ``coef_`` and ``intercept_``. Its scores are the classifier's
  ``decision_function`` (for two classes, ``-s`` for ``classes_[0]`` and ``+s`` for
  ``classes_[1]``). Nested pipelines (e.g. ``make_pipeline(StandardScaler(),
  LogisticRegression())`` as the last step, see :mod:`sklearn_ckn.svm._linear`) are
  flattened, ``"passthrough"`` steps skipped.

A ``FrozenEstimator`` is unwrapped, and so is a fitted search (``GridSearchCV``...)
through its ``best_estimator_``.

The fitted modules are shared, never copied or modified: their parameters and
buffers keep their ``requires_grad`` flags and ``.grad`` (nothing is accumulated
into them: gradients are taken with :func:`torch.autograd.grad` with respect to the
target activation only), and the estimator predicts exactly as before.
"""

import contextlib
import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)
from torch import nn

from .._images import images_to_tensor, validate_images

__all__ = [
    "SUPPORTED",
    "ShiftScale",
    "MinMaxScale",
    "RowNormalize",
    "LinearHead",
    "CKNClassifierNet",
    "DifferentiableClassifier",
    "as_differentiable",
    "scaler_to_torch",
]

SUPPORTED_SCALERS = ("StandardScaler", "Normalizer", "MaxAbsScaler", "MinMaxScaler", "RobustScaler")

SUPPORTED = (
    "a fitted CNNClassifier, or a fitted Pipeline made of a CKNTransformer, optional "
    f"differentiable scalers ({', '.join(SUPPORTED_SCALERS)}) and a final linear "
    "classifier with coef_ and intercept_ (LogisticRegression, LinearSVC, "
    "RidgeClassifier, SGDClassifier, ...; nested pipelines such as "
    "make_pipeline(StandardScaler(), LogisticRegression()) are flattened)"
)


# -- torch versions of scikit-learn steps ----------------------------------------------
def _vector(values, dtype, device):
    return torch.tensor(np.array(values, dtype=np.float64), dtype=dtype, device=device)


class ShiftScale(nn.Module):
    """``(x - shift) / scale`` per feature; either part may be None (skipped).

    The torch version of ``StandardScaler`` (``mean_``, ``scale_``),
    ``RobustScaler`` (``center_``, ``scale_``) and ``MaxAbsScaler`` (``scale_``),
    written as scikit-learn computes them (subtract, then divide).
    """

    def __init__(self, shift=None, scale=None, *, dtype=torch.float64, device=None):
        super().__init__()
        self.register_buffer("shift", None if shift is None else _vector(shift, dtype, device))
        self.register_buffer("scale", None if scale is None else _vector(scale, dtype, device))

    def forward(self, x):
        if self.shift is not None:
            x = x - self.shift
        if self.scale is not None:
            x = x / self.scale
        return x


class MinMaxScale(nn.Module):
    """``x * scale + min`` per feature, clamped to ``clip`` when given (``MinMaxScaler``)."""

    def __init__(self, scale, min_, clip=None, *, dtype=torch.float64, device=None):
        super().__init__()
        self.register_buffer("scale", _vector(scale, dtype, device))
        self.register_buffer("min", _vector(min_, dtype, device))
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))

    def forward(self, x):
        x = x * self.scale + self.min
        if self.clip is not None:
            x = x.clamp(*self.clip)
        return x


class RowNormalize(nn.Module):
    """Divide each row by its ``"l1"``, ``"l2"`` or ``"max"`` norm (``Normalizer``).

    As in scikit-learn, norms below ``10 * eps`` of the dtype are replaced by 1.
    """

    def __init__(self, norm="l2"):
        super().__init__()
        if norm not in ("l1", "l2", "max"):
            raise ValueError(f"norm must be 'l1', 'l2' or 'max', got {norm!r}.")
        self.norm = norm

    def forward(self, x):
        if self.norm == "l1":
            norms = x.abs().sum(dim=1, keepdim=True)
        elif self.norm == "l2":
            norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        else:
            norms = x.abs().amax(dim=1, keepdim=True)
        tiny = 10 * torch.finfo(x.dtype).eps
        norms = torch.where(norms < tiny, torch.ones_like(norms), norms)
        return x / norms


class LinearHead(nn.Module):
    """Class scores ``x @ coef.T + intercept`` of a fitted linear classifier.

    With a single row of ``coef`` (two classes), the score ``s`` becomes two columns
    ``(-s, s)``: ``+s`` is the score of ``classes_[1]``, ``-s`` that of ``classes_[0]``,
    so that ``argmax`` is the prediction and ``s`` the ``decision_function``.
    """

    def __init__(self, coef, intercept, *, dtype=torch.float64, device=None):
        super().__init__()
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        intercept = np.broadcast_to(np.asarray(intercept, dtype=np.float64), (coef.shape[0],))
        self.register_buffer("weight", _vector(coef, dtype, device))
        self.register_buffer("bias", _vector(intercept, dtype, device))
        self.binary = coef.shape[0] == 1

    def forward(self, x):
        scores = x @ self.weight.T + self.bias
        if self.binary:
            scores = torch.cat([-scores, scores], dim=1)
        return scores


def scaler_to_torch(step, dtype=torch.float64, device=None):
    """The torch module of a fitted scaler step; ``TypeError`` for other steps."""
    kw = dict(dtype=dtype, device=device)
    name = type(step).__name__
    if not isinstance(step, (StandardScaler, RobustScaler, MaxAbsScaler, MinMaxScaler, Normalizer)):
        raise TypeError(
            f"Cannot differentiate through the pipeline step {name}: only "
            f"{', '.join(SUPPORTED_SCALERS)} may sit between the CKNTransformer and the "
            "linear classifier."
        )
    try:
        check_is_fitted(step)
    except NotFittedError:
        raise NotFittedError(f"The {name} step of the pipeline is not fitted yet.") from None
    if isinstance(step, StandardScaler):
        return ShiftScale(step.mean_ if step.with_mean else None,
                          step.scale_ if step.with_std else None, **kw)
    if isinstance(step, RobustScaler):
        return ShiftScale(step.center_ if step.with_centering else None,
                          step.scale_ if step.with_scaling else None, **kw)
    if isinstance(step, MaxAbsScaler):
        return ShiftScale(None, step.scale_, **kw)
    if isinstance(step, MinMaxScaler):
        clip = step.feature_range if step.clip else None
        return MinMaxScale(step.scale_, step.min_, clip, **kw)
    return RowNormalize(step.norm)


class CKNClassifierNet(nn.Module):
    """A fitted CKN pipeline as one torch module: images to class scores.

    ``forward(x)`` = ``head(scalers(flatten(ckn(x))))``, the flattening in
    (channel, row, column) order as in :meth:`CKNTransformer.transform`; scalers and
    head run in float64 (scikit-learn's linear models compute in float64).

    Parameters
    ----------
    ckn : CKNSequential
        The fitted CKN layers (shared, not copied).
    scalers : list of nn.Module
        Torch versions of the scaling steps, in order.
    head : LinearHead
        The linear classifier.
    """

    def __init__(self, ckn, scalers, head):
        super().__init__()
        self.ckn = ckn
        self.scalers = nn.Sequential(*scalers)
        self.head = head

    def classify(self, maps):
        """Class scores of last CKN maps ``(b, F, h, w)``."""
        return self.head(self.scalers(maps.flatten(1).to(self.head.weight.dtype)))

    def forward(self, x):
        return self.classify(self.ckn(x))

    def forward_from_embedding(self, x, layer):
        """Scores and the (leaf, gradient-requiring) embedding of layer ``layer``.

        Layers before ``layer`` and its ``embed`` run without autograd; the rest of
        the network records a graph from the embedding ``(b, F, H_l, W_l)`` on.
        """
        layers = self.ckn.layers
        with torch.no_grad():
            x = self.ckn.preprocess_input(x)
            for lay in layers[:layer]:
                x = lay(x)
            act = layers[layer].embed(x)
        act = act.detach().requires_grad_(True)
        with torch.enable_grad():
            y = layers[layer].project(layers[layer].pool(act))
            for lay in layers[layer + 1:]:
                y = lay(y)
            scores = self.classify(y)
        return scores, act


# -- the adapter ----------------------------------------------------------------------
def _flatten_steps(pipeline):
    steps = []
    for name, step in pipeline.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, Pipeline):
            steps.extend(_flatten_steps(step))
        else:
            steps.append((name, step))
    return steps


def _unwrap(estimator):
    from sklearn.frozen import FrozenEstimator

    for _ in range(10):
        if isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif hasattr(estimator, "best_estimator_") and hasattr(estimator, "cv_results_"):
            estimator = estimator.best_estimator_
        else:
            break
    return estimator


@dataclass
class DifferentiableClassifier:
    """A fitted estimator as a differentiable torch model (see :func:`as_differentiable`).

    Attributes
    ----------
    family : {"cnn", "ckn"}
        Which adapter was used.
    module : nn.Module
        Maps float image tensors ``(b, C, H, W)`` (on ``device``) to class scores
        ``(b, n_classes)``: the CNN's ``network_``, or a :class:`CKNClassifierNet`.
    classes_ : ndarray
        Class labels, the score columns' order.
    device : torch.device
        Where the module lives and runs.
    estimator : estimator
        The explained (unwrapped) estimator.
    input_estimator : estimator
        The step that validates images: the ``CNNClassifier`` or the ``CKNTransformer``.
    """

    family: str
    module: nn.Module
    classes_: np.ndarray
    device: torch.device
    estimator: object
    input_estimator: object
    _pad_multiple: int = 1
    _threads: object = field(default=None, repr=False)

    # -- inputs ----------------------------------------------------------------------
    def validate(self, X):
        """Validated ``(n, H, W, C)`` images (the estimator's own checks)."""
        est = self.input_estimator
        return validate_images(est, X, reset=False, image_shape=est.image_shape)

    def to_tensor(self, images):
        """A float ``(b, C, H, W)`` tensor of ``(b, H, W, C)`` images on ``device``."""
        fmt = torch.channels_last if self.family == "cnn" else torch.contiguous_format
        return images_to_tensor(images, self.device, memory_format=fmt)

    def encode(self, labels, n):
        """Column indices of labels (one per image, or one for all) in ``classes_``."""
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full(n, labels.item(), dtype=labels.dtype)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(
                f"target must be one label or one label per image ({n}); got an array "
                f"of shape {labels.shape}."
            )
        classes = self.classes_
        index = {c: i for i, c in enumerate(classes.tolist())}
        idx = np.empty(n, dtype=np.int64)
        unknown = []
        for i, label in enumerate(labels.tolist()):
            j = index.get(label)
            if j is None:
                unknown.append(label)
            else:
                idx[i] = j
        if unknown:
            raise ValueError(
                f"target contains labels {sorted(set(map(repr, unknown)))} that are not in "
                f"the estimator's classes_ {classes.tolist()!r}."
            )
        return idx

    @property
    def forward_predicts(self):
        """Whether the argmax of the explained forward pass is the estimator's ``predict``.

        False for a CNN using test-time augmentation or mixed precision, whose
        ``predict`` differs from the plain float32 forward pass that is explained.
        """
        if self.family != "cnn":
            return True
        return not (self.estimator.test_time_augmentation or self.estimator.mixed_precision)

    # -- layers -----------------------------------------------------------------------
    def resolve_layer(self, layer=None):
        """The target layer: a CKN layer index, or a ``(name, module)`` of the CNN."""
        if self.family == "ckn":
            n_layers = len(self.module.ckn.layers)
            if layer is None:
                return n_layers - 1
            if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
                raise TypeError(
                    "For a CKN pipeline, layer must be an int (index of a CKN layer, "
                    f"negative allowed) or None; got {type(layer).__name__}."
                )
            if not -n_layers <= layer < n_layers:
                raise ValueError(
                    f"layer={layer} is out of range for a CKN with {n_layers} layer(s)."
                )
            return int(layer) % n_layers
        net = self.module
        if layer is None:
            name = getattr(net, "last_conv_block_name", None)
            if name is None:
                if not hasattr(net, "features"):
                    raise ValueError(
                        "This network has no last_conv_block_name nor features: pass "
                        "layer= (a sub-module name or module)."
                    )
                name = "features"
            return name, net.get_submodule(name)
        if isinstance(layer, str):
            try:
                return layer, net.get_submodule(layer)
            except AttributeError:
                names = [n for n, _ in net.named_modules() if n][:30]
                raise ValueError(
                    f"The network has no sub-module {layer!r}; names include {names}."
                ) from None
        if isinstance(layer, nn.Module):
            for name, module in net.named_modules():
                if module is layer:
                    return name, module
            raise ValueError("layer is an nn.Module that is not part of the estimator's network_.")
        raise TypeError(
            "For a CNNClassifier, layer must be None, a sub-module name of network_ "
            f"(e.g. {getattr(net, 'last_conv_block_name', 'features')!r}) or an nn.Module; "
            f"got {type(layer).__name__}."
        )

    def layer_name(self, layer=None):
        """A readable name of the target layer."""
        resolved = self.resolve_layer(layer)
        if self.family == "ckn":
            return f"CKN layer {resolved} (embedding, before pooling)"
        return resolved[0]

    # -- forward passes ---------------------------------------------------------------
    def _context(self):
        return self._threads() if self._threads is not None else contextlib.nullcontext()

    def _padded(self, x):
        n = x.shape[0]
        m = self._pad_multiple
        if m > 1 and n % m:
            from ..cnn._training import _pad_batch

            x = _pad_batch(x, m - n % m)
        return x, n

    def scores(self, x):
        """Class scores ``(b, n_classes)`` of an image tensor, without autograd."""
        with self._context(), _eval(self.module), torch.no_grad():
            x, n = self._padded(x)
            return self.module(x)[:n]

    def decision_scores(self, X, batch_size=256):
        """Class scores ``(n, n_classes)`` of images ``X`` (float64 numpy)."""
        images = self.validate(X)
        out = []
        for start in range(0, images.shape[0], batch_size):
            x = self.to_tensor(images[start:start + batch_size])
            out.append(self.scores(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.classes_)))

    def activations_and_gradients(self, x, layer, target_idx=None):
        """Target activations, the gradients of the target scores, scores and targets.

        Parameters
        ----------
        x : Tensor of shape (b, C, H, W)
            Images on ``device``.
        layer : int or (str, nn.Module)
            Output of :meth:`resolve_layer`.
        target_idx : LongTensor of shape (b,) or None
            Class columns to explain; None: the highest score of each image.

        Returns
        -------
        act, grad : Tensor of shape (b, K, h, w)
            The layer's output and ``d score[target] / d act``, detached.
        scores : Tensor of shape (b, n_classes)
        target_idx : LongTensor of shape (b,)
        """
        with self._context(), _eval(self.module), torch.enable_grad():
            x, n = self._padded(x)
            if self.family == "ckn":
                scores, act = self.module.forward_from_embedding(x, layer)
            else:
                scores, act = _forward_with_hook(self.module, x, *layer)
            scores = scores[:n]
            if target_idx is None:
                target_idx = scores.detach().argmax(dim=1)
            target_idx = target_idx.to(scores.device)
            chosen = scores.gather(1, target_idx[:, None]).sum()
            (grad,) = torch.autograd.grad(chosen, act, allow_unused=True)
            if grad is None:
                raise ValueError("The class scores do not depend on the chosen layer.")
        return act.detach()[:n], grad[:n], scores.detach(), target_idx


@contextlib.contextmanager
def _eval(module):
    """Run ``module`` in eval mode (batch norm statistics, no dropout), then restore
    every sub-module's own mode."""
    modes = [(m, m.training) for m in module.modules()]
    if any(training for _, training in modes):
        module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _forward_with_hook(net, x, name, module):
    """Logits of ``net`` and the output of ``module`` as a gradient-requiring leaf.

    The forward pass runs without autograd up to ``module``; a forward hook swaps
    its output for a detached leaf (returning a copy, so that in-place operations
    downstream, e.g. ``ReLU(inplace=True)``, leave the leaf intact) and turns autograd
    on for the rest of the pass. The hook is removed afterwards.
    """
    captured = []

    def hook(mod, inputs, output):
        if not torch.is_tensor(output) or output.dim() != 4:
            shape = tuple(output.shape) if torch.is_tensor(output) else type(output).__name__
            raise ValueError(
                f"Grad-CAM needs a layer whose output is a (batch, channels, height, "
                f"width) feature map; {name!r} outputs {shape}."
            )
        if captured:
            raise ValueError(f"Layer {name!r} is called more than once in a forward pass.")
        leaf = output.detach().requires_grad_(True)
        captured.append(leaf)
        torch.set_grad_enabled(True)  # undone when the no_grad block below exits
        return leaf.clone()

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            scores = net(x)
    finally:
        handle.remove()
    if not captured:
        raise ValueError(f"Layer {name!r} is not used in the network's forward pass.")
    return scores, captured[0]


def _check_fitted(estimator, attribute, what):
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} ({what}) is not fitted yet: fit it before "
            f"explaining it. Grad-CAM supports {SUPPORTED}."
        )


def _cnn_adapter(cnn):
    from .._threads import torch_threads

    _check_fitted(cnn, "network_", "the CNN")
    net = cnn.network_
    return DifferentiableClassifier(
        family="cnn",
        module=net,
        classes_=np.asarray(cnn.classes_),
        device=torch.device(cnn.device_),
        estimator=cnn,
        input_estimator=cnn,
        _pad_multiple=8,
        _threads=lambda: torch_threads(cnn.n_jobs),
    )


def _ckn_adapter(pipeline):
    from ..ckn import CKNTransformer

    steps = _flatten_steps(pipeline)
    if not steps or not isinstance(steps[0][1], CKNTransformer):
        first = type(steps[0][1]).__name__ if steps else "nothing"
        raise TypeError(
            f"Cannot explain a Pipeline whose first step is {first}: Grad-CAM supports "
            f"{SUPPORTED}."
        )
    ckn = steps[0][1]
    if len(steps) < 2:
        raise TypeError(
            "Cannot explain a Pipeline without a final classifier after the "
            f"CKNTransformer: Grad-CAM supports {SUPPORTED}."
        )
    final = steps[-1][1]
    final_name = type(final).__name__
    linear = _linear_classifier_class(final) or (is_classifier(final) and hasattr(final, "coef_"))
    if not linear:
        raise TypeError(
            f"Cannot explain a pipeline ending with {final_name}: the final step must be "
            f"a linear classifier with coef_ and intercept_. Grad-CAM supports {SUPPORTED}."
        )
    _check_fitted(ckn, "network_", "the CKN step of the pipeline")
    device = ckn._transform_device()
    scalers = [scaler_to_torch(step, device=device) for _, step in steps[1:-1]]
    if not hasattr(final, "coef_") or not hasattr(final, "classes_"):
        raise NotFittedError(
            f"The final {final_name} of the pipeline is not fitted yet: fit the pipeline "
            f"before explaining it. Grad-CAM supports {SUPPORTED}."
        )
    coef = final.coef_
    if hasattr(coef, "toarray"):  # sparsified coef_
        coef = coef.toarray()
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    classes = np.asarray(final.classes_)
    n_rows = 1 if len(classes) == 2 else len(classes)
    if coef.ndim != 2 or coef.shape[0] != n_rows:
        raise TypeError(
            f"The final {final_name} has coef_ of shape {coef.shape} for "
            f"{len(classes)} classes; expected ({n_rows}, n_features) of a linear "
            "classifier whose decision_function is X @ coef_.T + intercept_."
        )
    if coef.shape[1] != ckn.n_features_out_:
        raise ValueError(
            f"The final {final_name} has {coef.shape[1]} coefficients per class but the "
            f"CKNTransformer outputs {ckn.n_features_out_} features."
        )
    intercept = getattr(final, "intercept_", 0.0)
    network = ckn.network_
    if next(network.buffers()).device != device:
        # Never move the fitted network in place: explain with a copy on the device.
        network = copy.deepcopy(network).to(device)
    head = LinearHead(coef, intercept, device=device)
    module = CKNClassifierNet(network, scalers, head).eval()
    return DifferentiableClassifier(
        family="ckn",
        module=module,
        classes_=classes,
        device=device,
        estimator=pipeline,
        input_estimator=ckn,
    )


def _linear_classifier_class(estimator):
    """Known linear classifiers, recognised before they are fitted (for messages)."""
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
    from sklearn.svm import LinearSVC

    return isinstance(estimator, (LogisticRegression, RidgeClassifier, SGDClassifier, LinearSVC))


def as_differentiable(estimator):
    """Adapt a fitted estimator into a :class:`DifferentiableClassifier`.

    Parameters
    ----------
    estimator : CNNClassifier or Pipeline
        A fitted ``CNNClassifier``, or a fitted ``Pipeline`` ``CKNTransformer ->
        [StandardScaler | Normalizer | MaxAbsScaler | MinMaxScaler | RobustScaler]* ->
        linear classifier`` (nested pipelines are flattened). A ``FrozenEstimator`` or
        a fitted search (``best_estimator_``) around one is unwrapped.

    Returns
    -------
    model : DifferentiableClassifier
        ``model.module`` maps image tensors to class scores; ``model.decision_scores(X)``
        gives them for images ``X``.

    Raises
    ------
    TypeError
        For estimators of any other kind, naming what is supported.
    sklearn.exceptions.NotFittedError
        (a ``ValueError``) for an unfitted estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.explain._adapters import as_differentiable
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.random((40, 8, 8)), np.arange(40) % 2
    >>> pipe = make_pipeline(CKNTransformer(n_filters=4, subsamplings=2, random_state=0,
    ...                                     device="cpu"), LogisticRegression()).fit(X, y)
    >>> model = as_differentiable(pipe)
    >>> bool(np.allclose(model.decision_scores(X)[:, 1], pipe.decision_function(X)))
    True
    """
    from ..cnn._classifier import CNNClassifier

    estimator = _unwrap(estimator)
    # Tensors made under inference_mode() could not be used with autograd later.
    with torch.inference_mode(False):
        if isinstance(estimator, CNNClassifier):
            return _cnn_adapter(estimator)
        if isinstance(estimator, Pipeline):
            return _ckn_adapter(estimator)
    raise TypeError(f"Cannot explain a {type(estimator).__name__}: Grad-CAM supports {SUPPORTED}.")
