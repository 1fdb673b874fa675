"""What a comparison runs: the per-data-set settings and :func:`make_config`, which
checks every parameter once, before anything is loaded or fitted.

The data sets are those of :mod:`sklearn_ckn.datasets`' registry; their settings here
are only what the comparison does differently from the defaults.

Importing this module does not import torch or the models (they are imported by
:func:`make_config`): the command line's parser reads the settings below, and
``python -m sklearn_ckn --help`` stays fast.
"""

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from ..datasets import available_datasets, get_dataset_info
from ._checks import (
    ParameterError,
    check_choice,
    check_count,
    check_data_home,
    check_image_size,
    check_models,
    check_n_jobs,
    check_out_folder,
    check_param_names,
    check_per_model,
    check_random_state,
    validate_model_params,
)
from ._options import from_keywords, takes_options

__all__ = ["DATASET_PARAMS", "DEFAULT_MAX_TRAIN", "QUICK_PARAMS", "Config", "make_config"]

#: Largest training set each model is fitted on by default (None: no cap). The
#: kernel SVM fits an exact ``SVC`` up to 10,000 images and a Nystroem approximation
#: above (see :class:`~sklearn_ckn.KernelSVC`); beyond 20,000 images neither
#: the approximation nor the exact k-NN search (prediction cost grows with
#: ``n_train * n_test * n_pixels``) pays off on a CPU. Override with ``max_train``
#: (``--max-train knn=60000`` on the command line; ``none`` removes a cap).
DEFAULT_MAX_TRAIN = {
    "ckn": None,
    "ckn_supervised": None,
    "cnn": None,
    "kernel_svm": 20_000,
    "naive_bayes": None,
    "knn": 20_000,
}

#: Per-data-set model parameters (``make_model`` keywords) used by the comparison.
#: Digits: a 2-layer CKN (64, 256 filters, pooling 2 then 2: 1,024 features), a
#: supervised CKN of 32, 128 filters trained for 5 epochs and a 4x narrower residual
#: CNN trained for 10 epochs, so that the whole default run stays short on 2 CPU cores.
DATASET_PARAMS = {
    "digits": {
        "ckn": {"ckn__n_filters": (64, 256), "ckn__subsamplings": (2, 2)},
        "ckn_supervised": {"ckn__n_filters": (32, 128), "epochs": 5},
        "cnn": {"architecture_params": {"widths": (32, 64, 128)}, "epochs": 10},
    },
    # MNIST and CIFAR-10: the configurations of benchmarks/bench_ckn.py and the
    # recipes of benchmarks/bench_cnn.py (see the README's benchmark tables).
    "mnist": {
        "ckn": {"ckn__n_filters": (64, 512), "ckn__subsamplings": (2, 4)},
        # benchmarks/bench_ckn_supervised.py's MNIST run (first stage): fine-tuning
        # from a 99.3% start needs a gentler step than the default 1e-3.
        "ckn_supervised": {
            "augment": True, "learning_rate": 3e-4, "weight_decay": 6.4e-6, "epochs": 5,
        },
        "cnn": {
            "architecture_params": {"widths": (32, 64, 128)}, "epochs": 8, "batch_size": 256,
            "learning_rate": 0.1, "label_smoothing": 0.1, "augment": True,
        },
    },
    "cifar10": {
        "ckn": {
            "ckn__n_filters": (64, 256), "ckn__subsamplings": (2, 6), "ckn__whitening": "local",
            "ckn__n_patches": 500_000, "ckn__kmeans_max_iter": 50,
        },
        # Mairal's CKN-5 trained end to end with cross-entropy, Adam at 1e-3 and one
        # one-cycle schedule over 30 epochs: the recipe of the ckn.supervised runs on all
        # of CIFAR-10 (82.26% after 40 epochs, 82.98% after 80; README's supervised
        # table). Fine-tuning the 64/256 network above for 4 epochs ended below its
        # start (75.88% against 77.15%: results/compare_cifar10).
        "ckn_supervised": {
            "architecture": "ckn5", "loss": "cross_entropy", "learning_rate": 1e-3,
            "weight_decay": 6.4e-6, "epochs": 30,
        },
        "cnn": {
            "architecture_params": {"widths": (64, 128, 256)}, "epochs": 15, "batch_size": 256,
            "learning_rate": 0.2, "label_smoothing": 0.2, "test_time_augmentation": True,
        },
    },
    "svhn": {"cnn": {"epochs": 10}},
    "fruits360": {"cnn": {"epochs": 10}},
}

#: Tiny models for smoke tests (``quick=True``, ``--quick``): seconds on any data
#: set, meaningless accuracies.
QUICK_PARAMS = {
    "ckn": {
        "ckn__n_filters": (8, 16),
        "ckn__subsamplings": (2, 4),
        "ckn__n_patches": 2000,
        "ckn__kmeans_max_iter": 3,
        "clf__max_iter": 100,
    },
    "ckn_supervised": {
        "ckn__n_filters": (8, 16), "ckn__n_patches": 2000, "ckn__kmeans_max_iter": 3,
        "epochs": 1,
    },
    "cnn": {"architecture": "lenet5", "epochs": 1},
    "kernel_svm": {},
    "naive_bayes": {},
    "knn": {},
}

#: Size the images are resized to when the loader can resize (Fruits-360's files are
#: 100x100) and ``image_size`` is None.
DEFAULT_IMAGE_SIZE = 32

#: ``n_jobs="auto"`` runs on one thread when the images have at most this many pixels
#: (the 8x8 digits gain nothing from several threads and lose a lot when the cores
#: are shared with other processes).
SINGLE_THREAD_MAX_PIXELS = 16 * 16


@dataclass(frozen=True)
class Config:
    """A checked comparison: what :func:`make_config` returns.

    ``models`` maps each name to its unfitted model; ``caps`` each name to its
    training-set cap; ``load`` holds the keywords of
    :func:`~sklearn_ckn.compare.load_comparison_data`; ``threads`` is the resolved
    ``n_jobs`` (an int, or None to leave the libraries' settings).
    """

    dataset: str
    models: dict
    caps: dict
    load: dict
    cv: object
    device: str
    out: object
    overwrite: bool
    random_state: int
    verbose: int
    quick: bool
    n_misclassified: int
    threads: object
    command: str


def has_official_split(dataset):
    """Whether the registry's loader of ``dataset`` has train and test subsets."""
    return bool(get_dataset_info(dataset).subsets)


def resizes_images(dataset):
    """Whether the registry's loader of ``dataset`` resizes images (``image_size``)."""
    return "image_size" in get_dataset_info(dataset).loader_parameters


def _threads(n_jobs, dataset):
    """CPU threads of the run: an int, or None to leave the libraries' settings."""
    if isinstance(n_jobs, str):  # "auto"
        shape = get_dataset_info(dataset).image_shape
        pixels = shape[0] * shape[1] if shape else None
        return 1 if pixels is not None and pixels <= SINGLE_THREAD_MAX_PIXELS else None
    if n_jobs == -1:
        return os.cpu_count() or 1
    return n_jobs


def _caps(max_train, choices):
    caps = dict(DEFAULT_MAX_TRAIN)
    max_train = check_per_model("max_train", max_train, choices, "None or an int")
    for name, cap in max_train.items():
        caps[name] = check_count("max_train", cap, key=name)
    return caps


def _build_models(names, dataset, model_params, quick, device, random_state, verbose):
    """``{name: unfitted model}``: the data set's (or quick) parameters, then the
    user's, every one checked (also those of models that will not run)."""
    from ..models import available_models, make_model

    model_params = check_per_model("model_params", model_params, available_models(),
                                   "a dict of make_model keywords")
    built = {}
    for name in names + [n for n in model_params if n not in names]:
        params = dict(QUICK_PARAMS[name] if quick else DATASET_PARAMS.get(dataset, {}).get(name, {}))
        if not isinstance(model_params.get(name, {}), Mapping):
            raise ParameterError("model_params", "{name} must be a dict of make_model keywords, "
                                 f"got {model_params[name]!r}.", key=name)
        param = "model_params" if name in model_params else "models"
        check_param_names(param, name, model_params.get(name, {}), make_model(name))
        params.update(model_params.get(name, {}))
        try:
            model = make_model(
                name, random_state=random_state, device=device, verbose=max(0, verbose - 1),
                **params,
            )
            validate_model_params(model)
        except (TypeError, ValueError) as exc:
            raise ParameterError(param, " ".join(str(exc).split()), key=name) from exc
        built[name] = model
    return {name: built[name] for name in names}


@takes_options
def make_config(dataset="digits", **options):
    """Check every option of :func:`~sklearn_ckn.compare.run_comparison` and build
    the models; nothing is loaded, fitted or created.

    {parameters}

    Returns
    -------
    config : Config
        The checked comparison.

    Raises
    ------
    ParameterError
        For the first option that cannot work.
    """
    from .._device import resolve_device
    from ..models import available_models

    o = from_keywords("run_comparison", dataset=dataset, **options)
    dataset = check_choice("dataset", o.dataset, available_datasets(), "datasets")
    names = check_models("models", available_models() if o.models is None else o.models,
                         available_models())
    caps = _caps(o.max_train, available_models())
    cv = check_count("cv", o.cv, minimum=2)
    n_train, n_test = check_count("n_train", o.n_train), check_count("n_test", o.n_test)
    random_state = check_random_state(o.random_state)
    threads = _threads(check_n_jobs(o.n_jobs), dataset)
    image_size = check_image_size(o.image_size, dataset, resizes_images(dataset))
    n_misclassified = check_count("n_misclassified", o.n_misclassified, minimum=0,
                                  optional=False)
    verbose = int(o.verbose) if isinstance(o.verbose, bool) else o.verbose
    verbose = check_count("verbose", verbose, minimum=0, optional=False)
    try:  # "tpu", or "cuda" without CUDA, fails here, not after other models ran
        resolve_device(o.device)
    except ValueError as exc:
        raise ParameterError("device", str(exc)) from exc
    check_data_home(o.data_home)
    built = _build_models(names, dataset, o.model_params, o.quick, o.device, random_state,
                          verbose)
    if o.out is not None:
        check_out_folder(o.out, overwrite=o.overwrite)
    load = {"data_home": o.data_home, "n_train": n_train, "n_test": n_test,
            "random_state": random_state, "download_if_missing": o.download_if_missing,
            "verify_checksums": o.verify_checksums}
    if resizes_images(dataset):
        load["image_size"] = image_size
    return Config(
        dataset=dataset, models=built, caps=caps, load=load, cv=cv, device=o.device,
        out=o.out, overwrite=bool(o.overwrite), random_state=random_state, verbose=verbose,
        quick=bool(o.quick), n_misclassified=n_misclassified, threads=threads,
        command=o.command if o.command is not None else shlex.join(sys.argv),
    )
