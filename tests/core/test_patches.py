import pytest
import torch
import torch.nn.functional as F

from sklearn_ckn.core.patches import gather_patches, patch_norms


@pytest.mark.parametrize("p", [1, 2, 3, 5])
def test_gather_matches_unfold_and_norms_match(p):
    x = torch.randn(3, 2, 6, 7, dtype=torch.float64)
    pad = p // 2
    unf = F.unfold(F.pad(x, (pad, p - 1 - pad, pad, p - 1 - pad)), p)  # (B, C*p*p, H*W)
    b = torch.tensor([0, 2, 1, 2])
    r = torch.tensor([0, 5, 3, 2])
    c = torch.tensor([6, 0, 4, 2])
    got = gather_patches(x, b, r, c, p)
    expected = unf[b, :, r * 7 + c]
    assert torch.allclose(got, expected)
    norms = patch_norms(x, p)
    assert torch.allclose(norms[:, 0].reshape(3, -1), unf.norm(dim=1), atol=1e-12)
