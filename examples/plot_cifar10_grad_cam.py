"""
Class activation maps of a CNN and a CKN on CIFAR-10
====================================================

Trains a CNN (:class:`~sklearn_ckn.CNNClassifier`, a narrow residual network), a
CKN pipeline (:class:`~sklearn_ckn.CKNTransformer` -> ``StandardScaler`` ->
``LogisticRegression``) and a supervised CKN (:class:`~sklearn_ckn.CKNClassifier`, the
same kind of network with its anchors trained end to end) on a sample of CIFAR-10,
prints their per-class test accuracy (``CLASS / CNN Acc / CKN Acc / Difference``, and
the supervised CKN's) and saves, into ``--out``,

* ``grad_cam_cifar10.png``: one test image per class (one row each), the original
  titled with its class ("Original: airplane") and the map of each model over it,
  titled with the method, the model and its prediction ("LayerCAM (CNN): airplane",
  red when wrong). Maps are LayerCAM (``--method``: also ``hirescam`` or
  ``gradcam``) at each model's default layer, chosen from the map resolution: the
  CNN's second stage (8x8 maps for 32x32 images; its last block is 4x4), the CKN's
  last layer's kernel embedding before pooling (16x16);
* ``filters_cnn.png``, ``filters_ckn.png``, ``filters_ckn_supervised.png``: the
  first-layer filters of the models (CKN anchors mapped back to pixel space through
  the whitening's pseudo-inverse).

The default is small, so that it runs in about two minutes on a CPU: 5,000 training
and 1,000 test images, a (32, 64, 128)-wide residual CNN trained for 10 epochs and a
(32, 128)-filter CKN. Bigger settings, for maps that explain better models (use a GPU
for the CNN: on a CPU this takes hours)::

    python examples/plot_cifar10_grad_cam.py --data-home DIR \\
        --n-train 50000 --n-test 10000 --epochs 20 --cnn-widths 64,128,256 \\
        --ckn-filters 64,256 --device cuda

This is a command-line script, not a page of the gallery (it needs CIFAR-10 on disk
and minutes of CPU): the gallery's "Grad-CAM of a CNN and a CKN" shows the same
functions on the bundled digits.

Run it with the data in ``--data-home`` (the folder that contains
``cifar-10-batches-py/``)::

    python examples/plot_cifar10_grad_cam.py --data-home DIR

A smoke run with tiny models (seconds; meaningless accuracies)::

    python examples/plot_cifar10_grad_cam.py --data-home DIR --n-train 100 --n-test 50 --quick
"""

# %%
import argparse
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ckn import CKNClassifier, CKNTransformer, CNNClassifier
from sklearn_ckn.compare import format_per_class_table, per_class_accuracy
from sklearn_ckn.datasets import load_cifar10
from sklearn_ckn.explain import plot_filters, plot_grad_cam

METHOD_NAMES = {"layercam": "LayerCAM", "hirescam": "HiResCAM", "gradcam": "Grad-CAM"}


def _ints(text):
    return tuple(int(v) for v in str(text).split(",") if v.strip())


def _sample(data_home, subset, n, random_state):
    if n is None:
        return load_cifar10(data_home, subset=subset, download_if_missing=False)
    return load_cifar10(data_home, subset=subset, n_samples=n, shuffle=True,
                        random_state=random_state, download_if_missing=False)


def one_per_class(y, n_show):
    """Index of the first image of each class (at most ``n_show`` classes)."""
    classes = np.unique(y)[:n_show]
    return np.array([np.flatnonzero(y == c)[0] for c in classes], dtype=np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Class activation maps of a CNN and a CKN on CIFAR-10.")
    parser.add_argument("--data-home", default=None,
                        help="folder containing cifar-10-batches-py/")
    parser.add_argument("--n-train", type=int, default=5000,
                        help="random sample of the training images (0: all 50,000)")
    parser.add_argument("--n-test", type=int, default=1000,
                        help="random sample of the test images (0: all 10,000)")
    parser.add_argument("--epochs", type=int, default=10, help="CNN training epochs")
    parser.add_argument("--cnn-widths", default="32,64,128",
                        help="channels of the residual CNN's stages")
    parser.add_argument("--ckn-filters", default="32,128", help="CKN filters per layer")
    parser.add_argument("--sup-epochs", type=int, default=3,
                        help="supervised CKN training epochs")
    parser.add_argument("--n-show", type=int, default=10,
                        help="images in the heat-map figure (one per class)")
    parser.add_argument("--method", default="layercam", choices=["layercam", "hirescam", "gradcam"],
                        help="how gradients weight the feature maps")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--out", default="grad_cam_out", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny models (smoke test)")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    # %%
    # Data: random samples of the official training and test sets.
    start = time.perf_counter()
    train = _sample(args.data_home, "train", args.n_train or None, args.random_state)
    test = _sample(args.data_home, "test", args.n_test or None, args.random_state)
    X_train, y_train, X_test, y_test = train.images, train.target, test.images, test.target
    names = list(test.target_names)
    print(f"CIFAR-10: {len(X_train)} training and {len(X_test)} test images")

    # %%
    # The two models.
    widths, filters = _ints(args.cnn_widths), _ints(args.ckn_filters)
    epochs, n_patches, max_iter, sup_epochs = args.epochs, 20_000, 300, args.sup_epochs
    if args.quick:
        widths, filters, epochs, n_patches, max_iter, sup_epochs = (8, 16), (8, 16), 1, 2000, 50, 1
    cnn = CNNClassifier("resnet-small", architecture_params={"widths": widths}, epochs=epochs,
                        device=args.device, random_state=args.random_state)
    ckn = Pipeline([
        ("ckn", CKNTransformer(n_filters=filters, subsamplings=(2, 4), n_patches=n_patches,
                               device=args.device, random_state=args.random_state)),
        ("scaler", StandardScaler()),
        ("clf", LogisticRegression(C=0.1, max_iter=max_iter, random_state=args.random_state)),
    ])
    sup = CKNClassifier(
        ckn=CKNTransformer(n_filters=filters, subsamplings=(2, 4), n_patches=n_patches),
        epochs=sup_epochs, device=args.device, random_state=args.random_state)
    predictions, seconds = {}, {}
    for name, model in (("cnn", cnn), ("ckn", ckn), ("ckn_supervised", sup)):
        t = time.perf_counter()
        model.fit(X_train, y_train)
        predictions[name] = model.predict(X_test)
        seconds[name] = time.perf_counter() - t
        accuracy = (predictions[name] == y_test).mean()
        print(f"{name.upper()}: test accuracy {accuracy:.4f} (fit + predict {seconds[name]:.1f} s)")

    # %%
    # Per-class accuracy, CNN vs CKN.
    table = per_class_accuracy(y_test, predictions, labels=np.arange(len(names)),
                               target_names=names)
    print()
    print(format_per_class_table(table, first="cnn", second="ckn"))
    print()
    print(format_per_class_table(table, first="ckn", second="ckn_supervised"))

    # %%
    # Class activation maps of every model on one test image per class: one row per
    # class, the original, then one column per model (more models: add them to the
    # dict). ``plot_grad_cam`` returns a display; in a notebook it shows as the
    # cell's value, in a script ``plt.show()`` shows it.
    t = time.perf_counter()
    show = one_per_class(y_test, args.n_show)
    explained = {"CNN": cnn, "CKN": ckn, "Supervised CKN": sup}
    display = plot_grad_cam(explained, X_test[show], y_true=y_test[show], target_names=names,
                            method=args.method,
                            title=f"CIFAR-10: {METHOD_NAMES[args.method]} at each "
                                  "model's default layer")
    os.makedirs(args.out, exist_ok=True)
    files = {"grad_cam": os.path.join(args.out, "grad_cam_cifar10.png")}
    display.figure_.savefig(files["grad_cam"], dpi=110)
    plt.close(display.figure_)  # saved (the docs gallery shows the saved files)
    for name, model in (("cnn", cnn), ("ckn", ckn), ("ckn_supervised", sup)):
        files[f"filters_{name}"] = os.path.join(args.out, f"filters_{name}.png")
        filters = plot_filters(model, n_filters=32)
        filters.figure_.savefig(files[f"filters_{name}"], dpi=110)
        plt.close(filters.figure_)
    seconds["grad_cam"] = time.perf_counter() - t
    print(f"\nHeat-map and filter figures in {args.out} ({seconds['grad_cam']:.1f} s): "
          + ", ".join(os.path.basename(f) for f in files.values()))
    print(f"Total {time.perf_counter() - start:.1f} s")
    return {"cnn": cnn, "ckn": ckn, "ckn_supervised": sup, "per_class": table, "files": files, "seconds": seconds,
            "display": display}


if __name__ == "__main__":
    main()
