"""run_comparison on tiny data and tiny models: tables, files, printing, threads, the
result's repr."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from sklearn_ckn.compare import DEFAULT_MAX_TRAIN, ComparisonResult, run_comparison

RESULT_COLUMNS = ["model", "accuracy", "balanced_accuracy", "fit_seconds", "predict_seconds",
                  "n_train", "n_train_used", "n_test"]
ALL = ["ckn", "ckn_supervised", "cnn", "kernel_svm", "naive_bayes", "knn"]

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py


def test_run_comparison_writes_every_file(tmp_path, capsys):
    out = tmp_path / "out"
    result = run_comparison(
        "digits", n_train=120, n_test=60, cv=2, out=out, quick=True, verbose=1,
        n_misclassified=6,
    )
    printed = capsys.readouterr().out
    expected = RESULT_COLUMNS[:3] + ["cv_accuracy", "cv_std"] + RESULT_COLUMNS[3:]
    assert list(result.table.columns) == expected
    assert list(result.table["model"]) == ALL
    assert (result.table["n_train"] == 120).all() and (result.table["n_test"] == 60).all()
    assert ((result.table["accuracy"] >= 0) & (result.table["accuracy"] <= 1)).all()
    assert result.table["cv_accuracy"].notna().all()

    names = sorted(os.listdir(out))
    assert names == sorted(
        ["results.csv", "results.json", "per_class_accuracy.csv", "predictions.csv",
         "confusion_matrices.png"] + [f"misclassified_{m}.png" for m in ALL]
    )
    csv = pd.read_csv(out / "results.csv")
    assert list(csv.columns) == list(result.table.columns)
    info = json.loads((out / "results.json").read_text())
    for key in ("dataset", "n_train", "n_test", "versions", "machine", "command", "results",
                "split", "image_shape", "estimators"):
        assert key in info
    assert info["dataset"] == "digits" and info["n_train"] == 120 and info["n_test"] == 60
    assert {"torch", "scikit-learn", "sklearn_ckn", "numpy"} <= set(info["versions"])
    assert "cpu_count" in info["machine"]
    assert [r["model"] for r in info["results"]] == ALL

    per_class = pd.read_csv(out / "per_class_accuracy.csv")
    assert list(per_class.columns) == ["class", "support"] + ALL + ["ckn_minus_cnn"]
    assert per_class["support"].sum() == 60 and len(per_class) == 10
    np.testing.assert_allclose(per_class["ckn_minus_cnn"], per_class["ckn"] - per_class["cnn"])
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == ["y_true"] + [f"pred_{m}" for m in ALL]
    # the table's accuracy is the predictions' accuracy
    for m in ALL:
        acc = (predictions[f"pred_{m}"] == predictions["y_true"]).mean()
        assert result.table.set_index("model").loc[m, "accuracy"] == pytest.approx(acc)
    assert (out / "confusion_matrices.png").stat().st_size > 0
    # printed: steps, the table, the CNN vs CKN per-class table
    assert "[1/6] ckn: fitting on 120 images" in printed
    assert "balanced_accuracy" in printed and "CLASS" in printed and "Difference" in printed
    assert set(result.figures) == {"confusion_matrices"} | {f"misclassified_{m}" for m in ALL}


def test_caps_and_no_difference_column(tmp_path, capsys):
    result = run_comparison(
        "digits", models=["ckn", "knn"], n_train=100, n_test=30, quick=True, verbose=1,
        max_train={"knn": 40}, out=tmp_path,
    )
    table = result.table.set_index("model")
    assert table.loc["knn", "n_train_used"] == 40 and table.loc["knn", "n_train"] == 100
    assert table.loc["ckn", "n_train_used"] == 100
    assert "cv_accuracy" not in result.table.columns
    printed = capsys.readouterr().out
    assert "40*" in printed and "knn was fitted on a stratified subset of 40 of the 100" in printed
    per_class = pd.read_csv(tmp_path / "per_class_accuracy.csv")
    assert list(per_class.columns) == ["class", "support", "ckn", "knn"]
    assert DEFAULT_MAX_TRAIN["kernel_svm"] == 20_000 and DEFAULT_MAX_TRAIN["knn"] == 20_000


def test_model_params_and_verbose_zero(tmp_path, capsys):
    result = run_comparison(
        "digits", models="knn,naive_bayes", n_train=80, n_test=20, verbose=0, out=None,
        model_params={"knn": {"knn__n_neighbors": 1}},
    )
    assert capsys.readouterr().out == ""
    assert result.files == {}
    assert "n_neighbors=1" in result.info["estimators"]["knn"]


def test_threads_are_limited_and_restored():
    import torch

    before = torch.get_num_threads()
    result = run_comparison("digits", models=["naive_bayes"], n_train=50, n_test=20, verbose=0,
                            n_jobs=1)
    assert result.info["n_jobs"] == 1 and result.info["machine"]["torch_num_threads"] == 1
    assert torch.get_num_threads() == before
    result = run_comparison("digits", models=["naive_bayes"], n_train=50, n_test=20, verbose=0,
                            n_jobs=None)
    assert result.info["n_jobs"] is None
    assert result.info["machine"]["torch_num_threads"] == before


def test_errors():
    with pytest.raises(ValueError, match="Unknown dataset 'imagenet'.*digits"):
        run_comparison("imagenet", verbose=0)
    with pytest.raises(ValueError, match=r"unknown model\(s\) svm.*kernel_svm"):
        run_comparison("digits", models=["svm"], verbose=0)
    with pytest.raises(ValueError, match="max_train"):
        run_comparison("digits", max_train={"svm": 3}, verbose=0)
    with pytest.raises(ValueError, match="cv"):
        run_comparison("digits", cv=1, verbose=0)


def test_result_repr_and_html_show_the_accuracy_table(tmp_path):
    result = run_comparison("digits", models=["naive_bayes", "knn"], n_test=60, verbose=0,
                            max_train={"knn": 100}, out=tmp_path / "out")
    text = repr(result)
    lines = text.splitlines()
    assert lines[0] == "ComparisonResult on digits: 1347 training and 60 test images, 2 models"
    assert lines[1].split()[:3] == ["model", "accuracy", "balanced_accuracy"]
    accuracy = result.table.set_index("model")["accuracy"]
    assert lines[2].split()[:2] == ["naive_bayes", f"{accuracy['naive_bayes']:.4f}"]
    assert lines[3].split()[0] == "knn" and "100*" in lines[3].split()
    assert lines[4].startswith("* fitted on a stratified subset")
    assert lines[5] == f"{len(result.files)} files written to {tmp_path / 'out'}"
    assert "DataFrame" not in text and "array(" not in text  # not the dataclass dump

    page = result._repr_html_()
    assert page.startswith("<div>") and page.endswith("</div>")
    assert "<strong>ComparisonResult on digits: 1347 training and 60 test images" in page
    assert "<table" in page and "<th>accuracy</th>" in page
    assert f"<td>{accuracy['knn']:.4f}</td>" in page and "<td>100*</td>" in page


def test_result_repr_of_a_hand_made_result():
    import html

    result = ComparisonResult(
        table=pd.DataFrame({"model": ["<mine>"], "accuracy": [0.5]}), per_class=pd.DataFrame(),
        predictions={}, data=Bunch(), info={},
    )
    assert repr(result).splitlines()[0] == "ComparisonResult on an image data set, 1 model"
    assert "0.5000" in repr(result)
    assert html.escape("<mine>") in result._repr_html_() and "<mine>" not in result._repr_html_()
