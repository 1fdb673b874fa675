import pytest
import torch

from sklearn_ckn.core.spherical_kmeans import spherical_kmeans


def _unit_rows(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=1)


def _objective(X, c):
    return (X @ c.T).max(dim=1).values.mean().item()


def test_objective_never_decreases_and_centroids_are_unit_norm():
    X = _unit_rows(2000, 8)
    centroids, objectives = spherical_kmeans(X, 32, max_iter=30, tol=0.0, seed=3)
    assert all(b >= a - 1e-6 for a, b in zip(objectives, objectives[1:]))
    assert objectives[-1] > objectives[0]
    assert torch.allclose(centroids.norm(dim=1), torch.ones(32), atol=1e-5)
    # The returned centroids are at least as good as the last recorded assignment.
    assert _objective(X, centroids) >= objectives[-1] - 1e-6


def test_empty_clusters_are_reseeded_at_distinct_points():
    # Heavily duplicated data: random initial centroids collide, clusters go empty.
    base = _unit_rows(12, 4, seed=1)
    X = torch.cat([base.repeat(50, 1), _unit_rows(12, 4, seed=2)])
    centroids, objectives = spherical_kmeans(X, 20, max_iter=20, tol=0.0, seed=0)
    sims = centroids @ centroids.T - torch.eye(20)
    assert sims.max() < 1 - 1e-6, "two centroids ended up identical"
    assert all(b >= a - 1e-6 for a, b in zip(objectives, objectives[1:]))


def test_seed_makes_it_repeatable():
    X = _unit_rows(500, 6)
    a, _ = spherical_kmeans(X, 10, seed=7)
    b, _ = spherical_kmeans(X, 10, seed=7)
    assert torch.equal(a, b)


def test_too_many_clusters_is_an_error():
    with pytest.raises(ValueError, match="Cannot find 11 clusters in 10 points"):
        spherical_kmeans(_unit_rows(10, 3), 11)


def test_bfloat16_products_find_the_same_clusters():
    # The assignment's products in bfloat16 (kmeans_precision="auto" on CPUs with native
    # bfloat16): same clusters on separated data, centroids still unit-norm float32.
    import torch

    from sklearn_ckn.core.spherical_kmeans import spherical_kmeans

    g = torch.Generator().manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(8, 256, generator=g), dim=1)
    labels = torch.arange(800) % 8
    X = torch.nn.functional.normalize(
        centres[labels] + 0.05 * torch.randn(800, 256, generator=g), dim=1)
    start = X[:8]  # one point of each cluster: the same start for both
    full, obj_full = spherical_kmeans(X, 8, init=start)
    low, obj_low = spherical_kmeans(X, 8, init=start, product_dtype=torch.bfloat16)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low.norm(dim=1), torch.ones(8))
    match = (full @ low.T).amax(dim=1)  # every centroid found again
    assert bool((match > 0.999).all())
    assert abs(obj_low[-1] - obj_full[-1]) < 1e-2


def test_fast_product_dtype_keeps_short_rows_and_other_dtypes():
    import torch

    from sklearn_ckn.core.spherical_kmeans import BF16_MIN_FEATURES, fast_product_dtype

    assert fast_product_dtype(torch.zeros(4, BF16_MIN_FEATURES - 1)) == torch.float32
    assert fast_product_dtype(torch.zeros(4, 512, dtype=torch.float64)) == torch.float64
    assert fast_product_dtype(torch.zeros(4, 512)) in (torch.float32, torch.bfloat16)


@pytest.mark.parametrize("k", [1, 2, 64, 256, 1000])
def test_packed_assignment_picks_a_best_centroid_and_its_similarity(k):
    # float32 on a CPU: the centroid index rides in the similarity's low mantissa bits.
    from sklearn_ckn.core.spherical_kmeans import _assign, _packs

    X, centroids = _unit_rows(3000, 27, seed=4), _unit_rows(k, 27, seed=5)
    assert _packs(X, k)
    sims, labels = _assign(X, centroids, chunk=512)
    S = (X.double() @ centroids.double().T)
    chosen = S.gather(1, labels[:, None])[:, 0]
    bits = max(1, (k - 1).bit_length())
    # Within the quantum q the packing leaves of the best similarity; sims holds the
    # chosen similarity rounded down to a multiple of q.
    q = 2.0 ** (bits - 22)
    assert float((S.max(dim=1).values - chosen).max()) <= q
    assert bool(((chosen - sims.double() >= -1e-6) & (chosen - sims.double() <= q + 1e-6)).all())
    # Outside near-ties, the very same centroid as torch.max.
    top2 = S.topk(min(2, k), dim=1).values
    clear = (top2[:, 0] - top2[:, -1] > 2.0 ** (bits - 22)) if k > 1 else torch.ones(3000, dtype=torch.bool)
    assert torch.equal(labels[clear], S.argmax(dim=1)[clear])


def test_other_dtypes_keep_the_exact_assignment():
    from sklearn_ckn.core.spherical_kmeans import PACKED_MAX_CLUSTERS, _assign, _packs

    X = _unit_rows(500, 6).double()
    assert not _packs(X, 8) and not _packs(X.float(), PACKED_MAX_CLUSTERS + 1)
    centroids = X[:8]
    sims, labels = _assign(X, centroids, chunk=128)
    values, expected = (X @ centroids.T).max(dim=1)
    assert torch.equal(labels, expected) and torch.equal(sims, values)
