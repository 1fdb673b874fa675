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
