"""CKN transform speed piece by piece, against the same process's float32 matmul rate.

Fits the CIFAR-10 networks on a few real images (the anchors' values do not change
the cost), then times, on batches of real CIFAR-10 images, alternating with a
``4096 x 4096`` float32 matmul: the local whitening, every layer's embedding
(patch products + kernel), pooling and Nystrom projection, the whole forward pass and
``CKNTransformer.transform``. The pieces run on the sub-batches of the inference
forward pass (cache blocking); ``forward_unblocked`` is the same pass over the whole
batch at once. Rates count the matrix-product FLOPs of
``CKNLayer.flops`` (embedding: the patch products; pooling: the two separable
products; projection: the ``F x F`` product); the local whitening and the kernel's
elementwise work count zero, so they only lower the whole pass's rate.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run transform.cifar10 --data-home ../shared/datasets

(formerly ``bench_transform.py``: ``results/transform_cifar10*.json``). ``networks``:
``;``-separated filter counts, e.g. ``--param "networks=64,256;256,1024"``.
"""

import os
import time

import numpy as np
import torch

from sklearn_ckn import CKNTransformer
from sklearn_ckn.datasets import load_cifar10

from ..harness import Case, arg, register
from ..harness.util import matmul_gflops


def layer_flops(layer, height, width):
    """Matrix-product FLOPs of one image per piece: embed, pool, project."""
    hw = height * width
    f, d = layer.n_filters, layer.patch_dim
    embed = 2 * hw * d * (d + f) if layer.whitening else 2 * hw * d * f
    ho, wo = layer.output_size(height, width)
    pool = 0 if layer.subsampling == 1 else 2 * f * (height * width * wo + ho * height * wo)
    return {"embed": embed, "pool": pool, "project": 2 * ho * wo * f * f}


def median_time(f, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bench_network(name, n_filters, images, batch_size, repeats, fit_images):
    ckn = CKNTransformer(
        n_filters=n_filters, subsamplings=(2, 4), whitening="local", n_patches=20_000,
        kmeans_max_iter=3, batch_size=batch_size, device="cpu", random_state=0,
    ).fit(images[:fit_images])
    load_start = list(os.getloadavg())
    net = ckn.module_.ckn
    # (b, H, W, C) uint8 -> (b, C, H, W) float in [0, 1], as the transformer feeds it
    x = torch.from_numpy(images[:batch_size].copy()).permute(0, 3, 1, 2).float().div(255).contiguous()
    h, w = x.shape[-2:]
    # Pieces run on the sub-batches the inference forward pass uses (cache blocking,
    # CKNSequential.inference_chunk_size), summed over the batch.
    chunk = net.inference_chunk_size(h, w, x.element_size(), net.layers)
    parts = list(x.split(chunk))
    pieces, flops = {}, {}
    with torch.inference_mode():
        inputs = [[net.preprocess_input(part) for part in parts]]
        pieces["local_whitening"] = lambda: [net.preprocess_input(part) for part in parts]
        flops["local_whitening"] = 0
        sizes = net.map_sizes(h, w)
        for i, layer in enumerate(net.layers):
            inp = inputs[-1]
            emb = [layer.embed(v) for v in inp]
            pooled = [layer.pool(v) for v in emb]
            inputs.append([layer.project(v) for v in pooled])
            f = layer_flops(layer, *sizes[i])
            for piece, fn in [
                ("embed", lambda layer=layer, inp=inp: [layer.embed(v) for v in inp]),
                ("pool", lambda layer=layer, emb=emb: [layer.pool(v) for v in emb]),
                ("project", lambda layer=layer, pooled=pooled: [layer.project(v) for v in pooled]),
            ]:
                pieces[f"layer{i + 1}_{piece}"] = fn
                flops[f"layer{i + 1}_{piece}"] = f[piece] * batch_size
            del emb, pooled
        pieces["forward"] = lambda: net(x)
        flops["forward"] = net.flops(h, w) * batch_size
        # the same pass over the whole batch at once (no cache blocking), for comparison
        pieces["forward_unblocked"] = lambda: net._forward(x, net.layers)
        flops["forward_unblocked"] = flops["forward"]
        for fn in pieces.values():
            fn()  # warm up (pooling caches, allocator)
        seconds = {}
        matmul = []
        for piece, fn in pieces.items():
            matmul.append(matmul_gflops(repeats=2))
            seconds[piece] = median_time(fn, repeats)
        matmul.append(matmul_gflops(repeats=2))
    n_transform = 4 * batch_size
    t = time.perf_counter()
    ckn.transform(images[:n_transform])
    t_transform = time.perf_counter() - t
    matmul.append(matmul_gflops(repeats=2))
    rate = float(np.median(matmul))
    out = {
        "network": name,
        "n_filters": list(n_filters),
        "batch_size": batch_size,
        "sub_batch_size": chunk,
        "load_average_at_start": load_start,
        "load_average_at_end": list(os.getloadavg()),
        "matmul_gflops_median": rate,
        "matmul_gflops_samples": matmul,
        "pieces": {
            piece: {
                "ms_per_batch": 1e3 * seconds[piece],
                "share_of_forward": seconds[piece] / seconds["forward"],
                "gflops": flops[piece] / seconds[piece] / 1e9,
                "ratio_to_matmul": flops[piece] / seconds[piece] / 1e9 / rate,
            }
            for piece in pieces
        },
        "transform": {
            "images": n_transform,
            "seconds": t_transform,
            "ratio_to_matmul": net.flops(h, w) * n_transform / t_transform / 1e9 / rate,
        },
    }
    fwd = out["pieces"]["forward"]
    print(
        f"{name}: forward {fwd['ms_per_batch']:.0f} ms / {batch_size} images, "
        f"{fwd['ratio_to_matmul']:.2f} of matmul ({rate:.0f} GFLOP/s); transform "
        f"{out['transform']['ratio_to_matmul']:.2f}", flush=True,
    )
    for piece, r in out["pieces"].items():
        print(f"  {piece:18s} {r['ms_per_batch']:8.1f} ms  {r['share_of_forward']:5.0%}  {r['ratio_to_matmul']:.2f}", flush=True)
    return out


def run(ctx):
    args = ctx.params
    images, _ = load_cifar10(ctx.data_home, subset="train", return_X_y=True, n_samples=max(args.fit_images, 4 * args.batch_size))
    runs = []
    for spec in args.networks.split(";"):
        n_filters = tuple(int(v) for v in spec.split(","))
        runs.append(bench_network("/".join(map(str, n_filters)), n_filters, images, args.batch_size, args.repeats, args.fit_images))
    return {"benchmark": "transform", "dataset": "cifar10", "runs": runs}


PARAMS = (
    arg("--networks", default="64,256;256,1024"),
    arg("--batch-size", type=int, default=256),
    arg("--fit-images", type=int, default=1000),
    arg("--repeats", type=int, default=5),
)

register(Case(
    name='transform.cifar10',
    run=run,
    params=PARAMS,
    description="CKN transform piece by piece against the same process's float32 matmul rate",
    dataset='cifar10',
    model=None,
    metrics=('runs.0.transform.ratio_to_matmul', 'runs.1.transform.ratio_to_matmul'),
    stages=(),
    legacy_script='bench_transform.py',
))
