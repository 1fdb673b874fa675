"""Command line of sklearn-ckn: ``python -m sklearn_ckn compare`` / ``sklearn-ckn compare``.

Examples
--------
Every model on the bundled digits (no file, no network; under a minute on 2 CPU
cores)::

    python -m sklearn_ckn compare

CKN against CNN on MNIST, with 5-fold cross-validation on 10,000 training images::

    sklearn-ckn compare --dataset mnist --data-home ../shared/datasets \\
        --models ckn,cnn --n-train 10000 --cv 5 --out results/mnist

Model parameters (``make_model`` keywords) with ``--param MODEL:NAME=VALUE``, the
value read as a Python literal::

    sklearn-ckn compare --param "ckn:ckn__n_filters=(32, 128)" --param cnn:epochs=5
"""

import argparse
import ast
import shlex
import sys

__all__ = ["main", "build_parser"]


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, 2**32 - 1], got {text!r}"
        )
    return value


def _image_size(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected 0 (keep 100x100) or a positive integer, got {text!r}"
        )
    return value


def _cv(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 2, got {text!r}")
    return value


def _one_line(exc):
    """An exception's message on one line (download errors list every address tried)."""
    return " ".join(str(exc).split())


def _n_jobs(text):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected 'auto', -1 or a positive integer, got {text!r}")
    return value


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string such as lenet5


def build_parser():
    """The ``argparse`` parser of the command line."""
    from . import __version__
    from .compare import DATASETS, DEFAULT_MAX_TRAIN
    from ._models import available_models

    parser = argparse.ArgumentParser(
        prog="sklearn-ckn",
        description="Convolutional Kernel Networks with the scikit-learn API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    caps = ", ".join(f"{k}={v}" for k, v in DEFAULT_MAX_TRAIN.items() if v is not None)
    cmp = sub.add_parser(
        "compare",
        help="compare CKN, CNN and classical classifiers on an image data set",
        description=(
            "Fit every model on the training images, score it on the test images, print "
            "the results and write tables and figures into --out (results.csv/json, "
            "per_class_accuracy.csv, predictions.csv, confusion_matrices.png, "
            "misclassified_<model>.png). Digits have no official split: a stratified "
            "75%/25% split is used. Every argument is checked before anything is fitted."
        ),
    )
    cmp.add_argument("--dataset", default="digits", choices=DATASETS,
                     help="data set (default: digits, bundled with scikit-learn)")
    cmp.add_argument("--data-home", default=None,
                     help="folder containing the data set folders (see sklearn_ckn.datasets)")
    cmp.add_argument("--no-download", action="store_true",
                     help="never download: fail if the data files are not in --data-home")
    cmp.add_argument("--models", default=",".join(available_models()),
                     help="comma-separated models among %(default)s (default: all)")
    cmp.add_argument("--n-train", type=_positive_int, default=None,
                     help="use a random sample of this many training images")
    cmp.add_argument("--n-test", type=_positive_int, default=None,
                     help="use a random sample of this many test images")
    cmp.add_argument("--cv", type=_cv, default=None,
                     help="also report the K-fold cross-validated accuracy on the training set")
    cmp.add_argument("--device", default="auto",
                     help="torch device of CKN and CNN: auto, cpu, cuda[:N]")
    cmp.add_argument("--out", default=None, help="output folder (default: compare_out/<dataset>)")
    cmp.add_argument("--random-state", type=_seed, default=0,
                     help="seed in [0, 2**32 - 1] (default: 0)")
    cmp.add_argument("--verbose", type=int, default=1,
                     help="0: quiet, 1: steps and tables (default), 2: also progress bars")
    cmp.add_argument("--max-train", action="append", default=[], metavar="MODEL=N",
                     help=f"cap of a model's training set, 'none' for no cap; repeatable or "
                          f"comma-separated (defaults: {caps})")
    cmp.add_argument("--param", action="append", default=[], metavar="MODEL:NAME=VALUE",
                     help="a make_model keyword of one model, VALUE a Python literal; repeatable")
    cmp.add_argument("--image-size", type=_image_size, default=None,
                     help="Fruits-360 image size (default 32; 0 keeps 100x100)")
    cmp.add_argument("--n-jobs", type=_n_jobs, default="auto",
                     help="CPU threads of torch and BLAS during the run, -1 for all cores "
                          "(default auto: 1 on digits, whose tiny images gain nothing from "
                          "threads, else the libraries' setting)")
    cmp.add_argument("--quick", action="store_true",
                     help="tiny models, for smoke tests (meaningless accuracies)")
    cmp.set_defaults(subparser=cmp)
    return parser


def _parse_max_train(parser, items):
    caps = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            if not sep:
                parser.error(f"--max-train expects MODEL=N, got {part!r}")
            if value.strip().lower() == "none":
                caps[name.strip()] = None
                continue
            try:
                caps[name.strip()] = _positive_int(value)
            except argparse.ArgumentTypeError as exc:
                parser.error(f"--max-train {part!r}: {exc}")
    return caps


def _parse_params(parser, items):
    params = {}
    for item in items:
        model, sep, rest = item.partition(":")
        name, sep2, value = rest.partition("=")
        if not sep or not sep2 or not name:
            parser.error(f"--param expects MODEL:NAME=VALUE, got {item!r}")
        params.setdefault(model.strip(), {})[name.strip()] = _literal(value)
    return params


def main(argv=None):
    """Run the command line; return the exit status.

    0 on success. A user's mistake (a bad argument or model parameter, an output
    folder that cannot be written, missing or invalid data, a failed download) prints
    one ``error:`` line on stderr, without a traceback, and gives 2 (as ``argparse``
    does; argument errors raise its ``SystemExit(2)``). Everything is checked before
    any model is fitted.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.
    """
    from ._device import resolve_device
    from ._models import available_models, make_model
    from .compare import run_comparison
    from .compare._harness import _validate_model_params, check_out_folder

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "compare":
        # Everything is checked here, before any data are loaded or models fitted.
        cmp_parser = args.subparser
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in models if m not in available_models()]
        if unknown or not models:
            cmp_parser.error(
                f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
                f"available models: {', '.join(available_models())}"
            )
        duplicates = sorted({m for m in models if models.count(m) > 1})
        if duplicates:
            cmp_parser.error(f"--models: {', '.join(duplicates)} given more than once")
        max_train = _parse_max_train(cmp_parser, args.max_train)
        bad = [m for m in max_train if m not in available_models()]
        if bad:
            cmp_parser.error(f"--max-train: unknown model(s) {', '.join(bad)}")
        params = _parse_params(cmp_parser, args.param)
        bad = [m for m in params if m not in available_models()]
        if bad:
            cmp_parser.error(f"--param: unknown model(s) {', '.join(bad)}")
        for name, kwargs in params.items():
            try:  # unknown names and invalid values fail here, before any data is loaded
                _validate_model_params(make_model(name, **kwargs))
            except (TypeError, ValueError) as exc:
                cmp_parser.error(f"--param {name}: {_one_line(exc)}")
        if args.image_size is not None and args.dataset != "fruits360":
            cmp_parser.error(
                f"--image-size applies to --dataset fruits360 only, not {args.dataset}"
            )
        try:
            resolve_device(args.device)
        except ValueError as exc:
            cmp_parser.error(f"--device: {_one_line(exc)}")
        out = args.out if args.out is not None else f"compare_out/{args.dataset}"
        try:
            check_out_folder(out)
        except ValueError as exc:
            cmp_parser.error(f"--out: {_one_line(exc)}")
        try:
            run_comparison(
                args.dataset,
                models=models,
                data_home=args.data_home,
                n_train=args.n_train,
                n_test=args.n_test,
                cv=args.cv,
                device=args.device,
                out=out,
                random_state=args.random_state,
                verbose=args.verbose,
                max_train=max_train,
                model_params=params,
                quick=args.quick,
                image_size=args.image_size,
                n_jobs=args.n_jobs,
                command=shlex.join(["sklearn-ckn"] + argv),
                download_if_missing=not args.no_download,
            )
        except (ValueError, OSError) as exc:
            # The user's data or settings (missing or corrupt files, failed downloads,
            # training sets too small, an output folder that cannot be written): one
            # line saying what to do, no traceback.
            print(f"{cmp_parser.prog}: error: {_one_line(exc)}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
