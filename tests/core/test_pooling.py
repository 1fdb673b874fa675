import math

import pytest
import torch

from sklearn_ckn.core.pooling import gaussian_pool, pooled_size, pooling_kernel, pooling_matrix


@pytest.mark.parametrize("size,s", [(8, 2), (7, 2), (14, 4), (3, 6), (1, 4), (32, 6)])
def test_output_size_is_ceil_and_never_below_one(size, s):
    assert pooled_size(size, s) == max(1, math.ceil(size / s))
    assert pooling_matrix(size, s).shape == (pooled_size(size, s), size)


def test_interior_rows_sum_to_one_and_are_centred():
    mat = pooling_matrix(40, 4, dtype=torch.float64)
    for o in range(1, mat.shape[0] - 2):
        assert mat[o].sum().item() == pytest.approx(1.0)
        weights = mat[o]
        centre = (weights * torch.arange(40, dtype=torch.float64)).sum().item()
        assert centre == pytest.approx(4 * o)


def test_matrix_pooling_equals_strided_gaussian_convolution():
    s = 3
    x = torch.randn(2, 4, 11, 9, dtype=torch.float64)
    sigma = s / math.sqrt(2)
    taps = torch.arange(-s, s + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (taps / sigma) ** 2)
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(4, 1, 2 * s + 1, 2 * s + 1)
    ref = torch.nn.functional.conv2d(x, kernel, stride=s, padding=s, groups=4)
    assert torch.allclose(gaussian_pool(x, s), ref, atol=1e-12)


def test_subsampling_one_is_identity():
    x = torch.randn(1, 2, 5, 5)
    assert gaussian_pool(x, 1) is x


@pytest.mark.parametrize("size, s", [(16, 4), (32, 2), (11, 3), (7, 5), (1, 4)])
def test_depthwise_convolution_equals_the_separable_matrix_products(size, s):
    # gaussian_pool pools (B, C, H, W) maps by a depthwise convolution, other shapes
    # by the products with pooling_matrix: both are the same map.
    x = torch.randn(3, 5, size, size + 1, dtype=torch.float64)
    p_h = pooling_matrix(size, s, dtype=torch.float64)
    p_w = pooling_matrix(size + 1, s, dtype=torch.float64)
    separable = torch.matmul(p_h, torch.matmul(x, p_w.T))
    torch.testing.assert_close(gaussian_pool(x, s), separable)
    torch.testing.assert_close(gaussian_pool(x[0], s), separable[0])  # 3-D: the products
    strided = x.transpose(-1, -2).contiguous().transpose(-1, -2)  # same values, not contiguous
    torch.testing.assert_close(gaussian_pool(strided, s), separable)
    kernel = pooling_kernel(s, 5, dtype=torch.float64)
    assert torch.equal(gaussian_pool(x, s, kernel), gaussian_pool(x, s))


def test_channels_last_maps_are_pooled_like_contiguous_ones():
    x = torch.randn(2, 6, 16, 16, dtype=torch.float64)
    ref = gaussian_pool(x, 4)
    out = gaussian_pool(x.contiguous(memory_format=torch.channels_last), 4)
    assert out.shape == ref.shape == (2, 6, 4, 4)
    torch.testing.assert_close(out, ref)
