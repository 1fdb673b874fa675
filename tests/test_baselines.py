"""KernelSVC's gamma="scale": the variance in float64, zero and extreme variances."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.svm import SVC

from sklearn_ckn import KernelSVC

Y = np.repeat([0, 1], 10)


def _features(scale, dtype=np.float32, seed=0):
    return (np.random.default_rng(seed).normal(size=(20, 3)) * scale).astype(dtype)


def test_scale_gamma_of_huge_float32_features_is_computed_in_float64():
    X = _features(1e19)
    # Before: X.var() in float32 overflowed to inf, so gamma_ was 0.0 (a constant kernel).
    clf = KernelSVC().fit(X, Y)
    expected = 1.0 / (3 * X.astype(np.float64).var())
    assert clf.gamma_ == pytest.approx(expected, rel=1e-12) and clf.gamma_ > 0
    assert clf.gamma_ == pytest.approx(SVC(gamma="scale").fit(X.astype(np.float64), Y)._gamma)


def test_scale_gamma_of_constant_features_is_one_as_in_svc():
    X = np.full((20, 3), 7.0)
    assert KernelSVC().fit(X, Y).gamma_ == 1.0 == SVC(gamma="scale").fit(X, Y)._gamma


@pytest.mark.parametrize("scale", [1e160, 1e-170])
def test_scale_gamma_refuses_a_variance_beyond_float64(scale):
    X = _features(scale, dtype=np.float64)
    # Beyond 1e150 the magnitude check refuses the features first (same advice).
    with pytest.raises(ValueError, match=r"(gamma='scale' is undefined|at most 1e\+150)"
                                         r".*StandardScaler"):
        KernelSVC().fit(X, Y)
    assert KernelSVC(gamma=1e-3).fit(_features(1.0), Y).gamma_ == 1e-3  # a number: as given


@settings(max_examples=30, deadline=None)
@given(exponent=st.integers(-15, 19), dtype=st.sampled_from([np.float32, np.float64]))
def test_property_scale_gamma_matches_the_float64_variance(exponent, dtype):
    X = _features(10.0**exponent, dtype=dtype, seed=exponent % 7)
    gamma = KernelSVC(exact_max_samples=100).fit(X, Y).gamma_
    assert np.isfinite(gamma) and gamma > 0
    assert gamma == pytest.approx(1.0 / (3 * X.astype(np.float64).var()), rel=1e-9)


def test_features_whose_squared_distances_overflow_are_refused():
    # Values near 1e154 made the RBF kernel's squared distances overflow float64: NaN
    # scores. They are refused with a clear message, in fit and in predict.
    import numpy as np
    import pytest

    from sklearn_ckn import KernelSVC

    X = np.random.default_rng(0).normal(size=(12, 4))
    y = np.arange(12) % 2
    with pytest.raises(ValueError, match="at most 1e\\+150.*StandardScaler"):
        KernelSVC().fit(X * 1e154, y)
    svc = KernelSVC().fit(X, y)
    with pytest.raises(ValueError, match="at most 1e\\+150"):
        svc.decision_function(X * 1e154)
    assert np.isfinite(svc.decision_function(X * 1e140)).all()
