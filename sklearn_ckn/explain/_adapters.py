"""Fitted estimators as differentiable torch models, for Grad-CAM: one adapter per family.

:func:`as_differentiable` finds the adapter class that accepts an estimator (after
unwrapping a ``FrozenEstimator`` or a fitted search's ``best_estimator_``) and returns
an instance: a :class:`ModelAdapter`, which maps image tensors ``(b, C, H, W)`` to
class scores ``(b, n_classes)`` and exposes the feature maps Grad-CAM weights.

Families
--------
:class:`CNNAdapter`
    A fitted :class:`~sklearn_ckn.CNNClassifier`; its ``module_`` (``normalize ->
    features -> head``) is the model and the scores are its logits (float32, no
    test-time augmentation). Target layers: the blocks of ``module_.features`` that
    contain a convolution, up to ``module_.last_conv_block_name``; any sub-module name
    (or the module itself) with a ``(b, K, h, w)`` output may be given.
:class:`CKNPipelineAdapter`
    A fitted :class:`~sklearn.pipeline.Pipeline` ``CKNTransformer -> [scalers] ->
    linear classifier``: a :class:`~sklearn_ckn.core.network.CKNNetwork` made of the
    transformer's own fitted module (CKN layers and output steps, unchanged: what
    ``transform`` runs) with, as its head, torch versions of the scalers and a linear
    head built from ``coef_`` and ``intercept_``; the scores are the
    ``decision_function`` (``-s`` / ``+s`` for two classes). Nested pipelines are
    flattened, ``"passthrough"`` steps skipped.
    Target layers: the CKN layers by index, each explained at its kernel embedding
    before pooling (:class:`CKNAdapter` holds this part, shared with any family built
    on CKN layers).
:class:`CKNClassifierAdapter`
    A fitted supervised :class:`~sklearn_ckn.CKNClassifier`: its ``module_`` (trained
    CKN layers, output steps, linear head); the scores are its logits.
    Target layers as for the CKN pipeline.

The interface of an adapter
---------------------------
Adding a family is one subclass of :class:`ModelAdapter` appended to
:data:`ADAPTERS`. It implements:

``accepts(estimator) -> bool`` (classmethod)
    Whether the family handles this (unwrapped) estimator, fitted or not, so that an
    unfitted one gets this family's ``NotFittedError``.
``__init__(estimator)``
    Check that it is fitted (raise :class:`~sklearn.exceptions.NotFittedError`) and
    supported (``TypeError``), and set ``estimator``, ``module`` (images to scores),
    ``classes_`` (the score columns' labels), ``device`` and ``input_estimator`` (the
    step whose ``n_features_in_`` / ``image_shape`` validate images).
``candidate_layers(image_shape) -> list of (key, (h, w))``
    The usual target layers, shallow to deep, with their map size for images of
    ``image_shape`` ``(H, W, C)``; the default layer is chosen among them
    (:meth:`ModelAdapter.default_layer`).
``layer_key(layer) -> key``
    A user's ``layer=`` value as a key (``TypeError`` / ``ValueError`` if invalid).
``forward_from(x, key) -> (scores, act)``
    Class scores of the image tensor ``x`` and the target layer's output ``act``
    ``(b, K, h, w)``, a leaf tensor requiring grad on which ``scores`` depend.

Optional: ``layer_name(key)`` (a readable name), ``forward_predicts`` (False when
``predict`` is not the argmax of ``module``'s scores), ``threads()`` (a context
manager for the estimator's threads), ``pad_multiple`` (batches are zero-padded to a
multiple of it), ``validate(X)`` (default: the image checks of ``input_estimator``).

A family built on CKN layers subclasses :class:`CKNAdapter` instead, which implements
``candidate_layers``, ``layer_key`` and ``forward_from``: its ``__init__`` sets
``module`` to a :class:`~sklearn_ckn.core.network.CKNNetwork` (the CKN layers, a
feature map and a linear head: the network every CKN use shares) and ``network`` to
its layers, besides the attributes above;
:class:`CKNClassifierAdapter` is such a class (``accepts``, ``__init__`` and the
optional ``threads`` and ``forward_predicts``).

The fitted modules are shared, never copied or modified (except a network that must
move to another device, which is copied): gradients are taken with
:func:`torch.autograd.grad` with respect to the target activation only, so no
parameter or buffer gets a ``.grad`` or changes its ``requires_grad`` flag, and the
estimator predicts exactly as before.
"""

import contextlib
import copy
import math

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._device import resolve_device
from .._images import images_to_tensor, validate_images
from .._threads import torch_threads
from ..core.network import CKNNetwork
from ._torch_steps import SUPPORTED_SCALERS, LinearHead, scaler_to_torch

__all__ = [
    "ADAPTERS",
    "SUPPORTED",
    "CKNAdapter",
    "CKNClassifierAdapter",
    "CKNPipelineAdapter",
    "CNNAdapter",
    "ModelAdapter",
    "as_differentiable",
    "default_map_side",
    "flatten_steps",
    "unwrap",
]

SUPPORTED = (
    "a fitted CNNClassifier, a fitted CKNClassifier, or a fitted Pipeline made of a "
    "CKNTransformer, optional "
    f"differentiable scalers ({', '.join(SUPPORTED_SCALERS)}) and a final linear "
    "classifier with coef_ and intercept_ (LogisticRegression, LinearSVC, "
    "RidgeClassifier, SGDClassifier, TorchLinearSVC, ...; nested pipelines such as "
    "make_pipeline(StandardScaler(), LogisticRegression()) are flattened)"
)

#: The default target layer is the deepest candidate whose map's shorter side is at
#: least ``default_map_side(H, W)``: 7, or half the image's shorter side when that is
#: less (4 for 8x8 images, 7 from 14x14 on). Measured on the distractor task of
#: ``benchmarks/bench_localisation.py``: maps of 4x4 or less (the last residual stage
#: of a CNN on 16x16 or 32x32 images) spread over the whole image once upsampled.
MIN_MAP_SIDE = 7
MIN_MAP_FRACTION = 2


def default_map_side(height, width):
    """The smallest map side the default target layer must have for ``height x width`` images."""
    return max(1, min(MIN_MAP_SIDE, math.ceil(min(height, width) / MIN_MAP_FRACTION)))


# -- wrappers and pipelines -------------------------------------------------------------
def flatten_steps(pipeline):
    """The ``(name, step)`` pairs of a pipeline, nested pipelines flattened, passthrough skipped."""
    steps = []
    for name, step in pipeline.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, Pipeline):
            steps.extend(flatten_steps(step))
        else:
            steps.append((name, step))
    return steps


def unwrap(estimator):
    """The estimator inside a ``FrozenEstimator`` or a fitted search (``best_estimator_``)."""
    from sklearn.frozen import FrozenEstimator

    for _ in range(10):
        if isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif hasattr(estimator, "best_estimator_") and hasattr(estimator, "cv_results_"):
            estimator = estimator.best_estimator_
        else:
            break
    return estimator


@contextlib.contextmanager
def _eval(module):
    """Run ``module`` in eval mode, then restore every sub-module's own mode."""
    modes = [(m, m.training) for m in module.modules()]
    if any(training for _, training in modes):
        module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _not_fitted(what, estimator):
    return NotFittedError(
        f"This {type(estimator).__name__} ({what}) is not fitted yet: fit it before "
        f"explaining it. Grad-CAM supports {SUPPORTED}."
    )


# -- the shared interface ---------------------------------------------------------------
class ModelAdapter:
    """A fitted estimator as a differentiable torch model (base class of the families).

    Subclasses implement the interface of the module docstring; this class provides
    the rest: image validation and conversion, label encoding, the default layer,
    scores and the target layer's activations and gradients.

    Attributes
    ----------
    family : str
        Short name of the family (``"cnn"``, ``"ckn"``), used in default plot titles.
    estimator : estimator
        The explained (unwrapped) estimator.
    module : nn.Module
        Maps float image tensors ``(b, C, H, W)`` on ``device`` to ``(b, n_classes)``.
    classes_ : ndarray
        Labels of the score columns.
    device : torch.device
        Where ``module`` runs.
    input_estimator : estimator
        The step that validates images.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.explain import ModelAdapter, as_differentiable
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.random((40, 16, 16)), np.arange(40) % 2
    >>> pipe = make_pipeline(CKNTransformer(n_filters=(4, 4), subsamplings=(2, 2),
    ...                                     random_state=0, device="cpu"),
    ...                      LogisticRegression()).fit(X, y)
    >>> adapter = as_differentiable(pipe)
    >>> isinstance(adapter, ModelAdapter), adapter.family
    (True, 'ckn')
    >>> adapter.candidate_layers((16, 16, 1)), adapter.default_layer((16, 16, 1))
    ([(0, (16, 16)), (1, (8, 8))], 1)
    """

    family = None
    forward_predicts = True
    pad_multiple = 1
    memory_format = torch.contiguous_format

    # -- to implement -------------------------------------------------------------------
    @classmethod
    def accepts(cls, estimator):
        """Whether this family handles ``estimator`` (fitted or not).

        Parameters
        ----------
        estimator : object
            An unwrapped estimator.

        Returns
        -------
        accepted : bool
            True if :func:`as_differentiable` should build this adapter for it.
        """
        raise NotImplementedError

    def candidate_layers(self, image_shape):
        """The usual target layers, shallow to deep, with their map sizes.

        Parameters
        ----------
        image_shape : tuple of int
            ``(H, W, C)`` of the images.

        Returns
        -------
        layers : list of (key, (int, int))
            Each layer's key and the ``(h, w)`` of its map for such images.
        """
        raise NotImplementedError

    def layer_key(self, layer):
        """The key of a user's ``layer=`` value.

        Parameters
        ----------
        layer : object
            What the user passed (a name, a module, an index...).

        Returns
        -------
        key : object
            The key that :meth:`forward_from` takes.
        """
        raise NotImplementedError

    def forward_from(self, x, key):
        """Class scores and the target layer's output as a gradient-requiring leaf.

        Parameters
        ----------
        x : Tensor of shape (b, C, H, W)
            Images on ``device``.
        key : object
            A layer key.

        Returns
        -------
        scores : Tensor of shape (b, n_classes)
            Class scores, recorded by autograd from ``act`` on.
        act : Tensor of shape (b, K, h, w)
            The layer's output, a leaf tensor that requires grad.
        """
        raise NotImplementedError

    def layer_name(self, key):
        """A readable name of a layer.

        Parameters
        ----------
        key : object
            A layer key.

        Returns
        -------
        name : str
            The name shown in messages and figures.
        """
        return str(key)

    def threads(self):
        """A context manager for the estimator's CPU threads (default: no change).

        Returns
        -------
        context : context manager
            Entered around every forward and backward pass.
        """
        return contextlib.nullcontext()

    # -- inputs ---------------------------------------------------------------------------
    def validate(self, X):
        """Validate images with the estimator's own checks.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Images.

        Returns
        -------
        images : ndarray of shape (n, H, W, C)
            The validated images.
        """
        est = self.input_estimator
        return validate_images(est, X, reset=False, image_shape=getattr(est, "image_shape", None))

    def to_tensor(self, images):
        """Convert validated images to a float tensor on ``device``.

        Parameters
        ----------
        images : ndarray of shape (b, H, W, C)
            Validated images (``uint8`` ones are scaled to [0, 1]).

        Returns
        -------
        x : Tensor of shape (b, C, H, W)
            Float32 images on ``device``.
        """
        return images_to_tensor(images, self.device, memory_format=self.memory_format)

    def encode(self, labels, n):
        """Column indices of labels in ``classes_``.

        Parameters
        ----------
        labels : label or array-like of shape (n,)
            One label for all images, or one per image.
        n : int
            Number of images.

        Returns
        -------
        indices : ndarray of shape (n,), int64
            The score column of each image's label.
        """
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full(n, labels.item(), dtype=labels.dtype)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(
                f"target must be one label or one label per image ({n}); got an array "
                f"of shape {labels.shape}."
            )
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
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
                f"the estimator's classes_ {self.classes_.tolist()!r}."
            )
        return idx

    # -- layers ---------------------------------------------------------------------------
    def default_layer(self, image_shape):
        """The default target layer for images of ``image_shape``.

        The deepest candidate layer whose map's shorter side is at least
        :func:`default_map_side` of the image; when none is that large, the candidate
        with the largest map.

        Parameters
        ----------
        image_shape : tuple of int
            ``(H, W, C)`` of the images.

        Returns
        -------
        key : object
            The layer's key.
        """
        candidates = self.candidate_layers(image_shape)
        if not candidates:
            raise ValueError(f"The {self.family} model has no candidate target layer: pass layer=.")
        need = default_map_side(*image_shape[:2])
        large = [key for key, (h, w) in candidates if min(h, w) >= need]
        if large:
            return large[-1]
        return max(candidates, key=lambda kv: kv[1][0] * kv[1][1])[0]

    def resolve_layer(self, layer, image_shape):
        """The key of ``layer``, or of the default layer when it is None.

        Parameters
        ----------
        layer : object or None
            A user's ``layer=`` value.
        image_shape : tuple of int
            ``(H, W, C)`` of the images (for the default).

        Returns
        -------
        key : object
            The layer's key.
        """
        if layer is None:
            return self.default_layer(image_shape)
        return self.layer_key(layer)

    # -- forward passes -------------------------------------------------------------------
    def _padded(self, x):
        n, m = x.shape[0], self.pad_multiple
        if m > 1 and n % m:
            pad = x.new_zeros((m - n % m,) + tuple(x.shape[1:]))
            x = torch.cat([x, pad]).contiguous(memory_format=self.memory_format)
        return x, n

    def scores(self, x):
        """Class scores of an image tensor, without autograd.

        Parameters
        ----------
        x : Tensor of shape (b, C, H, W)
            Images on ``device``.

        Returns
        -------
        scores : Tensor of shape (b, n_classes)
            The scores of ``module`` in eval mode.
        """
        with self.threads(), _eval(self.module), torch.no_grad():
            x, n = self._padded(x)
            return self.module(x)[:n]

    def decision_scores(self, X, batch_size=256):
        """Class scores of images, as the explained model computes them.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, H*W*C)
            Images.
        batch_size : int, default=256
            Images per forward pass.

        Returns
        -------
        scores : ndarray of shape (n, n_classes), float64
            One column per class of ``classes_``.
        """
        images = self.validate(X)
        out = []
        for start in range(0, images.shape[0], batch_size):
            x = self.to_tensor(images[start:start + batch_size])
            out.append(self.scores(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.classes_)))

    def activations_and_gradients(self, x, key, target_idx=None):
        """Target activations, the gradients of the target scores, scores and targets.

        Parameters
        ----------
        x : Tensor of shape (b, C, H, W)
            Images on ``device``.
        key : object
            A layer key (:meth:`resolve_layer`).
        target_idx : LongTensor of shape (b,) or None
            Class columns to explain; None: the highest score of each image.

        Returns
        -------
        act : Tensor of shape (b, K, h, w)
            The layer's output, detached.
        grad : Tensor of shape (b, K, h, w)
            ``d score[target] / d act``, detached.
        scores : Tensor of shape (b, n_classes)
            The class scores of the forward pass.
        target_idx : LongTensor of shape (b,)
            The explained class columns.
        """
        with self.threads(), _eval(self.module), torch.enable_grad():
            x, n = self._padded(x)
            scores, act = self.forward_from(x, key)
            scores = scores[:n]
            if target_idx is None:
                target_idx = scores.detach().argmax(dim=1)
            target_idx = target_idx.to(scores.device)
            chosen = scores.gather(1, target_idx[:, None]).sum()
            (grad,) = torch.autograd.grad(chosen, act, allow_unused=True)
            if grad is None:
                raise ValueError("The class scores do not depend on the chosen layer.")
        return act.detach()[:n], grad[:n], scores.detach(), target_idx


# -- CNNClassifier ------------------------------------------------------------------------
def _forward_with_hook(net, x, name, module):
    """Logits of ``net`` and the output of ``module`` as a gradient-requiring leaf.

    The forward pass runs without autograd up to ``module``; a forward hook swaps its
    output for a detached leaf (returning a copy, so that in-place operations
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


class CNNAdapter(ModelAdapter):
    """A fitted :class:`~sklearn_ckn.CNNClassifier`: ``module_``'s logits.

    Layer keys are sub-module names of ``module_``. Candidates for the default are the
    blocks of ``module_.features`` that contain a convolution, up to the last
    convolutional block (``stem``, ``stage1``... of ``"resnet-small"``; ``conv1``,
    ``conv2`` of ``"lenet5"``).
    """

    family = "cnn"
    pad_multiple = 8  # as in CNNClassifier.predict: same convolution code path
    memory_format = torch.channels_last

    @classmethod
    def accepts(cls, estimator):
        from ..cnn import CNNClassifier

        return isinstance(estimator, CNNClassifier)

    def __init__(self, cnn):
        if not hasattr(cnn, "module_"):
            raise _not_fitted("the CNN", cnn)
        self.estimator = self.input_estimator = cnn
        self.module = cnn.module_
        self.classes_ = np.asarray(cnn.classes_)
        device = getattr(cnn, "device_", None)
        if device is None:
            device = next(iter(self.module.parameters())).device
        self.device = torch.device(device)
        self._sizes = {}

    @property
    def forward_predicts(self):
        """False with test-time augmentation or mixed precision (``predict`` differs)."""
        cnn = self.estimator
        return not (getattr(cnn, "test_time_augmentation", False)
                    or getattr(cnn, "mixed_precision", False))

    def threads(self):
        return torch_threads(getattr(self.estimator, "n_jobs", None))

    def candidate_layers(self, image_shape):
        net = self.module
        last = getattr(net, "last_conv_block_name", None)
        names = []
        features = getattr(net, "features", None)
        if isinstance(features, nn.Module):
            for child, module in features.named_children():
                name = f"features.{child}"
                if any(isinstance(m, nn.Conv2d) for m in module.modules()):
                    names.append(name)
                if name == last:
                    break
        if last is not None and last not in names:
            names.append(last)
        return [(name, self._map_size(name, image_shape)) for name in names]

    def _map_size(self, name, image_shape):
        """Output ``(h, w)`` of sub-module ``name`` for images of ``image_shape``."""
        key = (name, tuple(image_shape))
        if key not in self._sizes:
            h, w, c = image_shape
            x = torch.zeros(1, c, h, w, device=self.device).contiguous(
                memory_format=self.memory_format)
            with self.threads(), _eval(self.module), torch.no_grad():
                _, act = _forward_with_hook(self.module, x, name,
                                                 self.module.get_submodule(name))
            self._sizes[key] = tuple(int(s) for s in act.shape[-2:])
        return self._sizes[key]

    def layer_key(self, layer):
        net = self.module
        if isinstance(layer, str):
            try:
                net.get_submodule(layer)
            except AttributeError:
                names = [n for n, _ in net.named_modules() if n][:30]
                raise ValueError(
                    f"The network has no sub-module {layer!r}; names include {names}."
                ) from None
            return layer
        if isinstance(layer, nn.Module):
            for name, module in net.named_modules():
                if module is layer:
                    return name
            raise ValueError("layer is an nn.Module that is not part of the estimator's module_.")
        raise TypeError(
            "For a CNNClassifier, layer must be None, a sub-module name of module_ "
            f"(e.g. {getattr(net, 'last_conv_block_name', 'features')!r}) or an nn.Module; "
            f"got {type(layer).__name__}."
        )

    def forward_from(self, x, key):
        return _forward_with_hook(self.module, x, key, self.module.get_submodule(key))


# -- CKN models ---------------------------------------------------------------------------
class CKNAdapter(ModelAdapter):
    """Shared part of families built on a :class:`~sklearn_ckn.core.layers.CKNSequential`.

    A subclass sets ``self.module`` to a :class:`~sklearn_ckn.core.network.CKNNetwork`
    (CKN layers, feature map, linear head: the one module of every CKN use) and
    ``self.network`` to its layers (``module.ckn``), besides the attributes of
    :class:`ModelAdapter`. Layer keys are layer
    indices; the target is the layer's kernel embedding ``||x|| kappa(Z x / ||x||)``
    of every patch, before pooling and the Nystrom matrix, at the resolution of the
    layer's input.
    """

    family = "ckn"

    def candidate_layers(self, image_shape):
        sizes = self.network.map_sizes(*image_shape[:2])
        return [(i, tuple(sizes[i])) for i in range(len(self.network.layers))]

    def layer_key(self, layer):
        n_layers = len(self.network.layers)
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
            raise TypeError(
                "For a CKN model, layer must be an int (index of a CKN layer, negative "
                f"allowed) or None; got {type(layer).__name__}."
            )
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer={layer} is out of range for a CKN with {n_layers} layer(s).")
        return int(layer) % n_layers

    def layer_name(self, key):
        return f"CKN layer {key} (embedding, before pooling)"

    def forward_from(self, x, key):
        return self.module.forward_from_embedding(x, key)


def _ckn_device(ckn):
    """The CKNTransformer's transform device: its ``device``, else where its network is."""
    try:
        return resolve_device(ckn.device)
    except (ValueError, TypeError):
        return next(iter(ckn.module_.buffers())).device


def _is_linear_classifier(estimator):
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
    from sklearn.svm import LinearSVC

    from ..svm import TorchLinearSVC

    known = (LogisticRegression, RidgeClassifier, SGDClassifier, LinearSVC, TorchLinearSVC)
    return isinstance(estimator, known) or (
        is_classifier(estimator) and hasattr(estimator, "coef_"))


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


class CKNPipelineAdapter(CKNAdapter):
    """A fitted ``Pipeline``: ``CKNTransformer -> [scalers] -> linear classifier``."""

    @classmethod
    def accepts(cls, estimator):
        return isinstance(estimator, Pipeline)

    def __init__(self, pipeline):
        from ..ckn import CKNTransformer

        steps = flatten_steps(pipeline)
        if not steps or not isinstance(steps[0][1], CKNTransformer):
            first = type(steps[0][1]).__name__ if steps else "nothing"
            raise TypeError(
                f"Cannot explain a Pipeline whose first step is {first}: Grad-CAM supports "
                f"{SUPPORTED}."
            )
        if len(steps) < 2:
            raise TypeError(
                "Cannot explain a Pipeline without a final classifier after the "
                f"CKNTransformer: Grad-CAM supports {SUPPORTED}."
            )
        ckn, final = steps[0][1], steps[-1][1]
        final_name = type(final).__name__
        # Fitted or not is checked first: an unfitted pipeline is a NotFittedError
        # whatever its steps, as for the CNN.
        if not hasattr(ckn, "module_"):
            raise _not_fitted("the CKN step of the pipeline", ckn)
        for _, step in steps[1:]:
            if not _is_fitted(step):
                raise NotFittedError(
                    f"The {type(step).__name__} step of the pipeline is not fitted yet: "
                    f"fit the pipeline before explaining it. Grad-CAM supports {SUPPORTED}."
                )
        linear = is_classifier(final) and _is_linear_classifier(final)
        if not linear or not hasattr(final, "coef_"):
            raise TypeError(
                f"Cannot explain a pipeline ending with {final_name}: the final step must be "
                f"a linear classifier with coef_ and intercept_. Grad-CAM supports {SUPPORTED}."
            )
        self.device = _ckn_device(ckn)
        scalers = [scaler_to_torch(step, device=self.device) for _, step in steps[1:-1]]
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
        fitted = ckn.module_
        if next(iter(fitted.buffers())).device != self.device:
            # Never move the fitted module in place: explain with a copy on the device.
            fitted = copy.deepcopy(fitted).to(self.device)
        head = LinearHead(coef, getattr(final, "intercept_", 0.0), device=self.device)
        # The transformer's own module (kernel layers and output steps, as transform
        # runs them), then the scalers and the classifier, in float64, as its head.
        self.module = CKNNetwork(fitted.ckn, fitted.output, nn.Sequential(*scalers, head)).eval()
        self.network = fitted.ckn
        self.classes_ = classes
        self.estimator = pipeline
        self.input_estimator = ckn

    @property
    def forward_predicts(self):
        """False with a mixed-precision transform (``predict`` differs from this pass)."""
        return not getattr(self.input_estimator, "mixed_precision", False)

    def threads(self):
        return torch_threads(getattr(self.input_estimator, "n_jobs", None))


class CKNClassifierAdapter(CKNAdapter):
    """A fitted supervised :class:`~sklearn_ckn.CKNClassifier`: its ``module_``'s scores.

    ``module_`` is a :class:`~sklearn_ckn.core.network.CKNNetwork`: the trained CKN
    layers, the feature standardisation and the linear head.
    """

    @classmethod
    def accepts(cls, estimator):
        from ..ckn import CKNClassifier

        return isinstance(estimator, CKNClassifier)

    def __init__(self, clf):
        if not hasattr(clf, "module_"):
            raise _not_fitted("the supervised CKN", clf)
        self.estimator = self.input_estimator = clf
        self.module = clf.module_
        self.network = clf.module_.ckn
        self.classes_ = np.asarray(clf.classes_)
        device = getattr(clf, "device_", None)
        self.device = torch.device(device) if device is not None else \
            next(iter(self.module.buffers())).device

    @property
    def forward_predicts(self):
        """False with mixed precision (``predict`` differs from the float32 pass)."""
        return not getattr(self.estimator, "mixed_precision", False)

    def threads(self):
        return torch_threads(getattr(self.estimator, "n_jobs", None))


#: Adapter classes, tried in order by :func:`as_differentiable`.
ADAPTERS = [CNNAdapter, CKNPipelineAdapter, CKNClassifierAdapter]


def as_differentiable(estimator):
    """Adapt a fitted estimator into a :class:`ModelAdapter` of its family.

    Parameters
    ----------
    estimator : CNNClassifier, CKNClassifier or Pipeline
        A fitted ``CNNClassifier`` or ``CKNClassifier``, or a fitted ``Pipeline``
        ``CKNTransformer -> [StandardScaler | Normalizer | MaxAbsScaler | MinMaxScaler |
        RobustScaler]* -> linear classifier`` (nested pipelines are flattened). A
        ``FrozenEstimator`` or a fitted search (``best_estimator_``) around one is
        unwrapped.

    Returns
    -------
    model : ModelAdapter
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
    >>> from sklearn_ckn.explain import as_differentiable
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.random((40, 8, 8)), np.arange(40) % 2
    >>> pipe = make_pipeline(CKNTransformer(n_filters=4, subsamplings=2, random_state=0,
    ...                                     device="cpu"), LogisticRegression()).fit(X, y)
    >>> model = as_differentiable(pipe)
    >>> bool(np.allclose(model.decision_scores(X)[:, 1], pipe.decision_function(X)))
    True
    """
    estimator = unwrap(estimator)
    for adapter in ADAPTERS:
        if adapter.accepts(estimator):
            # Tensors made under inference_mode() could not be used with autograd later.
            with torch.inference_mode(False):
                return adapter(estimator)
    raise TypeError(f"Cannot explain a {type(estimator).__name__}: Grad-CAM supports {SUPPORTED}.")
