import torch

from sklearn_ckn.core.local_whitening import LocalPatchWhitening, whiten_images_locally


def _images(n=4, c=3, h=12, w=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g, dtype=torch.float64)


def test_each_image_is_whitened_on_its_own():
    x = _images()
    batch = whiten_images_locally(x)
    one_by_one = torch.cat([whiten_images_locally(x[i:i + 1]) for i in range(len(x))])
    torch.testing.assert_close(batch, one_by_one)
    assert batch.shape == x.shape and batch.dtype == x.dtype


def test_invariant_to_brightness_offset_and_scale():
    # Patch centring removes a constant per channel; the whitening power -1/4 makes
    # the output scale as s^(1 - 2/4) = s^(1/2) under a global rescaling by s.
    x = _images()
    base = whiten_images_locally(x)
    torch.testing.assert_close(whiten_images_locally(x + 0.3), base)
    torch.testing.assert_close(whiten_images_locally(4.0 * x), 2.0 * base)


def test_power_minus_half_whitens_the_patches():
    # With the full inverse square root, the re-extracted patches' second moment is
    # close to a projection (eigenvalues near 0 or a common value), unlike the input's.
    x = _images(n=1, c=1, h=24, w=24)
    y = whiten_images_locally(x, power=-0.5)
    p = torch.nn.functional.unfold(y, 3)[0]
    evals = torch.linalg.eigvalsh(p @ p.T)
    big = evals[evals > 1e-6 * evals.max()]
    p0 = torch.nn.functional.unfold(x, 3)[0]
    e0 = torch.linalg.eigvalsh(p0 @ p0.T)
    assert big.max() / big.min() < (e0.max() / e0[e0 > 0].min()) / 10


def test_flat_and_tiny_images_pass_through_without_nans():
    flat = torch.ones(2, 3, 8, 8)
    assert torch.isfinite(whiten_images_locally(flat)).all()
    tiny = torch.rand(2, 1, 2, 2)
    torch.testing.assert_close(whiten_images_locally(tiny), tiny)
    assert "patch_size=3" in repr(LocalPatchWhitening())
