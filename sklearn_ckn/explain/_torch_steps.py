"""Torch versions of fitted scikit-learn steps, for differentiating through pipelines.

* :class:`ShiftScale` (``StandardScaler``, ``RobustScaler``, ``MaxAbsScaler``),
  :class:`MinMaxScale` (``MinMaxScaler``), :class:`RowNormalize` (``Normalizer``), built
  from a fitted step by :func:`scaler_to_torch`;
* :class:`LinearHead`: the class scores of a fitted linear classifier.

(``CKNTransformer``'s own output steps are modules of its fitted ``module_``: see
:mod:`sklearn_ckn.core.output`.)

They compute exactly what the scikit-learn steps compute (the tests compare them to
``transform`` / ``decision_function``), in float64 by default. No state is copied
back into the estimators.
"""

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = [
    "SUPPORTED_SCALERS",
    "LinearHead",
    "MinMaxScale",
    "RowNormalize",
    "ShiftScale",
    "scaler_to_torch",
]

SUPPORTED_SCALERS = ("StandardScaler", "Normalizer", "MaxAbsScaler", "MinMaxScaler", "RobustScaler")


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
    kw = {"dtype": dtype, "device": device}
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
