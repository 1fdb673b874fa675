"""Progress bars (sklearn_ckn._progress): final line kept, workers quiet, early stops,
quiet text bars in a notebook without ipywidgets."""

import io
import subprocess
import sys
from pathlib import Path

from joblib import Parallel, delayed

import sklearn_ckn
from sklearn_ckn._progress import NOTEBOOK_TEXT_MININTERVAL, _NullBar, progress


def _bar(iterable=None, **kw):
    stream = io.StringIO()
    return progress(iterable, file=stream, **kw), stream


def test_off_returns_the_iterable_itself():
    items = [1, 2, 3]
    assert progress(items, verbose=0) is items
    assert isinstance(progress(verbose=0), _NullBar)


def test_bar_keeps_its_final_line_and_counts_every_step():
    bar, stream = _bar(range(4), verbose=1, desc="work")
    assert list(bar) == [0, 1, 2, 3]
    text = stream.getvalue()
    assert "work" in text and "4/4" in text.splitlines()[-1].split("\r")[-1]
    assert bar.n == 4


def test_early_break_closes_the_bar_at_the_step_reached():
    bar, stream = _bar(range(20), verbose=1, desc="spherical k-means")
    for i in bar:
        bar.set_postfix(objective=f"{i:.1f}")
        if i == 6:
            break  # converged at the 7th iteration
    del i
    last = stream.getvalue().split("\r")[-1]
    assert "7/20" in last and "objective=6.0" in last
    assert "0/20" not in last


def test_manual_bar():
    bar, stream = _bar(verbose=1, total=3, desc="epoch 1")
    with bar:
        bar.update(2)
        bar.update(1)
    assert "3/3" in stream.getvalue().split("\r")[-1]


def _in_worker(verbose):
    stream = io.StringIO()
    bar = progress(range(3), verbose=verbose, file=stream, desc="fit")
    list(bar)
    return stream.getvalue()


def test_workers_are_quiet_unless_verbose_above_one():
    outs = Parallel(n_jobs=2, backend="threading")(delayed(_in_worker)(1) for _ in range(2))
    assert outs == ["", ""]
    outs = Parallel(n_jobs=2, backend="threading")(delayed(_in_worker)(2) for _ in range(2))
    assert all("[pid " in out and "3/3" in out for out in outs)
    assert "3/3" in _in_worker(1)  # in the main process, verbose=1 shows the bar


# A Jupyter kernel without ipywidgets, as tqdm.autonotebook detects one (by the
# modules loaded from tqdm 4.66, by the shell's configuration before).
FAKE_NOTEBOOK = """
import sys, types
sys.modules["ipykernel"] = types.ModuleType("ipykernel")
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
ipython = types.ModuleType("IPython")
shell = type("ZMQInteractiveShell", (), {"config": {"IPKernelApp": {}}})
ipython.get_ipython = shell
sys.modules["IPython"] = ipython
sys.modules["ipywidgets"] = None  # not installed
"""


def _python(code, *options):
    """``(stdout, stderr)`` of ``python *options -c code`` run next to the package."""
    proc = subprocess.run(
        [sys.executable, *options, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=Path(sklearn_ckn.__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def test_importing_the_package_prints_nothing():
    assert _python("import sklearn_ckn", "-W", "error") == ("", "")


def test_notebook_without_ipywidgets_gets_quiet_text_bars():
    # -W error would hide tqdm's warning (tqdm.autonotebook catches it as an error):
    # every warning is shown instead, and none may be.
    out, err = _python(FAKE_NOTEBOOK + (
        "import io\n"
        "from sklearn_ckn._progress import progress\n"
        "stream = io.StringIO()\n"
        "bar = progress(range(3), verbose=1, desc='fit', file=stream)\n"
        "list(bar)\n"
        "print(type(bar.bar).__module__, bar.mininterval, repr(stream.getvalue()[-40:]))\n"
    ), "-W", "always")
    assert err == ""
    module, mininterval, text = out.split(" ", 2)
    assert "notebook" not in module and float(mininterval) == NOTEBOOK_TEXT_MININTERVAL
    assert "3/3" in text  # a plain text bar


def test_text_bars_outside_notebooks_keep_tqdm_redraw_interval():
    bar, _ = _bar(range(2), verbose=1)
    assert bar.mininterval == 0.1
    list(bar)
