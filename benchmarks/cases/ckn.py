"""CKN + linear classifier, end to end: ``make_model("ckn")`` on a full data set.

Replaces ``benchmarks/bench_ckn.py``. The network is ``make_model("ckn")``'s
``CKNTransformer`` step with the ``ckn__*`` parameters set (``set_params``, as
``make_model`` routes them); the steps after it are
``sklearn_ckn.svm.linear_steps(classifier, C=clf__C)`` (``StandardScaler`` + the named
classifier; ``torch-linearsvc`` is ``make_model("ckn")``'s own). Records test accuracy,
k-means fit, transform and classifier times, the transform's throughput (images/s and
GFLOP/s of its matrix products) against the machine's float32 matmul rate measured in
the same run. ``C_grid`` picks C on a held-out fifth of the training set (or
``C_folds``-fold cross-validation), then refits on all of it; ``C_path`` does it with
``TorchLinearSVCCV`` inside the classifier's fit; ``flip`` adds the mirrored training
images and averages each test image's decision with its mirror's (not the reference
protocol); ``test_flip`` only the latter.
"""

import time

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ckn import make_model
from sklearn_ckn.datasets import DATASETS
from sklearn_ckn.svm import TorchLinearSVCCV, linear_steps, make_linear_classifier

from ..harness import Case, arg, floats, ints, register
from ..harness.data import load_train_test, validation_splits
from ..harness.util import matmul_gflops, standardize_inplace

# The registry's data sets with official train and test sets, and the digits (split here).
DATASET_NAMES = [name for name, info in DATASETS.items() if info.subsets] + ["digits"]


def whitening(text):
    """``--whitening``: ``auto``, ``local``, ``true`` or ``false`` -> the estimator's value."""
    return {"auto": "auto", "true": True, "false": False, "local": "local"}[str(text).lower()]


def build_model(args):
    """``make_model("ckn")`` with the case's ``ckn__*`` parameters, then the classifier's steps."""
    model = make_model("ckn", random_state=args.ckn__random_state, device=args.ckn__device, verbose=1)
    model.set_params(**{k: v for k, v in vars(args).items()
                        if k.startswith("ckn__") and k not in ("ckn__device", "ckn__random_state")})
    model.steps[1:] = linear_steps(args.classifier, C=args.clf__C, random_state=args.ckn__random_state)
    return model


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
    splits = validation_splits(y, folds, random_state, n_images=n_images)
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
    splits = validation_splits(y, folds, random_state)
    scores = {C: [] for C in grid}
    for i_fit, i_val in splits:
        for C in grid:
            F_fit, y_fit = with_mirrors(F, F_flip, y, i_fit)
            clf = fit_classifier(classifier, C, F_fit, y_fit, random_state)
            del F_fit
            y_pred = predict(clf, F[i_val], None if F_flip is None else F_flip[i_val])
            scores[C].append(float((y_pred == y[i_val]).mean()))
    return {C: float(np.mean(v)) for C, v in scores.items()}


def run(ctx):
    args = ctx.params
    if args.C_path and (not args.C_grid or args.classifier != "torch-linearsvc"):
        raise ValueError("C_path needs C_grid and classifier=torch-linearsvc")
    if args.flip and args.test_flip:
        raise ValueError("flip already mirrors the test images; drop test_flip")
    X_train, y_train, X_test, y_test = load_train_test(args.dataset, ctx.data_home, args.n_train, args.n_test)
    print(f"{args.dataset}: train {X_train.shape}, test {X_test.shape}", flush=True)
    model = build_model(args)
    ckn = model.named_steps["ckn"]
    matmul_device = str(torch.device("cuda" if args.ckn__device != "cpu" and torch.cuda.is_available() else "cpu"))
    gflops_matmul_start = matmul_gflops(matmul_device, n=args.matmul_size)
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
    if args.save_features:  # for the linear.* and svm.* cases
        np.savez(args.save_features, F_train=F_train, y_train=y_train, F_test=F_test, y_test=y_test)
    t0 = time.perf_counter()
    validation = None
    if args.C_grid and not args.C_path:
        validation = validation_scores(
            F_train, y_train, args.classifier, args.C_grid, args.ckn__random_state, F_train_flip, args.C_folds
        )
        args.clf__C = max(validation, key=validation.get)
        print(f"validation accuracy per C: {validation}; refit with C={args.clf__C}", flush=True)
    t_select = time.perf_counter() - t0
    t0 = time.perf_counter()
    F_fit, y_fit = with_mirrors(F_train, F_train_flip, y_train, slice(None))
    n_features, n_images = F_train.shape[1], len(F_train)
    del F_train, F_train_flip
    if args.C_path:
        clf = fit_classifier_cv(F_fit, y_fit, args.C_grid, args.C_folds, args.ckn__random_state, args.ckn__device,
                                n_images=n_images)
        args.clf__C = clf.named_steps["clf"].C_
        validation = dict(zip(args.C_grid, clf.named_steps["clf"].mean_scores_.tolist()))
        print(f"validation accuracy per C: {validation}; C={args.clf__C}", flush=True)
    else:
        clf = fit_classifier(args.classifier, args.clf__C, F_fit, y_fit, args.ckn__random_state)
    t_clf = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = float((predict(clf, F_test, F_test_flip) == y_test).mean())
    t_pred = time.perf_counter() - t0
    gflops_matmul_end = matmul_gflops(matmul_device, n=args.matmul_size)
    gflops_matmul = max(gflops_matmul_start, gflops_matmul_end)
    # The rate of the products that mixed precision runs in bfloat16.
    gflops_bf16 = matmul_gflops(matmul_device, n=args.matmul_size, dtype=torch.bfloat16) if args.ckn__mixed_precision else None
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
        "model": "make_model('ckn') + set_params(ckn__*), then linear_steps(classifier, C=clf__C)",
        "classifier": args.classifier,
        "classifier_repr": repr(clf),
        "C": args.clf__C,
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
    ctx.device = args.ckn__device
    return result


PARAMS = (
    arg("--dataset", choices=DATASET_NAMES, default="mnist"),
    arg("--n-train", type=int, default=None, help="first n training images (default: all)"),
    arg("--n-test", type=int, default=None, help="first n test images (default: all)"),
    arg("--n-filters", dest="ckn__n_filters", type=ints, default=(64, 256)),
    arg("--patch-sizes", dest="ckn__patch_sizes", type=ints, default=(3,)),
    arg("--subsamplings", dest="ckn__subsamplings", type=ints, default=(2, 6)),
    arg("--sigmas", dest="ckn__sigmas", type=floats, default=(0.6,)),
    arg("--whitening", dest="ckn__whitening", type=whitening, default="auto"),
    arg("--n-patches", dest="ckn__n_patches", type=int, default=100_000),
    arg("--kmeans-max-iter", dest="ckn__kmeans_max_iter", type=int, default=20),
    arg("--batch-size", dest="ckn__batch_size", type=int, default=256),
    arg("--mixed-precision", dest="ckn__mixed_precision", action="store_true",
        help="bfloat16 patch products"),
    arg("--device", dest="ckn__device", default="auto"),
    arg("--random-state", dest="ckn__random_state", type=int, default=0),
    arg("--classifier", default="logistic", help="a name of sklearn_ckn.svm.linear_steps"),
    arg("--C", dest="clf__C", type=float, default=None, help="regularisation (default: the classifier's)"),
    arg("--C-grid", type=floats, default=None,
        help="pick C among these on a held-out 20%% of the training features, then refit on all"),
    arg("--C-folds", type=int, default=1, help="with C_grid: stratified k-fold cross-validation (k >= 2)"),
    arg("--C-path", action="store_true",
        help="with C_grid and torch-linearsvc: TorchLinearSVCCV inside the classifier's fit"),
    arg("--flip", action="store_true", help="mirrored training images too; test decisions averaged"),
    arg("--test-flip", action="store_true", help="test decisions averaged with the mirror's"),
    arg("--matmul-size", type=int, default=4096, help="side of the reference float32 matmul"),
    arg("--save-features", default=None, hashed=False, help="save train/test features to this .npz"),
)

_CIFAR = {"dataset": "cifar10", "ckn__subsamplings": "2,4", "ckn__whitening": "local",
          "ckn__n_patches": "500000", "ckn__kmeans_max_iter": "50", "classifier": "torch-linearsvc"}

register(Case(
    name="ckn.linear",
    run=run,
    params=PARAMS,
    description="CKNTransformer + linear classifier: accuracy, times, transform throughput",
    dataset="param:dataset",
    model="ckn",
    metrics=("test_accuracy", "n_features", "seconds.ckn_fit", "seconds.classifier_fit",
             "seconds.total_fit_and_predict", "throughput.transform_images_per_second",
             "throughput.ratio_to_matmul"),
    legacy_script="bench_ckn.py",
    presets={
        # the README's configurations (the commands of their result files)
        "smoke_digits": {"dataset": "digits", "ckn__n_filters": "8,16", "ckn__subsamplings": "1,2",
                         "ckn__n_patches": "2000", "ckn__kmeans_max_iter": "3", "n_train": "300",
                         "n_test": "100", "ckn__device": "cpu", "matmul_size": "512"},
        "mnist_64_512_svc": {"ckn__n_filters": "64,512", "ckn__subsamplings": "2,4",
                             "ckn__n_patches": "500000", "ckn__kmeans_max_iter": "50",
                             "classifier": "torch-linearsvc", "clf__C": "0.01"},
        "cifar10_64_256_local": dict(_CIFAR, ckn__n_filters="64,256", C_grid="0.001,0.002,0.003,0.005,0.01"),
        "cifar10_64_256_local_cv3": dict(_CIFAR, ckn__n_filters="64,256", C_grid="0.001,0.002,0.003,0.005,0.01",
                                         C_folds="3"),
        "cifar10_256_1024_local": dict(_CIFAR, ckn__n_filters="256,1024", C_grid="0.001,0.002,0.003,0.005"),
        "cifar10_256_2048_p32_local": dict(_CIFAR, ckn__n_filters="256,2048", ckn__patch_sizes="3,2",
                                           C_grid="0.0002,0.0005,0.001"),
    },
))
