"""The command line never shows a traceback for a user's mistake (issue 17): every
argument is checked before anything is fitted, errors are one line on stderr with
exit status 2."""

import os
import subprocess
import sys

import pytest
import torch

import sklearn_ckn
from sklearn_ckn.__main__ import main
from sklearn_ckn.compare import _harness as harness
from sklearn_ckn.compare._harness import check_out_folder, run_comparison, run_example_comparison

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py

FAST = ["compare", "--models", "naive_bayes,knn", "--verbose", "0"]


@pytest.fixture
def nothing_fitted(monkeypatch):
    """Fail the test if any model gets fitted."""
    def boom(*args, **kwargs):
        raise AssertionError("a model was fitted before the arguments were checked")

    monkeypatch.setattr(harness, "_fit_models", boom)


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
        (["--random-state", "-1"], ["--random-state", "[0, 2**32 - 1]", "'-1'"]),
        (["--random-state", "2**40"], ["--random-state"]),
        (["--image-size", "-3"], ["--image-size", "'-3'"]),
        (["--image-size", "16"], ["--image-size applies to --dataset fruits360 only"]),
        (["--cv", "1"], ["--cv", "at least 2"]),
        (["--n-train", "0"], ["--n-train", "positive integer"]),
        (["--dataset", "mnist", "--data-home", "{file}"],
         ["data_home=", "is a file, not a folder"]),
        (["--param", "naive_bayes:nb__var_smoothing=-1"], ["--param naive_bayes", "var_smoothing"]),
        (["--param", "ckn:ckn__n_filters=-3"], ["--param ckn", "n_filters", "-3"]),
        (["--param", "cnn:epochs='many'"], ["--param cnn", "epochs"]),
    ],
)
def test_argument_errors_before_anything_runs(tmp_path, capsys, nothing_fitted, extra, fragments):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    extra = [a.format(file=afile) for a in extra]
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
    proc = subprocess.run([sys.executable, "-m", "sklearn_ckn", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith(sklearn_ckn.__version__)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"random_state": -1}, r"random_state must be an integer in \[0, 2\*\*32 - 1\]"),
        ({"n_train": 0}, "n_train must be None or a positive integer"),
        ({"n_test": 2.5}, "n_test must be None or a positive integer"),
        ({"image_size": 16}, "image_size applies to the fruits360 data set only"),
        ({"dataset": "fruits360", "image_size": -3}, "image_size must be 0"),
        ({"dataset": "fruits360", "image_size": (0, 8)}, "image_size must be 0"),
        ({"device": "tpu"}, "device"),
        ({"models": ["knn", "knn"]}, "duplicates"),
        ({"cv": True}, "cv must be None or an integer >= 2"),
        ({"models": ["knn"], "model_params": {"knn": {"knn__n_neighbors": 0}}},
         "model 'knn': .*n_neighbors"),
        ({"out": "{file}"}, "is a file"),
    ],
)
def test_run_comparison_checks_before_loading(tmp_path, monkeypatch, kwargs, match):
    def no_loading(*args, **kw):
        raise AssertionError("data were loaded before the arguments were checked")

    monkeypatch.setattr(harness, "load_comparison_data", no_loading)
    afile = tmp_path / "afile"
    afile.write_text("x")
    kwargs = {k: (str(afile) if v == "{file}" else v) for k, v in kwargs.items()}
    kwargs = {"dataset": "digits", "models": ["naive_bayes"], "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        run_comparison(kwargs.pop("dataset"), **kwargs)


def test_example_scripts_report_errors_without_traceback(capsys, nothing_fitted):
    with pytest.raises(SystemExit) as exc:
        run_example_comparison("digits", ["--models", "knn", "--n-train", "3"])
    assert exc.value.code == 2
    assert "knn uses 5 neighbours" in capsys.readouterr().err
