"""Training cost per forward FLOP: the supervised CKN against our CNN, through their estimators.

``CKNClassifier(architecture)`` (CKN-5 by default) and ``CNNClassifier()`` train on the
same images: the first ``n_images`` of CIFAR-10's training set (random images of the
same shape when the data set is not in ``--data-home``). Each is initialised (the
CKN's unsupervised start with ``epochs=0``, one epoch of the CNN), then timed over
``repeats`` warm epochs of ``partial_fit``, the two alternating in one process, with
every default but ``device="cpu"``; in float32 (the default) and bfloat16
(``mixed_precision=True``), quiet and with another process keeping one core busy.

Both networks' forward FLOPs per image are counted the same way
(``torch.utils.flop_counter`` over one forward pass: convolutions and products), and
the record gives the ratio ``(CKN seconds / CKN FLOPs) / (CNN seconds / CNN FLOPs)``
of the median epochs, and each epoch's minor page faults. The record names the
checkout whose package ran (``package``, ``package_commit``): a "before" figure runs
this case with another checkout's ``sklearn_ckn`` first on ``PYTHONPATH``. With
``--profile``, the operators of one CKN epoch (torch profiler, self time) are written
beside the record. Run alone::

    python -m benchmarks run supervised.cost_per_flop --data-home ../shared/datasets
    python -m benchmarks run supervised.cost_per_flop --param loads=quiet \\
        --param precisions=float32 --param profile=true
"""

import os
import subprocess
import time

import numpy as np

from ..harness import Case, arg, register
from ..harness.util import busy_core, load_average


def _images(ctx, n):
    from ..harness.data import load_train_test

    try:
        X, y, _, _ = load_train_test("cifar10", ctx.data_home, n, 1, how="first")
        return X, y, "cifar10"
    except (OSError, ValueError) as exc:
        print(f"CIFAR-10 not available ({exc}): random 32x32x3 images", flush=True)
        rng = np.random.default_rng(0)
        X = rng.random((n, 32, 32, 3), dtype=np.float32)
        return X, rng.integers(0, 10, n), "random"


def started(name, architecture, X, y, mixed_precision=False):
    """The estimator ``name`` ("ckn" or "cnn") as this case times it, fitted once: the
    CKN's unsupervised start (``epochs=0``), one epoch of the CNN; every other default."""
    from sklearn_ckn import CKNClassifier, CNNClassifier

    if name == "ckn":
        est = CKNClassifier(architecture, epochs=0, device="cpu", mixed_precision=mixed_precision,
                            random_state=0)
    else:
        est = CNNClassifier(epochs=1, device="cpu", mixed_precision=mixed_precision, random_state=0,
                            image_shape=X.shape[1:])
    return est.fit(X, y)


def _forward_flops(estimator, image_shape):
    """FLOPs of one forward pass per image, counted by torch's flop counter."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    net = estimator.module_
    h, w, c = image_shape
    was_training = net.training
    net.eval()
    x = torch.rand(8, c, h, w).contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    net.train(was_training)
    return counter.get_total_flops() / 8


def _minor_faults():
    """Minor page faults of this process so far (fresh pages the kernel zeroed), or 0."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _profile(estimator, X, y, path):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        estimator.partial_fit(X, y)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30,
                                      max_name_column_width=50)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(table)
    return path


def run(ctx):
    import torch

    import sklearn_ckn

    args = ctx.params
    X, y, source = _images(ctx, args.n_images)
    package = os.path.dirname(sklearn_ckn.__file__)  # another checkout's, for a "before" run
    commit = subprocess.run(["git", "-C", package, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or None
    shape = (32, 32, 3)
    out = {"package": package, "package_commit": commit, "images": source, "n_images": len(X), "architecture": args.architecture,
           "torch_threads": torch.get_num_threads(), "settings": []}
    for load in args.loads:
        for precision in args.precisions:
            mixed = precision == "bfloat16"
            ckn = started("ckn", args.architecture, X, y, mixed)
            cnn = started("cnn", args.architecture, X, y, mixed)
            flops = {"ckn": _forward_flops(ckn, shape), "cnn": _forward_flops(cnn, shape)}
            times = {"ckn": [], "cnn": []}
            faults = {"ckn": [], "cnn": []}
            before = load_average()
            with busy_core(load == "busy"):
                for _ in range(args.repeats):
                    for name, est in (("ckn", ckn), ("cnn", cnn)):
                        f, t = _minor_faults(), time.perf_counter()
                        est.partial_fit(X, y)
                        times[name].append(time.perf_counter() - t)
                        faults[name].append(_minor_faults() - f)
            after = load_average()
            med = {k: float(np.median(v)) for k, v in times.items()}
            ratio = (med["ckn"] / flops["ckn"]) / (med["cnn"] / flops["cnn"])
            setting = {"load": load, "precision": precision, "seconds": times,
                       "minor_page_faults": faults,
                       "median_seconds": med, "forward_flops_per_image": flops,
                       "ratio_per_flop": ratio, "load_average_before": before,
                       "load_average_after": after}
            out["settings"].append(setting)
            print(f"{load} {precision}: CKN {med['ckn']:.2f} s, CNN {med['cnn']:.2f} s an epoch "
                  f"of {len(X)}; per FLOP {ratio:.2f}x (load {before[0]:.1f} -> {after[0]:.1f})",
                  flush=True)
            if args.profile and load == "quiet":
                path = os.path.join(ctx.artifact_dir, f"profile_ckn_{precision}.txt")
                setting["profile"] = os.path.basename(_profile(ckn, X, y, path))
            ctx.checkpoint(out)
    for s in out["settings"]:
        out.setdefault(s["load"], {})[s["precision"]] = {"ratio_per_flop": s["ratio_per_flop"]}
    return out


register(Case(
    name="supervised.cost_per_flop", run=run, dataset="cifar10",
    params=(
        arg("--architecture", default="ckn5", help="the CKNClassifier architecture"),
        arg("--n-images", type=int, default=1024, help="training images an epoch"),
        arg("--repeats", type=int, default=3, help="warm epochs of each estimator, alternating"),
        arg("--precisions", nargs="+", choices=("float32", "bfloat16"),
            default=["float32", "bfloat16"], help="float32, and bfloat16 autocast"),
        arg("--loads", nargs="+", choices=("quiet", "busy"), default=["quiet", "busy"],
            help="quiet: nothing else started; busy: another process spins on one core"),
        arg("--profile", action="store_true", help="write the operators of one CKN epoch"),
    ),
    description="training time per forward FLOP, CKNClassifier (CKN-5) against CNNClassifier, "
                "partial_fit epochs alternating, float32/bfloat16, quiet and with a busy core",
    metrics=("quiet.float32.ratio_per_flop", "busy.float32.ratio_per_flop",
             "quiet.bfloat16.ratio_per_flop"),
))
