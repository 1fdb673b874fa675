"""Benchmark the supervised CKN (CKNClassifier) on MNIST or CIFAR-10, resumably.

The model is ``make_model("ckn_supervised")`` (a :class:`~sklearn_ckn.CKNClassifier`)
with the case's parameters set on it. Examples (from the project root)::

    python -m benchmarks run ckn.supervised --data-home ../shared/datasets
    python -m benchmarks run ckn.supervised --param dataset=cifar10 --param architecture=ckn5 \
        --param whitening=local --param epochs=20
    # smoke run on a subset
    python -m benchmarks run ckn.supervised --param n_train=2000 --param n_test=1000 \
        --param n_filters=8,32 --param epochs=2

The run is split into stages, each saved to the work folder as a pickled estimator:
the unsupervised initialisation (k-means anchors, exact head), then one stage per
``epochs_per_stage`` epochs, continued with ``warm_start`` (each stage has its own
one-cycle learning-rate schedule); or, with ``--schedule linear`` or ``step``, one
epoch a stage by ``partial_fit`` at the rate a schedule over the whole run gives it
(:func:`epoch_learning_rate`; the optimizer's state is rebuilt after a resume). A killed run started again with the same parameters
resumes after the last saved stage. After every stage the test accuracy is measured,
so the JSON holds the accuracy curve (``stages``), the per-epoch training history,
the times; the record is written after every stage (``"complete": false`` until the
last).
"""

import os
import pickle
import time

from sklearn_ckn import make_model
from sklearn_ckn.datasets import DATASETS

from ..harness import Case, arg, register
from ..harness.data import load_train_test


def _save(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    os.replace(tmp, path)  # a stage file is complete or absent


def epoch_learning_rate(args, epoch):
    """The learning rate of epoch ``epoch`` (0 first) of a whole-run schedule.

    ``"linear"``: warm-up over ``warmup_epochs`` epochs from a tenth of
    ``learning_rate``, then linear decay towards 0 at ``epochs`` (the one-cycle shape,
    epoch by epoch); ``"step"``: ``learning_rate`` times 0.1 at each of
    ``milestones`` (the reference's recipe: epochs 60, 85 and 100 of 105).
    """
    base = args.learning_rate
    if args.schedule == "step":
        return base * 0.1 ** sum(epoch >= m for m in args.milestones)
    warm = args.warmup_epochs
    if epoch < warm:
        return base * (0.1 + 0.9 * epoch / warm)
    return base * (args.epochs - epoch) / (args.epochs - warm)


def run(ctx):
    args = ctx.params
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(ctx.work_dir, exist_ok=True)
    X, y, X_test, y_test = load_train_test(args.dataset, ctx.data_home, args.n_train, args.n_test,
                                           how="random", seed=args.seed)
    print(f"{args.dataset}: {len(X)} training and {len(X_test)} test images", flush=True)
    # The start's network goes to the classifier's transformer (ckn__*), on top of
    # make_model's pinned start (standardised features of standard deviation 0.08:
    # --weight-decay is 0.0064 times the value on the unit-variance features of the
    # results written before the one-module change, commit 672f8f7).
    params = dict(
        loss=args.loss, optimizer=args.optimizer, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, batch_size=args.batch_size, augment=args.augment,
        alternate=args.alternate,
        ckn__whitening=args.whitening if args.whitening in ("auto", "local") else
        args.whitening == "true", ckn__n_patches=args.n_patches, device="cpu",
        mixed_precision=args.mixed_precision,
        random_state=args.seed, verbose=0,
    )
    if args.normalize != "standard":  # make_model's pinned output steps otherwise
        params["ckn__normalize"] = None if args.normalize == "none" else args.normalize
    if args.architecture:
        params["architecture"] = args.architecture
    else:
        params.update(ckn__n_filters=tuple(args.n_filters),
                      ckn__patch_sizes=tuple(args.patch_sizes))
        if args.subsamplings:
            params["ckn__subsamplings"] = tuple(args.subsamplings)

    progress_path = os.path.join(ctx.work_dir, "progress.pkl")
    if os.path.exists(progress_path):
        with open(progress_path, "rb") as f:
            clf, stages = pickle.load(f)
        print(f"resuming after stage {len(stages) - 1} ({clf.n_iter_} epochs)", flush=True)
    else:
        t0 = time.perf_counter()
        clf = make_model("ckn_supervised").set_params(**params, epochs=0).fit(X, y)
        init_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        accuracy = clf.score(X_test, y_test)
        stages = [{"epochs": 0, "test_accuracy": accuracy, "seconds": init_seconds,
                   "train_accuracy": clf.initial_train_accuracy_,
                   "test_seconds": time.perf_counter() - t0}]
        print(f"unsupervised start: test accuracy {accuracy:.4f} ({init_seconds:.0f} s)",
              flush=True)
        _save((clf, stages), progress_path)

    def report():
        result = {
            "benchmark": "ckn_supervised",
            "dataset": args.dataset,
            "n_train": int(len(X)),
            "n_test": int(len(X_test)),
            # deep parameters (ckn__*), without the estimator objects themselves
            "params": {k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in clf.get_params(deep=True).items()
                       if not hasattr(v, "get_params")},
            "n_features": int(clf.n_features_out_),
            "stages": stages,
            "history": clf.history_,
            "test_accuracy": stages[-1]["test_accuracy"],
            "epochs_done": int(clf.n_iter_),
            "training_seconds": float(sum(s["seconds"] for s in stages)),
            "complete": clf.n_iter_ >= args.epochs,
        }
        return result

    ctx.device = "cpu"
    ctx.checkpoint(report())
    while clf.n_iter_ < args.epochs:
        t0 = time.perf_counter()
        if args.schedule == "stages":  # a one-cycle schedule in every stage
            n = min(args.epochs_per_stage, args.epochs - clf.n_iter_)
            clf.set_params(warm_start=True, epochs=n).fit(X, y)
        else:  # one epoch by partial_fit at the schedule's rate for it
            rate = epoch_learning_rate(args, clf.n_iter_)
            clf.set_params(learning_rate=rate).partial_fit(X, y)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        accuracy = clf.score(X_test, y_test)
        stages.append({"epochs": int(clf.n_iter_), "test_accuracy": accuracy,
                       "seconds": seconds, "test_seconds": time.perf_counter() - t0,
                       "train_accuracy": clf.history_[-1]["train_accuracy"]})
        print(f"epoch {clf.n_iter_}: test accuracy {accuracy:.4f} ({seconds:.0f} s)",
              flush=True)
        _save((clf, stages), progress_path)
        ctx.checkpoint(report())
    return report()


PARAMS = (
    arg("--dataset", choices=[n for n, info in DATASETS.items() if info.subsets] + ["digits"], default="mnist"),
    arg("--n-train", type=int, default=None, help="training subset (default: all)"),
    arg("--n-test", type=int, default=None, help="test subset (default: all)"),
    arg("--architecture", default=None, help="ckn5 or ckn14 (else n_filters...)"),
    arg("--n-filters", type=int, nargs="+", default=[32, 128]),
    arg("--patch-sizes", type=int, nargs="+", default=[3]),
    arg("--subsamplings", type=int, nargs="+", default=None),
    arg("--whitening", default="auto"),
    arg("--normalize", choices=("standard", "l2-standard", "none"), default="standard",
        hashed="unless_default",
        help="the start's output steps (ckn__normalize; 'none': raw features, as the "
             "reference CKN's head reads them)"),
    arg("--n-patches", type=int, default=100_000),
    arg("--loss", default="squared_hinge"),
    arg("--optimizer", default="adam"),
    arg("--learning-rate", type=float, default=1e-3),
    arg("--weight-decay", type=float, default=6.4e-6),
    arg("--batch-size", type=int, default=128),
    arg("--augment", action="store_true"),
    arg("--alternate", action="store_true",
        help="solve the head exactly at the start of every epoch (the reference's recipe)"),
    arg("--mixed-precision", action="store_true",
        help="bfloat16 autocast (the CKN layers' patch products in bfloat16)"),
    arg("--epochs", type=int, default=4, help="total supervised epochs"),
    arg("--epochs-per-stage", type=int, default=1),
    arg("--schedule", choices=("stages", "linear", "step"), default="stages",
        help="stages: fit(warm_start) per stage, each its own one-cycle schedule; linear, "
             "step: one schedule over the whole run, epoch by epoch with partial_fit "
             "(resumable after every epoch)"),
    arg("--warmup-epochs", type=int, default=2, help="linear: epochs of warm-up"),
    arg("--milestones", type=int, nargs="+", default=[60, 85, 100],
        help="step: epochs where the rate is divided by 10"),
    arg("--threads", type=int, default=None, help="torch threads (default: all)"),
    arg("--seed", type=int, default=0),
)

register(Case(
    name='ckn.supervised',
    run=run,
    params=PARAMS,
    description='CKNClassifier trained in resumable stages: accuracy after each stage, times',
    dataset='param:dataset',
    model='ckn_supervised',
    metrics=('test_accuracy', 'epochs_done', 'training_seconds'),
    stages=('progress',),
    legacy_script='bench_ckn_supervised.py',
))
