"""The interface of the adapters that make fitted estimators differentiable (Grad-CAM).

:class:`ModelAdapter` maps image tensors ``(b, C, H, W)`` to class scores
``(b, n_classes)`` and exposes the feature maps Grad-CAM weights. A family (see
:mod:`sklearn_ckn.explain._adapters`) implements:

``accepts(estimator) -> bool`` (classmethod)
    Whether the family handles this (unwrapped) estimator, fitted or not, so that an
    unfitted one gets this family's ``NotFittedError``.
``__init__(estimator)``
    Check that it is fitted (raise :class:`~sklearn.exceptions.NotFittedError`) and
    supported (``TypeError``), and set ``estimator``, ``module`` (images to scores),
    ``classes_`` (the score columns' labels), ``device`` and ``input_estimator`` (the
    step whose ``n_features_in_`` / ``image_shape`` validate images). The package's
    estimators hand all of it over in one object, their ``_explainable()``
    (:class:`sklearn_ckn._explainable.Explainable`), which :meth:`ModelAdapter._adopt`
    takes.
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
manager for the estimator's threads and precision), ``pad_multiple`` (batches are
zero-padded to a multiple of it), ``validate(X)`` (default: the image checks of
``input_estimator``).

The fitted modules are shared, never copied or modified: gradients are taken with
:func:`torch.autograd.grad` with respect to the target activation only, so no
parameter or buffer gets a ``.grad`` or changes its ``requires_grad`` flag, and the
estimator predicts exactly as before.
"""

import contextlib
import math

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from .._images import images_to_tensor, validate_images
from ..core.batching import pad_to_multiple
from ._torch_steps import SUPPORTED_SCALERS

__all__ = ["SUPPORTED", "ModelAdapter", "default_map_side", "flatten_steps", "unwrap"]

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
#: benchmark case ``explain.localisation``: maps of 4x4 or less (the last residual stage
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

    See Also
    --------
    sklearn_ckn.explain.as_differentiable : The adapter of a fitted estimator.
    sklearn_ckn.explain.grad_cam : Class activation maps through an adapter.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ckn import CKNTransformer
    >>> from sklearn_ckn.explain import ModelAdapter, as_differentiable, make_localisation_task
    >>> X, y, _ = make_localisation_task(40, 16, random_state=0)
    >>> ckn = CKNTransformer(n_filters=(4, 4), subsamplings=(2, 2), random_state=0, device="cpu")
    >>> adapter = as_differentiable(make_pipeline(ckn, LogisticRegression()).fit(X, y))
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
        """A context manager for the estimator's threads and precision.

        Default: the ``context`` of the estimator's :class:`~sklearn_ckn._explainable.Explainable`
        when the adapter was made from one, else no change.

        Returns
        -------
        context : context manager
            Entered around every forward and backward pass.
        """
        spec = getattr(self, "explainable", None)
        return contextlib.nullcontext() if spec is None else spec.context()

    def _adopt(self, spec, estimator, input_estimator=None):
        """Take the module and its running conditions from an estimator's ``Explainable``."""
        self.explainable = spec
        self.estimator = estimator
        self.input_estimator = estimator if input_estimator is None else input_estimator
        self.module = spec.module
        self.device = torch.device(spec.device)
        self.classes_ = None if spec.classes is None else np.asarray(spec.classes)
        self.memory_format = spec.memory_format
        self.pad_multiple = spec.pad_multiple
        self.forward_predicts = spec.forward_predicts

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
        return pad_to_multiple(x, self.pad_multiple, memory_format=self.memory_format)

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
