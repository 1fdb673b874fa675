"""Interrupted and repeated runs (issue 28): a run writes into a new folder beside
``out``, renamed to ``out`` once complete; an existing ``out`` is refused unless
``overwrite``, and then replaced only once the new results are complete."""

import json
import os

import pytest

import sklearn_ckn.models
from sklearn_ckn.__main__ import main
from sklearn_ckn.compare import ParameterError, run_comparison
from sklearn_ckn.compare import _data

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py

FAST = {"models": ["naive_bayes", "knn"], "n_train": 80, "n_test": 30, "verbose": 0}


@pytest.fixture
def interrupt(monkeypatch):
    """``interrupt("knn")``: the knn model's fit raises KeyboardInterrupt (Ctrl-C)."""
    def patch(victim):
        real = sklearn_ckn.models.make_model

        def make_model(name, **kwargs):
            model = real(name, **kwargs)
            if name == victim:
                def fit(*args, **kw):
                    raise KeyboardInterrupt

                model.fit = fit
            return model

        monkeypatch.setattr(sklearn_ckn.models, "make_model", make_model)

    return patch


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def siblings(folder):
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


def test_complete_run_is_marked_and_leaves_no_other_folder(tmp_path):
    out = tmp_path / "out"
    result = run_comparison("digits", out=out, **FAST)
    info = json.loads((out / "results.json").read_text())
    assert info["complete"] is True and [r["model"] for r in info["results"]] == FAST["models"]
    assert siblings(out) == []
    assert all(os.path.dirname(p) == str(out) and os.path.exists(p)
               for p in result.files.values())


def test_existing_out_is_refused_before_loading(tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_comparison("digits", out=out, **FAST)
    before = snapshot(out)
    monkeypatch.setattr(_data, "load_comparison_data", lambda *a, **k: pytest.fail("loaded"))
    with pytest.raises(ParameterError, match=r"out='.*out' already exists and is not empty: "
                                             r"pass overwrite=True to replace it"):
        run_comparison("digits", out=out, **FAST)
    assert snapshot(out) == before and siblings(out) == []


def test_existing_out_is_refused_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["compare", "--models", "naive_bayes", "--n-test", "30", "--verbose", "0",
            "--out", str(out)]
    assert main(argv) == 0
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("usage: ")  # argparse's usage, then:
    assert err.strip().splitlines()[-1] == (
        f"sklearn-ckn compare: error: --out: out={str(out)!r} already exists and is not "
        "empty: pass --overwrite to replace it (once the new results are complete) or "
        "choose another folder."
    )
    assert main(argv + ["--overwrite"]) == 0


def test_empty_existing_folder_is_used(tmp_path):
    run_comparison("digits", out=tmp_path, **FAST)  # tmp_path exists, empty
    assert json.loads((tmp_path / "results.json").read_text())["complete"] is True


def test_overwrite_replaces_the_whole_folder(tmp_path):
    out = tmp_path / "out"
    run_comparison("digits", out=out, models=["naive_bayes", "knn"], n_test=30, verbose=0)
    assert (out / "misclassified_knn.png").exists()
    run_comparison("digits", out=out, models=["naive_bayes"], n_test=30, verbose=0,
                   overwrite=True)
    assert not (out / "misclassified_knn.png").exists()  # no file of the old run is left
    info = json.loads((out / "results.json").read_text())
    assert info["complete"] is True and info["models"] == ["naive_bayes"]
    assert siblings(out) == []  # the old folder is removed


def test_overwrite_never_replaces_a_folder_without_results(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="holds no comparison results.*even with "
                                             "overwrite=True"):
        run_comparison("digits", out=tmp_path, overwrite=True, **FAST)
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_interrupted_overwrite_leaves_the_previous_run_untouched(tmp_path, interrupt):
    out = tmp_path / "out"
    run_comparison("digits", out=out, **FAST)
    before = snapshot(out)
    interrupt("knn")  # the second model
    with pytest.raises(KeyboardInterrupt) as exc:
        run_comparison("digits", out=out, overwrite=True, **FAST)
    assert snapshot(out) == before
    [partial] = siblings(out)  # the interrupted run's folder, named so
    assert partial.startswith("out.incomplete-")
    assert str(tmp_path / partial) in " ".join(exc.value.__notes__)
    info = json.loads((tmp_path / partial / "results.json").read_text())
    assert info["complete"] is False and [r["model"] for r in info["results"]] == ["naive_bayes"]


def test_interrupted_first_run_leaves_nothing_under_out(tmp_path, interrupt):
    out = tmp_path / "out"
    interrupt("knn")
    with pytest.raises(KeyboardInterrupt):
        run_comparison("digits", out=out, **FAST)
    assert not out.exists()
    assert [p.startswith("out.incomplete-") for p in siblings(out)] == [True]


def test_run_interrupted_before_any_result_is_cleaned_up(tmp_path, interrupt):
    interrupt("naive_bayes")  # the first model
    with pytest.raises(KeyboardInterrupt):
        run_comparison("digits", out=tmp_path / "out", **FAST)
    assert os.listdir(tmp_path) == []


def test_command_line_interrupted_is_one_line(tmp_path, interrupt, capsys):
    out = tmp_path / "out"
    interrupt("knn")
    code = main(["compare", "--models", "naive_bayes,knn", "--n-test", "30", "--verbose", "0",
                 "--out", str(out)])
    assert code == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"sklearn-ckn compare: interrupted; {out} is unchanged.")
    assert "partial results of this run are in" in err and not out.exists()
