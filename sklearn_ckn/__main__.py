"""Command line of sklearn-ckn: ``python -m sklearn_ckn compare`` / ``sklearn-ckn compare``.

The one command-line parser of the package. It only turns the text of the command
line into the parameters of :func:`sklearn_ckn.compare.run_comparison`, which checks
all of them before anything is loaded or fitted. Building the parser imports neither
torch nor the models (``--help`` and ``--version`` answer at once): the comparison is
imported when a command runs.

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

__all__ = ["build_parser", "main"]

# Options whose name is not the parameter's with dashes.
_OPTIONS = {"model_params": "--param"}


def _one_line(exc):
    """An exception's message and notes on one line (download errors list every address
    tried; a model's failure says which model)."""
    return " ".join(" ".join([str(exc), *getattr(exc, "__notes__", [])]).split())


def auto_or_int(text):
    """``"auto"``, or the integer ``text`` spells."""
    return text if text == "auto" else int(text)


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string such as lenet5


def build_parser():
    """Return the ``argparse`` parser of the command line.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with the ``compare`` command.

    Examples
    --------
    >>> from sklearn_ckn.__main__ import build_parser
    >>> build_parser().parse_args(["compare", "--dataset", "mnist"]).dataset
    'mnist'
    """
    # Light imports only: no torch, no models (the names come from the comparison's
    # settings, which list every model of make_model).
    from . import __version__
    from .compare import DEFAULT_MAX_TRAIN
    from .datasets import DATASETS

    parser = argparse.ArgumentParser(
        prog="sklearn-ckn",
        description="Convolutional Kernel Networks with the scikit-learn API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    caps = ", ".join(f"{k}={v}" for k, v in DEFAULT_MAX_TRAIN.items() if v is not None)
    datasets = "; ".join(f"{name}: {info.description}" for name, info in DATASETS.items())
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
    cmp.add_argument("--dataset", default="digits",
                     help=f"data set (default: digits, bundled with scikit-learn). {datasets}")
    cmp.add_argument("--data-home", default=None,
                     help="folder containing the data set folders (see sklearn_ckn.datasets)")
    cmp.add_argument("--no-download", action="store_true",
                     help="never download: fail if the data files are not in --data-home")
    cmp.add_argument("--no-verify-checksums", action="store_true",
                     help="do not check the data files already in --data-home against the "
                          "official MD5 checksums")
    cmp.add_argument("--models", default=",".join(DEFAULT_MAX_TRAIN),
                     help="comma-separated models among %(default)s (default: all)")
    cmp.add_argument("--n-train", type=int, default=None,
                     help="use a random sample of this many training images")
    cmp.add_argument("--n-test", type=int, default=None,
                     help="use a random sample of this many test images")
    cmp.add_argument("--cv", type=int, default=None,
                     help="also report the K-fold cross-validated accuracy on the training set")
    cmp.add_argument("--device", default="auto",
                     help="torch device of CKN and CNN: auto, cpu, cuda[:N]")
    cmp.add_argument("--out", default=None, help="output folder (default: compare_out/<dataset>)")
    cmp.add_argument("--random-state", type=int, default=0,
                     help="seed in [0, 2**32 - 1] (default: 0)")
    cmp.add_argument("--verbose", type=int, default=1,
                     help="0: quiet, 1: steps and tables (default), 2: also progress bars")
    cmp.add_argument("--max-train", action="append", default=[], metavar="MODEL=N",
                     help=f"cap of a model's training set, 'none' for no cap; repeatable or "
                          f"comma-separated (defaults: {caps})")
    cmp.add_argument("--param", action="append", default=[], metavar="MODEL:NAME=VALUE",
                     help="a make_model keyword of one model, VALUE a Python literal; repeatable")
    cmp.add_argument("--image-size", type=int, default=None,
                     help="Fruits-360 image size (default 32; 0 keeps 100x100)")
    cmp.add_argument("--n-jobs", type=auto_or_int, default="auto",
                     help="CPU threads of torch and BLAS during the run, -1 for all cores "
                          "(default auto: 1 on digits, whose tiny images gain nothing from "
                          "threads, else the libraries' setting)")
    cmp.add_argument("--quick", action="store_true",
                     help="tiny models, for smoke tests (meaningless accuracies)")
    cmp.set_defaults(subparser=cmp)
    return parser


def _parse_max_train(parser, items):
    """``{model: cap}`` of ``MODEL=N`` / ``MODEL=none`` items (checked by the run)."""
    caps = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            value = value.strip()
            if not sep:
                parser.error(f"--max-train expects MODEL=N, got {part!r}")
            try:
                caps[name.strip()] = None if value.lower() == "none" else int(value)
            except ValueError:
                parser.error(f"--max-train {part!r}: N must be an integer or 'none'")
    return caps


def _parse_params(parser, items):
    """``{model: {name: value}}`` of ``MODEL:NAME=VALUE`` items (checked by the run)."""
    params = {}
    for item in items:
        model, sep, rest = item.partition(":")
        name, sep2, value = rest.partition("=")
        if not sep or not sep2 or not name:
            parser.error(f"--param expects MODEL:NAME=VALUE (a pipeline's NAME is "
                         f"<step>__<parameter>: ckn:ckn__n_filters=(32, 128)), got {item!r}")
        params.setdefault(model.strip(), {})[name.strip()] = _literal(value)
    return params


def _option(error):
    """How the command line names the parameter of a ``ParameterError``."""
    option = _OPTIONS.get(error.param, "--" + error.param.replace("_", "-"))
    return option if error.key is None else f"{option} {error.key}"


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

    Returns
    -------
    status : int
        The exit status: 0 on success, 2 for missing or invalid data.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_ckn.__main__ import main
    >>> main(["compare", "--models", "naive_bayes", "--verbose", "0",
    ...       "--out", tempfile.mkdtemp()])
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)  # --help and --version exit here, before torch
    cmp = args.subparser  # the only command: compare
    from .compare import ParameterError, run_comparison
    try:
        run_comparison(
            args.dataset,
            models=args.models,
            data_home=args.data_home,
            n_train=args.n_train,
            n_test=args.n_test,
            cv=args.cv,
            device=args.device,
            out=args.out if args.out is not None else f"compare_out/{args.dataset}",
            random_state=args.random_state,
            verbose=args.verbose,
            max_train=_parse_max_train(cmp, args.max_train),
            model_params=_parse_params(cmp, args.param),
            quick=args.quick,
            image_size=args.image_size,
            n_jobs=args.n_jobs,
            command=shlex.join(["sklearn-ckn"] + argv),
            download_if_missing=not args.no_download,
            verify_checksums=not args.no_verify_checksums,
        )
    except ParameterError as exc:  # checked before anything was loaded or fitted
        cmp.error(_one_line(exc.message_for(_option(exc))))
    except (ValueError, TypeError, OSError) as exc:
        # The user's data (missing or corrupt files, failed downloads, training sets
        # too small) or model parameters of the wrong type that only the fit can tell
        # (--param "cnn:architecture_params={'widths': 3}"): one line, no traceback.
        print(f"{cmp.prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
