"""The command line never shows a traceback for a user's mistake (issue 17): every
argument is checked before anything is fitted, errors are one line on stderr with
exit status 2."""

import json
import os
import subprocess
import sys
import tempfile

import pandas as pd
import pytest
import torch

import sklearn_ckn
from sklearn_ckn.__main__ import main
from sklearn_ckn.compare import _run
from sklearn_ckn.compare._checks import check_out_folder

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py

FAST = ["compare", "--models", "naive_bayes,knn", "--verbose", "0"]


@pytest.fixture
def nothing_fitted(monkeypatch):
    """Fail the test if any model gets fitted."""
    def boom(*args, **kwargs):
        raise AssertionError("a model was fitted before the arguments were checked")

    monkeypatch.setattr(_run, "fit_models", boom)


def run_cli(argv, capsys):
    """(exit status, stderr) of ``main(argv)``, whether it returns or exits."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line_error(err, *fragments):
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("sklearn-ckn compare: error: ")
    for fragment in fragments:
        assert fragment in last, (fragment, last)


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--out", "{file}"], ["--out:", "is a file, not a folder"]),
        (["--out", "{file}/sub"], ["--out:", "cannot be created", "is a file"]),
        (["--device", "tpu"], ["--device:", "'tpu'"]),
        (["--models", "knn,knn"], ["--models: knn given more than once"]),
        (["--random-state", "-1"], ["--random-state must be", "[0, 2**32 - 1], got -1"]),
        (["--random-state", "2**40"], ["--random-state"]),
        (["--image-size", "-3"], ["--image-size must be", "got -3"]),
        (["--image-size", "16"], ["--image-size applies to", "(fruits360), not to 'digits'"]),
        (["--cv", "1"], ["--cv must be", "at least 2, got 1"]),
        (["--n-train", "0"], ["--n-train must be", "positive integer, got 0"]),
        (["--n-test", "-5"], ["--n-test must be", "positive integer, got -5"]),
        (["--n-jobs", "0"], ["--n-jobs must be", "got 0"]),
        (["--verbose", "-1"], ["--verbose must be a non-negative integer, got -1"]),
        (["--max-train", "knn=0"], ["--max-train knn must be", "positive integer, got 0"]),
        (["--dataset", "imagenet"], ["Unknown --dataset 'imagenet'", "digits, mnist"]),
        (["--dataset", "mnist", "--data-home", "{file}"],
         ["data_home=", "is a file, not a folder"]),
        (["--param", "naive_bayes:nb__var_smoothing=-1"], ["--param naive_bayes", "var_smoothing"]),
        (["--param", "ckn:ckn__n_filters=-3"], ["--param ckn", "n_filters", "-3"]),
        (["--param", "cnn:epochs='many'"], ["--param cnn", "epochs"]),
        # a wrong spelling of a parameter: the message names the right one
        (["--param", "ckn:n_filters=(8, 16)"],
         ["--param ckn: unknown parameter 'n_filters'", "did you mean 'ckn__n_filters'?",
          "pipeline (steps ckn, scaler, clf)"]),
        (["--param", "ckn:ckn:n_filters=(8, 16)"], ["'ckn:n_filters'", "'ckn__n_filters'?"]),
        (["--param", "ckn:ckn__n_filter=(8, 16)"], ["did you mean 'ckn__n_filters'?"]),
        (["--param", "cnn:epoch=3"], ["--param cnn: unknown parameter 'epoch'",
                                      "did you mean 'epochs'?"]),
        (["--out", "{link}/results"], ["--out:", "is a broken symbolic link"]),
        # a model that does not run: its parameters are checked too
        (["--param", "cnn:epochs=0"], ["--param cnn", "epochs"]),
    ],
)
def test_argument_errors_before_anything_runs(tmp_path, capsys, nothing_fitted, extra, fragments):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")  # a broken link: os.access cannot tell
    extra = [a.format(file=afile, link=link) for a in extra]
    out = [] if "--out" in extra else ["--out", str(tmp_path / "out")]
    code, err = run_cli(FAST + out + extra, capsys)
    assert code == 2
    assert_one_line_error(err, *fragments)
    assert not (tmp_path / "out").exists() and afile.read_text() == "not a folder"


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_refused_even_for_cpu_only_models(tmp_path, capsys, nothing_fitted):
    code, err = run_cli(FAST + ["--device", "cuda", "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert_one_line_error(err, "--device:", "CUDA is not available")


def test_unwritable_out_folder(tmp_path, capsys, monkeypatch, nothing_fitted):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root can write anywhere, so the permission is simulated.
    monkeypatch.setattr(os, "access", lambda p, mode: p != str(locked) and real_access(p, mode))
    code, err = run_cli(FAST + ["--out", str(locked / "results")], capsys)
    assert code == 2
    assert_one_line_error(err, "--out:", "not writable", str(locked))
    assert os.listdir(locked) == []


def test_out_folder_that_cannot_be_written_fails_before_fitting(tmp_path, capsys, monkeypatch,
                                                                nothing_fitted):
    # A read-only file system or a full disk: os.access says yes, writing fails.
    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system", str(tmp_path / "out"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code, err = run_cli(FAST + ["--out", str(tmp_path / "out" / "sub")], capsys)
    assert code == 2
    assert_one_line_error(err, "--out:", "cannot be written: Read-only file system")
    assert os.listdir(tmp_path) == []  # the folders the check created are removed


def test_out_folder_check_leaves_nothing_behind(tmp_path):
    check_out_folder(tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []
    (tmp_path / "kept").mkdir()
    check_out_folder(tmp_path / "kept")
    assert os.listdir(tmp_path / "kept") == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_out_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ValueError, match="not writable"):
            check_out_folder(locked / "results")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--cv", "1000"], ["cv=1000 folds", "at most 137 per class"]),
        (["--n-train", "1"], ["1 training image(s) of 1 class(es)", "at least 2 classes"]),
        (["--n-train", "3"], ["knn uses 5 neighbours", "only 3 image(s)"]),
        (["--max-train", "naive_bayes=1"], ["naive_bayes would be fitted on 1 training image"]),
    ],
)
def test_training_sets_too_small_fail_before_any_fit(tmp_path, capsys, nothing_fitted, extra,
                                                     fragments):
    code, err = run_cli(FAST + ["--out", str(tmp_path / "out")] + extra, capsys)
    assert code == 2
    assert_one_line_error(err, *fragments)


def test_model_failing_in_fit_is_one_line_naming_the_model(tmp_path, capsys, monkeypatch):
    # A model parameter of the wrong type that only the fit can tell, e.g.
    # --param "cnn:architecture_params={'widths': 3}" with the residual CNN.
    def wrong_type(name, *args, **kwargs):
        raise TypeError("'int' object is not iterable")

    monkeypatch.setattr(_run, "_fit_one", wrong_type)
    code, err = run_cli(FAST + ["--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert_one_line_error(
        err, "error: 'int' object is not iterable (while fitting and scoring the naive_bayes "
             "model)"
    )


def test_failed_download_is_one_line_and_creates_no_data_home(tmp_path, capsys, monkeypatch,
                                                              nothing_fitted):
    import urllib.error
    import urllib.request

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    home = tmp_path / "no_such_home"
    code, err = run_cli(FAST + ["--dataset", "mnist", "--data-home", str(home),
                                "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert_one_line_error(err, "could not download train-images-idx3-ubyte.gz",
                          "Name or service not known", str(home / "mnist"))
    assert not home.exists()


def test_no_download_switch(tmp_path, capsys, nothing_fitted):
    # The hermetic fixture fails the test on any network access.
    home = tmp_path / "no_such_home"
    code, err = run_cli(FAST + ["--dataset", "cifar10", "--data-home", str(home),
                                "--no-download", "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert_one_line_error(err, "CIFAR-10 files not found", "nothing was downloaded")
    assert not home.exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"sklearn-ckn {sklearn_ckn.__version__}"


def test_help_shows_single_percent_signs(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "75%/25%" in text and "%%" not in text and "--no-download" in text


def test_python_dash_m_error_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sklearn_ckn", "compare", "--models", "knn,knn",
         "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "sklearn-ckn compare: error: --models: knn given more than once"
    )


def test_missing_files_cli_message(tmp_path, capsys):
    code = main(["compare", "--dataset", "fruits360", "--data-home", str(tmp_path),
                 "--out", str(tmp_path / "o"), "--verbose", "0"])
    assert code == 2  # argparse's status for a user's mistake
    assert "Fruits-360" in capsys.readouterr().err




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
        (["compare", "--dataset", "imagenet"], "Unknown --dataset 'imagenet'; available datasets"),
        (["compare", "--models", "ckn,svm"], "unknown model(s) svm; available models: ckn"),
        (["compare", "--models", ""], "--models gives no model; available models: ckn"),
        (["compare", "--param", "ckn:n_filters=3"], "--param ckn"),
        (["compare", "--param", "ckn=3"], "MODEL:NAME=VALUE"),
        (["compare", "--param", "svm:C=3"], "--param has unknown model(s) svm"),
        (["compare", "--max-train", "knn"], "MODEL=N"),
        (["compare", "--max-train", "knn=0"], "positive integer"),
        (["compare", "--max-train", "svm=10"], "--max-train has unknown model(s) svm"),
        (["compare", "--cv", "1"], "--cv must be None or an integer of at least 2, got 1"),
        (["compare", "--n-train", "ten"], "argument --n-train: invalid int value: 'ten'"),
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
    from sklearn_ckn.__main__ import build_parser
    from sklearn_ckn.compare._options import parse_caps, parse_model_params

    params = parse_model_params(["ckn:ckn__n_filters=(8, 16)", "cnn:architecture=lenet5",
                                 "cnn:learning_rate=0.5", "knn:knn__weights=None"])
    assert params == {"ckn": {"ckn__n_filters": (8, 16)},
                      "cnn": {"architecture": "lenet5", "learning_rate": 0.5},
                      "knn": {"knn__weights": None}}
    assert parse_caps(["knn=5,kernel_svm=none", "cnn=7"]) == {"knn": 5, "kernel_svm": None,
                                                              "cnn": 7}
    args = build_parser().parse_args(["compare"])
    assert (args.dataset, args.verbose, args.random_state, args.cv) == ("digits", 1, 0, None)
    assert args.n_jobs == "auto" and args.models is None and args.overwrite is False
    assert args.download_if_missing is True and args.model_params == []
    assert build_parser().parse_args(["compare", "--n-jobs", "-1"]).n_jobs == -1


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--help"], "compare"),
        (["--version"], f"sklearn-ckn {sklearn_ckn.__version__}"),
        (["compare", "--help"], "--n-train"),
    ],
)
def test_python_dash_m_help_and_version_do_not_import_torch(args, expected):
    # -X importtime lists every module imported, one per line of stderr.
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sklearn_ckn", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and expected in proc.stdout
    imported = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "sklearn_ckn.__main__" in imported or "sklearn_ckn" in imported
    heavy = {"torch", "matplotlib", "sklearn_ckn.models"} & imported
    assert not heavy, f"{' '.join(args)} imported {sorted(heavy)}"


def test_checksums_of_files_present(tmp_path, capsys, fake_datasets):
    fake_datasets["mnist"](tmp_path, n=(40, 20))  # not the official files
    argv = FAST + ["--dataset", "mnist", "--data-home", str(tmp_path),
                   "--out", str(tmp_path / "out")]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert_one_line_error(err, "train-images-idx3-ubyte", "verify_checksums")
    code, err = run_cli(argv + ["--no-verify-checksums"], capsys)
    assert code == 0 and err == ""
    info = json.loads((tmp_path / "out" / "results.json").read_text())
    assert info["n_train"] == 40 and "--no-verify-checksums" in info["command"]
