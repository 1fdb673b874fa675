"""Tests of the CKN output steps (:mod:`sklearn_ckn.core.output`)."""

import numpy as np
import pytest
import torch

from sklearn_ckn.core.output import (
    OUTPUT_STD,
    FeatureOutput,
    fit_feature_output,
)


def test_signed_power_is_exact_forward_and_finite_backward():
    from sklearn_ckn.core.output import SignedPower

    x = torch.tensor([[4.0, -9.0, 0.0, 1e-12]], dtype=torch.float64, requires_grad=True)
    out = SignedPower(0.5)(x)
    torch.testing.assert_close(out.detach(), torch.tensor([[2.0, -3.0, 0.0, 1e-6]], dtype=torch.float64))
    out.sum().backward()
    grad = x.grad[0]
    assert torch.isfinite(grad).all()
    torch.testing.assert_close(grad[:2], torch.tensor([0.25, 1 / 6], dtype=torch.float64))
    # at and near 0: the derivative at the floor (1e-3 of the row's RMS), not infinity
    floor = 1e-3 * x.detach().pow(2).mean().sqrt()
    torch.testing.assert_close(grad[2:], (0.5 / floor.sqrt()).expand(2))
    assert SignedPower(1.0)(x) is x


def test_floored_row_normalize():
    from sklearn_ckn.core.output import FlooredRowNormalize

    x = torch.tensor([[3.0, 4.0], [0.0, 0.1]], dtype=torch.float64)
    out = FlooredRowNormalize(0.5)(x)
    torch.testing.assert_close(out, torch.tensor([[0.6, 0.8], [0.0, 0.2]], dtype=torch.float64))


@pytest.mark.parametrize("power", [1.0, 0.5])
@pytest.mark.parametrize("rows", [False, True])
def test_fitted_output_matches_its_definition(power, rows):
    # Power, then rows divided by max(norm, 1e-3 median norm), then (f - mean) / (10 std),
    # the statistics in float64 on the training rows (NumPy as the reference).
    rng = np.random.default_rng(0)
    raw = (rng.standard_normal((50, 6)) * [1, 2, 3, 4, 5, 0]).astype(np.float32)
    raw[0] = 0.0  # a blank row: floored norm, zero features before standardising
    out = fit_feature_output(FeatureOutput(6, power, rows, standardize=True),
                             torch.from_numpy(raw))
    f = (np.sign(raw) * np.abs(raw) ** power).astype(np.float64)
    if rows:
        norms = np.linalg.norm(f, axis=1)
        floor = 1e-3 * np.median(norms)
        assert float(out.row_normalize.floor) == pytest.approx(floor, rel=1e-6)
        f = f / np.maximum(norms, floor)[:, None]
    std = f.std(axis=0)
    std = np.maximum(std, 0.01 * std.mean())  # the constant column is not blown up
    expected = (f - f.mean(axis=0)) / (std / OUTPUT_STD)
    got = out(torch.from_numpy(raw)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # apply_ computes the same, in place, by blocks.
    copy = raw.copy()
    assert out.apply_(copy, chunk=7) is copy
    np.testing.assert_array_equal(copy, got)


def test_output_config_rebuilds_the_same_structure():
    out = FeatureOutput(4, power=0.5, row_normalize=True, standardize=False)
    rebuilt = FeatureOutput(**out.config)
    assert rebuilt.config == out.config == {
        "n_features": 4, "power": 0.5, "row_normalize": True, "standardize": False,
    }
    assert sorted(rebuilt.state_dict()) == ["row_normalize.floor"]


# -- issue 28: constant features, rounding noise --------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(exponent=st.integers(-30, 30), n=st.integers(2, 40), rows=st.booleans(),
       seed=st.integers(0, 2**16))
def test_rounding_noise_is_not_blown_up(exponent, n, rows, seed):
    # Identical training rows up to float32 rounding (identical images through
    # batches of different sizes): the scale was 1e-18 and other rows got 1e16.
    rng = np.random.default_rng(seed)
    base = rng.random(16) * 10.0**exponent
    eps = np.finfo(np.float32).eps
    noisy = base * (1 + eps * rng.integers(-2, 3, size=(n, 16)))
    features = torch.tensor(noisy, dtype=torch.float32)
    out = fit_feature_output(FeatureOutput(16, row_normalize=rows, standardize=True), features)
    f = out.power(features).double()
    if rows:
        f = f / f.norm(dim=1, keepdim=True)
    rms = float(f.pow(2).mean().sqrt())
    scale = out.standardize.scale.double()
    assert float(scale.min()) >= rms / OUTPUT_STD * (1 - 1e-5)  # the features' magnitude
    other = torch.tensor(rng.random((3, 16)) * 10.0**exponent, dtype=torch.float32)
    transformed = out(other)
    assert torch.isfinite(transformed).all() and float(transformed.abs().max()) < 10


def test_a_constant_feature_among_varying_ones_keeps_the_relative_floor():
    x = torch.randn(200, 3, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.0]) + 7.0
    out = fit_feature_output(FeatureOutput(3, standardize=True), x)
    std = x.std(0, unbiased=False)
    floor = 0.01 * float(std.mean())
    torch.testing.assert_close(out.standardize.scale.double(),
                               torch.stack([std[0], std[1], torch.tensor(floor, dtype=torch.float64)])
                               / OUTPUT_STD, rtol=1e-5, atol=0)


def test_all_zero_features_keep_a_unit_floor():
    out = fit_feature_output(FeatureOutput(4, standardize=True), torch.zeros(5, 4))
    assert torch.equal(out.standardize.scale, torch.full((4,), 1 / OUTPUT_STD))
