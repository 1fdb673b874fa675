"""CNNClassifier on MNIST or CIFAR-10: training time per epoch, accuracy curve.

The model is ``make_model("cnn")`` (a :class:`~sklearn_ckn.CNNClassifier`) with the
recipe's parameters set on it. Examples (from the project root)::

    python -m benchmarks run cnn.train --param dataset=mnist --data-home ../shared/datasets
    python -m benchmarks run cnn.train --param dataset=cifar10 --data-home ../shared/datasets
    # quick smoke run on a subset
    python -m benchmarks run cnn.train --param n_train=2000 --param epochs=1

Every training option left out takes the dataset's recipe below (the settings meant
to reach the targets: MNIST >= 99.3% test accuracy in <= 10 min and CIFAR-10 >= 90%
in <= 60 min of training on a free 2-core CPU). The JSON holds the settings, the
per-epoch history (loss, accuracy, learning rate, seconds), the test accuracy, the
total training time.
"""

import time

from sklearn_ckn import make_model

from ..harness import Case, arg, register
from ..harness.data import load_train_test


# Recipes: airbench-style, small network, batch norm, one-cycle SGD (Nesterov), label
# smoothing, random crops (+ flips and test-time flips for CIFAR-10 only).
# Budget estimates from single-thread timings on a 2-core AMD EPYC (Zen 4) box
# (channels-last float32, batch 256): the MNIST net (0.29 M parameters) trains at
# about 1.6 ms/image/thread, the CIFAR-10 net (1.17 M parameters) at about
# 6 ms/image/thread; on 2 free cores about 55 s and 170 s per epoch, so 8 and 15
# epochs fit the 10 and 60 minute budgets. `--mixed-precision` (bfloat16) roughly
# halves the CIFAR-10 time on CPUs with AVX-512 BF16.
RECIPES = {
    "mnist": dict(
        architecture="resnet-small",
        widths=(32, 64, 128),
        epochs=8,
        batch_size=256,
        optimizer="sgd",
        learning_rate=0.1,  # gave 98.8% after 3 epochs on a 10k subset
        weight_decay=5e-4,
        label_smoothing=0.1,
        augment=True,  # random shifts of up to 3 pixels, no flips (digits)
        tta=False,
    ),
    "cifar10": dict(
        architecture="resnet-small",
        widths=(64, 128, 256),
        epochs=15,
        batch_size=256,
        optimizer="sgd",
        learning_rate=0.2,  # ResNet-9 DAWNBench recipe (0.4 at batch 512), scaled
        weight_decay=5e-4,
        label_smoothing=0.2,
        augment="auto",  # random crops with 4-pixel zero padding + horizontal flips
        tta=True,
    ),
}


def run(ctx):
    args = ctx.params
    import torch

    recipe = dict(RECIPES[args.dataset])
    for key in ["architecture", "epochs", "batch_size", "optimizer", "learning_rate",
                "weight_decay", "label_smoothing"]:
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    if args.widths is not None:
        recipe["widths"] = tuple(int(w) for w in args.widths.split(","))
    if args.augment is not None:
        recipe["augment"] = {"auto": "auto", "true": True, "false": False}[args.augment]
    if args.tta is not None:
        recipe["tta"] = args.tta == "true"

    t_load = time.perf_counter()
    source = "sklearn_ckn.datasets"
    X_train, y_train, X_test, y_test = load_train_test(args.dataset, ctx.data_home, args.n_train, None,
                                                       how="stratified", seed=args.random_state)
    if args.n_test is not None:  # the first n test images
        X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    load_seconds = time.perf_counter() - t_load

    arch_params = {"widths": recipe["widths"]} if recipe["architecture"] == "resnet-small" else None
    clf = make_model("cnn").set_params(
        architecture=recipe["architecture"],
        architecture_params=arch_params,
        epochs=recipe["epochs"],
        batch_size=recipe["batch_size"],
        optimizer=recipe["optimizer"],
        learning_rate=recipe["learning_rate"],
        weight_decay=recipe["weight_decay"],
        label_smoothing=recipe["label_smoothing"],
        augment=recipe["augment"],
        test_time_augmentation=recipe["tta"],
        mixed_precision=args.mixed_precision,
        device=args.device,
        n_jobs=args.n_jobs,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    print(f"{args.dataset}: {len(y_train)} train / {len(y_test)} test images "
          f"{X_train.shape[1:]} ({source}); {clf!r}", flush=True)
    fit_params = {"validation_data": (X_test, y_test)} if args.eval_each_epoch else {}
    t0 = time.perf_counter()
    clf.fit(X_train, y_train, **fit_params)
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    test_accuracy = float(clf.score(X_test, y_test))
    predict_seconds = time.perf_counter() - t0
    n_params = sum(p.numel() for p in clf.network_.parameters())

    result = {
        "dataset": args.dataset,
        "data_source": source,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "image_shape": list(clf.image_shape_),
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in recipe.items()}
        | {"mixed_precision": args.mixed_precision, "eval_each_epoch": args.eval_each_epoch,
           "random_state": args.random_state, "n_jobs": args.n_jobs},
        "estimator": repr(clf),
        "n_parameters": int(n_params),
        "epochs_run": int(clf.n_iter_),
        "history": clf.history_,
        "seconds_per_epoch": [h["seconds"] for h in clf.history_],
        "load_seconds": load_seconds,
        "train_seconds": train_seconds,
        "predict_seconds": predict_seconds,
        "test_accuracy": test_accuracy,
    }
    print(f"test accuracy {test_accuracy:.4f}, training {train_seconds:.1f} s "
          f"({train_seconds / max(clf.n_iter_, 1):.1f} s/epoch), torch threads "
          f"{torch.get_num_threads()}", flush=True)
    ctx.device = clf.device_
    return result


PARAMS = (
    arg("--dataset", choices=sorted(RECIPES), default="mnist"),
    arg("--n-train", type=int, default=None, help="stratified training subset"),
    arg("--n-test", type=int, default=None, help="first n test images"),
    arg("--architecture", default=None),
    arg("--widths", default=None, help="stage widths, e.g. 32,64,128"),
    arg("--epochs", type=int, default=None),
    arg("--batch-size", type=int, default=None),
    arg("--optimizer", choices=["sgd", "adamw"], default=None),
    arg("--learning-rate", type=float, default=None),
    arg("--weight-decay", type=float, default=None),
    arg("--label-smoothing", type=float, default=None),
    arg("--augment", choices=["auto", "true", "false"], default=None),
    arg("--tta", choices=["true", "false"], default=None, help="test-time flip augmentation"),
    arg("--mixed-precision", action="store_true", help="bfloat16 autocast"),
    arg("--eval-each-epoch", action="store_true",
        help="score the test set after every epoch (adds its time to training)"),
    arg("--device", default="auto"),
    arg("--n-jobs", type=int, default=None, help="torch threads (default: torch's)"),
    arg("--random-state", type=int, default=0),
    arg("--verbose", type=int, default=1, hashed=False),
)

register(Case(
    name='cnn.train',
    run=run,
    params=PARAMS,
    description='CNNClassifier: training time per epoch and accuracy curve',
    dataset='param:dataset',
    model='cnn',
    metrics=('test_accuracy', 'train_seconds', 'epochs_run'),
    stages=(),
    legacy_script='bench_cnn.py',
))
