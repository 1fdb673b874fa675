"""Run every script of examples/ on tiny data (files of the official formats written
into tmp_path) with tiny models, in-process."""

import os
import runpy
import sys
from pathlib import Path

import pandas as pd
import pytest

from sklearn_ckn.datasets import available_datasets, get_dataset_info

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COMPARISONS = available_datasets()  # one comparison example per registered data set

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py


def run_example(name, argv, monkeypatch):
    path = EXAMPLES / name
    monkeypatch.setattr(sys, "argv", [str(path)] + [str(a) for a in argv])
    return runpy.run_path(str(path), run_name="__main__")


def test_every_example_is_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    # plot_cifar10_grad_cam.py is run by tests/explain/test_example.py.
    expected = sorted([f"plot_{d}_comparison.py" for d in COMPARISONS]
                      + ["plot_ckn_gridsearch_digits.py", "plot_cifar10_grad_cam.py"])
    assert scripts == expected


@pytest.mark.parametrize("dataset", COMPARISONS)
def test_comparison_example(dataset, tmp_path, monkeypatch, capsys, fake_datasets):
    home = tmp_path / "data"
    home.mkdir()
    if dataset in fake_datasets:
        fake_datasets[dataset](home)
    out = tmp_path / "out"
    argv = ["--data-home", home, "--n-train", 200, "--n-test", 100, "--quick", "--out", out]
    if get_dataset_info(dataset).verifies_checksums:
        argv.append("--no-verify-checksums")  # the fake files are not the official ones
    run_example(f"plot_{dataset}_comparison.py", argv, monkeypatch)
    printed = capsys.readouterr().out
    assert "CLASS" in printed and "CKN Acc" in printed and "Difference" in printed
    table = pd.read_csv(out / "results.csv")
    assert list(table["model"]) == ["ckn", "ckn_supervised", "cnn", "kernel_svm", "naive_bayes",
                                   "knn"]
    per_class = pd.read_csv(out / "per_class_accuracy.csv")
    assert "ckn_minus_cnn" in per_class.columns
    for model in table["model"]:
        assert (out / f"misclassified_{model}.png").exists()
    assert (out / "confusion_matrices.png").exists()
    if dataset == "fruits360":
        assert list(per_class["class"]) == ["Apple Red 1", "Banana", "Kiwi"]
        assert table["n_train"].iloc[0] == 24


def test_comparison_example_reports_errors_without_traceback(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        run_example("plot_digits_comparison.py", ["--models", "knn", "--n-train", "3"],
                    monkeypatch)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "sklearn-ckn compare: error: knn uses 5 neighbours but would be fitted on only 3 "
        "image(s): use more images or fewer neighbours."
    )


def test_gridsearch_example(monkeypatch, capsys):
    namespace = run_example("plot_ckn_gridsearch_digits.py", ["--quick", "--verbose", "0"],
                            monkeypatch)
    search = namespace["search"]
    assert set(search.best_params_) >= {"ckn__n_filters", "svm__C"}
    assert "test accuracy" in capsys.readouterr().out
    assert os.path.isdir(namespace["cache"].name) is False  # cleaned up
