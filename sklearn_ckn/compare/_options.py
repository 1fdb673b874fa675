"""The options of a comparison, declared once: :class:`ComparisonOptions`.

Each field carries its default, its numpydoc type and text (from which the
Parameters sections of :func:`run_comparison` and of :class:`ComparisonOptions` are
made) and, for the options of the command line, its ``argparse`` settings (from which
``python -m sklearn_ckn compare``'s options are made): adding an option is one field
here, then its use in ``make_config``.

Importing this module imports neither torch nor the models (the command line's
parser reads it; ``--help`` stays fast).
"""

import difflib
import inspect
from dataclasses import dataclass, field, fields

from .._docstrings import with_parameters

__all__ = ["ComparisonOptions", "auto_or_int", "from_keywords", "parse_caps",
           "parse_model_params", "takes_options"]


def auto_or_int(text):
    """``"auto"``, or the integer ``text`` spells (the command line's ``--n-jobs``)."""
    return text if text == "auto" else int(text)


def _literal(text):
    """The Python literal ``text`` spells, or ``text`` itself (a bare string: lenet5)."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_caps(items):
    """``{model: cap}`` of the command line's ``MODEL=N`` / ``MODEL=none`` items (the
    run checks the names and values); a ``ValueError`` for text that is neither."""
    caps = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            value = value.strip()
            if not sep:
                raise ValueError(f"--max-train expects MODEL=N, got {part!r}")
            try:
                caps[name.strip()] = None if value.lower() == "none" else int(value)
            except ValueError:
                raise ValueError(f"--max-train {part!r}: N must be an integer or 'none'") from None
    return caps


def parse_model_params(items):
    """``{model: {name: value}}`` of the command line's ``MODEL:NAME=VALUE`` items, each
    value a Python literal (the run checks them); a ``ValueError`` for other text."""
    params = {}
    for item in items:
        model, sep, rest = item.partition(":")
        name, sep2, value = rest.partition("=")
        if not sep or not sep2 or not name:
            raise ValueError(f"--param expects MODEL:NAME=VALUE (a pipeline's NAME is "
                             f"<step>__<parameter>: ckn:ckn__n_filters=(32, 128)), got {item!r}")
        params.setdefault(model.strip(), {})[name.strip()] = _literal(value)
    return params


def _option(value, doc_type, doc, *, help=None, flag=None, parse=None, **argparse_settings):
    """A field of :class:`ComparisonOptions`, of default ``value``.

    ``doc_type`` and ``doc`` make its numpydoc entry. ``help`` makes it an option of the
    command line, ``flag`` (default ``--<name-with-dashes>``), with ``argparse_settings``
    (``type``, ``action``, ``metavar``, ``default``) and ``parse``, a function from what
    ``argparse`` gives to the value (``ValueError`` for bad text). ``help`` may name
    ``{datasets}``, ``{models}`` and ``{caps}``, which the command line fills in.
    """
    metadata = {"type": doc_type, "doc": doc}
    if help is not None:
        metadata["cli"] = {"help": help, "flag": flag, "parse": parse, **argparse_settings}
    return field(default=value, metadata=metadata)


# Documentation of the fields below: one entry each, made into the Parameters sections.
_DATASET_DOC = """A name of :func:`sklearn_ckn.datasets.available_datasets`; see
:func:`load_comparison_data` (digits: stratified 75%/25% split)."""
_OUT_DOC = """Folder for the files listed in :mod:`sklearn_ckn.compare`; None writes
nothing. The run writes into a new sibling folder ``<out>.incomplete-*``,
renamed to ``out`` once every file is written (``results.json`` then says
``"complete": true``): an interrupted run leaves no partial folder under
``out``'s name and keeps its partial results, if any, in that sibling."""
_OVERWRITE_DOC = """Replace an existing ``out`` holding a previous comparison's results
(refused otherwise). The old folder is removed only once the new one is
complete, so that an interrupted run leaves it untouched."""
_MAX_TRAIN_DOC = """Per-model caps on the training set, overriding :data:`DEFAULT_MAX_TRAIN`
(None removes a cap). A capped model is fitted on a stratified sample; the
table's ``n_train_used`` says so."""
_N_JOBS_DOC = """CPU threads of torch and of the BLAS / OpenMP libraries during the fits
and predictions (restored afterwards); -1: all cores; None: leave the
libraries' settings alone. ``"auto"``: 1 for images of at most 16x16 pixels
(the 8x8 digits gain nothing from several threads and lose a lot when the
cores are shared with other processes), else None."""


@dataclass(frozen=True)
class ComparisonOptions:
    """The options of :func:`run_comparison`, with their defaults.

    Each one is a keyword of :func:`run_comparison` and, except ``n_misclassified``
    and ``command``, an option of the command line (``--n-train`` for ``n_train``,
    ``--param`` for ``model_params``, ``--no-download`` for
    ``download_if_missing=False``). Nothing is checked here:
    :func:`run_comparison` checks every option before anything is loaded.

    {parameters}

    Examples
    --------
    >>> from dataclasses import asdict
    >>> from sklearn_ckn.compare import ComparisonOptions, run_comparison
    >>> options = ComparisonOptions(models=["naive_bayes"], verbose=0)
    >>> options.dataset, options.cv
    ('digits', None)
    >>> run_comparison(**asdict(options)).table["model"].tolist()
    ['naive_bayes']
    """

    dataset: str = _option(
        "digits", "str", _DATASET_DOC,
        help="data set (default: digits, bundled with scikit-learn). {datasets}")
    models: object = _option(
        None, "list of str or str",
        "Names of :func:`~sklearn_ckn.available_models` (a list or a comma-separated\n"
        "string); None runs all of them.",
        help="comma-separated models among {models} (default: all)")
    data_home: object = _option(
        None, "str or path-like", "Folder containing the data set folders.",
        help="folder containing the data set folders (see sklearn_ckn.datasets)")
    n_train: object = _option(
        None, "int", "Random sample of the training images (None: all).", type=int,
        help="use a random sample of this many training images")
    n_test: object = _option(
        None, "int", "Random sample of the test images (None: all).", type=int,
        help="use a random sample of this many test images")
    cv: object = _option(
        None, "int",
        "If given, also report the ``cv``-fold stratified cross-validated accuracy of\n"
        "each model on (its part of) the training set (columns ``cv_accuracy``,\n"
        "``cv_std``).", type=int,
        help="also report the K-fold cross-validated accuracy on the training set")
    device: str = _option(
        "auto", "str", "Torch device of the CKN and the CNN.",
        help="torch device of CKN and CNN: auto, cpu, cuda[:N]")
    out: object = _option(
        None, "str or path-like", _OUT_DOC,
        help="output folder (default: compare_out/<dataset>); an existing one is refused "
             "unless --overwrite")
    overwrite: bool = _option(
        False, "bool", _OVERWRITE_DOC, action="store_true",
        help="replace the output folder of a previous run, once the new results are complete")
    random_state: int = _option(
        0, "int", "Seeds the split, the samples and every model; in [0, 2**32 - 1].",
        type=int, help="seed in [0, 2**32 - 1] (default: 0)")
    verbose: int = _option(
        1, "int", "0: silent; 1: the steps and the tables; 2: also the models' progress bars.",
        type=int, help="0: quiet, 1: steps and tables (default), 2: also progress bars")
    max_train: object = _option(
        None, "dict of str to int or None", _MAX_TRAIN_DOC,
        action="append", default=[], metavar="MODEL=N", parse=parse_caps,
        help="cap of a model's training set, 'none' for no cap; repeatable or "
             "comma-separated (defaults: {caps})")
    model_params: object = _option(
        None, "dict of str to dict",
        "Extra :func:`~sklearn_ckn.make_model` keywords per model name, applied over\n"
        ":data:`DATASET_PARAMS` (or :data:`QUICK_PARAMS` when ``quick``).",
        flag="--param", action="append", default=[], metavar="MODEL:NAME=VALUE",
        parse=parse_model_params,
        help="a make_model keyword of one model, VALUE a Python literal; repeatable")
    quick: bool = _option(
        False, "bool", "Use tiny models (:data:`QUICK_PARAMS`): for smoke tests only.",
        action="store_true", help="tiny models, for smoke tests (meaningless accuracies)")
    image_size: object = _option(
        None, "int or (int, int)",
        "Size the images are resized to, for data sets whose loader resizes them\n"
        "(Fruits-360: default 32; 0 keeps the files' 100x100).",
        type=int, help="Fruits-360 image size (default 32; 0 keeps 100x100)")
    n_misclassified: int = _option(24, "int", "Misclassified examples shown per model.")
    n_jobs: object = _option(
        "auto", '"auto", int or None', _N_JOBS_DOC, type=auto_or_int,
        help="CPU threads of torch and BLAS during the run, -1 for all cores (default auto: "
             "1 on digits, whose tiny images gain nothing from threads, else the libraries' "
             "setting)")
    command: object = _option(
        None, "str", "Command line recorded in ``results.json`` (default: ``sys.argv``).")
    download_if_missing: bool = _option(
        True, "bool",
        "If False, missing data files raise ``FileNotFoundError`` instead of being\n"
        "downloaded.", flag="--no-download", action="store_false",
        help="never download: fail if the data files are not in --data-home")
    verify_checksums: bool = _option(
        True, "bool",
        "Check data files already in ``data_home`` against the official MD5 checksums\n"
        "(see :func:`sklearn_ckn.datasets.load_dataset`).",
        flag="--no-verify-checksums", action="store_false",
        help="do not check the data files already in --data-home against the official MD5 "
             "checksums")


def from_keywords(caller, **options):
    """The :class:`ComparisonOptions` of ``caller(**options)``; for an unknown keyword, a
    ``TypeError`` naming ``caller`` and the option meant (Python's own message would
    name ``ComparisonOptions``)."""
    names = [f.name for f in fields(ComparisonOptions)]
    for name in options:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}; "
                            f"{hint}its options: {', '.join(names)}.")
    return ComparisonOptions(**options)


def _default_text(value):
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _parameters_text():
    """The numpydoc entries of every option."""
    entries = []
    for f in fields(ComparisonOptions):
        entries.append(f"{f.name} : {f.metadata['type']}, default={_default_text(f.default)}")
        entries += ["    " + line for line in f.metadata["doc"].splitlines()]
    return "\n".join(entries) + "\n"


with_parameters(_parameters_text())(ComparisonOptions)


def takes_options(func):
    """Decorator of ``func(dataset="digits", **options)``: its signature lists every
    option (keyword-only but ``dataset``) and its docstring's line ``{parameters}``
    documents them."""
    kinds = {"dataset": inspect.Parameter.POSITIONAL_OR_KEYWORD}
    func.__signature__ = inspect.Signature([
        inspect.Parameter(f.name, kinds.get(f.name, inspect.Parameter.KEYWORD_ONLY),
                          default=f.default)
        for f in fields(ComparisonOptions)
    ])
    return with_parameters(_parameters_text())(func)
