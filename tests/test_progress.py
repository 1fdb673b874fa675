"""Progress bars (sklearn_ckn._progress): final line kept, workers quiet, early stops."""

import io

from joblib import Parallel, delayed

from sklearn_ckn._progress import _NullBar, progress


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
