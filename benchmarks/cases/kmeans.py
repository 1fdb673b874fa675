"""Spherical k-means against scikit-learn's Lloyd ``KMeans`` on real CIFAR-10 CKN patches.

Both run in the same process, alternately, from the same initial centroids for the
same number of iterations (and faiss-cpu's spherical ``Kmeans`` on every point, where
it is installed: ``pip install faiss-cpu``; not a dependency of the package) (``tol=0``; scikit-learn's KMeans is Euclidean, but on unit
vectors an iteration of either costs the same products and reductions):

* layer 1 of the CIFAR-10 CKNs: whitened 3x3x3 patches (d=27), k=64 and k=256;
* layer 2 of the 256/1024 network: 3x3 patches of its 256-channel embedding
  (d=2304), k=1024, on fewer patches (each iteration is ~0.5 TFLOP per 100,000).

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run kmeans.cifar10 --data-home ../shared/datasets

(formerly ``bench_kmeans.py``: ``results/kmeans_cifar10.json``).
"""

import time

import numpy as np
import torch
from sklearn.cluster import KMeans

from sklearn_ckn.core.spherical_kmeans import fast_product_dtype, spherical_kmeans

from ..harness import Case, arg, register
from ..harness.util import alternate_timings, cifar10_ckn_patches


def compare(X, k, n_iter, repeats, seed=0):
    """Time ours and scikit-learn's on ``X`` from the same centroids; return a dict."""
    gen = torch.Generator().manual_seed(seed)
    init = X[torch.randperm(len(X), generator=gen)[:k]].clone()
    X_np, init_np = X.numpy(), init.numpy()
    out = {}

    def ours():
        out["ours"] = spherical_kmeans(X, k, max_iter=n_iter, tol=-np.inf, init=init)

    def sklearn():
        out["sklearn"] = KMeans(
            k, init=init_np, n_init=1, max_iter=n_iter, tol=0.0, algorithm="lloyd"
        ).fit(X_np)

    contenders = {"ours": ours, "sklearn": sklearn}
    try:  # optional: pip install faiss-cpu
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        def faiss_kmeans():
            faiss.omp_set_num_threads(torch.get_num_threads())
            km = faiss.Kmeans(X.shape[1], k, niter=n_iter, spherical=True, seed=seed,
                              max_points_per_centroid=len(X), min_points_per_centroid=1)
            km.train(X_np, init_centroids=init_np)  # every point, the same start
            out["faiss"] = km
        contenders["faiss"] = faiss_kmeans
    fast = fast_product_dtype(X)
    if fast != X.dtype:  # what kmeans_precision="auto" runs on this machine
        def ours_fast():
            out["ours_fast"] = spherical_kmeans(X, k, max_iter=n_iter, tol=-np.inf, init=init,
                                                product_dtype=fast)
        contenders["ours_fast"] = ours_fast
    times = alternate_timings(contenders, repeats)
    centroids, objectives = out["ours"]
    med = {name: float(np.median(t)) for name, t in times.items()}
    sk_iter = int(out["sklearn"].n_iter_)
    extra = {}
    if "ours_fast" in out:
        n_fast = len(out["ours_fast"][1])
        extra = {
            "fast_product_dtype": str(fast),
            "ms_per_iteration_ours_fast": 1e3 * med["ours_fast"] / n_fast,
            "ratio_ours_fast_to_sklearn": (med["ours_fast"] / n_fast) / (med["sklearn"] / sk_iter),
            "objective_ours_fast": out["ours_fast"][1][-1],
        }
    if "faiss" in out:
        extra.update({
            "faiss_version": __import__("faiss").__version__,
            "ms_per_iteration_faiss": 1e3 * med["faiss"] / n_iter,
            "ratio_ours_to_faiss": (med["ours"] / len(objectives)) / (med["faiss"] / n_iter),
        })
    return {
        **extra,
        "n_samples": len(X),
        "n_features": X.shape[1],
        "n_clusters": k,
        "iterations": {"ours": len(objectives), "sklearn": sk_iter},
        "seconds": times,
        "median_seconds": med,
        "ms_per_iteration": {"ours": 1e3 * med["ours"] / len(objectives), "sklearn": 1e3 * med["sklearn"] / sk_iter},
        "ratio_ours_to_sklearn": (med["ours"] / len(objectives)) / (med["sklearn"] / sk_iter),
        "objective_trajectory": objectives,
        "objective_monotone": bool(all(b >= a - 1e-6 for a, b in zip(objectives, objectives[1:]))),
        "centroid_norm_max_error": float((centroids.norm(dim=1) - 1).abs().max()),
    }


def run(ctx):
    args = ctx.params

    t0 = time.perf_counter()
    (p1, p2), _ = cifar10_ckn_patches(ctx.data_home, args.n_images, args.n_patches, (256, 1024))
    p2 = p2[torch.randperm(len(p2), generator=torch.Generator().manual_seed(0))[: args.n_patches_layer2]]
    print(f"patches: layer 1 {tuple(p1.shape)}, layer 2 {tuple(p2.shape)} in {time.perf_counter() - t0:.0f}s", flush=True)
    runs = []
    for name, X, k, n_iter in [
        ("layer1_k64", p1, 64, args.iterations),
        ("layer1_k256", p1, 256, args.iterations),
        ("layer2_256_1024", p2, 1024, args.iterations_layer2),
    ]:
        r = compare(X.contiguous(), k, n_iter, args.repeats)
        r["case"] = name
        runs.append(r)
        print(
            f"{name}: n={r['n_samples']} d={r['n_features']} k={k}: ours {r['ms_per_iteration']['ours']:.1f} "
            f"ms/iter, sklearn {r['ms_per_iteration']['sklearn']:.1f} ms/iter, "
            f"ratio {r['ratio_ours_to_sklearn']:.2f}"
            + (f"; faiss {r['ms_per_iteration_faiss']:.1f} ms/iter" if "ms_per_iteration_faiss" in r else ""),
            flush=True,
        )
    return {"benchmark": "kmeans", "dataset": "cifar10", "n_images": args.n_images, "runs": runs}


PARAMS = (
    arg("--n-images", type=int, default=10_000),
    arg("--n-patches", type=int, default=100_000, help="layer-1 patches"),
    arg("--n-patches-layer2", type=int, default=20_000),
    arg("--iterations", type=int, default=20),
    arg("--iterations-layer2", type=int, default=5),
    arg("--repeats", type=int, default=3),
)

register(Case(
    name='kmeans.cifar10',
    run=run,
    params=PARAMS,
    description="spherical k-means against scikit-learn's Lloyd KMeans on CIFAR-10 CKN patches: ms per iteration",
    dataset='cifar10',
    model=None,
    metrics=('runs.0.ratio_ours_to_sklearn', 'runs.1.ratio_ours_to_sklearn', 'runs.2.ratio_ours_to_sklearn'),
    stages=(),
    legacy_script='bench_kmeans.py',
))
