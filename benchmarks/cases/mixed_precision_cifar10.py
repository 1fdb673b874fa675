"""CKNTransformer's transform in float32 against ``mixed_precision=True`` (bfloat16 products).

One fitted CIFAR-10 network transforms the same images both ways, alternately, in one
process; the result records the speed of each, the ratio, the float32 and bfloat16
matmul rates measured in the same process, how far the mixed-precision features are
from the float32 ones (relative Frobenius norm), and the test accuracy of the same
linear SVM (fixed C, features standardised) trained on each. On a CPU without
bfloat16 units (AMX or AVX512-BF16) mixed precision is slower: the result says so.

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run mixed_precision.cifar10 \\
        --data-home ../shared/datasets
"""

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from sklearn_ckn import CKNTransformer
from sklearn_ckn.svm import TorchLinearSVC

from ..harness import Case, arg, ints, register
from ..harness.data import load_train_test
from ..harness.util import alternate_timings, matmul_gflops


def run(ctx):
    args = ctx.params

    X_train, y_train, X_test, y_test = load_train_test("cifar10", ctx.data_home, args.n_train, args.n_test)
    ckn = CKNTransformer(
        n_filters=args.n_filters, patch_sizes=args.patch_sizes, subsamplings=args.subsamplings,
        whitening="local", normalize=None, n_patches=args.n_patches,
        kmeans_max_iter=args.kmeans_max_iter, device=args.device, random_state=0,
    ).fit(X_train)
    features = {}

    def timed(mixed):
        def transform():
            ckn.set_params(mixed_precision=mixed)
            features[mixed] = (ckn.transform(X_train), ckn.transform(X_test))
        return transform

    gflops = {"float32": matmul_gflops(args.device),
              "bfloat16": matmul_gflops(args.device, dtype=torch.bfloat16)}
    times = alternate_timings({"float32": timed(False), "mixed_precision": timed(True)}, args.repeats)
    n_images = args.n_train + args.n_test
    best = {name: min(t) for name, t in times.items()}
    exact, mixed = features[False][0], features[True][0]
    accuracy = {}
    for name, (F_train, F_test) in (("float32", features[False]), ("mixed_precision", features[True])):
        scaler = StandardScaler().fit(F_train)
        clf = TorchLinearSVC(C=args.C, device=args.device).fit(scaler.transform(F_train), y_train)
        accuracy[name] = float(clf.score(scaler.transform(F_test), y_test))
    flops = ckn.network_.flops(32, 32)
    result = {
        "benchmark": "mixed_precision",
        "dataset": "cifar10",
        "n_train": args.n_train,
        "n_test": args.n_test,
        "ckn_params": {k: v for k, v in ckn.get_params().items() if k not in ("verbose", "mixed_precision")},
        "seconds": times,
        "images_per_second": {name: n_images / t for name, t in best.items()},
        "speedup": best["float32"] / best["mixed_precision"],
        "matmul_gflops": gflops,
        "transform_gflops": {name: flops * n_images / t / 1e9 for name, t in best.items()},
        "feature_relative_difference": float(np.linalg.norm(mixed - exact) / np.linalg.norm(exact)),
        "svm_C": args.C,
        "test_accuracy": accuracy,
    }
    print(
        f"float32 {result['images_per_second']['float32']:.0f} img/s, mixed "
        f"{result['images_per_second']['mixed_precision']:.0f} img/s (x{result['speedup']:.2f}); "
        f"features {result['feature_relative_difference']:.3f} apart; accuracy {accuracy}",
        flush=True,
    )
    ctx.device = args.device
    return result


PARAMS = (
    arg("--n-train", type=int, default=5000),
    arg("--n-test", type=int, default=2000),
    arg("--n-filters", type=ints, default=(256, 1024)),
    arg("--patch-sizes", type=ints, default=(3,)),
    arg("--subsamplings", type=ints, default=(2, 4)),
    arg("--n-patches", type=int, default=50_000),
    arg("--kmeans-max-iter", type=int, default=10),
    arg("--C", type=float, default=0.001, help="of the SVM on standardised features"),
    arg("--repeats", type=int, default=2),
    arg("--device", default="cpu"),
)

register(Case(
    name='mixed_precision.cifar10',
    run=run,
    params=PARAMS,
    description='CKN transform in float32 against bfloat16 patch products (mixed_precision=True)',
    dataset='cifar10',
    model=None,
    metrics=('speedup', 'test_accuracy.float32', 'test_accuracy.mixed_precision'),
    stages=(),
    legacy_script='bench_mixed_precision.py',
))
