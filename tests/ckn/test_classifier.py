"""Tests of the supervised CKN, :class:`CKNClassifier`."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_ckn import CKNClassifier, CKNTransformer
from sklearn_ckn.ckn._classifier import _fit_linear_head

from ..conftest import estimator_checks

CKN = dict(n_filters=(4, 8), patch_sizes=(3, 2), subsamplings=(2, 4), n_patches=2000)
TINY = dict(batch_size=32, device="cpu", random_state=0)


def _tiny(ckn=None, **params):
    """A tiny CKNClassifier: the network of ``CKN`` (updated by ``ckn``), ``TINY`` (by params)."""
    return CKNClassifier(ckn=CKNTransformer(**dict(CKN, **(ckn or {}))), **dict(TINY, **params))


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _plus_or_cross(n, size=8, seed=0):
    """Class 0: a "+" at a random place, class 1: an "x", in uniform noise."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    X = 0.3 * rng.rand(n, size, size)
    plus = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], float)
    cross = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], float)
    for i in range(n):
        r, c = rng.randint(0, size - 2, 2)
        X[i, r:r + 3, c:c + 3] += plus if y[i] == 0 else cross
    return X.astype(np.float32), y


@pytest.mark.parametrize("output", [{}, {"normalize": None}, {"power": 0.5}])
def test_initial_module_is_the_unsupervised_transformer_module(bars, output):
    # The classifier is built around its ckn: the start's features are exactly the
    # transformer's (kernel layers and output steps), whatever the output steps.
    X, y = bars(60)
    clf = _tiny(ckn=output, epochs=0).fit(X, y)
    ckn = CKNTransformer(**CKN, **output, device="cpu", random_state=0).fit(X)
    np.testing.assert_allclose(clf.transform(X), ckn.transform(X), rtol=1e-5, atol=1e-6)
    assert clf.n_iter_ == 0 and clf.history_ == []
    assert clf.transform(X).shape == (60, clf.n_features_out_)
    assert clf.n_filters_ == ckn.n_filters_ and clf.subsamplings_ == ckn.subsamplings_
    # One module from pixels to scores: decision_function is its forward pass.
    x = torch.as_tensor(X[:, None])
    with torch.no_grad():
        scores = clf.module_(x).double().numpy()
    np.testing.assert_allclose(clf.decision_function(X), scores[:, 1] - scores[:, 0],
                               rtol=1e-5, atol=1e-6)
    assert clf.network_ is clf.module_


def test_layer_parameters_are_routed_to_the_transformer(bars):
    X, y = bars(40)
    clf = _tiny(epochs=1)
    assert clf.get_params()["ckn__n_filters"] == (4, 8)
    search = GridSearchCV(clf, {"ckn__n_filters": [(2, 4), (4, 8)]}, cv=2).fit(X, y)
    assert search.best_estimator_.module_.ckn.layers[1].n_filters in (4, 8)
    assert clf.ckn.n_filters == (4, 8) and not hasattr(clf.ckn, "module_")  # cloned, unfitted


def test_defaults_are_the_transformers():
    # No second list of layer parameters: the default network is CKNTransformer()'s.
    X = np.random.RandomState(0).rand(30, 8, 8).astype(np.float32)
    y = np.arange(30) % 2
    clf = CKNClassifier(epochs=0, device="cpu", random_state=0).fit(X, y)
    ckn = CKNTransformer(device="cpu", random_state=0).fit(X)
    assert clf.n_filters_ == ckn.n_filters_ == (128, 512)
    np.testing.assert_allclose(clf.transform(X), ckn.transform(X), rtol=1e-5, atol=1e-6)


def test_mixed_precision_predict_and_transform_run_under_autocast(bars):
    # predict / transform of a mixed-precision classifier run the module under bfloat16
    # autocast, as its docstring says (they ran in float32 before).
    X, y = bars(40)
    clf = _tiny(epochs=0).fit(X, y)
    x = torch.as_tensor(X[:, None])
    with torch.no_grad():
        full = clf.module_.features(x).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = clf.module_.features(x).float().numpy()
            mixed_scores = clf.module_(x).float().double().numpy()
    assert not np.allclose(full, mixed, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(clf.transform(X), full, rtol=1e-5, atol=1e-6)
    clf.set_params(mixed_precision=True)
    np.testing.assert_allclose(clf.transform(X), mixed, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.decision_function(X), mixed_scores[:, 1] - mixed_scores[:, 0],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("augment", [False, True])
def test_start_head_is_solved_on_the_batches_training_sees(bars, augment):
    # With augmentation, the head of the start is the exact solve on the training
    # images and one shifted (and flipped) copy of each; without, on the images alone.
    X, y = bars(40, size=12, channel_axis=True)
    X = np.repeat(X, 3, axis=-1)  # colour: shifts and flips
    clf = _tiny(epochs=0, augment=augment).fit(X, y)
    data = clf._batches(clf._validate_X(X, reset=False))
    y_idx = torch.as_tensor(np.searchsorted(clf.classes_, y))
    feats = clf._features(data)
    if augment:
        shifted = clf._features(data, augment_seed=clf._rng_seed_ + 2)
        assert not torch.allclose(shifted, feats)
        feats, y_idx = torch.cat([feats, shifted]), torch.cat([y_idx, y_idx])
    weight, bias = _fit_linear_head(feats, y_idx, len(clf.classes_), clf.loss, clf.weight_decay)
    torch.testing.assert_close(clf.network_.head.weight, weight)
    torch.testing.assert_close(clf.network_.head.bias, bias)
    # The start's features are the unsupervised network's either way.
    plain = _tiny(epochs=0, augment=not augment).fit(X, y)
    np.testing.assert_array_equal(plain.transform(X), clf.transform(X))


def test_training_improves_on_the_unsupervised_start():
    # Two anchors pooled over the whole image: k-means does not pick the "+" and
    # "x" directions, and a linear head on its two features cannot tell them apart.
    X, y = _plus_or_cross(200)
    ckn = CKNTransformer(n_filters=2, subsamplings=8, n_patches=2000, normalize="standard")
    clf = CKNClassifier(ckn=ckn, optimizer="adamw", learning_rate=0.03, weight_decay=1e-4,
                        epochs=20, batch_size=32, device="cpu", random_state=0).fit(X, y)
    assert clf.initial_train_accuracy_ < 0.75
    assert clf.score(X, y) > clf.initial_train_accuracy_ + 0.1
    losses = [h["train_loss"] for h in clf.history_]
    assert losses[-1] < losses[0]


def test_anchors_stay_on_the_sphere_and_move(bars):
    X, y = bars(60)
    clf = _tiny(epochs=0).fit(X, y)
    before = [layer.anchors.detach().clone() for layer in clf.network_.ckn.layers]
    clf.set_params(warm_start=True, epochs=2, optimizer="adamw", learning_rate=0.01).fit(X, y)
    for layer, start in zip(clf.network_.ckn.layers, before):
        norms = layer.anchors.detach().norm(dim=1)
        torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5, rtol=0)
        assert not torch.allclose(layer.anchors.detach(), start)
    assert clf.n_iter_ == 2


@pytest.mark.parametrize("loss", ["squared_hinge", "cross_entropy"])
def test_string_labels_proba_and_history(bars, loss):
    X, y = bars(60)
    labels = np.array(["horizontal", "vertical"])[y]
    clf = _tiny(epochs=2, loss=loss).fit(X, labels)
    assert list(clf.classes_) == ["horizontal", "vertical"]
    assert set(clf.predict(X)) <= set(labels)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.decision_function(X).shape == (60,)
    assert [h["epoch"] for h in clf.history_] == [1, 2]
    assert clf.score(X, labels) > 0.8


def test_multiclass_alternate_and_early_stopping(bars):
    X, y = bars(90)
    y = y + 2 * (np.arange(90) % 3 == 0)  # 4 classes, the extra ones noisy
    clf = _tiny(epochs=3, alternate=True, early_stopping=True, validation_fraction=0.2,
                n_iter_no_change=1).fit(X, y)
    assert clf.decision_function(X).shape == (90, len(clf.classes_))
    assert "valid_accuracy" in clf.history_[0]
    assert 1 <= clf.n_iter_ <= 3


def test_repeatable_and_pickles(bars):
    X, y = bars(60)
    a = _tiny(epochs=2).fit(X, y)
    b = _tiny(epochs=2).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    state = a.__getstate__()
    assert "module_" not in state and "network_" not in state
    assert all(isinstance(v, np.ndarray) for v in state["_module_state_"].values())
    loaded = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(loaded.decision_function(X), a.decision_function(X))
    np.testing.assert_array_equal(loaded.transform(X), a.transform(X))
    loaded.partial_fit(X, y)  # training goes on after unpickling
    assert loaded.n_iter_ == 3


def test_partial_fit_and_grid_search(bars):
    X, y = bars(60)
    clf = _tiny()
    clf.partial_fit(X[:30], y[:30], classes=[0, 1])
    clf.partial_fit(X[30:], y[30:])
    assert clf.n_iter_ == 2
    search = GridSearchCV(clone(clf).set_params(epochs=1), {"learning_rate": [0.01, 0.1]},
                          cv=2).fit(X, y)
    assert search.best_estimator_.n_iter_ == 1


def test_named_architecture_and_feature_names():
    X = np.random.RandomState(0).rand(20, 12, 12, 3).astype(np.float32)
    y = np.arange(20) % 2
    clf = CKNClassifier("ckn5", ckn=CKNTransformer(n_patches=500), epochs=0, device="cpu",
                        random_state=0)
    clf.fit(X, y)
    assert len(clf.network_.ckn.layers) == 5
    assert [layer.kernel for layer in clf.network_.ckn.layers][:2] == ["exp", "poly2"]
    names = clf.get_feature_names_out()
    assert len(names) == clf.n_features_out_ == np.prod(clf.output_shape_)


def test_bad_input_errors(bars):
    X, y = bars(20)
    with pytest.raises(ValueError, match="at least 2 classes"):
        _tiny().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="architecture"):
        CKNClassifier("ckn99").fit(X, y)
    clf = _tiny(epochs=0).fit(X, y)
    with pytest.raises(ValueError):
        clf.predict(np.zeros((2, 5, 5)))


# scikit-learn's checks fit 2-D rows of as few as 2 features, read as 1 x d images.
@estimator_checks(
    [CKNClassifier(ckn=CKNTransformer(n_filters=(4, 8), patch_sizes=2, n_patches=2000),
                   epochs=3, learning_rate=0.01, device="cpu", random_state=0)]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_skops_round_trip(bars):
    sio = pytest.importorskip("skops.io")
    X, y = bars(40)
    clf = _tiny(epochs=1).fit(X, y)
    data = sio.dumps(clf)
    untrusted = sio.get_untrusted_types(data=data)
    # The package's estimator classes only: no function, no torch module class.
    assert untrusted == ["sklearn_ckn.ckn._classifier.CKNClassifier",
                         "sklearn_ckn.ckn._transformer.CKNTransformer"]
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_and_gpu_model_loads_on_cpu(bars):
    X, y = bars(60)
    cpu = _tiny(epochs=0).fit(X, y)
    gpu = CKNClassifier(**dict(TINY, epochs=0, device="cuda")).fit(X, y)
    # Same unsupervised start on both devices (k-means draws on the host).
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), rtol=1e-3, atol=1e-4)
    gpu.set_params(warm_start=True, epochs=2).fit(X, y)
    assert gpu.device_.type == "cuda" and gpu.n_iter_ == 2
    loaded = pickle.loads(pickle.dumps(gpu))
    assert loaded.device_.type == "cpu"
    assert next(loaded.network_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(loaded.decision_function(X), gpu.decision_function(X),
                               rtol=1e-3, atol=1e-3)


def test_mixed_type_labels_get_a_clear_error(bars):
    X, _ = bars(20)
    y = np.array([1, "a"] * 10, dtype=object)
    with pytest.raises(ValueError, match="mixes labels"):
        _tiny().fit(X, y)


def test_the_unsupervised_start_neither_draws_from_nor_waits_for_torchs_global_generator():
    # Its patches and k-means use their own generators and the head is solved exactly:
    # the start takes no lock on torch's global generator (fits in threads run side by
    # side) and leaves the generator's state as it found it.
    import threading

    from sklearn_ckn._torch_estimator import _RNG_LOCK

    rng = np.random.RandomState(0)
    X, y = rng.rand(40, 8, 8), np.arange(40) % 2
    state = torch.get_rng_state()
    fitted = []
    with _RNG_LOCK:  # held by another thread, as by a concurrent CNN build
        worker = threading.Thread(target=lambda: fitted.append(
            CKNClassifier(ckn=CKNTransformer(**CKN), epochs=0, **TINY).fit(X, y)))
        worker.start()
        worker.join(timeout=120)
        assert not worker.is_alive()
    assert torch.equal(torch.get_rng_state(), state)
    again = CKNClassifier(ckn=CKNTransformer(**CKN), epochs=0, **TINY).fit(X, y)
    np.testing.assert_array_equal(fitted[0].decision_function(X), again.decision_function(X))
