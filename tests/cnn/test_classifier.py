"""Tests of CNNClassifier, the scikit-learn front end (synthetic data only)."""

import doctest
import io
import pickle
import warnings
from contextlib import redirect_stderr

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

import sklearn_ckn.cnn._classifier as classifier_module
import sklearn_ckn._torch_estimator as torch_estimator_module
import sklearn_ckn._torch_module as torch_module
from sklearn_ckn import CNNClassifier


# Small and fast settings shared by most tests.
TINY = dict(architecture_params={"widths": (8, 16)}, batch_size=32, epochs=4, device="cpu",
            random_state=0)


def quadrants(n, size=8, channels=1, noise=0.3, seed=0):
    """4 classes: which quadrant holds a bright 3x3 square (random position inside)."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 4, n)
    half = size // 2
    oy = (y // 2) * half + rng.randint(0, half - 2, n)
    ox = (y % 2) * half + rng.randint(0, half - 2, n)
    rows = np.arange(size)[None, :]
    in_rows = (rows >= oy[:, None]) & (rows < oy[:, None] + 3)
    in_cols = (rows >= ox[:, None]) & (rows < ox[:, None] + 3)
    X = (in_rows[:, :, None] & in_cols[:, None, :]).astype(np.float32)
    X = X + noise * rng.randn(n, size, size).astype(np.float32)
    if channels > 1:
        X = np.repeat(X[..., None], channels, axis=-1)
    return X, y


# ---------------------------------------------------------------------- learning
@pytest.mark.parametrize(
    "params",
    [
        dict(TINY, epochs=6),
        dict(TINY, architecture="lenet5", architecture_params=None, epochs=10),
        dict(TINY, epochs=6, optimizer="adamw", learning_rate=3e-3, weight_decay=0.05),
    ],
    ids=["resnet-small", "lenet5", "adamw"],
)
def test_learns_synthetic_image_task(params):
    X, y = quadrants(600)
    X_test, y_test = quadrants(300, seed=1)
    clf = CNNClassifier(**params).fit(X, y)
    assert clf.score(X_test, y_test) > 0.95
    assert clf.n_iter_ == params["epochs"] == len(clf.history_)
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]


def test_colour_uint8_images_with_augmentation_and_tta():
    X, y = quadrants(400, size=12, channels=3)
    y = y // 2  # top or bottom half: a task that horizontal flips do not change
    X = np.clip(X * 128 + 64, 0, 255).astype(np.uint8)  # uint8 images scaled to [0, 1]
    clf = CNNClassifier(**dict(TINY, epochs=6), test_time_augmentation=True).fit(X, y)
    assert clf._trainer.crop == (1, 1) and clf._trainer.flip  # "auto" on colour images
    assert clf.input_mean_.shape == (3,) and 0 < clf.input_mean_[0] < 1
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize(
    "augment, channels, crop, flip",
    [("auto", 1, (0, 0), False), ("auto", 3, (1, 1), True), (True, 1, (1, 1), False),
     (True, 3, (1, 1), True), (False, 3, (0, 0), False)],
)
def test_augmentation_choice(augment, channels, crop, flip):
    X, y = quadrants(40, channels=channels)
    clf = CNNClassifier(**dict(TINY, epochs=1), augment=augment).fit(X, y)
    assert (clf._trainer.crop, clf._trainer.flip) == (crop, flip)


# -------------------------------------------------------------------- labels, I/O
def test_string_labels_round_trip_and_predict_returns_labels(bars):
    X, y = bars(200)
    names = np.array(["horizontal", "vertical"])[y]
    clf = CNNClassifier(**TINY).fit(X, names)
    assert list(clf.classes_) == ["horizontal", "vertical"]
    pred = clf.predict(X)
    assert pred.dtype == names.dtype and set(pred) <= {"horizontal", "vertical"}
    assert (pred == names).mean() > 0.9
    # Integer labels that are not 0..k-1 come back as labels, not indices.
    clf = CNNClassifier(**TINY).fit(X, np.array([10, 20])[y])
    assert set(clf.predict(X)) <= {10, 20}


def test_output_shapes_and_consistency(bars):
    X, y = quadrants(120)
    clf = CNNClassifier(**dict(TINY, epochs=2)).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 4)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    dec = clf.decision_function(X)
    assert dec.shape == (120, 4)
    np.testing.assert_array_equal(clf.classes_[dec.argmax(1)], clf.predict(X))
    # Binary: one logit difference per sample, positive for classes_[1].
    Xb, yb = bars(80)
    clfb = CNNClassifier(**dict(TINY, epochs=2)).fit(Xb, yb)
    dec = clfb.decision_function(Xb)
    assert dec.shape == (80,)
    np.testing.assert_array_equal(clfb.classes_[(dec > 0).astype(int)], clfb.predict(Xb))


def test_input_layouts_give_the_same_model():
    X, y = quadrants(100)
    a = CNNClassifier(**dict(TINY, epochs=1)).fit(X, y)  # (n, H, W)
    b = CNNClassifier(**dict(TINY, epochs=1)).fit(X[..., None], y)  # (n, H, W, 1)
    c = CNNClassifier(**dict(TINY, epochs=1), image_shape=(8, 8)).fit(X.reshape(100, -1), y)
    df = pd.DataFrame(X.reshape(100, -1), columns=[f"p{i}" for i in range(64)])
    d = CNNClassifier(**dict(TINY, epochs=1)).fit(df, y)  # square: read as 8x8
    ref = a.predict_proba(X)
    for clf, Xp in [(b, X[..., None]), (c, X.reshape(100, -1)), (d, df)]:
        np.testing.assert_array_equal(clf.predict_proba(Xp), ref)
    assert a.image_shape_ == b.image_shape_ == c.image_shape_ == d.image_shape_ == (8, 8, 1)
    assert list(d.feature_names_in_[:2]) == ["p0", "p1"]


# ----------------------------------------------------------------- repeatability
def test_same_random_state_gives_identical_networks():
    X, y = quadrants(150, channels=3)
    params = dict(TINY, epochs=2, dropout=0.2, augment=True)
    a = CNNClassifier(**params).fit(X, y)
    b = CNNClassifier(**params).fit(X, y)
    for (k, va), vb in zip(a.network_.state_dict().items(), b.network_.state_dict().values()):
        assert torch.equal(va, vb), k
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]
    c = CNNClassifier(**dict(params, random_state=1)).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_fit_does_not_touch_global_torch_rng():
    X, y = quadrants(40)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CNNClassifier(**dict(TINY, epochs=1)).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_n_jobs_sets_and_restores_torch_threads():
    X, y = quadrants(40)
    seen = []
    original = torch_estimator_module.Trainer.run

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch_estimator_module.Trainer, "run", spy)
        CNNClassifier(**dict(TINY, epochs=1), n_jobs=2).fit(X, y)
    assert seen == [2]
    assert torch.get_num_threads() == 1


# ---------------------------------------------------- partial_fit and warm_start
def _params(clf):
    return [p.detach().clone() for p in clf.network_.parameters()]


def test_partial_fit_continues_training():
    X, y = quadrants(200)
    clf = CNNClassifier(**TINY)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf = CNNClassifier(**TINY)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2, 3])
    assert clf.n_iter_ == 1 and len(clf.history_) == 1
    before = _params(clf)
    optimizer = clf._trainer.optimizer
    clf.partial_fit(X[100:], y[100:])
    assert clf.n_iter_ == 2 and [h["epoch"] for h in clf.history_] == [1, 2]
    assert clf._trainer.optimizer is optimizer  # same optimizer (momentum) continues
    assert any(not torch.equal(a, b) for a, b in zip(before, _params(clf)))
    # Constant learning rate in partial_fit.
    assert clf.history_[-1]["lr"] == pytest.approx(clf.learning_rate)
    for _ in range(6):
        clf.partial_fit(X, y)
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:10], np.full(10, 7))
    with pytest.raises(ValueError, match="shape"):
        clf.partial_fit(quadrants(10, size=6)[0], y[:10])


def test_partial_fit_follows_the_learning_rate_set_between_calls():
    # A schedule of one's own: the same optimizer (momentum kept), today's rate.
    X, y = quadrants(120)
    clf = CNNClassifier(**TINY).partial_fit(X, y, classes=[0, 1, 2, 3])
    optimizer = clf._trainer.optimizer
    rate = clf.learning_rate
    for factor in (0.5, 0.1):
        clf.set_params(learning_rate=rate * factor).partial_fit(X, y)
        assert clf.history_[-1]["lr"] == pytest.approx(rate * factor)
        assert clf._trainer.optimizer is optimizer
    before = _params(clf)
    clf.set_params(learning_rate=1e-12).partial_fit(X, y)
    moved = max((a - b).abs().max().item() for a, b in zip(before, _params(clf)))
    assert moved < 1e-6


def test_partial_fit_after_fit_and_single_class_batches():
    X, y = quadrants(120)
    clf = CNNClassifier(**dict(TINY, epochs=2)).fit(X, y)
    clf.partial_fit(X[y == 0], y[y == 0])  # a batch may hold one class once fitted
    assert clf.n_iter_ == 3
    with pytest.raises(ValueError, match="at least 2 classes"):
        CNNClassifier(**TINY).partial_fit(X, y, classes=[0])


def test_warm_start_continues_from_current_weights():
    X, y = quadrants(200)
    clf = CNNClassifier(**dict(TINY, epochs=2), warm_start=True).fit(X, y)
    state = {k: v.clone() for k, v in clf.network_.state_dict().items()}
    net = clf.network_
    clf.fit(X, y)
    assert clf.network_ is net  # not rebuilt
    assert clf.n_iter_ == 4 and [h["epoch"] for h in clf.history_] == [1, 2, 3, 4]
    assert any(not torch.equal(v, state[k]) for k, v in clf.network_.state_dict().items())
    # Without warm_start a second fit starts afresh, and equals a first fit.
    cold = CNNClassifier(**dict(TINY, epochs=2)).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 2
    fresh = CNNClassifier(**dict(TINY, epochs=2)).fit(X, y)
    np.testing.assert_array_equal(cold.predict_proba(X), fresh.predict_proba(X))


# ------------------------------------------------------------ transfer learning
def _bn_and_params(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("wrap", ["estimator", "frozen_estimator", "network"])
def test_transfer_learning_with_frozen_features(wrap):
    X, y = quadrants(300)
    source = CNNClassifier(**TINY).fit(X, y)
    src_features = _bn_and_params(source.network_.features)
    # New task on the same images: 2 classes (top vs bottom half).
    y2 = np.where(y < 2, "top", "bottom")
    init = {"estimator": source, "frozen_estimator": FrozenEstimator(source),
            "network": source.network_}[wrap]
    clf = CNNClassifier(**dict(TINY, epochs=3), init_from=init, freeze_features=True)
    clf.fit(X, y2)
    # Copied, then bit-identical: parameters and batch-norm running statistics.
    after = _bn_and_params(clf.network_.features)
    assert after.keys() == src_features.keys()
    assert any("running_mean" in k for k in after)
    for k, v in after.items():
        assert torch.equal(v, src_features[k]), k
    assert all(not p.requires_grad for p in clf.network_.features.parameters())
    # The source is untouched and the input standardisation is the source's.
    for k, v in _bn_and_params(source.network_.features).items():
        assert torch.equal(v, src_features[k])
    np.testing.assert_array_equal(clf.input_mean_, source.input_mean_)
    # New head for the new classes, trained.
    assert clf.network_.head[-1].out_features == 2
    assert list(clf.classes_) == ["bottom", "top"]
    assert clf.score(X, y2) > 0.9
    # Pickling keeps the features frozen.
    loaded = pickle.loads(pickle.dumps(clf))
    assert all(not p.requires_grad for p in loaded.network_.features.parameters())


def test_transfer_learning_fine_tuning_changes_features():
    X, y = quadrants(200)
    source = CNNClassifier(**TINY).fit(X, y)
    src = _bn_and_params(source.network_.features)
    head_init = CNNClassifier(**dict(TINY, epochs=1), init_from=source).fit(X, y)
    changed = _bn_and_params(head_init.network_.features)
    assert any(not torch.equal(changed[k], src[k]) for k in src)
    assert all(p.requires_grad for p in head_init.network_.parameters())


def test_transfer_learning_errors():
    X, y = quadrants(60)
    with pytest.raises(ValueError, match="fitted"):
        CNNClassifier(**TINY, init_from=CNNClassifier()).fit(X, y)
    source = CNNClassifier(**dict(TINY, epochs=1)).fit(X, y)
    with pytest.raises(ValueError, match="shape"):
        CNNClassifier(**TINY, init_from=source).fit(quadrants(60, size=10)[0], y)
    with pytest.raises(ValueError, match="init_from"):
        CNNClassifier(**TINY, init_from="model.pt").fit(X, y)
    with pytest.raises(ValueError, match="needs init_from"):
        CNNClassifier(**TINY, freeze_features=True).fit(X, y)
    # clone() un-fits an estimator parameter, but not FrozenEstimator / a network.
    cloned = clone(CNNClassifier(**TINY, init_from=FrozenEstimator(source)))
    cloned.set_params(epochs=1).fit(X, y)
    cloned = clone(CNNClassifier(**TINY, init_from=source.network_))
    cloned.set_params(epochs=1).fit(X, y)


def test_callable_architecture():
    from functools import partial

    from sklearn_ckn.cnn._architectures import ResNetSmall

    X, y = quadrants(60)
    clf = CNNClassifier(partial(ResNetSmall, widths=(4, 8)), epochs=1, batch_size=32,
                        random_state=0).fit(X, y)
    assert isinstance(clf.network_, ResNetSmall) and clf.network_.config["widths"] == (4, 8)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="'normalize', 'features' and 'head'"):
        CNNClassifier(lambda **kw: torch.nn.Linear(64, 4), epochs=1).fit(X, y)


def test_partial_fit_with_incomparable_labels():
    X, y = quadrants(40)
    clf = CNNClassifier(**TINY).partial_fit(X, np.array(list("abcd"))[y], classes=list("abcd"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning of older NumPy's comparison
        with pytest.raises(ValueError, match="not in classes_"):
            clf.partial_fit(X, y)


# ----------------------------------------------------------------------- pickling
def test_pickle_round_trip_predicts_identically():
    X, y = quadrants(100, channels=3)
    clf = CNNClassifier(**dict(TINY, epochs=2)).fit(X, y)
    state = clf.__getstate__()
    assert "module_" not in state and "network_" not in state and "_trainer" not in state
    tensors = state["_module_state_"]
    assert tensors and all(isinstance(a, np.ndarray) for a in tensors.values())
    loaded = pickle.loads(pickle.dumps(clf))
    assert hasattr(clf, "network_") and hasattr(clf, "_trainer")  # pickling left clf alone
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.history_ == clf.history_ and loaded.n_iter_ == clf.n_iter_
    loaded.partial_fit(X, y)  # training goes on after unpickling (new optimizer)
    assert loaded.n_iter_ == 3


def test_model_from_a_gpu_loads_on_cpu(monkeypatch):
    """Pretend the model was trained on CUDA: the pickle holds numpy arrays, no tensor."""
    X, y = quadrants(80)
    clf = CNNClassifier(**dict(TINY, epochs=1)).fit(X, y)
    expected = clf.predict_proba(X)
    seen = []
    real = torch_module.state_to_numpy

    def spy(module):
        state = real(module)
        seen.append(all(isinstance(a, np.ndarray) for a in state.values()))
        return state

    monkeypatch.setattr(torch_module, "state_to_numpy", spy)
    clf.device_ = torch.device("cuda:0")  # as if fitted on a GPU
    clf.set_params(device="cuda")
    blob = pickle.dumps(clf)
    assert seen == [True]
    loaded = pickle.loads(blob)  # no CUDA here: must not try to use it
    assert loaded.device_ == torch.device("cpu")
    assert next(loaded.network_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


# ---------------------------------------------------------------------- bad input
def test_bad_input_errors():
    X, y = quadrants(30)
    clf = CNNClassifier(**TINY)
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.fit(bad, y)
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        clf.fit(bad, y)
    with pytest.raises(ValueError, match="dimension"):
        clf.fit(np.zeros((30, 2, 8, 8, 1)), y)
    with pytest.raises(ValueError):
        clf.fit(np.zeros(30), y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="numeric"):
        clf.fit(np.full((30, 8, 8), "a"), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, np.linspace(0, 1, 30))
    with pytest.raises(ValueError, match="image_shape"):
        CNNClassifier(**TINY, image_shape=(7, 7)).fit(X.reshape(30, -1), y)
    fitted = CNNClassifier(**dict(TINY, epochs=1)).fit(X, y)
    with pytest.raises(ValueError, match="shape"):
        fitted.predict(np.zeros((3, 10, 10)))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((3, 10)))
    nan_test = X[:3].copy()
    nan_test[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        fitted.predict(nan_test)


def test_divergence_is_reported():
    X, y = quadrants(64)
    with pytest.raises(ValueError, match="diverged"):
        CNNClassifier(**dict(TINY, architecture="lenet5", architecture_params=None),
                      learning_rate=1e8).fit(X * 1e3, y)


def test_invalid_parameters_raise():
    X, y = quadrants(20)
    for params in [dict(epochs=0), dict(learning_rate=-1.0), dict(architecture="vgg"),
                   dict(augment="yes"), dict(validation_fraction=1.0), dict(optimizer="adam")]:
        with pytest.raises(ValueError):
            CNNClassifier(**{**TINY, **params}).fit(X, y)
    with pytest.raises(ValueError, match="CUDA is not available|cuda"):
        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
        CNNClassifier(**{**TINY, "device": "cuda"}).fit(X, y)


def test_unfitted_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CNNClassifier().predict(np.zeros((2, 8, 8)))


# ------------------------------------------------------------------ early stopping
def _spy_run(monkeypatch):
    calls = []
    original = torch_estimator_module.Trainer.run

    def spy(self, data, y, **kwargs):
        calls.append({"n_train": len(data), "y": y.clone(), **kwargs})
        return original(self, data, y, **kwargs)

    monkeypatch.setattr(torch_estimator_module.Trainer, "run", spy)
    return calls


def test_no_data_held_out_without_early_stopping(monkeypatch):
    calls = _spy_run(monkeypatch)
    X, y = quadrants(100)
    clf = CNNClassifier(**dict(TINY, epochs=2)).fit(X, y)
    assert calls[-1]["n_train"] == 100 and calls[-1]["validation"] is None
    assert "valid_loss" not in clf.history_[0]


def test_early_stopping_holds_out_a_stratified_split(monkeypatch):
    calls = _spy_run(monkeypatch)
    X, y = quadrants(200)
    clf = CNNClassifier(**dict(TINY, epochs=30), early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=2, tol=100.0).fit(X, y)
    call = calls[-1]
    assert call["n_train"] == 160 and call["early_stopping"]
    val_data, val_y = call["validation"]
    assert len(val_data) == 40
    # Stratified: class proportions of the hold-out follow y's.
    np.testing.assert_allclose(np.bincount(val_y.numpy(), minlength=4) / 40,
                               np.bincount(y, minlength=4) / 200, atol=0.03)
    assert clf.n_iter_ == 3 < 30  # stopped: patience 2 after the first epoch
    assert {"valid_loss", "valid_accuracy"} <= set(clf.history_[0])


def test_validation_data_is_scored_not_held_out(monkeypatch):
    calls = _spy_run(monkeypatch)
    X, y = quadrants(100)
    X_val, y_val = quadrants(50, seed=3)
    clf = CNNClassifier(**dict(TINY, epochs=2)).fit(X, y, validation_data=(X_val, y_val))
    assert calls[-1]["n_train"] == 100
    assert len(calls[-1]["validation"][0]) == 50
    assert 0 <= clf.history_[-1]["valid_accuracy"] <= 1


# ----------------------------------------------------------- history and verbose
def test_history_and_verbose_progress_bar():
    X, y = quadrants(64)
    err = io.StringIO()
    with redirect_stderr(err):
        clf = CNNClassifier(**dict(TINY, epochs=2), verbose=1).fit(
            X, y, validation_data=(X[:16], y[:16]))
    assert "epoch 1" in err.getvalue() and "valid_acc" in err.getvalue()
    frame = pd.DataFrame(clf.history_)
    assert list(frame.columns) == ["epoch", "train_loss", "train_accuracy", "lr", "valid_loss",
                                   "valid_accuracy", "seconds"]
    err = io.StringIO()
    with redirect_stderr(err):
        CNNClassifier(**dict(TINY, epochs=1), verbose=0).fit(X, y)
    assert err.getvalue() == ""


def test_mixed_precision_runs_on_cpu():
    X, y = quadrants(64)
    clf = CNNClassifier(**dict(TINY, epochs=1), mixed_precision=True).fit(X, y)
    assert clf.predict_proba(X).dtype == np.float64


# ----------------------------------------------------------------- model selection
def test_grid_search_smoke():
    X, y = quadrants(90)
    search = GridSearchCV(CNNClassifier(**dict(TINY, epochs=2)),
                          {"learning_rate": [1e-2, 5e-2]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["learning_rate"] in (1e-2, 5e-2)
    assert search.predict(X).shape == (90,)


def test_docstring_example():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(CNNClassifier, "CNNClassifier", globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


def test_skops_round_trip():
    sio = pytest.importorskip("skops.io")
    X, y = quadrants(40)
    clf = CNNClassifier(**dict(TINY, epochs=1)).fit(X, y)
    data = sio.dumps(clf)  # no torch tensor in the state: skops can store it
    untrusted = sio.get_untrusted_types(data=data)
    assert "sklearn_ckn.cnn._classifier.CNNClassifier" in untrusted
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
