"""Class activation maps on a synthetic task with look-alike distractors (see conftest)."""

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

from sklearn_ckn import CKNClassifier, CKNTransformer, CNNClassifier
from sklearn_ckn.explain import as_differentiable, grad_cam, pointing_game
from sklearn_ckn.explain._adapters import default_map_side
from sklearn_ckn.explain._grad_cam import cam_from_gradients

from .conftest import mass_ratio


# -- the maps point at the informative pattern, not at the distractors ----------------------
def test_default_maps_point_at_the_informative_pattern(model, task_test):
    X, y, masks = task_test
    assert (model.predict(X) == y).mean() >= 0.95
    maps = grad_cam(model, X, target=y)  # default method and layer
    ratio = mass_ratio(maps, masks)
    # A uniform map has ratio 1; two look-alike distractors per image.
    assert np.nanmean(ratio) > 1.8
    assert np.quantile(ratio, 0.1) > 1.2
    assert pointing_game(maps, masks).mean() >= 0.7


@pytest.mark.parametrize("method", ["hirescam", "layercam"])
def test_element_wise_methods_localise(model, task_test, method):
    X, y, masks = task_test
    maps = grad_cam(model, X, target=y, method=method)
    assert np.nanmean(mass_ratio(maps, masks)) > 1.8


def test_methods_differ_and_are_checked(model, task_test):
    X = task_test[0][:6]
    maps = {m: grad_cam(model, X, method=m) for m in ("gradcam", "hirescam", "layercam")}
    np.testing.assert_array_equal(maps["layercam"], grad_cam(model, X))  # the default
    for m, v in maps.items():
        assert v.shape == (6, 16, 16) and 0 <= v.min() and v.max() <= 1, m
    assert not np.allclose(maps["gradcam"], maps["layercam"])
    for bad in ("GradCAM", "cam", None):
        with pytest.raises(ValueError, match="method must be one of"):
            grad_cam(model, X, method=bad)


# -- the default layer comes from the map resolution ---------------------------------------
def test_default_map_side():
    assert [default_map_side(s, s) for s in (3, 8, 12, 13, 16, 32, 100)] == [2, 4, 6, 7, 7, 7, 7]
    assert default_map_side(100, 12) == 6


def test_default_layer_cnn(cnn_model, task_test):
    X = task_test[0][:5]
    adapter = as_differentiable(cnn_model)
    assert adapter.candidate_layers((16, 16, 1)) == [
        ("features.stem", (16, 16)), ("features.stage1", (8, 8)), ("features.stage2", (4, 4))]
    # The last block (4x4) is too coarse for 16x16 images: the 8x8 stage is the default.
    assert adapter.default_layer((16, 16, 1)) == "features.stage1"
    np.testing.assert_array_equal(grad_cam(cnn_model, X),
                                  grad_cam(cnn_model, X, layer="features.stage1"))
    # lenet5 on 12x12: conv1 12x12, conv2 2x2 (no padding) -> conv1.
    rng = np.random.default_rng(0)
    lenet = CNNClassifier("lenet5", epochs=1, device="cpu", random_state=0).fit(
        rng.random((16, 12, 12)), np.arange(16) % 2)
    lenet_adapter = as_differentiable(lenet)
    assert [k for k, _ in lenet_adapter.candidate_layers((12, 12, 1))] == [
        "features.conv1", "features.conv2"]
    assert lenet_adapter.default_layer((12, 12, 1)) == "features.conv1"


def test_default_layer_ckn(ckn_model, task):
    layers = as_differentiable(ckn_model).candidate_layers((16, 16, 1))
    assert layers == [(0, (16, 16)), (1, (8, 8))]
    assert as_differentiable(ckn_model).default_layer((16, 16, 1)) == 1
    # Pooling by 4 first: the second layer sees 4x4 maps, too coarse; the first is used.
    X, y, _ = task
    coarse = make_pipeline(
        CKNTransformer(n_filters=(8, 8), subsamplings=(4, 1), n_patches=1000, device="cpu",
                       random_state=0), LogisticRegression(max_iter=200)).fit(X[:60], y[:60])
    assert as_differentiable(coarse).default_layer((16, 16, 1)) == 0
    np.testing.assert_array_equal(grad_cam(coarse, X[:3]), grad_cam(coarse, X[:3], layer=0))


# -- shapes, values, batches ----------------------------------------------------------------
def test_shape_range_dtype(model, task_test):
    X = task_test[0][:7]
    maps = grad_cam(model, X)
    assert maps.shape == (7, 16, 16) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    for m in maps:  # each map spans [0, 1] (or is constant)
        assert m.max() == pytest.approx(1.0) or np.ptp(m) == 0
    # 2-D rows and channels-last input give the same maps.
    np.testing.assert_allclose(grad_cam(model, X.reshape(7, -1)), maps, atol=1e-6)
    np.testing.assert_allclose(grad_cam(model, X[..., None]), maps, atol=1e-6)


def test_batch_consistency(model, task_test):
    X = task_test[0][:10]
    whole = grad_cam(model, X, batch_size=64)
    one_by_one = np.concatenate([grad_cam(model, X[i:i + 1]) for i in range(10)])
    np.testing.assert_allclose(one_by_one, whole, atol=1e-5)
    np.testing.assert_allclose(grad_cam(model, X, batch_size=3), whole, atol=1e-5)


def test_unnormalized_maps(model, task_test):
    X, y, _ = task_test
    X = X[y == 1][:6]
    raw = grad_cam(model, X, normalize=False)
    assert raw.min() >= 0
    lo = raw.min(axis=(1, 2), keepdims=True)
    hi = raw.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose((raw - lo) / (hi - lo), grad_cam(model, X), atol=1e-5)


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
def test_target(model, task_test):
    X, _, _ = task_test
    X = X[:8]
    default, explained = grad_cam(model, X, return_targets=True)
    np.testing.assert_array_equal(explained, model.predict(X))
    np.testing.assert_array_equal(grad_cam(model, X, target=explained), default)
    flipped = 1 - explained
    maps, used = grad_cam(model, X, target=flipped, return_targets=True)
    np.testing.assert_array_equal(used, flipped)
    assert not np.allclose(maps, default)
    # One label for every image.
    np.testing.assert_array_equal(grad_cam(model, X, target=1),
                                  grad_cam(model, X, target=np.ones(8, int)))


def test_target_with_string_labels(task):
    X, y, _ = task
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


def test_target_errors(model, task_test):
    X = task_test[0][:4]
    with pytest.raises(ValueError, match="not in the estimator's classes_"):
        grad_cam(model, X, target=[0, 1, 2, 1])
    with pytest.raises(ValueError, match="one label per image"):
        grad_cam(model, X, target=[0, 1])


# -- layers ----------------------------------------------------------------------------------
def test_cnn_layers(cnn_model, task_test):
    X = task_test[0][:6]
    net = cnn_model.network_
    default = grad_cam(cnn_model, X)
    last = grad_cam(cnn_model, X, layer=net.last_conv_block_name)
    np.testing.assert_array_equal(grad_cam(cnn_model, X, layer=net.last_conv_block), last)
    stem = grad_cam(cnn_model, X, layer="features.stem")
    np.testing.assert_array_equal(grad_cam(cnn_model, X, layer=net.features.stem), stem)
    assert stem.shape == default.shape and not np.allclose(stem, default)
    assert not np.allclose(last, default)
    # A layer followed by an in-place ReLU (the batch norm inside the last block).
    bn = grad_cam(cnn_model, X, layer="features.stage1.0.2")
    assert bn.shape == default.shape and np.isfinite(bn).all()
    with pytest.raises(ValueError, match="no sub-module 'features.nope'"):
        grad_cam(cnn_model, X, layer="features.nope")
    with pytest.raises(ValueError, match="not part of"):
        grad_cam(cnn_model, X, layer=torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="feature map"):
        grad_cam(cnn_model, X, layer="head")
    with pytest.raises(TypeError, match="sub-module name"):
        grad_cam(cnn_model, X, layer=0)


def test_ckn_layers(ckn_model, task_test):
    X = task_test[0][:6]
    default = grad_cam(ckn_model, X)
    np.testing.assert_array_equal(grad_cam(ckn_model, X, layer=1), default)
    np.testing.assert_array_equal(grad_cam(ckn_model, X, layer=-1), default)
    first = grad_cam(ckn_model, X, layer=0)
    np.testing.assert_array_equal(grad_cam(ckn_model, X, layer=-2), first)
    assert not np.allclose(first, default)
    for bad in (2, -3):
        with pytest.raises(ValueError, match="out of range"):
            grad_cam(ckn_model, X, layer=bad)
    with pytest.raises(TypeError, match="must be an int"):
        grad_cam(ckn_model, X, layer="features")


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


def test_no_side_effects_cnn(cnn_model, task_test):
    X = task_test[0][:9]
    net = cnn_model.network_
    before = _state(net)
    proba, pred = cnn_model.predict_proba(X), cnn_model.predict(X)
    grad_cam(cnn_model, X)
    grad_cam(cnn_model, X, layer="features.stem", target=1)
    _assert_same_state(before, _state(net))
    assert not net.training
    assert all(not m._forward_hooks for m in net.modules())
    np.testing.assert_array_equal(cnn_model.predict_proba(X), proba)
    np.testing.assert_array_equal(cnn_model.predict(X), pred)


def test_no_side_effects_ckn(ckn_model, task_test):
    X = task_test[0][:9]
    net = ckn_model[0].network_
    before = _state(net)
    feats = ckn_model[0].transform(X)
    dec, pred = ckn_model.decision_function(X), ckn_model.predict(X)
    grad_cam(ckn_model, X)
    grad_cam(ckn_model, X, layer=0)
    after = _state(net)
    _assert_same_state(before, after)
    assert all(not rg and grad is None for rg, grad, _ in after.values())
    np.testing.assert_array_equal(ckn_model[0].transform(X), feats)
    np.testing.assert_array_equal(ckn_model.decision_function(X), dec)
    np.testing.assert_array_equal(ckn_model.predict(X), pred)


def test_no_side_effects_ckn_classifier(cknsup_model, task_test):
    X = task_test[0][:9]
    net = cknsup_model.network_
    dec, pred = cknsup_model.decision_function(X), cknsup_model.predict(X)
    before = _state(net)  # after a prediction (which refreshes cached Nystrom matrices)
    grad_cam(cknsup_model, X)
    grad_cam(cknsup_model, X, layer=0, method="gradcam")
    _assert_same_state(before, _state(net))  # trained anchors get no .grad
    assert not net.training
    np.testing.assert_array_equal(cknsup_model.decision_function(X), dec)
    np.testing.assert_array_equal(cknsup_model.predict(X), pred)


def test_inside_no_grad_and_inference_mode(model, task_test):
    X = task_test[0][:4]
    expected = grad_cam(model, X)
    with torch.no_grad():
        np.testing.assert_array_equal(grad_cam(model, X), expected)
    with torch.inference_mode():
        np.testing.assert_array_equal(grad_cam(model, X), expected)


def test_train_mode_network(cnn_model, task_test):
    X = task_test[0][:4]
    expected = grad_cam(cnn_model, X)
    clf = copy.deepcopy(cnn_model)
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
def test_unsupported_estimators(task, make, flat, match):
    X, y, _ = task
    est = make().fit(X[:60].reshape(60, -1) if flat else X[:60], y[:60])
    with pytest.raises(TypeError, match=match) as info:
        grad_cam(est, X[:2])
    assert "CNNClassifier" in str(info.value)  # says what is supported


def test_unfitted_estimators(task):
    from sklearn_ckn import make_model
    from sklearn_ckn.svm import TorchLinearSVC, make_linear_classifier

    X, _, _ = task
    half_fitted = make_pipeline(_ckn().fit(X[:40]), LogisticRegression())
    for est in (CNNClassifier(), CKNClassifier(), make_pipeline(_ckn(), LogisticRegression()),
                make_pipeline(_ckn(), StandardScaler(), TorchLinearSVC()),
                make_pipeline(_ckn(), make_linear_classifier("logistic")),
                make_model("ckn"), half_fitted):
        with pytest.raises(NotFittedError, match="not fitted") as info:
            grad_cam(est, X[:2])
        assert isinstance(info.value, ValueError) and "CNNClassifier" in str(info.value)


def test_torch_linear_svc_pipeline(task):
    from sklearn_ckn.svm import TorchLinearSVC

    X, y, _ = task
    pipe = make_pipeline(_ckn(), StandardScaler(), TorchLinearSVC(C=0.1)).fit(X[:80], y[:80])
    maps, used = grad_cam(pipe, X[:3], return_targets=True)
    assert maps.shape == (3, 16, 16)
    np.testing.assert_array_equal(used, pipe.predict(X[:3]))


def test_bad_inputs(model, task_test):
    X = task_test[0]
    with pytest.raises(ValueError, match="batch_size"):
        grad_cam(model, X[:2], batch_size=0)
    with pytest.raises(ValueError, match="shape"):
        grad_cam(model, X[:2, :8, :8])


# -- the map computation itself --------------------------------------------------------------
def test_cam_from_gradients_by_hand():
    act = torch.zeros(1, 2, 2, 2)
    act[0, 0, 0, 0] = 2.0  # channel 0 fires at the top left
    act[0, 1, 1, 1] = 3.0  # channel 1 at the bottom right
    grad = torch.zeros(1, 2, 2, 2)
    grad[0, 0] = 1.0       # alpha_0 = 1
    grad[0, 1] = -4.0      # alpha_1 = -4 (evidence against the class)
    raw = cam_from_gradients(act, grad, (2, 2), normalize=False, method="gradcam")
    np.testing.assert_allclose(raw[0].numpy(), [[2.0, 0.0], [0.0, 0.0]])
    up = cam_from_gradients(act, grad, (4, 4), method="gradcam")
    assert up.shape == (1, 4, 4) and float(up.max()) == 1.0 and float(up.min()) == 0.0
    assert float(up[0, 0, 0]) == 1.0 and float(up[0, 3, 3]) == 0.0
    # Constant positive maps become ones, all-zero maps stay zero.
    flat = cam_from_gradients(torch.ones(2, 1, 2, 2), torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
                              .expand(2, 1, 2, 2), (3, 3), method="gradcam")
    np.testing.assert_array_equal(flat.numpy(), np.stack([np.ones((3, 3)), np.zeros((3, 3))]))


def test_element_wise_methods_by_hand():
    # One channel active everywhere (1), the gradient positive at the top left only,
    # negative at the bottom right: Grad-CAM's mean weight spreads over the whole map.
    act = torch.ones(1, 1, 2, 2)
    grad = torch.tensor([[[[3.0, 0.0], [0.0, -1.0]]]])
    gc = cam_from_gradients(act, grad, (2, 2), normalize=False, method="gradcam")
    np.testing.assert_allclose(gc[0].numpy(), np.full((2, 2), 0.5))
    hires = cam_from_gradients(act, grad, (2, 2), normalize=False, method="hirescam")
    np.testing.assert_allclose(hires[0].numpy(), [[3.0, 0.0], [0.0, 0.0]])
    # Two channels: LayerCAM drops the negative gradient, HiResCAM lets it cancel.
    act = torch.ones(1, 2, 1, 1)
    grad = torch.tensor([2.0, -2.0]).view(1, 2, 1, 1)
    assert float(cam_from_gradients(act, grad, (1, 1), False, "hirescam")) == 0.0
    assert float(cam_from_gradients(act, grad, (1, 1), False, "layercam")) == 2.0
    with pytest.raises(ValueError, match="method"):
        cam_from_gradients(act, grad, (1, 1), method="gradcam++")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(task, task_test):
    X, y, _ = task
    Xt = task_test[0][:8]
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


def test_grad_cam_of_one_cnn_from_several_threads(cnn_model, task_test):
    # The forward hook acts only on its own thread's pass: three threads explaining the
    # same fitted CNN at once get the maps of a sequential call ("called more than once"
    # before).
    from concurrent.futures import ThreadPoolExecutor

    X = task_test[0][:6]
    expected = grad_cam(cnn_model, X)
    with ThreadPoolExecutor(3) as pool:
        maps = list(pool.map(lambda _: grad_cam(cnn_model, X), range(3)))
    for m in maps:
        np.testing.assert_allclose(m, expected, rtol=1e-5, atol=1e-6)
