"""CKN transform throughput on a dask.distributed LocalCluster against the plain transform.

On real CIFAR-10 images (the first ``n_images`` training images) with the 64/256
network (whitening="local", subsamplings (2, 4): 4,096 features), all in one run and
alternating between the settings so that a loaded machine slows them alike:

* ``inprocess_1thread`` / ``inprocess_2threads``: ``ckn.transform(X)`` on a NumPy
  array with ``n_jobs=1`` / ``2``;
* ``cluster_1worker`` / ``cluster_2workers``: ``ckn.transform(da.from_array(X,
  chunks=chunk)).compute()`` on a ``LocalCluster(processes=True,
  threads_per_worker=1)`` of 1 / 2 workers (one torch thread per task), the model
  sent with the graph;
* the overhead per chunk: on the 1-worker cluster, ``overhead_images`` images cut
  into chunks of ``small_chunk`` against the same images in 2 chunks;
  ``(t_small - t_large) / (n_small - 2)``; the same on dask's synchronous scheduler
  in this process; and dask's own cost per task on the cluster (a no-op per chunk).

Ratios are taken within the run; the load average is recorded at the start and end.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run dask.cifar10 --data-home ../shared/datasets
"""

import os
import time

import numpy as np

from sklearn_ckn import CKNTransformer
from sklearn_ckn.datasets import load_cifar10

from ..harness import Case, arg, register


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def _first_pixel(block):
    return block[:, 0, 0, :].astype(np.float32)


def run(ctx):
    args = ctx.params
    # inherited by the workers (the former script set it on import)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    X, _ = load_cifar10(ctx.data_home, return_X_y=True, n_samples=args.n_images,
                        download_if_missing=False)
    ckn = CKNTransformer(n_filters=(64, 256), subsamplings=(2, 4), whitening="local",
                         n_patches=20_000, kmeans_max_iter=3, device="cpu",
                         random_state=0).fit(X[:500])
    expected = ckn.set_params(n_jobs=1).transform(X)
    load_start = os.getloadavg()

    clusters = {}
    for n_workers in (1, 2):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster, set_as_default=False)
        # warm-up: the workers import torch and sklearn_ckn; results checked once
        got = client.compute(ckn.transform(da.from_array(X, chunks=args.chunk))).result()
        np.testing.assert_allclose(got, expected, atol=1e-4)
        clusters[n_workers] = (cluster, client)

    lazy = lambda X_, chunk: ckn.transform(da.from_array(X_, chunks=chunk))  # noqa: E731

    def noop(X_, chunk):
        return da.from_array(X_, chunks=(chunk, -1, -1, -1)).map_blocks(
            _first_pixel, drop_axis=[2, 3], dtype=np.float32,
            meta=np.empty((0, 0), np.float32))
    settings = {
        "inprocess_1thread": lambda: ckn.set_params(n_jobs=1).transform(X),
        "inprocess_2threads": lambda: ckn.set_params(n_jobs=2).transform(X),
        "cluster_1worker": lambda: clusters[1][1].compute(lazy(X, args.chunk)).result(),
        "cluster_2workers": lambda: clusters[2][1].compute(lazy(X, args.chunk)).result(),
    }
    Xo = X[: args.overhead_images]
    n_small = -(-args.overhead_images // args.small_chunk)
    large = -(-args.overhead_images // 2)
    ckn.set_params(n_jobs=None)  # one thread per dask task
    overhead = {
        "cluster_small_chunks": lambda: clusters[1][1].compute(lazy(Xo, args.small_chunk)).result(),
        "cluster_2_chunks": lambda: clusters[1][1].compute(lazy(Xo, large)).result(),
        "sync_small_chunks": lambda: lazy(Xo, args.small_chunk).compute(scheduler="sync"),
        "sync_2_chunks": lambda: lazy(Xo, large).compute(scheduler="sync"),
        # dask's own cost per task on that cluster: a chunk-wise no-op on the same images
        "cluster_noop_small_chunks": lambda: clusters[1][1].compute(noop(Xo, args.small_chunk)).result(),
        "cluster_noop_2_chunks": lambda: clusters[1][1].compute(noop(Xo, large)).result(),
    }
    times = {k: [] for k in list(settings) + list(overhead)}
    for _ in range(args.repeats):
        for name, f in settings.items():
            times[name].append(timed(f))
            print(name, f"{times[name][-1]:.2f} s", flush=True)
        ckn.set_params(n_jobs=None)
        for name, f in overhead.items():
            times[name].append(timed(f))
            print(name, f"{times[name][-1]:.2f} s", flush=True)
    for cluster, client in clusters.values():
        client.close()
        cluster.close()

    med = {k: float(np.median(v)) for k, v in times.items()}
    base = med["inprocess_1thread"]
    result = {
        "what": "CKN transform of CIFAR-10 images: dask LocalCluster vs in-process",
        "network": {"n_filters": [64, 256], "subsamplings": [2, 4], "whitening": "local",
                    "n_features_out": ckn.n_features_out_},
        "n_images": args.n_images,
        "chunk": args.chunk,
        "repeats": args.repeats,
        "seconds": times,
        "median_seconds": med,
        "images_per_second": {k: args.n_images / med[k] for k in settings},
        "speed_vs_inprocess_1thread": {k: base / med[k] for k in settings},
        "overhead_per_chunk_seconds": {
            "cluster_1worker": (med["cluster_small_chunks"] - med["cluster_2_chunks"])
            / (n_small - 2),
            "sync_scheduler": (med["sync_small_chunks"] - med["sync_2_chunks"]) / (n_small - 2),
            "cluster_1worker_noop_task": (med["cluster_noop_small_chunks"]
                                          - med["cluster_noop_2_chunks"]) / (n_small - 2),
        },
        "overhead_setup": {"images": args.overhead_images, "small_chunk": args.small_chunk,
                           "n_small_chunks": n_small, "large_chunk": large},
        "time_per_image_1thread_seconds": base / args.n_images,
        "load_average_start_end": [load_start, os.getloadavg()],
        "versions": {"dask": dask.__version__,
                     "distributed": __import__("distributed").__version__},
    }
    print({k: round(v, 3) for k, v in result["speed_vs_inprocess_1thread"].items()})
    print(result["overhead_per_chunk_seconds"])
    ctx.device = "cpu"
    return result


PARAMS = (
    arg("--n-images", type=int, default=2000),
    arg("--chunk", type=int, default=250),
    arg("--repeats", type=int, default=3),
    arg("--overhead-images", type=int, default=400),
    arg("--small-chunk", type=int, default=10),
)

register(Case(
    name='dask.cifar10',
    run=run,
    params=PARAMS,
    description='CKN transform on a dask LocalCluster (1 and 2 workers) against the plain transform, and the overhead per chunk',
    dataset='cifar10',
    model=None,
    metrics=('speed_vs_inprocess_1thread.cluster_2workers', 'overhead_per_chunk_seconds.cluster_1worker'),
    stages=(),
    legacy_script='bench_dask.py',
))
