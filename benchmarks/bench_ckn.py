"""CKNTransformer + a linear classifier on a full dataset: accuracy, times, throughput.

Example (the CIFAR-10 64/256 configuration quoted in the README; ``--C-grid`` picks
the classifier's C on a held-out fifth of the training set)::

    python benchmarks/bench_ckn.py --dataset cifar10 --n-filters 64,256 --subsamplings 2,4 \
        --whitening local --n-patches 500000 --kmeans-max-iter 50 \
        --classifier torch-linearsvc --C-grid 0.001,0.002,0.003,0.005,0.01 \
        --out benchmarks/results/ckn_cifar10_64_256_local.json
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import matmul_gflops, standardize_inplace, write_result  # noqa: E402

from sklearn_ckn import CKNTransformer  # noqa: E402
from sklearn_ckn.datasets import DATASETS, load_dataset  # noqa: E402
from sklearn_ckn.svm import TorchLinearSVCCV  # noqa: E402
from sklearn_ckn.svm import make_linear_classifier  # noqa: E402

# The registry's data sets with official train and test sets.
OFFICIAL = [name for name, info in DATASETS.items() if info.subsets]


def ints(text):
    return tuple(int(v) for v in text.split(","))


def floats(text):
    return tuple(float(v) for v in text.split(","))


def fit_classifier(name, C, F, y, random_state):
    """``make_linear_classifier(name, C)`` fitted on ``F``, which it standardises in place."""
    clf = make_linear_classifier(name, C=C, random_state=random_state)
    standardize_inplace(clf.named_steps["scaler"], F)
    clf.named_steps["clf"].fit(F, y)
    return clf


def fit_classifier_cv(F, y, grid, folds, random_state, device, n_images=None):
    """StandardScaler (in place on ``F``) + TorchLinearSVCCV choosing C on the same
    splits as :func:`validation_scores` (a stratified 20% hold-out, or k folds).

    With mirror images (``F`` holds ``n_images`` images, then their mirrors in the
    same order), an image and its mirror always fall on the same side of a split.
    """
    scaler = standardize_inplace(StandardScaler(), F)
    n = len(y) if n_images is None else n_images
    index = np.arange(n)
    if folds == 1:
        splits = [tuple(train_test_split(index, test_size=0.2, stratify=y[:n], random_state=random_state))]
    else:
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=random_state).split(index, y[:n]))
    if n < len(y):
        splits = [(np.concatenate([a, a + n]), np.concatenate([b, b + n])) for a, b in splits]
    model = TorchLinearSVCCV(Cs=sorted(grid), cv=splits, device=device).fit(F, y)
    return Pipeline([("scaler", scaler), ("clf", model)])


def predict(clf, F, F_flip=None):
    """Labels; with mirrored-image features, from the average of both decision values."""
    if F_flip is None:
        return clf.predict(F)
    scores = clf.decision_function(F) + clf.decision_function(F_flip)
    return clf.classes_[scores.argmax(axis=1)]


def with_mirrors(F, F_flip, y, index):
    """Training rows ``index`` followed by their mirror images' (if any).

    A copy, except without mirrors where ``F[index]`` is a view (``index`` a slice).
    """
    if F_flip is None:
        return F[index], y[index]
    index = np.arange(len(y))[index]
    F_out = np.empty((2 * len(index), F.shape[1]), dtype=F.dtype)
    np.take(F, index, axis=0, out=F_out[: len(index)])
    np.take(F_flip, index, axis=0, out=F_out[len(index):])
    return F_out, np.tile(y[index], 2)


def validation_scores(F, y, classifier, grid, random_state, F_flip=None, folds=1):
    """Validation accuracy per C: on a stratified 20% of the training set (``folds=1``)
    or averaged over stratified ``folds``-fold cross-validation.

    An image and its mirror image always fall on the same side of a split.
    """
    index = np.arange(len(y))
    if folds == 1:
        splits = [train_test_split(index, test_size=0.2, stratify=y, random_state=random_state)]
    else:
        splits = StratifiedKFold(folds, shuffle=True, random_state=random_state).split(index, y)
    scores = {C: [] for C in grid}
    for i_fit, i_val in splits:
        for C in grid:
            F_fit, y_fit = with_mirrors(F, F_flip, y, i_fit)
            clf = fit_classifier(classifier, C, F_fit, y_fit, random_state)
            del F_fit
            y_pred = predict(clf, F[i_val], None if F_flip is None else F_flip[i_val])
            scores[C].append(float((y_pred == y[i_val]).mean()))
    return {C: float(np.mean(v)) for C, v in scores.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=OFFICIAL, default="mnist")
    p.add_argument("--data-home", default="../shared/datasets")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--n-filters", type=ints, default=(64, 256))
    p.add_argument("--patch-sizes", type=ints, default=(3,))
    p.add_argument("--subsamplings", type=ints, default=(2, 6))
    p.add_argument("--sigmas", type=floats, default=(0.6,))
    p.add_argument("--whitening", choices=["auto", "true", "false", "local"], default="auto")
    p.add_argument("--n-patches", type=int, default=100_000)
    p.add_argument("--kmeans-max-iter", type=int, default=20)
    p.add_argument("--classifier", default="logistic")
    p.add_argument("--C", type=float, default=None, help="regularisation (default: the classifier's)")
    p.add_argument(
        "--C-grid", type=floats, default=None,
        help="pick C among these on a held-out 20%% of the training features, then refit on all",
    )
    p.add_argument(
        "--C-folds", type=int, default=1,
        help="with --C-grid: pick C by stratified k-fold cross-validation instead (k >= 2)",
    )
    p.add_argument(
        "--C-path", action="store_true",
        help="with --C-grid and --classifier torch-linearsvc: choose C with TorchLinearSVCCV "
        "(warm-started path, shared preconditioner, same splits) inside the classifier fit",
    )
    p.add_argument(
        "--flip", action="store_true",
        help="also train on the mirrored training images and average the decision values "
        "of each test image and its mirror (not the reference protocol)",
    )
    p.add_argument(
        "--test-flip", action="store_true",
        help="train on the images as they are, and average the decision values of each "
        "test image and its mirror (test-time augmentation; costs one more test transform)",
    )
    p.add_argument(
        "--mixed-precision", action="store_true",
        help="CKNTransformer(mixed_precision=True): patch products in bfloat16",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--save-features", default=None, help="save train/test features to this .npz")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if args.C_path and (not args.C_grid or args.classifier != "torch-linearsvc"):
        p.error("--C-path needs --C-grid and --classifier torch-linearsvc")
    if args.flip and args.test_flip:
        p.error("--flip already mirrors the test images; drop --test-flip")

    X_train, y_train = load_dataset(args.dataset, data_home=args.data_home, subset="train",
                                    return_X_y=True, n_samples=args.n_train)
    X_test, y_test = load_dataset(args.dataset, data_home=args.data_home, subset="test",
                                  return_X_y=True, n_samples=args.n_test)
    print(f"{args.dataset}: train {X_train.shape}, test {X_test.shape}", flush=True)
    whitening = {"auto": "auto", "true": True, "false": False, "local": "local"}[args.whitening]
    ckn = CKNTransformer(
        n_filters=args.n_filters,
        patch_sizes=args.patch_sizes,
        subsamplings=args.subsamplings,
        sigmas=args.sigmas,
        whitening=whitening,
        n_patches=args.n_patches,
        kmeans_max_iter=args.kmeans_max_iter,
        batch_size=args.batch_size,
        device=args.device,
        mixed_precision=args.mixed_precision,
        random_state=args.random_state,
        verbose=1,
    )
    matmul_device = str(torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"))
    gflops_matmul_start = matmul_gflops(matmul_device)
    t0 = time.perf_counter()
    ckn.fit(X_train)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    F_train = ckn.transform(X_train)
    t_tr_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    F_test = ckn.transform(X_test)
    t_tr_test = time.perf_counter() - t0
    F_train_flip = F_test_flip = None
    t_tr_flip = 0.0
    if args.flip:
        # Mirror along the width axis (images are (n, H, W) or (n, H, W, C)).
        t0 = time.perf_counter()
        F_train_flip = ckn.transform(np.ascontiguousarray(X_train[:, :, ::-1]))
        F_test_flip = ckn.transform(np.ascontiguousarray(X_test[:, :, ::-1]))
        t_tr_flip = time.perf_counter() - t0
    elif args.test_flip:
        t0 = time.perf_counter()
        F_test_flip = ckn.transform(np.ascontiguousarray(X_test[:, :, ::-1]))
        t_tr_flip = time.perf_counter() - t0
    if args.save_features:
        np.savez(args.save_features, F_train=F_train, y_train=y_train, F_test=F_test, y_test=y_test)
    t0 = time.perf_counter()
    validation = None
    if args.C_grid and not args.C_path:
        validation = validation_scores(
            F_train, y_train, args.classifier, args.C_grid, args.random_state, F_train_flip, args.C_folds
        )
        args.C = max(validation, key=validation.get)
        print(f"validation accuracy per C: {validation}; refit with C={args.C}", flush=True)
    t_select = time.perf_counter() - t0
    t0 = time.perf_counter()
    F_fit, y_fit = with_mirrors(F_train, F_train_flip, y_train, slice(None))
    n_features, n_images = F_train.shape[1], len(F_train)
    del F_train, F_train_flip
    if args.C_path:
        clf = fit_classifier_cv(F_fit, y_fit, args.C_grid, args.C_folds, args.random_state, args.device,
                                n_images=n_images)
        args.C = clf.named_steps["clf"].C_
        validation = dict(zip(args.C_grid, clf.named_steps["clf"].mean_scores_.tolist()))
        print(f"validation accuracy per C: {validation}; C={args.C}", flush=True)
    else:
        clf = fit_classifier(args.classifier, args.C, F_fit, y_fit, args.random_state)
    t_clf = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = float((predict(clf, F_test, F_test_flip) == y_test).mean())
    t_pred = time.perf_counter() - t0
    gflops_matmul_end = matmul_gflops(matmul_device)
    gflops_matmul = max(gflops_matmul_start, gflops_matmul_end)
    # The rate of the products that mixed precision runs in bfloat16.
    gflops_bf16 = matmul_gflops(matmul_device, dtype=torch.bfloat16) if args.mixed_precision else None
    h, w = X_train.shape[1:3]
    flops = ckn.network_.flops(h, w)
    n_transformed = (len(X_train) + len(X_test)) * (2 if args.flip else 1)
    n_transformed += len(X_test) if args.test_flip else 0
    t_transform = t_tr_train + t_tr_test + t_tr_flip
    result = {
        "benchmark": "ckn",
        "dataset": args.dataset,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "ckn_params": {k: v for k, v in ckn.get_params().items() if k != "verbose"},
        "classifier": args.classifier,
        "classifier_repr": repr(clf),
        "C": args.C,
        "n_features": int(n_features),
        "flip": args.flip,
        "test_flip": args.test_flip,
        "test_accuracy": acc,
        "C_validation_accuracy": validation,
        "C_validation": None if not args.C_grid else (
            "stratified 20% hold-out" if args.C_folds == 1 else f"stratified {args.C_folds}-fold cross-validation"
        ),
        "seconds": {
            "ckn_fit": t_fit,  # k-means on sampled patches, all layers
            "transform_train": t_tr_train,
            "transform_test": t_tr_test,
            "transform_mirrored": t_tr_flip,  # mirror images: train and test (--flip), test (--test-flip)
            "C_selection": t_select,  # one fit per C and fold (0 with --C-path)
            "classifier_fit": t_clf,  # with --C-path: includes choosing C
            "C_selection_included": bool(args.C_path),
            "classifier_predict": t_pred,
            "total_fit_and_predict": t_fit + t_transform + t_clf + t_pred,
            "total_with_C_selection": t_fit + t_transform + t_select + t_clf + t_pred,
        },
        "throughput": {
            "transform_images_per_second": n_transformed / t_transform,
            "matmul_flops_per_image": flops,
            "transform_gflops": flops * n_transformed / t_transform / 1e9,
            "machine_matmul_gflops": gflops_matmul,  # the faster of the two below
            "machine_matmul_gflops_start_end": [gflops_matmul_start, gflops_matmul_end],
            "ratio_to_matmul": flops * n_transformed / t_transform / 1e9 / gflops_matmul,
            "machine_bfloat16_matmul_gflops": gflops_bf16,  # with --mixed-precision
        },
        "kmeans_objective_last": [s["kmeans_objective"][-1] for s in ckn.fit_stats_],
    }
    print(
        f"accuracy {acc:.4f} | fit {t_fit:.0f}s transform {t_transform:.0f}s "
        f"classifier {t_clf:.0f}s | {result['throughput']['transform_gflops']:.1f} GFLOP/s "
        f"({result['throughput']['ratio_to_matmul']:.2f} of matmul)",
        flush=True,
    )
    write_result(args.out, result)


if __name__ == "__main__":
    main()
