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
import shlex
import sys
from dataclasses import fields

__all__ = ["build_parser", "main"]


def _one_line(exc):
    """An exception's message and notes on one line (download errors list every address
    tried; a model's failure says which model)."""
    return " ".join(" ".join([str(exc), *getattr(exc, "__notes__", [])]).split())


def _cli_options():
    """``(field, flag, settings)`` of every option of the command line, in the order of
    :class:`~sklearn_ckn.compare.ComparisonOptions`, which declares them."""
    from .compare import ComparisonOptions

    for f in fields(ComparisonOptions):
        if "cli" in f.metadata:
            settings = dict(f.metadata["cli"])
            flag = settings.pop("flag") or "--" + f.name.replace("_", "-")
            yield f, flag, settings


def _flag(param):
    """How the command line names the option ``param`` (``--param`` for
    ``model_params``)."""
    return next((flag for f, flag, _ in _cli_options() if f.name == param),
                "--" + param.replace("_", "-"))


def build_parser():
    """Return the ``argparse`` parser of the command line.

    Its options are made from :class:`~sklearn_ckn.compare.ComparisonOptions`: the
    same names (with dashes), defaults and texts as the keywords of
    :func:`~sklearn_ckn.compare.run_comparison`.

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
    texts = {
        "datasets": "; ".join(f"{name}: {info.description}" for name, info in DATASETS.items()),
        "models": ",".join(DEFAULT_MAX_TRAIN),
        "caps": ", ".join(f"{k}={v}" for k, v in DEFAULT_MAX_TRAIN.items() if v is not None),
    }
    for f, flag, settings in _cli_options():
        settings.pop("parse")
        settings.setdefault("default", f.default)
        cmp.add_argument(flag, dest=f.name, **dict(settings, help=settings["help"].format(**texts)))
    cmp.set_defaults(subparser=cmp)
    return parser


def _options(args, argv):
    """The keywords of :func:`~sklearn_ckn.compare.run_comparison` of parsed ``args``
    (``compare_out/<dataset>`` for the default ``--out``)."""
    options = {}
    for f, flag, settings in _cli_options():
        value = getattr(args, f.name)
        if settings["parse"] is not None:
            try:
                value = settings["parse"](value)
            except ValueError as exc:
                args.subparser.error(str(exc))
        options[f.name] = value
    if options["out"] is None:
        options["out"] = f"compare_out/{options['dataset']}"
    options["command"] = shlex.join(["sklearn-ckn"] + argv)
    return options


def _option(error):
    """How the command line names the parameter of a ``ParameterError``."""
    option = _flag(error.param)
    return option if error.key is None else f"{option} {error.key}"


def main(argv=None):
    """Run the command line; return the exit status.

    0 on success. A user's mistake (a bad argument or model parameter, an output
    folder that cannot be written or that exists without ``--overwrite``, missing or
    invalid data, a failed download) prints one ``error:`` line on stderr, without a
    traceback, and gives 2 (as ``argparse`` does; argument errors raise its
    ``SystemExit(2)``). Everything is checked before any model is fitted. Ctrl-C
    prints one line and gives 130; the output folder is left as it was.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 2 for missing or invalid data, 130 when
        interrupted.

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
    options = _options(args, argv)
    from .compare import ParameterError, run_comparison
    try:
        run_comparison(**options)
    except ParameterError as exc:  # checked before anything was loaded or fitted
        mentions = {name: _flag(name) for name in exc.mentions}
        cmp.error(_one_line(exc.message_for(_option(exc), mentions)))
    except (ValueError, TypeError, OSError) as exc:
        # The user's data (missing or corrupt files, failed downloads, training sets
        # too small) or model parameters of the wrong type that only the fit can tell
        # (--param "cnn:architecture_params={'widths': 3}"): one line, no traceback.
        print(f"{cmp.prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: the output folder is as it was
        print(f"{cmp.prog}: interrupted; {options['out']} is unchanged. {_one_line(exc)}".strip(),
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
