"""Grad-CAM on a synthetic task whose class is decided by a small square only."""

import copy

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ckn import CKNTransformer, CNNClassifier
from sklearn_ckn.explain import grad_cam
from sklearn_ckn.explain._grad_cam import cam_from_gradients

from .conftest import SQUARE, make_squares, mass_ratio


# -- the maps point at the pattern ---------------------------------------------------------
def test_mass_inside_the_pattern(squares_model, squares_test):
    X, y, corners = squares_test
    ones = y == 1
    assert (squares_model.predict(X) == y).mean() >= 0.95
    maps = grad_cam(squares_model, X[ones])
    ratio = mass_ratio(maps, corners[ones])
    # A uniform map has ratio 1: the mass concentrates on the square.
    assert ratio.mean() > 2.5
    assert np.quantile(ratio, 0.1) > 2.0


@pytest.mark.parametrize("corner, other", [((1, 1), (11, 11)), ((11, 11), (1, 1)),
                                           ((1, 11), (11, 1))])
def test_maps_follow_the_pattern(squares_model, corner, other):
    X, y, corners = make_squares(20, seed=2, corner=corner)
    X, corners = X[y == 1], corners[y == 1]
    maps = grad_cam(squares_model, X)
    own = mass_ratio(maps, corners)
    away = mass_ratio(maps, np.tile(np.asarray(other), (len(X), 1)))
    assert own.min() > 2.0
    assert (own > 2.0 * away).all()  # the opposite corner gets far less
    # The peak lies on the square (or the pixel ring around it that patches see).
    rows, cols = np.unravel_index(maps.reshape(len(maps), -1).argmax(axis=1), maps.shape[1:])
    r, c = corner
    hit = (rows >= r - 1) & (rows <= r + SQUARE) & (cols >= c - 1) & (cols <= c + SQUARE)
    assert hit.mean() >= 0.9


# -- shapes, values, batches ----------------------------------------------------------------
def test_shape_range_dtype(squares_model, squares_test):
    X = squares_test[0][:7]
    maps = grad_cam(squares_model, X)
    assert maps.shape == (7, 16, 16) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    for m in maps:  # each map spans [0, 1] (or is constant)
        assert m.max() == pytest.approx(1.0) or np.ptp(m) == 0
    # 2-D rows and channels-last input give the same maps.
    np.testing.assert_allclose(grad_cam(squares_model, X.reshape(7, -1)), maps, atol=1e-6)
    np.testing.assert_allclose(grad_cam(squares_model, X[..., None]), maps, atol=1e-6)


def test_batch_consistency(squares_model, squares_test):
    X = squares_test[0][:10]
    whole = grad_cam(squares_model, X, batch_size=64)
    one_by_one = np.concatenate([grad_cam(squares_model, X[i:i + 1]) for i in range(10)])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-5)
    np.testing.assert_allclose(grad_cam(squares_model, X, batch_size=3), whole, atol=1e-5)


def test_unnormalized_maps(squares_model, squares_test):
    X, y, _ = squares_test
    X = X[y == 1][:6]
    raw = grad_cam(squares_model, X, normalize=False)
    assert raw.min() >= 0
    lo = raw.min(axis=(1, 2), keepdims=True)
    hi = raw.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose((raw - lo) / (hi - lo), grad_cam(squares_model, X), atol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_colour_images_and_classes(n_classes):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(30, 12, 10, 3), dtype=np.uint8)
    y = np.arange(30) % n_classes
    ckn = make_pipeline(
        CKNTransformer(n_filters=(8, 8), subsamplings=(2, 2), n_patches=1000, device="cpu",
                       random_state=0),  # whitened first layer (colour images)
        LogisticRegression(max_iter=200),
    ).fit(X, y)
    cnn = CNNClassifier("lenet5", epochs=1, device="cpu", random_state=0).fit(X, y)
    for model in (ckn, cnn):
        maps, explained = grad_cam(model, X[:5], return_targets=True)
        assert maps.shape == (5, 12, 10) and 0 <= maps.min() and maps.max() <= 1
        np.testing.assert_array_equal(explained, model.predict(X[:5]))


# -- the target argument ---------------------------------------------------------------------
def test_target(squares_model, squares_test):
    X, y, _ = squares_test
    X = X[:8]
    default, explained = grad_cam(squares_model, X, return_targets=True)
    np.testing.assert_array_equal(explained, squares_model.predict(X))
    np.testing.assert_array_equal(grad_cam(squares_model, X, target=explained), default)
    flipped = 1 - explained
    maps, used = grad_cam(squares_model, X, target=flipped, return_targets=True)
    np.testing.assert_array_equal(used, flipped)
    assert not np.allclose(maps, default)
    # One label for every image.
    np.testing.assert_array_equal(grad_cam(squares_model, X, target=1),
                                  grad_cam(squares_model, X, target=np.ones(8, int)))


def test_target_with_string_labels(squares):
    X, y, _ = squares
    labels = np.array(["dark", "bright"])[y]
    model = make_pipeline(
        CKNTransformer(n_filters=8, subsamplings=4, n_patches=1000, device="cpu",
                       random_state=0),
        LogisticRegression(),
    ).fit(X[:100], labels[:100])
    maps, used = grad_cam(model, X[:4], target="bright", return_targets=True)
    assert list(used) == ["bright"] * 4
    np.testing.assert_array_equal(grad_cam(model, X[:4], target=["bright"] * 4), maps)
    with pytest.raises(ValueError, match="not in the estimator's classes_"):
        grad_cam(model, X[:4], target="grey")
    with pytest.raises(ValueError, match="not in the estimator's classes_"):
        grad_cam(model, X[:4], target=1)


def test_target_errors(squares_model, squares_test):
    X = squares_test[0][:4]
    with pytest.raises(ValueError, match="not in the estimator's classes_"):
        grad_cam(squares_model, X, target=[0, 1, 2, 1])
    with pytest.raises(ValueError, match="one label per image"):
        grad_cam(squares_model, X, target=[0, 1])


# -- layers ----------------------------------------------------------------------------------
def test_cnn_layers(cnn_squares, squares_test):
    X = squares_test[0][:6]
    net = cnn_squares.network_
    default = grad_cam(cnn_squares, X)
    np.testing.assert_array_equal(grad_cam(cnn_squares, X, layer=net.last_conv_block_name), default)
    np.testing.assert_array_equal(grad_cam(cnn_squares, X, layer=net.last_conv_block), default)
    stem = grad_cam(cnn_squares, X, layer="features.stem")
    np.testing.assert_array_equal(grad_cam(cnn_squares, X, layer=net.features.stem), stem)
    assert stem.shape == default.shape and not np.allclose(stem, default)
    # A layer followed by an in-place ReLU (the batch norm inside the last block).
    bn = grad_cam(cnn_squares, X, layer="features.stage1.0.2")
    assert bn.shape == default.shape and np.isfinite(bn).all()
    with pytest.raises(ValueError, match="no sub-module 'features.nope'"):
        grad_cam(cnn_squares, X, layer="features.nope")
    with pytest.raises(ValueError, match="not part of"):
        grad_cam(cnn_squares, X, layer=torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="feature map"):
        grad_cam(cnn_squares, X, layer="head")
    with pytest.raises(TypeError, match="sub-module name"):
        grad_cam(cnn_squares, X, layer=0)


def test_ckn_layers(ckn_squares, squares_test):
    X = squares_test[0][:6]
    default = grad_cam(ckn_squares, X)
    np.testing.assert_array_equal(grad_cam(ckn_squares, X, layer=1), default)
    np.testing.assert_array_equal(grad_cam(ckn_squares, X, layer=-1), default)
    first = grad_cam(ckn_squares, X, layer=0)
    np.testing.assert_array_equal(grad_cam(ckn_squares, X, layer=-2), first)
    assert not np.allclose(first, default)
    for bad in (2, -3):
        with pytest.raises(ValueError, match="out of range"):
            grad_cam(ckn_squares, X, layer=bad)
    with pytest.raises(TypeError, match="must be an int"):
        grad_cam(ckn_squares, X, layer="features")


# -- no side effects -------------------------------------------------------------------------
def _state(module):
    return {
        name: (t.requires_grad, None if t.grad is None else t.grad.clone(), t.detach().clone())
        for name, t in list(module.named_parameters()) + list(module.named_buffers())
    }


def _assert_same_state(before, after):
    assert before.keys() == after.keys()
    for name, (rg, grad, value) in before.items():
        rg2, grad2, value2 = after[name]
        assert rg == rg2, name
        assert (grad is None) == (grad2 is None), name
        if grad is not None:
            assert torch.equal(grad, grad2), name
        assert torch.equal(value, value2), name


def test_no_side_effects_cnn(cnn_squares, squares_test):
    X = squares_test[0][:9]
    net = cnn_squares.network_
    before = _state(net)
    proba, pred = cnn_squares.predict_proba(X), cnn_squares.predict(X)
    grad_cam(cnn_squares, X)
    grad_cam(cnn_squares, X, layer="features.stem", target=1)
    _assert_same_state(before, _state(net))
    assert not net.training
    assert all(not m._forward_hooks for m in net.modules())
    np.testing.assert_array_equal(cnn_squares.predict_proba(X), proba)
    np.testing.assert_array_equal(cnn_squares.predict(X), pred)


def test_no_side_effects_ckn(ckn_squares, squares_test):
    X = squares_test[0][:9]
    net = ckn_squares[0].network_
    before = _state(net)
    feats = ckn_squares[0].transform(X)
    dec, pred = ckn_squares.decision_function(X), ckn_squares.predict(X)
    grad_cam(ckn_squares, X)
    grad_cam(ckn_squares, X, layer=0)
    after = _state(net)
    _assert_same_state(before, after)
    assert all(not rg and grad is None for rg, grad, _ in after.values())
    np.testing.assert_array_equal(ckn_squares[0].transform(X), feats)
    np.testing.assert_array_equal(ckn_squares.decision_function(X), dec)
    np.testing.assert_array_equal(ckn_squares.predict(X), pred)


def test_inside_no_grad_and_inference_mode(squares_model, squares_test):
    X = squares_test[0][:4]
    expected = grad_cam(squares_model, X)
    with torch.no_grad():
        np.testing.assert_array_equal(grad_cam(squares_model, X), expected)
    with torch.inference_mode():
        np.testing.assert_array_equal(grad_cam(squares_model, X), expected)


def test_train_mode_network(cnn_squares, squares_test):
    X = squares_test[0][:4]
    expected = grad_cam(cnn_squares, X)
    clf = copy.deepcopy(cnn_squares)
    clf.network_.train()  # explained in eval mode (batch norm statistics), then left as found
    np.testing.assert_allclose(grad_cam(clf, X), expected, atol=1e-6)
    assert clf.network_.training


# -- errors ----------------------------------------------------------------------------------
def _ckn():
    return CKNTransformer(n_filters=4, subsamplings=4, n_patches=500, device="cpu", random_state=0)


@pytest.mark.parametrize(
    "make, flat, match",
    [
        (lambda: make_pipeline(_ckn(), KNeighborsClassifier()), False, "KNeighborsClassifier"),
        (lambda: make_pipeline(_ckn(), SVC()), False, "linear classifier with coef_"),
        (lambda: make_pipeline(_ckn(), Ridge()), False, "Ridge"),
        (lambda: make_pipeline(StandardScaler(), LogisticRegression()), True, "StandardScaler"),
        (lambda: LogisticRegression(), True, "LogisticRegression"),
        (lambda: _ckn(), False, "CKNTransformer"),
    ],
)
def test_unsupported_estimators(squares, make, flat, match):
    X, y, _ = squares
    est = make().fit(X[:60].reshape(60, -1) if flat else X[:60], y[:60])
    with pytest.raises(TypeError, match=match) as info:
        grad_cam(est, X[:2])
    assert "CNNClassifier" in str(info.value)  # says what is supported


def test_unfitted_estimators(squares):
    X = squares[0][:2]
    for est in (CNNClassifier(), make_pipeline(_ckn(), LogisticRegression())):
        with pytest.raises(NotFittedError, match="not fitted") as info:
            grad_cam(est, X)
        assert isinstance(info.value, ValueError) and "CNNClassifier" in str(info.value)


def test_bad_inputs(squares_model, squares_test):
    X = squares_test[0]
    with pytest.raises(ValueError, match="batch_size"):
        grad_cam(squares_model, X[:2], batch_size=0)
    with pytest.raises(ValueError, match="shape"):
        grad_cam(squares_model, X[:2, :8, :8])


# -- the map computation itself --------------------------------------------------------------
def test_cam_from_gradients_by_hand():
    act = torch.zeros(1, 2, 2, 2)
    act[0, 0, 0, 0] = 2.0  # channel 0 fires at the top left
    act[0, 1, 1, 1] = 3.0  # channel 1 at the bottom right
    grad = torch.zeros(1, 2, 2, 2)
    grad[0, 0] = 1.0       # alpha_0 = 1
    grad[0, 1] = -4.0      # alpha_1 = -4 (evidence against the class)
    raw = cam_from_gradients(act, grad, (2, 2), normalize=False)
    np.testing.assert_allclose(raw[0].numpy(), [[2.0, 0.0], [0.0, 0.0]])
    up = cam_from_gradients(act, grad, (4, 4))
    assert up.shape == (1, 4, 4) and float(up.max()) == 1.0 and float(up.min()) == 0.0
    assert float(up[0, 0, 0]) == 1.0 and float(up[0, 3, 3]) == 0.0
    # Constant positive maps become ones, all-zero maps stay zero.
    flat = cam_from_gradients(torch.ones(2, 1, 2, 2), torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
                              .expand(2, 1, 2, 2), (3, 3))
    np.testing.assert_array_equal(flat.numpy(), np.stack([np.ones((3, 3)), np.zeros((3, 3))]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(squares, squares_test):
    X, y, _ = squares
    Xt = squares_test[0][:8]
    for device in ("cpu", "cuda"):
        ckn = make_pipeline(
            CKNTransformer(n_filters=(8, 16), subsamplings=(1, 4), n_patches=2000,
                           device=device, random_state=0),
            StandardScaler(), LogisticRegression(max_iter=300),
        ).fit(X[:200], y[:200])
        maps = grad_cam(ckn, Xt)
        if device == "cpu":
            reference = maps
    np.testing.assert_allclose(maps, reference, atol=1e-3)
