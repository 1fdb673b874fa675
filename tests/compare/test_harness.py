"""The comparison runner and its command line, on tiny data and tiny models."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sklearn_ckn.__main__ import main
from sklearn_ckn.compare._harness import (
    DEFAULT_MAX_TRAIN,
    load_comparison_data,
    run_comparison,
    run_example_comparison,
)

RESULT_COLUMNS = ["model", "accuracy", "balanced_accuracy", "fit_seconds", "predict_seconds",
                  "n_train", "n_train_used", "n_test"]
ALL = ["ckn", "ckn_supervised", "cnn", "kernel_svm", "naive_bayes", "knn"]

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py


def test_digits_split_is_stratified():
    data = load_comparison_data("digits", random_state=0)
    assert len(data.y_train) == 1347 and len(data.y_test) == 450
    assert data.X_train.shape[1:] == (8, 8) and data.X_train.dtype == np.uint8
    per_class = np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert np.abs(np.bincount(data.y_test) - 0.25 * per_class).max() <= 1  # stratified
    assert "stratified" in data.split
    small = load_comparison_data("digits", n_train=100, n_test=50, random_state=1)
    assert len(small.y_train) == 100 and len(small.y_test) == 50
    assert np.bincount(small.y_train).min() >= 9
    assert data.target_names == [str(d) for d in range(10)]


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

    from sklearn_ckn.compare._harness import _resolve_n_jobs

    assert _resolve_n_jobs("auto", "digits") == 1
    assert _resolve_n_jobs("auto", "mnist") is None
    assert _resolve_n_jobs(None, "digits") is None
    assert _resolve_n_jobs(-1, "mnist") == (os.cpu_count() or 1)
    assert _resolve_n_jobs(3, "mnist") == 3
    for bad in (0, -2, 1.5, "all"):
        with pytest.raises(ValueError, match="n_jobs"):
            _resolve_n_jobs(bad, "digits")
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
    with pytest.raises(ValueError, match=r"Unknown model\(s\) \['svm'\].*kernel_svm"):
        run_comparison("digits", models=["svm"], verbose=0)
    with pytest.raises(ValueError, match="max_train"):
        run_comparison("digits", max_train={"svm": 3}, verbose=0)
    with pytest.raises(ValueError, match="cv"):
        run_comparison("digits", cv=1, verbose=0)


def test_example_runner_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown dataset 'imagenet'.*digits"):
        run_example_comparison("imagenet", [])


def test_official_split_from_files(tmp_path, fake_datasets):
    fake_datasets["mnist"](tmp_path, n=(40, 20))
    result = run_comparison(
        "mnist", data_home=tmp_path, models=["naive_bayes", "knn"], n_train=30, verbose=0,
        out=tmp_path / "out",
    )
    assert list(result.table["n_train"]) == [30, 30]
    assert list(result.table["n_test"]) == [20, 20]  # fewer than asked: all of them
    assert result.data.X_train.shape[1:] == (28, 28)
    assert "official" in result.info["split"]


def test_missing_files_cli_message(tmp_path, capsys):
    code = main(["compare", "--dataset", "fruits360", "--data-home", str(tmp_path),
                 "--out", str(tmp_path / "o"), "--verbose", "0"])
    assert code == 2  # argparse's status for a user's mistake
    assert "Fruits-360" in capsys.readouterr().err


# -- command line ----------------------------------------------------------------------


def test_cli_runs_and_writes(tmp_path, capsys):
    out = tmp_path / "cli"
    code = main([
        "compare", "--models", "ckn,cnn,knn", "--n-train", "90", "--n-test", "30", "--quick",
        "--out", str(out), "--cv", "2", "--param", "knn:knn__n_neighbors=1",
        "--param", "cnn:epochs=1", "--max-train", "knn=50",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Results on digits" in printed
    table = pd.read_csv(out / "results.csv")
    assert list(table["model"]) == ["ckn", "cnn", "knn"]
    assert "cv_accuracy" in table.columns
    assert table.set_index("model").loc["knn", "n_train_used"] == 50
    info = json.loads((out / "results.json").read_text())
    assert info["command"].startswith("sklearn-ckn compare --models ckn,cnn,knn")
    assert "n_neighbors=1" in info["estimators"]["knn"]


def test_cli_verbose_zero_prints_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default --out: compare_out/<dataset>
    code = main(["compare", "--models", "naive_bayes", "--n-train", "50", "--n-test", "20",
                 "--verbose", "0"])
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "compare_out" / "digits" / "results.csv").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["compare", "--models", "ckn,svm"], "unknown model(s) svm; available models: ckn"),
        (["compare", "--models", ""], "unknown model(s)"),
        (["compare", "--param", "ckn:n_filters=3"], "--param ckn"),
        (["compare", "--param", "ckn=3"], "MODEL:NAME=VALUE"),
        (["compare", "--param", "svm:C=3"], "--param: unknown model(s) svm"),
        (["compare", "--max-train", "knn"], "MODEL=N"),
        (["compare", "--max-train", "knn=0"], "positive integer"),
        (["compare", "--max-train", "svm=10"], "--max-train: unknown model(s) svm"),
        (["compare", "--cv", "1"], "argument --cv: expected an integer of at least 2"),
        (["compare", "--n-jobs", "0"], "--n-jobs"),
        ([], "required"),
    ],
)
def test_cli_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_parsing_helpers():
    from sklearn_ckn.__main__ import _literal, build_parser

    assert _literal("(8, 16)") == (8, 16) and _literal("lenet5") == "lenet5"
    assert _literal("0.5") == 0.5 and _literal("None") is None
    args = build_parser().parse_args(["compare"])
    assert (args.dataset, args.verbose, args.random_state, args.cv) == ("digits", 1, 0, None)
    assert args.n_jobs == "auto"
    assert build_parser().parse_args(["compare", "--n-jobs", "-1"]).n_jobs == -1
    assert args.models == ",".join(ALL)


def test_python_dash_m_help():
    proc = subprocess.run(
        [sys.executable, "-m", "sklearn_ckn", "compare", "--help"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0
    assert "--dataset" in proc.stdout and "--n-train" in proc.stdout
