"""GPU figures on synthetic data, each against the same GPU's matmul rate.

Meant for a lent GPU machine (see ``benchmarks/gpu_check.sh``), where the real data
sets are not available: costs do not depend on pixel values, so random images of
CIFAR-10's shape give the speeds (not accuracies). It measures, on ``device``:

* spherical k-means per iteration at k=256, d=27 (layer 1) and k=1024, d=2304 (layer
  2 of 256/1024), against the same iterations on the CPU;
* ``CKNTransformer.transform`` of the 64/256 (local whitening) and 256/1024 networks:
  images/s and GFLOP/s, as a fraction of a float32 ``4096^2`` matmul on that device;
* one epoch of ``CKNClassifier("ckn5")`` training and of ``CNNClassifier``, in float32
  and bfloat16 autocast.

    python3 -m benchmarks run gpu.synthetic --out "$OUT/gpu.json"
"""

import time

import numpy as np
import torch

from ..harness import Case, arg, register
from ..harness.util import matmul_gflops


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device, repeats=3):
    fn()  # warm-up
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def kmeans_figures(device, n_iter=10):
    from sklearn_ckn.core.spherical_kmeans import spherical_kmeans

    out = []
    for n, d, k in [(100_000, 27, 256), (20_000, 2304, 1024)]:
        g = torch.Generator().manual_seed(0)
        X = torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=1)
        row = {"n": n, "d": d, "k": k, "iterations": n_iter}
        for dev in (torch.device("cpu"), device):
            Xd = X.to(dev)
            seconds = _timed(lambda: spherical_kmeans(Xd, k, max_iter=n_iter, seed=0), dev, 2)
            row[f"seconds_per_iteration_{dev.type}"] = seconds / n_iter
        row["speedup"] = row["seconds_per_iteration_cpu"] / row[f"seconds_per_iteration_{device.type}"]
        print("k-means", row, flush=True)
        out.append(row)
    return out


def transform_figures(device, n_images=10_000):
    from sklearn_ckn import CKNTransformer

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(n_images, 32, 32, 3), dtype=np.uint8)
    matmul = matmul_gflops(device=str(device))
    out = []
    for filters, whitening in [((64, 256), "local"), ((256, 1024), "local")]:
        ckn = CKNTransformer(n_filters=filters, subsamplings=(2, 4), whitening=whitening,
                             n_patches=20_000, kmeans_max_iter=5, batch_size=1024,
                             device=str(device), random_state=0).fit(X[:1000])
        flops = ckn.network_.flops(32, 32) * n_images
        for mixed in (False, True):  # bfloat16 patch products (mixed_precision=True)
            ckn.set_params(mixed_precision=mixed)
            seconds = _timed(lambda: ckn.transform(X), device, 2)
            row = {"n_filters": list(filters), "whitening": whitening, "mixed_precision": mixed,
                   "images": n_images, "seconds": seconds, "images_per_s": n_images / seconds,
                   "gflops": flops / seconds / 1e9, "matmul_gflops": matmul,
                   "ratio_to_matmul": flops / seconds / 1e9 / matmul}
            print("transform", row, flush=True)
            out.append(row)
    return out


def training_figures(device, n_images=10_000):
    from sklearn_ckn import CKNClassifier, CKNTransformer, CNNClassifier

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(n_images, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=n_images)
    out = []
    for name, make in [
        ("ckn5", lambda mp: CKNClassifier(
            "ckn5", ckn=CKNTransformer(n_patches=20_000, kmeans_max_iter=5), epochs=1,
            batch_size=128, mixed_precision=mp, device=str(device), random_state=0)),
        ("cnn", lambda mp: CNNClassifier(epochs=1, batch_size=256, mixed_precision=mp,
                                         device=str(device), random_state=0)),
    ]:
        for mp in (False, True):
            clf = make(mp).fit(X[:1000], y[:1000])  # warm-up (and the CKN's start)
            clf.set_params(warm_start=True)
            t0 = time.perf_counter()
            clf.fit(X, y)
            _sync(device)
            seconds = time.perf_counter() - t0
            row = {"model": name, "mixed_precision": mp, "images": n_images,
                   "epoch_seconds": seconds, "images_per_s": n_images / seconds}
            print("training", row, flush=True)
            out.append(row)
    return out


def run(ctx):
    args = ctx.params
    device = torch.device(args.device)
    result = {"benchmark": "gpu", "device_name": torch.cuda.get_device_name(device)
              if device.type == "cuda" else "cpu"}
    parts = args.parts.split(",")
    for part, fn in [("kmeans", kmeans_figures),
                     ("transform", lambda d: transform_figures(d, args.n_images)),
                     ("training", lambda d: training_figures(d, args.n_images))]:
        if part in parts:
            try:
                result[part] = fn(device)
            except Exception as exc:  # report and go on: one broken part must not hide the rest
                result[part] = {"error": repr(exc)}
                print(part, "failed:", repr(exc), flush=True)
            ctx.device = str(device)
            ctx.checkpoint(result)
    return result


PARAMS = (
    arg("--device", default="cuda"),
    arg("--parts", default="kmeans,transform,training"),
    arg("--n-images", type=int, default=10_000, help="images of the timings"),
)

register(Case(
    name='gpu.synthetic',
    run=run,
    params=PARAMS,
    description="GPU figures on synthetic data (k-means, transform, one training epoch) against the same GPU's matmul",
    dataset='synthetic',
    model=None,
    metrics=('kmeans.0.speedup', 'kmeans.1.speedup', 'transform.0.ratio_to_matmul', 'transform.2.ratio_to_matmul'),
    stages=(),
    legacy_script='bench_gpu.py',
))
