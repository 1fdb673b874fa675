"""Progress bars that cost nothing when ``verbose`` is off.

:func:`progress` wraps an iterable (or stands for a bar updated by hand) in a tqdm
bar (``tqdm.auto``: a widget in Jupyter, text elsewhere) that

* keeps its final line by default (``leave=True``), also when the loop stops early
  (``break``: the bar is closed at the step reached, e.g. k-means converging after 7
  of 20 iterations shows ``7/20``), so no stale ``0/20`` line is left behind;
* advances after every step, however long a step takes;
* is silent inside joblib workers (``GridSearchCV(n_jobs=2)``, ``cross_val_score``...)
  unless ``verbose > 1``, so that several processes do not interleave raw ``\\r``
  lines; with ``verbose > 1`` a worker's bar is labelled with its process id;
* in a Jupyter notebook without ipywidgets, is a plain text bar, quietly, redrawn at
  most once a second (every redraw is a separate output message of the notebook):
  ``tqdm.auto`` would warn "IProgress not found" (tqdm >= 4.66) or pick widget bars
  that fail (older tqdm).
"""

import importlib.util
import os
import sys
import warnings

from tqdm import TqdmWarning

from ._threads import in_joblib_worker
from .core.progress import no_progress

#: Least seconds between two redraws of a text bar in a notebook (tqdm's default,
#: 0.1 s, gives some 70 output messages for a 7-second fit).
NOTEBOOK_TEXT_MININTERVAL = 1.0

# The widget bars of tqdm.notebook need ipywidgets.
_TEXT_IN_NOTEBOOK = "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is None
if _TEXT_IN_NOTEBOOK:
    from tqdm.std import tqdm
else:
    with warnings.catch_warnings():
        # tqdm.auto: widget bars in a notebook, text bars elsewhere; it warns when a
        # notebook's ipywidgets cannot be imported after all.
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm

__all__ = ["progress"]


def progress(iterable=None, *, verbose=0, total=None, desc=None, leave=True, **kwargs):
    """A progress bar over ``iterable`` when ``verbose`` asks for one, else ``iterable``.

    Parameters
    ----------
    iterable : iterable or None
        What to iterate over; None for a bar advanced by hand with ``update``.
    verbose : int
        0: no bar. 1: a bar, except inside joblib workers. 2 and more: a bar
        everywhere.
    total : int or None
        Number of steps (default: ``len(iterable)`` when it has one).
    desc : str or None
        Label of the bar.
    leave : bool, default=True
        Keep the final line once the bar is closed.
    **kwargs
        Other :class:`tqdm.tqdm` options (``unit``, ``postfix``...).

    Returns
    -------
    bar : iterable
        ``iterable`` itself when no bar is shown (or a do-nothing stand-in when
        ``iterable`` is None), else an object that iterates like ``iterable`` and has
        ``update``, ``set_postfix``, ``set_description`` and ``close``.

    Examples
    --------
    >>> from sklearn_ckn._progress import progress
    >>> list(progress(range(3), verbose=0))
    [0, 1, 2]
    """
    if not verbose or (in_joblib_worker() and verbose <= 1):
        return iterable if iterable is not None else _NullBar()
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if in_joblib_worker():
        desc = f"[pid {os.getpid()}] {desc or ''}".rstrip()
    kwargs.setdefault("dynamic_ncols", True)
    if _TEXT_IN_NOTEBOOK:
        kwargs.setdefault("mininterval", NOTEBOOK_TEXT_MININTERVAL)
    bar = tqdm(total=total, desc=desc, leave=leave, **kwargs)
    return _Bar(bar, iterable)


class _Bar:
    """A tqdm bar that advances after every step and closes when the loop ends."""

    def __init__(self, bar, iterable):
        self.bar = bar
        self.iterable = iterable

    def __iter__(self):
        if self.iterable is None:
            raise TypeError("This progress bar has no iterable: advance it with update().")
        completed = False
        try:
            for item in self.iterable:
                yield item
                self.bar.update(1)
            completed = True
        finally:
            if not completed and self.bar.total is not None and self.bar.n < self.bar.total:
                # Left early (break or error): count the step that was running.
                self.bar.update(1)
            self.bar.close()

    def __len__(self):
        return len(self.iterable)

    def update(self, n=1):
        self.bar.update(n)

    def set_postfix(self, *args, **kwargs):
        self.bar.set_postfix(*args, **kwargs)

    def set_description(self, *args, **kwargs):
        self.bar.set_description(*args, **kwargs)

    def close(self):
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __getattr__(self, name):  # n, total, format_dict... of the tqdm bar
        if name in ("bar", "iterable"):
            raise AttributeError(name)
        return getattr(self.bar, name)


# Stands in for a manually updated tqdm bar when verbose is off: core's do-nothing bar.
_NullBar = type(no_progress())
