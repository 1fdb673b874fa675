"""The output steps of a CKN: from the flattened last map to the feature vector.

:class:`FeatureOutput` applies, in this order and each only when configured:

1. :class:`SignedPower`: ``sign(f) |f|^power`` per feature (the power normalisation
   of Perronnin et al., 2010), which damps the few large activations that dominate a
   linear model's dot products;
2. :class:`FlooredRowNormalize`: each row divided by ``max(||row||_2, floor)``, with
   the floor a thousandth of the training rows' median norm (nearly blank images are
   not blown up to unit norm);
3. :class:`Standardize`: ``(f - shift) / scale`` per feature, fitted on training rows.

:func:`fit_feature_output` learns the statistics of steps 2 and 3 from training
features. The steps are the only implementation of the CKN's output: the
transformer's ``transform``, the supervised CKN's head input and Grad-CAM all run
these modules. Everything is differentiable (the signed power with a floored
derivative at 0), so the supervised CKN trains through them.
"""

import torch
from torch import nn

from ._config import ConfigurableModule

__all__ = [
    "MIN_POWER",
    "FeatureOutput",
    "FlooredRowNormalize",
    "SignedPower",
    "Standardize",
    "fit_feature_output",
]

#: Standard deviation of every feature after a fitted :class:`Standardize`: with
#: ``LinearSVC()`` (``C=1``) this is ``StandardScaler()`` and ``C=0.0064``, which
#: liblinear's dual solver reaches within its 1,000 iterations on CKN features (with 0.1,
#: the README's quick start stopped at the limit with a ``ConvergenceWarning``; digits
#: 0.9855 against 0.9861, same accuracy within one image per fold).
OUTPUT_STD = 0.08

#: Smallest exponent of :class:`SignedPower`. In float32, ``|f|^p = exp(p ln|f|)`` is
#: ``1 + p ln|f|`` up to a rounding step of about 6e-8: below ``p`` of about 1e-7
#: every non-zero feature rounds to +-1, so that standardised features are all zero,
#: and for features a million times apart ``p = 0.01`` still leaves a difference of
#: 0.14, over a million rounding steps. Smaller exponents only approach ``sign(f)``.
MIN_POWER = 0.01

#: A feature whose standard deviation on the training rows is at most this many
#: float32 rounding steps of its magnitude is constant (its spread is rounding noise).
NOISE_ULPS = 8


class _SignedPowerFunction(torch.autograd.Function):
    """``sign(x) |x|^p`` with the derivative's ``|x|`` floored (finite at and near 0)."""

    @staticmethod
    def forward(ctx, x, power, rel_floor):
        ctx.save_for_backward(x)
        ctx.power, ctx.rel_floor = power, rel_floor
        return torch.sign(x) * x.abs().pow(power)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        rms = x.pow(2).mean(dim=-1, keepdim=True).sqrt()
        floor = (ctx.rel_floor * rms).clamp_min(torch.finfo(x.dtype).tiny)
        return grad * ctx.power * torch.maximum(x.abs(), floor).pow(ctx.power - 1), None, None


class SignedPower(nn.Module):
    """``sign(x) |x|^power`` per feature; the identity for ``power=1``.

    The forward pass is exact. The derivative ``power |x|^(power - 1)`` is infinite at
    0, so the backward pass floors ``|x|`` at ``rel_floor`` times the row's RMS: a
    feature that is exactly zero gets a large but finite gradient instead of NaN.

    Parameters
    ----------
    power : float
        Exponent in (0, 1]; estimators accept [:data:`MIN_POWER`, 1] only.
    rel_floor : float, default=1e-3
        Floor of ``|x|`` in the derivative, relative to the row's RMS.

    See Also
    --------
    sklearn_ckn.core.output.FeatureOutput : The output steps it belongs to.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.output import SignedPower
    >>> SignedPower(0.5)(torch.tensor([[-4.0, 9.0]]))
    tensor([[-2.,  3.]])
    """

    def __init__(self, power=1.0, rel_floor=1e-3):
        super().__init__()
        if not 0.0 < float(power) <= 1.0:  # NaN fails both comparisons
            raise ValueError(f"power must be in (0, 1], got {power!r}.")
        self.power = float(power)
        self.rel_floor = float(rel_floor)

    def extra_repr(self):
        return f"power={self.power}"

    def forward(self, x):
        if self.power == 1.0:
            return x
        return _SignedPowerFunction.apply(x, self.power, self.rel_floor)


class FlooredRowNormalize(nn.Module):
    """Divide each row by ``max(||row||_2, floor)``, the norm summed in float64.

    Parameters
    ----------
    floor : float, default=1.0
        Smallest divisor (a fitted buffer: see :func:`fit_feature_output`).

    See Also
    --------
    sklearn.preprocessing.Normalizer : Row normalisation without a floor.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.output import FlooredRowNormalize
    >>> FlooredRowNormalize(1.0)(torch.tensor([[3.0, 4.0], [0.3, 0.4]]))
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """

    def __init__(self, floor=1.0):
        super().__init__()
        self.register_buffer("floor", torch.tensor(float(floor), dtype=torch.float64))

    def forward(self, x):
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True, dtype=torch.float64)
        return x / norms.clamp_min(self.floor).to(x.dtype)


class Standardize(nn.Module):
    """``(x - shift) / scale`` per feature, with fixed (fitted) ``shift`` and ``scale``.

    Parameters
    ----------
    n_features : int
        Number of features; ``shift`` starts at 0 and ``scale`` at 1.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The scikit-learn step it mirrors.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.output import Standardize
    >>> std = Standardize(2)
    >>> std.set_statistics([1.0, 2.0], [2.0, 4.0])
    >>> std(torch.tensor([[3.0, 6.0]]))
    tensor([[1., 1.]])
    """

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("shift", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    @torch.no_grad()
    def set_statistics(self, shift, scale):
        """Install fitted statistics.

        Parameters
        ----------
        shift : array-like of shape (n_features,)
            Subtracted from each feature.
        scale : array-like of shape (n_features,)
            Divides each centred feature.
        """
        self.shift.copy_(torch.as_tensor(shift))
        self.scale.copy_(torch.as_tensor(scale))

    def forward(self, x):
        return (x - self.shift.to(x.dtype)) / self.scale.to(x.dtype)


class FeatureOutput(ConfigurableModule, nn.Module):
    """The output steps of a CKN (see the module docstring), each optional.

    Parameters
    ----------
    n_features : int
        Length of the flattened last map.
    power : float, default=1.0
        Exponent of the signed power (1: none).
    row_normalize : bool, default=False
        Whether rows are divided by their floored L2 norm.
    standardize : bool, default=False
        Whether features are shifted and scaled.

    See Also
    --------
    sklearn_ckn.core.output.fit_feature_output : Fits its statistics.
    sklearn.preprocessing.StandardScaler : Per-feature scaling in scikit-learn.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.output import FeatureOutput
    >>> out = FeatureOutput(2, power=0.5, row_normalize=True)
    >>> out(torch.tensor([[9.0, 16.0]]))
    tensor([[0.6000, 0.8000]])
    """

    def __init__(self, n_features, power=1.0, row_normalize=False, standardize=False):
        super().__init__()
        self.n_features = int(n_features)
        self.power = SignedPower(power)
        self.row_normalize = FlooredRowNormalize() if row_normalize else None
        self.standardize = Standardize(self.n_features) if standardize else None

    @property
    def config(self):
        """Constructor arguments: ``FeatureOutput.from_config(out.config)`` rebuilds it (unfitted)."""
        return {
            "n_features": self.n_features,
            "power": self.power.power,
            "row_normalize": self.row_normalize is not None,
            "standardize": self.standardize is not None,
        }

    def forward(self, x):
        x = self.power(x)
        if self.row_normalize is not None:
            x = self.row_normalize(x)
        if self.standardize is not None:
            x = self.standardize(x)
        return x

    def apply_(self, features, chunk=256):
        """Apply the steps in place to a float32 array or tensor, by blocks of rows.

        Parameters
        ----------
        features : ndarray or torch.Tensor of shape (n, n_features)
            Flattened last maps (a NumPy array is modified through a shared tensor).
        chunk : int, default=256
            Rows per block (blocks stay in cache; no copy of the whole array).

        Returns
        -------
        features : ndarray or torch.Tensor
            The same object, transformed.
        """
        rows = torch.as_tensor(features)
        with torch.no_grad():
            for start in range(0, rows.shape[0], chunk):
                block = rows[start:start + chunk]
                block.copy_(self(block))
        return features


def _median_floor(norms):
    """A thousandth of the median norm (1 when the median is 0)."""
    median = float(torch.quantile(norms, 0.5))  # interpolated, as numpy's median
    return 1e-3 * median if median > 0 else 1.0


@torch.no_grad()
def fit_feature_output(output, features):
    """Fit the statistics of ``output``'s row normalisation and standardisation.

    Parameters
    ----------
    output : FeatureOutput
        Its steps are fitted in place; ``power`` is applied first, as in ``forward``.
    features : torch.Tensor of shape (n, n_features)
        Training rows (flattened last maps), before any output step.

    Returns
    -------
    output : FeatureOutput
        The same module.

    Notes
    -----
    The statistics are computed in float64. The row-norm floor is a thousandth of the
    training rows' median norm. Features that barely vary (e.g. image corners no
    stroke reaches) are not blown up: their standard deviation is floored at a
    hundredth of the mean standard deviation; every feature is then scaled to a
    standard deviation of :data:`OUTPUT_STD` (0.08), which suits scikit-learn's linear
    models at their default ``C``. A spread of at most :data:`NOISE_ULPS` float32
    rounding steps of a feature's magnitude is rounding noise, not variation: when
    every feature is constant in that sense (e.g. identical training images), the
    floor is the root mean square of the features, so that other images get
    features of order :data:`OUTPUT_STD` times their relative difference, not
    rounding noise divided by rounding noise.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ckn.core.output import FeatureOutput, fit_feature_output
    >>> x = torch.randn(100, 3) * torch.tensor([1.0, 5.0, 20.0])
    >>> out = fit_feature_output(FeatureOutput(3, standardize=True), x)
    >>> out(x).std(0, unbiased=False)
    tensor([0.0800, 0.0800, 0.0800])
    """
    # The power in the features' own precision, as ``forward`` applies it.
    f = output.power(features).to(torch.float64)
    if output.row_normalize is not None:
        norms = torch.linalg.vector_norm(f, dim=1)
        output.row_normalize.floor.fill_(_median_floor(norms))
        f = f / norms.clamp_min(output.row_normalize.floor)[:, None]
    if output.standardize is not None:
        mean = f.mean(0)
        std = f.std(0, unbiased=False)
        # float32 features: a spread within a few rounding steps of the value is noise
        noise = NOISE_ULPS * torch.finfo(torch.float32).eps * f.abs().amax(0)
        std = torch.where(std > noise, std, torch.zeros_like(std))
        spread = float(std.mean())
        rms = float(f.pow(2).mean().sqrt())
        if spread > 0:
            floor = max(0.01 * spread, NOISE_ULPS * torch.finfo(torch.float32).eps * rms)
        else:  # every feature constant: scale by the features' own magnitude
            floor = rms if rms > 0 else 1.0
        std = std.clamp_min(floor)
        output.standardize.set_statistics(mean.float(), (std / OUTPUT_STD).float())
    return output
