"""Where do the heat maps point? Localisation of Grad-CAM, HiResCAM and LayerCAM.

Two parts, each a stage whose result is saved to the work folder (fitted models are
pickled there too), so an interrupted run resumes where it stopped:

``synthetic``
    :func:`sklearn_ckn.explain.make_localisation_task` at 16x16 and 32x32: a bright
    cross (class 0) or plus (class 1) at a known place near the top-left corner, and
    look-alike crosses / pluses elsewhere (2 at 16x16, 8 at 32x32) drawn at random
    whatever the class. A CNN (``"resnet-small"``), a CKN pipeline (CKN ->
    StandardScaler -> LogisticRegression) and a supervised ``CKNClassifier`` (same
    layers, 5 epochs) are fitted; for every method and every
    candidate target layer (``layer=None`` is marked as the default) the maps of the
    true class on held-out images are scored by the share of their mass in the
    informative 5x5 square (over the share of a uniform map: 1 is chance) and by the
    pointing game (the maximum within one pixel of the square; ``pointing_chance`` is
    the hit rate of a random peak).
``cifar10``
    Both models fitted on a CIFAR-10 sample; on held-out images, the accuracy as the
    most salient pixels of each map (default layer; plus Grad-CAM at the last block,
    the former default) are replaced by a blurred copy of the image (deletion: falls
    fast if the map points at the evidence) or restored into the blurred image
    (insertion: rises fast); random maps are the reference. Areas under the curves
    (mean accuracy over the fractions) are reported.

Run (from the project root; a few minutes on 2 free cores)::

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run explain.localisation \
        --data-home ../shared/datasets

``--param stages=synthetic`` skips CIFAR-10; ``--param quick=true`` is a smoke run with
tiny models.
"""

import os
import pickle
import time

import numpy as np

from ..harness import Case, arg, register
from ..harness.results import git_commit


METHODS = ("layercam", "hirescam", "gradcam")
FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)


def _models(quick, cnn_widths, epochs, ckn_filters, C, random_state, supervised_epochs=0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_ckn import CKNClassifier, CKNTransformer, CNNClassifier

    if quick:
        cnn_widths, epochs, ckn_filters = (4, 8), 1, (8, 8)
    cnn = CNNClassifier("resnet-small", architecture_params={"widths": tuple(cnn_widths)},
                        epochs=epochs, batch_size=64, device="cpu", random_state=random_state)
    ckn = make_pipeline(
        CKNTransformer(n_filters=tuple(ckn_filters), subsamplings=(2, 4), n_patches=20_000,
                       device="cpu", random_state=random_state),
        StandardScaler(), LogisticRegression(C=C, max_iter=1000),
    )
    models = {"cnn": cnn, "ckn": ckn}
    if supervised_epochs:
        models["ckn_supervised"] = CKNClassifier(
            ckn=CKNTransformer(n_filters=tuple(ckn_filters), subsamplings=(2, 4),
                               n_patches=20_000),
            epochs=1 if quick else supervised_epochs, device="cpu", random_state=random_state)
    return models


def _fit_or_load(name, model, X, y, work_dir):
    path = os.path.join(work_dir, f"{name}.pkl")
    if os.path.exists(path):
        with open(path, "rb") as f:
            saved = pickle.load(f)
        print(f"  {name}: loaded from {path}")
        return saved["model"], saved["fit_seconds"]
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    with open(path, "wb") as f:
        pickle.dump({"model": model, "fit_seconds": seconds}, f)
    print(f"  {name}: fitted in {seconds:.1f} s")
    return model, seconds


def synthetic(size, args, work_dir):
    from scipy import ndimage

    from sklearn_ckn.explain import (
        as_differentiable,
        grad_cam,
        make_localisation_task,
        mass_in_region,
        pointing_game,
    )

    n_train = 200 if args.quick else args.synthetic_train
    X, y, _ = make_localisation_task(n_train, size, random_state=0)
    Xt, yt, Mt = make_localisation_task(args.synthetic_test, size, random_state=1)
    uniform = Mt.mean(axis=(1, 2))
    # A map peaking at a random pixel hits the square grown by one pixel this often.
    grown = ndimage.binary_dilation(Mt, structure=np.ones((1, 3, 3), dtype=bool))
    out = {"image_size": size, "n_train": n_train, "n_test": len(Xt),
           "uniform_share": float(uniform.mean()), "pointing_chance": float(grown.mean()),
           "n_distractors": round(2 * (size / 16) ** 2), "models": {}}
    models = _models(args.quick, args.synthetic_cnn_widths, args.synthetic_epochs,
                     args.synthetic_ckn_filters, 0.1, args.random_state,
                     supervised_epochs=args.synthetic_supervised_epochs)
    for name, model in models.items():
        model, fit_seconds = _fit_or_load(f"synthetic{size}_{name}", model, X, y, work_dir)
        adapter = as_differentiable(model)
        shape = Xt.shape[1:] + (1,)
        default = adapter.default_layer(shape)
        rows = []
        for key, hw in adapter.candidate_layers(shape):
            for method in METHODS:
                start = time.perf_counter()
                maps = grad_cam(model, Xt, target=yt, method=method, layer=key)
                seconds = time.perf_counter() - start
                share = mass_in_region(maps, Mt)
                rows.append({
                    "layer": str(key), "map_size": list(hw), "default_layer": key == default,
                    "method": method,
                    "mass_ratio_mean": float(np.nanmean(share / uniform)),
                    "mass_ratio_q10": float(np.nanquantile(share / uniform, 0.1)),
                    "mass_share_mean": float(np.nanmean(share)),
                    "pointing_game": float(pointing_game(maps, Mt).mean()),
                    "all_zero_maps": int(np.isnan(share).sum()),
                    "seconds": seconds,
                })
                r = rows[-1]
                print(f"  {size}x{size} {name} {r['layer']:16} {hw} {method:9}"
                      f"{' (default layer)' if r['default_layer'] else '':16} mass x"
                      f"{r['mass_ratio_mean']:.2f} pointing {r['pointing_game']:.2f}")
        out["models"][name] = {
            "accuracy": float((model.predict(Xt) == yt).mean()),
            "fit_seconds": fit_seconds, "default_layer": str(default), "rows": rows,
        }
    return out


def cifar10(args, work_dir, data_home):
    from sklearn_ckn.datasets import load_cifar10
    from sklearn_ckn.explain import as_differentiable, deletion_insertion, grad_cam

    n_train = 500 if args.quick else args.cifar_train
    n_test = 100 if args.quick else args.cifar_test
    train = load_cifar10(data_home, subset="train", n_samples=n_train, shuffle=True,
                         random_state=args.random_state, download_if_missing=False)
    test = load_cifar10(data_home, subset="test", n_samples=n_test, shuffle=True,
                        random_state=args.random_state, download_if_missing=False)
    X, y, Xt, yt = train.images, train.target, test.images, test.target
    models = _models(args.quick, args.cifar_cnn_widths, args.cifar_epochs,
                     args.cifar_ckn_filters, 0.1, args.random_state)
    out = {"n_train": len(X), "n_test": len(Xt), "fractions": list(FRACTIONS),
           "baseline": "blur", "models": {}}
    rng = np.random.default_rng(0)
    for name, model in models.items():
        model, fit_seconds = _fit_or_load(f"cifar10_{name}", model, X, y, work_dir)
        adapter = as_differentiable(model)
        default = adapter.default_layer(Xt.shape[1:])
        last = adapter.candidate_layers(Xt.shape[1:])[-1][0]
        variants = [(m, default) for m in METHODS]
        if last != default:
            variants.append(("gradcam", last))
        rows = []
        for method, layer in variants + [("random", None)]:
            start = time.perf_counter()
            if method == "random":
                maps = rng.random(Xt.shape[:3])
            else:
                maps = grad_cam(model, Xt, method=method, layer=layer)
            map_seconds = time.perf_counter() - start
            row = {"method": method, "layer": None if layer is None else str(layer),
                   "default_layer": layer == default, "map_seconds": map_seconds}
            for mode in ("deletion", "insertion"):
                acc = deletion_insertion(model, Xt, yt, maps, FRACTIONS, mode=mode,
                                         baseline="blur", random_state=0)
                row[mode] = [float(a) for a in acc]
                row[f"{mode}_auc"] = float(np.mean(acc))
            rows.append(row)
            print(f"  cifar10 {name} {method:9} layer {row['layer']!s:16} deletion AUC "
                  f"{row['deletion_auc']:.3f} insertion AUC {row['insertion_auc']:.3f}")
        out["models"][name] = {
            "accuracy": float((model.predict(Xt) == yt).mean()), "fit_seconds": fit_seconds,
            "default_layer": str(default), "last_layer": str(last),
            "candidate_layers": [[str(k), list(hw)] for k, hw in
                                 adapter.candidate_layers(Xt.shape[1:])],
            "rows": rows,
        }
    return out


def _ints(text):
    return tuple(int(v) for v in str(text).split(",") if v.strip())


def run(ctx):
    args = ctx.params
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - {"synthetic", "cifar10"}
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; use synthetic and/or cifar10")
    work_dir = ctx.work_dir  # per parameter hash: quick runs have their own
    os.makedirs(work_dir, exist_ok=True)
    start = time.perf_counter()
    result = {"settings": {k: (list(v) if isinstance(v, tuple) else v)
                           for k, v in vars(args).items()},
              "methods": list(METHODS), "git_commit": git_commit()[0]}
    if "synthetic" in stages:
        result["synthetic"] = [
            ctx.stage(f"synthetic{size}", lambda size=size: synthetic(size, args, work_dir))
            for size in (16, 32)
        ]
    if "cifar10" in stages:
        result["cifar10"] = ctx.stage("cifar10", lambda: cifar10(args, work_dir, ctx.data_home))
    result["seconds_this_run"] = time.perf_counter() - start
    ctx.device = "cpu"
    return result


PARAMS = (
    arg("--stages", default="synthetic,cifar10"),
    arg("--synthetic-train", type=int, default=1000),
    arg("--synthetic-test", type=int, default=200),
    arg("--synthetic-epochs", type=int, default=10),
    arg("--synthetic-cnn-widths", type=_ints, default=(16, 32, 64)),
    arg("--synthetic-ckn-filters", type=_ints, default=(32, 64)),
    arg("--synthetic-supervised-epochs", type=int, default=5,
        help="epochs of the supervised CKNClassifier (0: leave it out)"),
    arg("--cifar-train", type=int, default=5000),
    arg("--cifar-test", type=int, default=500),
    arg("--cifar-epochs", type=int, default=8),
    arg("--cifar-cnn-widths", type=_ints, default=(32, 64, 128)),
    arg("--cifar-ckn-filters", type=_ints, default=(32, 128)),
    arg("--random-state", type=int, default=0),
    arg("--quick", action="store_true", help="tiny models (smoke run)"),
)

register(Case(
    name='explain.localisation',
    run=run,
    params=PARAMS,
    description='where Grad-CAM, HiResCAM and LayerCAM maps point: synthetic localisation and CIFAR-10 deletion/insertion',
    dataset='cifar10',
    model=None,
    metrics=(),
    stages=('synthetic16', 'synthetic32', 'cifar10'),
    legacy_script='bench_localisation.py',
))
