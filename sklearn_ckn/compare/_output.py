"""Where a comparison writes: a new folder beside ``out``, renamed to ``out`` once every
file is written, so that ``out`` only ever holds a complete run.

An interrupted run (an error, Ctrl-C) leaves ``out`` as it was: its new folder,
``<out>.incomplete-<random>``, is removed when no model finished, and kept with the
partial results (``results.json`` says ``"complete": false``) otherwise; the
exception says where. With ``overwrite``, the previous ``out`` is moved aside and
removed only after the new folder has taken its name.
"""

import os
import shutil
import tempfile
from contextlib import contextmanager

from ._checks import RESULT_FILES

__all__ = ["INCOMPLETE", "staged_folder"]

#: What the name of a run's folder holds until the run is complete.
INCOMPLETE = ".incomplete-"


@contextmanager
def staged_folder(out, *, overwrite=False):
    """Yield a new, empty folder beside ``out`` for the run's files; when the block
    ends without error, rename it to ``out`` (None: yield None, write nothing).

    ``out`` is checked by :func:`~._checks.check_out_folder` before the run; an
    ``out`` that appears meanwhile is not replaced without ``overwrite``.
    """
    if out is None:
        yield None
        return
    final = os.path.realpath(os.fspath(out))  # a link: write beside its target
    parent, name = os.path.split(final)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f"{name}{INCOMPLETE}", dir=parent)
    try:
        yield staging
    except BaseException as exc:  # Ctrl-C too: out stays as it was
        _abandon(staging, exc)
        raise
    _publish(staging, final, overwrite)


def _abandon(staging, exc):
    """Remove the folder of an interrupted run, or keep its partial results and say so."""
    if RESULT_FILES & set(os.listdir(staging)):
        exc.add_note(f"(the partial results of this run are in {staging})")
    else:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging, final, overwrite):
    """Rename the complete ``staging`` to ``final``, replacing a previous run's folder
    only with ``overwrite`` and removing it only once ``staging`` has its name."""
    old = None
    if os.path.isdir(final) and os.listdir(final):
        if not overwrite:
            raise FileExistsError(
                f"{final} appeared during the run and was not replaced (no overwrite); "
                f"the results are in {staging}."
            )
        folder, name = os.path.split(staging)
        old = os.path.join(folder, name.replace(INCOMPLETE, ".replaced-", 1))
        os.rename(final, old)
    elif os.path.isdir(final):
        os.rmdir(final)  # an empty folder: taken over (os.rename cannot on Windows)
    try:
        os.rename(staging, final)
    except OSError:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old)
