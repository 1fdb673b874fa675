"""The comparison's configuration: every parameter checked once, before anything is
loaded or fitted, with messages that name the parameter."""

import os

import pytest

from sklearn_ckn import available_models
from sklearn_ckn.compare import (
    DATASET_PARAMS,
    DEFAULT_MAX_TRAIN,
    QUICK_PARAMS,
    ParameterError,
    run_comparison,
)
from sklearn_ckn.compare import _data
from sklearn_ckn.compare._config import make_config
from sklearn_ckn.datasets import available_datasets


def threads(n_jobs, dataset):
    return make_config(dataset, models=["naive_bayes"], n_jobs=n_jobs).threads


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"random_state": -1}, r"random_state must be an integer in \[0, 2\*\*32 - 1\]"),
        ({"n_train": 0}, "n_train must be None or a positive integer"),
        ({"n_test": 2.5}, "n_test must be None or a positive integer"),
        ({"image_size": 16}, r"image_size applies to .*\(fruits360\), not to 'digits'"),
        ({"dataset": "fruits360", "image_size": -3}, "image_size must be 0"),
        ({"dataset": "fruits360", "image_size": (0, 8)}, "image_size must be 0"),
        ({"device": "tpu"}, "device"),
        ({"models": ["knn", "knn"]}, "models: knn given more than once"),
        ({"models": []}, "models gives no model"),
        ({"models": 3}, "models must be a list of model names or a comma-separated string"),
        ({"models": "knn,svm"}, r"models has unknown model\(s\) svm; available models: ckn"),
        ({"cv": True}, "cv must be None or an integer of at least 2"),
        ({"models": ["knn"], "model_params": {"knn": {"knn__n_neighbors": 0}}},
         r"model_params\['knn'\]: .*n_neighbors"),
        ({"model_params": {"svm": {}}}, r"model_params has unknown model\(s\) svm"),
        ({"max_train": {"knn": 0}}, r"max_train\['knn'\] must be None or a positive integer"),
        ({"max_train": [("knn", 3)]}, "max_train must be a dict of model name to None or an int"),
        ({"model_params": {"knn": 3}}, r"model_params\['knn'\] must be a dict of make_model"),
        ({"n_jobs": 0}, "n_jobs must be 'auto', None, -1 or a positive integer"),
        ({"n_misclassified": -1}, "n_misclassified must be a non-negative integer"),
        ({"verbose": "loud"}, "verbose must be a non-negative integer"),
        ({"dataset": "imagenet"}, "Unknown dataset 'imagenet'; available datasets: digits"),
        ({"out": "{file}"}, "is a file"),
        ({"data_home": "{file}"}, "data_home=.* is a file, not a folder"),
    ],
)
def test_run_comparison_checks_before_loading(tmp_path, monkeypatch, kwargs, match):
    def no_loading(*args, **kw):
        raise AssertionError("data were loaded before the arguments were checked")

    monkeypatch.setattr(_data, "load_comparison_data", no_loading)
    afile = tmp_path / "afile"
    afile.write_text("x")
    kwargs = {k: (str(afile) if v == "{file}" else v) for k, v in kwargs.items()}
    kwargs = {"dataset": "digits", "models": ["naive_bayes"], "verbose": 0, **kwargs}
    with pytest.raises(ParameterError, match=match):
        run_comparison(kwargs.pop("dataset"), **kwargs)




def test_parameter_error_names_its_parameter():
    error = ParameterError("random_state", "{name} must be an integer, got -1.")
    assert str(error) == "random_state must be an integer, got -1."
    assert error.message_for("--random-state") == "--random-state must be an integer, got -1."
    error = ParameterError("device", "CUDA is not available here.")
    assert str(error) == "device: CUDA is not available here." and error.param == "device"
    error = ParameterError("max_train", "{name} must be positive.", key="knn")
    assert str(error) == "max_train['knn'] must be positive." and error.key == "knn"
    assert isinstance(error, ValueError)


def test_n_jobs():
    assert threads("auto", "digits") == 1
    assert threads("auto", "mnist") is None
    assert threads(None, "digits") is None
    assert threads(-1, "mnist") == (os.cpu_count() or 1)
    assert threads(3, "mnist") == 3
    for bad in (0, -2, 1.5, "all"):
        with pytest.raises(ParameterError, match="n_jobs"):
            threads(bad, "digits")


def test_config_builds_every_model_with_its_settings():
    config = make_config("digits", models="ckn,knn", random_state=3, max_train={"knn": 40},
                         model_params={"knn": {"knn__n_neighbors": 1}})
    assert list(config.models) == ["ckn", "knn"]
    ckn = config.models["ckn"].get_params()
    assert ckn["ckn__n_filters"] == DATASET_PARAMS["digits"]["ckn"]["ckn__n_filters"]
    assert ckn["ckn__random_state"] == 3
    assert config.models["knn"].get_params()["knn__n_neighbors"] == 1
    assert config.caps["knn"] == 40 and config.caps["kernel_svm"] == 20_000
    quick = make_config("mnist", models=["cnn"], quick=True)
    assert quick.models["cnn"].epochs == QUICK_PARAMS["cnn"]["epochs"]
    assert "image_size" in make_config("fruits360", models=["knn"]).load
    assert "image_size" not in make_config("mnist", models=["knn"]).load
    assert make_config("digits", models=["knn"], verbose=True).verbose == 1


def test_settings_name_every_model():
    # The command line's parser lists the models from DEFAULT_MAX_TRAIN, without
    # importing make_model (and torch).
    assert list(DEFAULT_MAX_TRAIN) == list(QUICK_PARAMS) == available_models()


@pytest.mark.parametrize(
    "model, params, hint",
    [
        ("ckn", {"n_filters": (8, 16)}, "did you mean 'ckn__n_filters'?"),
        ("ckn", {"ckn:n_filters": (8, 16)}, "did you mean 'ckn__n_filters'?"),
        ("ckn", {"C": 0.1}, "did you mean 'clf__C'?"),
        ("knn", {"n_neighbors": 1}, "did you mean 'knn__n_neighbors'?"),
        ("cnn", {"epoch": 1}, "did you mean 'epochs'?"),
        ("ckn", {"nothing_like_it": 1}, "'nothing_like_it' of the ckn model. The ckn model is "
                                        "a pipeline (steps ckn, scaler, clf)"),
        ("cnn", {"nothing_like_it": 1}, "Its parameters: architecture, "),
    ],
)
def test_unknown_model_parameter_names_the_right_spelling(model, params, hint):
    with pytest.raises(ParameterError, match=rf"model_params\['{model}'\]: unknown") as exc:
        make_config("digits", models=[model], model_params={model: params})
    assert hint in str(exc.value)


def test_every_registered_dataset_has_settings():
    assert set(DATASET_PARAMS) <= set(available_datasets())
    for dataset in available_datasets():
        make_config(dataset, models=["naive_bayes"])  # the registry's data sets all work


def test_cifar10_supervised_ckn_is_ckn5_trained_with_cross_entropy():
    # The CIFAR-10 comparison trains Mairal's CKN-5 end to end (the ckn.supervised
    # recipe), not the unsupervised 64/256 network fine-tuned for a few epochs.
    from sklearn_ckn import make_model

    model = make_model("ckn_supervised").set_params(**DATASET_PARAMS["cifar10"]["ckn_supervised"])
    params = model.get_params()
    assert (params["architecture"], params["loss"], params["optimizer"]) == (
        "ckn5", "cross_entropy", "adam")
    assert params["epochs"] == 30 and not params["augment"]
