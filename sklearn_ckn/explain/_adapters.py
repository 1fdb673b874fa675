"""Fitted estimators as differentiable torch models, for Grad-CAM: one adapter per family.

:func:`as_differentiable` finds the adapter class that accepts an estimator (after
unwrapping a ``FrozenEstimator`` or a fitted search's ``best_estimator_``) and returns
an instance: a :class:`~sklearn_ckn.explain._adapter_base.ModelAdapter` (its module
docstring describes the interface of a family).

The package's estimators describe themselves through one protocol, ``_explainable()``
(:class:`sklearn_ckn._explainable.Explainable`: the fitted module unchanged, its
device, a context for the threads and precision of ``predict``, the batch padding and
layout), so an explanation runs the computation ``predict`` runs. The families differ
only in where the target layers are:

:class:`CNNAdapter`
    A fitted :class:`~sklearn_ckn.CNNClassifier`; its ``module_`` (``normalize ->
    features -> head``) is the model and the scores are its logits. Target layers:
    the blocks of ``module_.features`` that contain a convolution, up to
    ``module_.last_conv_block_name``; any sub-module name (or the module itself) with
    a ``(b, K, h, w)`` output may be given.
:class:`CKNAdapter`
    A fitted supervised :class:`~sklearn_ckn.CKNClassifier`: its ``module_`` (a
    :class:`~sklearn_ckn.core.network.CKNNetwork`). Target layers: the CKN layers by
    index, each explained at its kernel embedding before pooling.
:class:`CKNPipelineAdapter`
    A fitted :class:`~sklearn.pipeline.Pipeline` ``CKNTransformer -> [scalers] ->
    linear classifier``: the transformer's own ``module_`` (kernel layers and output
    steps, what ``transform`` runs) with, as its head, torch versions of the scalers
    and a linear head built from ``coef_`` and ``intercept_``; the scores are the
    ``decision_function`` (``-s`` / ``+s`` for two classes). Nested pipelines are
    flattened, ``"passthrough"`` steps skipped.

Adding a family is one subclass of ``ModelAdapter`` appended to :data:`ADAPTERS`.
"""

import threading
from dataclasses import replace

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..core.network import CKNNetwork
from ._adapter_base import (
    SUPPORTED,
    ModelAdapter,
    _eval,
    _not_fitted,
    default_map_side,
    flatten_steps,
    unwrap,
)
from ._docs import example_doc
from ._torch_steps import LinearHead, scaler_to_torch

__all__ = [
    "ADAPTERS",
    "SUPPORTED",
    "CKNAdapter",
    "CKNPipelineAdapter",
    "CNNAdapter",
    "ModelAdapter",
    "as_differentiable",
    "default_map_side",
    "flatten_steps",
    "unwrap",
]


# -- CNNClassifier ------------------------------------------------------------------------
def _forward_with_hook(net, x, name, module):
    """Logits of ``net`` and the output of ``module`` as a gradient-requiring leaf.

    The forward pass runs without autograd up to ``module``; a forward hook swaps its
    output for a detached leaf (returning a copy, so that in-place operations
    downstream, e.g. ``ReLU(inplace=True)``, leave the leaf intact) and turns autograd
    on for the rest of the pass. The hook is removed afterwards. It acts only on the
    calling thread's pass: the module is shared, and a forward pass of the same network
    in another thread (another Grad-CAM, a ``predict``) runs its own hooks and leaves
    this one alone.
    """
    captured = []
    owner = threading.get_ident()

    def hook(mod, inputs, output):
        if threading.get_ident() != owner:
            return None
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


class _EstimatorAdapter(ModelAdapter):
    """Base of the families of the package's own estimators, which name their family
    (``_explain_family``) and hand their fitted module over (``_explainable()``)."""

    @classmethod
    def accepts(cls, estimator):
        return getattr(estimator, "_explain_family", None) == cls.family

    def _adopt_fitted(self, estimator, what):
        """Take over ``estimator``'s module; a ``NotFittedError`` naming ``what`` if unfitted."""
        if not hasattr(estimator, "module_"):
            raise _not_fitted(what, estimator)
        self._adopt(estimator._explainable(), estimator)


class CNNAdapter(_EstimatorAdapter):
    """A fitted :class:`~sklearn_ckn.CNNClassifier`: ``module_``'s logits.

    Layer keys are sub-module names of ``module_``. Candidates for the default are the
    blocks of ``module_.features`` that contain a convolution, up to the last
    convolutional block (``stem``, ``stage1``... of ``"resnet-small"``; ``conv1``,
    ``conv2`` of ``"lenet5"``).
    """

    family = "cnn"

    def __init__(self, cnn):
        self._adopt_fitted(cnn, "the CNN")
        self._sizes = {}

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
class CKNAdapter(_EstimatorAdapter):
    """A fitted estimator whose module is a :class:`~sklearn_ckn.core.network.CKNNetwork`.

    The supervised :class:`~sklearn_ckn.CKNClassifier` (its ``module_``: trained CKN
    layers, output steps, linear head; the scores are its logits), and the base of
    :class:`CKNPipelineAdapter`. Layer keys are layer indices; the target is the
    layer's kernel embedding ``||x|| kappa(Z x / ||x||)`` of every patch, before
    pooling and the Nystrom matrix, at the resolution of the layer's input.
    """

    family = "ckn"

    def __init__(self, clf):
        self._adopt_fitted(clf, "the supervised CKN")

    @property
    def network(self):
        """The CKN layers (``module.ckn``)."""
        return self.module.ckn

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
        spec = ckn._explainable()
        scalers = [scaler_to_torch(step, device=spec.device) for _, step in steps[1:-1]]
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
        head = LinearHead(coef, getattr(final, "intercept_", 0.0), device=spec.device)
        # The transformer's own module (kernel layers and output steps, as transform
        # runs them), then the scalers and the classifier, in float64, as its head.
        fitted = spec.module
        module = CKNNetwork(fitted.ckn, fitted.output, nn.Sequential(*scalers, head)).eval()
        self._adopt(replace(spec, module=module, classes=classes), pipeline, input_estimator=ckn)


#: Adapter classes, tried in order by :func:`as_differentiable`.
ADAPTERS = [CNNAdapter, CKNPipelineAdapter, CKNAdapter]


@example_doc
def as_differentiable(estimator):
    """Adapt a fitted estimator into a :class:`ModelAdapter` of its family.

    Parameters
    ----------
    estimator : CNNClassifier, CKNClassifier or Pipeline
        A fitted ``CNNClassifier`` or ``CKNClassifier`` (any estimator whose
        ``_explainable()`` describes its module), or a fitted ``Pipeline``
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

    See Also
    --------
    sklearn_ckn.explain.ModelAdapter : The interface it returns.
    sklearn_ckn.explain.grad_cam : Class activation maps of fitted estimators.

    Examples
    --------
    {fitted_pipeline}
    >>> from sklearn_ckn.explain import as_differentiable
    >>> adapter = as_differentiable(model)
    >>> bool(np.allclose(adapter.decision_scores(X)[:, 1], model.decision_function(X)))
    True
    """
    estimator = unwrap(estimator)
    for adapter in ADAPTERS:
        if adapter.accepts(estimator):
            # Tensors made under inference_mode() could not be used with autograd later.
            with torch.inference_mode(False):
                return adapter(estimator)
    raise TypeError(f"Cannot explain a {type(estimator).__name__}: Grad-CAM supports {SUPPORTED}.")
