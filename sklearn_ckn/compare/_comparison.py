"""The comparison's entry point: :func:`run_comparison` checks its parameters
(``_config``), loads the data (``_data``), fits and scores the models (``_run``) and
reports (``_report``)."""

import html
import os
import time
from dataclasses import dataclass, field

import pandas as pd
from sklearn.utils import Bunch

from .._threads import cpu_threads
from . import _data, _run
from ._config import make_config
from ._report import (
    capped,
    formatted_table,
    make_figures,
    per_class_table,
    print_report,
    say,
    write_files,
)

__all__ = ["ComparisonResult", "run_comparison"]


@dataclass(repr=False)
class ComparisonResult:
    """What :func:`run_comparison` returns.

    Its repr (and, in a notebook, its HTML repr) shows the data set and the results
    table; the fields hold everything else.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model (the content of ``results.csv``).
    per_class : pandas.DataFrame
        Per-class accuracies (``per_class_accuracy.csv``).
    predictions : dict of str to ndarray
        Test predictions of each model.
    data : Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test``, ``target_names``, ``split``.
    info : dict
        Everything ``results.json`` holds besides the rows.
    files : dict of str to str
        Paths of the written files (empty when ``out`` is None).
    figures : dict of str to Figure
        ``"confusion_matrices"`` and ``"misclassified_<model>"``.

    See Also
    --------
    sklearn_ckn.compare.run_comparison : Returns it.

    Examples
    --------
    >>> from sklearn_ckn.compare import run_comparison
    >>> result = run_comparison("digits", models=["naive_bayes", "knn"], verbose=0)
    >>> list(result.predictions), len(result.data.X_test)
    (['naive_bayes', 'knn'], 450)
    >>> print(repr(result).splitlines()[0])
    ComparisonResult on digits: 1347 training and 450 test images, 2 models
    """

    table: pd.DataFrame
    per_class: pd.DataFrame
    predictions: dict
    data: Bunch
    info: dict
    files: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)

    def _summary(self):
        """``(title, notes)``: what was compared, and lines about caps and files."""
        info = self.info
        title = f"ComparisonResult on {info.get('dataset', 'an image data set')}"
        if "n_train" in info and "n_test" in info:
            title += f": {info['n_train']} training and {info['n_test']} test images"
        title += f", {len(self.table)} model{'s' if len(self.table) != 1 else ''}"
        notes = []
        if capped(self.table).any():
            notes.append("* fitted on a stratified subset of the training images (the "
                         "model's max_train cap)")
        if self.files:
            folders = sorted({os.path.dirname(p) for p in self.files.values()})
            notes.append(f"{len(self.files)} files written to {', '.join(folders)}")
        return title, notes

    def __repr__(self):
        title, notes = self._summary()
        table = formatted_table(self.table).to_string(index=False)
        return "\n".join([title, table, *notes])

    def _repr_html_(self):
        """The summary and the results table as HTML (Jupyter notebooks)."""
        title, notes = self._summary()
        parts = [f"<div><p><strong>{html.escape(title)}</strong></p>",
                 formatted_table(self.table).to_html(index=False, border=0)]
        parts += [f"<p>{html.escape(note)}</p>" for note in notes]
        return "\n".join(parts + ["</div>"])



def run_comparison(
    dataset="digits",
    *,
    models=None,
    data_home=None,
    n_train=None,
    n_test=None,
    cv=None,
    device="auto",
    out=None,
    random_state=0,
    verbose=1,
    max_train=None,
    model_params=None,
    quick=False,
    image_size=None,
    n_misclassified=24,
    n_jobs="auto",
    command=None,
    download_if_missing=True,
    verify_checksums=True,
):
    """Fit and score several models on one data set; write tables and figures.

    Every argument, model parameter and the output folder are checked before the data
    are loaded, and the training sets' sizes (classes, ``cv`` folds, neighbours)
    before any model is fitted, so that a mistake fails in seconds with a
    ``ValueError`` (a :class:`ParameterError` for a parameter), not after hours of
    fitting.

    Parameters
    ----------
    dataset : str, default="digits"
        A name of :func:`sklearn_ckn.datasets.available_datasets`; see
        :func:`load_comparison_data` (digits: stratified 75%/25% split).
    models : list of str or str, default=None
        Names of :func:`~sklearn_ckn.available_models` (a list or a comma-separated
        string); None runs all of them.
    data_home : str or path-like, default=None
        Folder containing the data set folders.
    n_train, n_test : int, default=None
        Random samples of the training / test images (None: all).
    cv : int, default=None
        If given, also report the ``cv``-fold stratified cross-validated accuracy of
        each model on (its part of) the training set (columns ``cv_accuracy``,
        ``cv_std``).
    device : str, default="auto"
        Torch device of the CKN and the CNN.
    out : str or path-like, default=None
        Folder for the files listed in :mod:`sklearn_ckn.compare` (created); None
        writes nothing.
    random_state : int, default=0
        Seeds the split, the samples and every model; in [0, 2**32 - 1].
    verbose : int, default=1
        0: silent; 1: the steps and the tables; 2: also the models' progress bars.
    max_train : dict of str to int or None, default=None
        Per-model caps on the training set, overriding :data:`DEFAULT_MAX_TRAIN` (None
        removes a cap). A capped model is fitted on a stratified sample; the table's
        ``n_train_used`` says so.
    model_params : dict of str to dict, default=None
        Extra :func:`~sklearn_ckn.make_model` keywords per model name, applied over
        :data:`DATASET_PARAMS` (or :data:`QUICK_PARAMS` when ``quick``).
    quick : bool, default=False
        Use tiny models (:data:`QUICK_PARAMS`): for smoke tests only.
    image_size : int or (int, int), default=None
        Size the images are resized to, for data sets whose loader resizes them
        (Fruits-360: default 32; 0 keeps the files' 100x100).
    n_misclassified : int, default=24
        Misclassified examples shown per model.
    n_jobs : "auto", int or None, default="auto"
        CPU threads of torch and of the BLAS / OpenMP libraries during the fits and
        predictions (restored afterwards); -1: all cores; None: leave the libraries'
        settings alone. ``"auto"``: 1 for images of at most 16x16 pixels (the 8x8
        digits gain nothing from several threads and lose a lot when the cores are
        shared with other processes), else None.
    command : str, default=None
        Command line recorded in ``results.json`` (default: ``sys.argv``).
    download_if_missing : bool, default=True
        If False, missing data files raise ``FileNotFoundError`` instead of being
        downloaded.
    verify_checksums : bool, default=True
        Check data files already in ``data_home`` against the official MD5 checksums
        (see :func:`sklearn_ckn.datasets.load_dataset`).

    Returns
    -------
    result : ComparisonResult
        The tables, predictions, data, provenance, files and figures of the run.

    Raises
    ------
    ParameterError
        For a bad argument or model parameter, an output folder that cannot be
        written or an unavailable device (before anything is loaded).
    ValueError
        For training sets too small for the models (before any fit) or invalid data.
    FileNotFoundError
        When the data are missing (and cannot or may not be downloaded).

    See Also
    --------
    sklearn_ckn.make_model : The models it fits.
    sklearn_ckn.compare.load_comparison_data : The training and test images it uses.
    sklearn_ckn.compare.format_per_class_table : The per-class table, as text.

    Examples
    --------
    >>> from sklearn_ckn.compare import run_comparison
    >>> result = run_comparison("digits", models=["naive_bayes", "knn"], verbose=0)
    >>> print(result.table[["model", "accuracy"]].round(3).to_string(index=False))
          model  accuracy
    naive_bayes     0.836
            knn     0.980
    """
    config = make_config(
        dataset, models=models, data_home=data_home, n_train=n_train, n_test=n_test, cv=cv,
        device=device, out=out, random_state=random_state, verbose=verbose,
        max_train=max_train, model_params=model_params, quick=quick, image_size=image_size,
        n_misclassified=n_misclassified, n_jobs=n_jobs, command=command,
        download_if_missing=download_if_missing, verify_checksums=verify_checksums,
    )
    start = time.perf_counter()
    say(verbose, f"Loading {dataset} ...")
    data = _data.load_comparison_data(dataset, **config.load)
    _run.check_training_sets(config, data.y_train)
    say(verbose, f"{dataset}: {len(data.y_train)} training and {len(data.y_test)} test images "
                 f"of shape {data.X_train.shape[1:]}, {len(data.target_names)} classes "
                 f"({data.split}).")
    with cpu_threads(config.threads):
        info = _run.provenance(config, data)
        table, predictions = _run.fit_models(config, data, info)
    per_class = per_class_table(data, predictions)
    if verbose:
        print_report(dataset, table, per_class)
    figures = make_figures(data, predictions, config.n_misclassified, config.random_state)
    info["total_seconds"] = time.perf_counter() - start  # all but writing the files
    files = {}
    if out is not None:
        files = write_files(os.fspath(out), table, per_class, predictions, data.y_test,
                            figures, info)
        written = ", ".join(sorted(os.path.basename(p) for p in files.values()))
        say(verbose, f"\nWrote {written} to {os.fspath(out)}")
    say(verbose, f"Total time {time.perf_counter() - start:.1f} s")
    return ComparisonResult(table=table, per_class=per_class, predictions=predictions,
                            data=data, info=info, files=files, figures=figures)
