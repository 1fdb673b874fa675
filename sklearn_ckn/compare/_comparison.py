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
from ._options import takes_options
from ._output import staged_folder
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


@takes_options
def run_comparison(dataset="digits", **options):
    """Fit and score several models on one data set; write tables and figures.

    Every argument, model parameter and the output folder are checked before the data
    are loaded, and the training sets' sizes (classes, ``cv`` folds, neighbours)
    before any model is fitted, so that a mistake fails in seconds with a
    ``ValueError`` (a :class:`ParameterError` for a parameter), not after hours of
    fitting. The options are those of :class:`ComparisonOptions`.

    {parameters}

    Returns
    -------
    result : ComparisonResult
        The tables, predictions, data, provenance, files and figures of the run.

    Raises
    ------
    ParameterError
        For a bad argument or model parameter, an output folder that cannot be
        written or that exists (without ``overwrite``), or an unavailable device
        (before anything is loaded).
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
    config = make_config(dataset, **options)
    verbose, out = config.verbose, config.out
    start = time.perf_counter()
    say(verbose, f"Loading {config.dataset} ...")
    data = _data.load_comparison_data(config.dataset, **config.load)
    _run.check_training_sets(config, data.y_train)
    say(verbose, f"{config.dataset}: {len(data.y_train)} training and {len(data.y_test)} test "
                 f"images of shape {data.X_train.shape[1:]}, {len(data.target_names)} classes "
                 f"({data.split}).")
    with staged_folder(out, overwrite=config.overwrite) as folder:
        with cpu_threads(config.threads):
            info = _run.provenance(config, data)
            table, predictions = _run.fit_models(config, data, info, folder)
        per_class = per_class_table(data, predictions)
        if verbose:
            print_report(config.dataset, table, per_class)
        figures = make_figures(data, predictions, config.n_misclassified, config.random_state)
        info["total_seconds"] = time.perf_counter() - start  # all but writing the files
        if folder is not None:
            written = write_files(folder, table, per_class, predictions, data.y_test, figures,
                                  info)
    files = {}
    if out is not None:  # the run's folder now has out's name
        files = {k: os.path.join(os.fspath(out), os.path.basename(p)) for k, p in written.items()}
        names = ", ".join(sorted(os.path.basename(p) for p in files.values()))
        say(verbose, f"\nWrote {names} to {os.fspath(out)}")
    say(verbose, f"Total time {time.perf_counter() - start:.1f} s")
    return ComparisonResult(table=table, per_class=per_class, predictions=predictions,
                            data=data, info=info, files=files, figures=figures)
