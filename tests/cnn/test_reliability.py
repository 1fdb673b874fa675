"""CNNClassifier: silent wrong results of issue 28 (scale, divergence, threads, sizes)."""

import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_ckn import CNNClassifier
from sklearn_ckn.cnn._architectures import LeNet5, ResNetSmall
from sklearn_ckn.cnn._classifier import _channel_statistics

FAST = dict(architecture="lenet5", epochs=4, batch_size=16, device="cpu", random_state=0)


def halves(n=64, seed=0):
    """2 classes: is the left or the right half of the image brighter."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 8, 8)).astype(np.float32)
    y = (X[:, :, :4].mean((1, 2)) > X[:, :, 4:].mean((1, 2))).astype(int)
    X[y == 1, :, :4] += 0.5
    X[y == 0, :, 4:] += 0.5
    return X, y


# --------------------------------------------------------------- pixel scale
@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(exponent=st.integers(-30, 11))
def test_predictions_do_not_depend_on_the_pixel_scale(exponent):
    # Standardisation treated any std below an absolute 1e-6 as constant: images at
    # scale 1e-6 trained to a constant decision function.
    X, y = halves()
    scale = 10.0**exponent
    reference = CNNClassifier(**FAST).fit(X, y)
    scaled = CNNClassifier(**FAST).fit(X * scale, y)
    np.testing.assert_allclose(scaled.input_std_, reference.input_std_ * scale, rtol=1e-4)
    agree = (scaled.predict(X * scale) == reference.predict(X)).mean()
    assert agree >= 0.95
    assert scaled.score(X * scale, y) > 0.8


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(value=st.floats(-2.0**36, 2.0**36, allow_nan=False, width=32),
       dtype=st.sampled_from([np.float32, np.float64]), n=st.integers(1, 50))
def test_a_constant_channel_is_only_centred(value, dtype, n):
    images = np.full((n, 3, 3, 2), value, dtype=dtype)
    images[..., 1] = np.linspace(0, 1, 9, dtype=dtype).reshape(3, 3)  # a varying channel
    mean, std = _channel_statistics(images, batch=7)
    assert std[0] == 1.0 and mean[0] == pytest.approx(float(np.float64(dtype(value))))
    assert std[1] == pytest.approx(np.linspace(0, 1, 9).std())


def test_channel_statistics_of_uint8_and_faint_images():
    X, _ = halves(20)
    u8 = (X / X.max() * 255).astype(np.uint8)[..., None]
    mean, std = _channel_statistics(u8)
    assert mean[0] == pytest.approx(u8.mean() / 255) and std[0] == pytest.approx(u8.std() / 255)
    mean, std = _channel_statistics(X[..., None].astype(np.float64) * 1e-25)
    assert std[0] == pytest.approx(X.std() * 1e-25, rel=1e-6)


# --------------------------------------------------------------- divergence
def test_a_diverged_training_raises_and_leaves_the_estimator_unfitted():
    X, y = halves()
    clf = CNNClassifier(architecture_params={"widths": (8,)}, epochs=2, batch_size=16,
                        learning_rate=1e10, device="cpu", random_state=0)
    with pytest.raises(ValueError, match=r"diverged.*learning_rate=10000000000\.0"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")
    with pytest.raises(Exception, match="not fitted"):
        clf.predict_proba(X)


def test_predict_proba_never_returns_nan():
    X, y = halves()
    clf = CNNClassifier(**FAST).fit(X, y)
    with torch.no_grad():
        clf.module_.head[-1].weight.fill_(float("nan"))  # as a diverged network would be
    for method in (clf.predict_proba, clf.predict, clf.decision_function):
        with pytest.raises(ValueError, match="non-finite class scores.*learning_rate"):
            method(X)


# --------------------------------------------------------------- threads
def test_fits_in_threads_equal_sequential_fits():
    X, y = halves(16)
    params = dict(architecture_params={"widths": (16, 16, 16)}, epochs=1, batch_size=8,
                  device="cpu", random_state=0)
    expected = CNNClassifier(**params).fit(X, y).predict_proba(X)
    results = [None] * 6
    barrier = threading.Barrier(len(results))

    def fit(i):
        barrier.wait()
        results[i] = CNNClassifier(**params).fit(X, y).predict_proba(X)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------- sizes
@pytest.mark.parametrize("params", [
    {"architecture_params": {"widths": (10**7,)}},
    {"architecture": "lenet5", "architecture_params": {"widths": (6, 10**6), "hidden": (10**6, 84)}},
])
def test_a_network_too_large_for_memory_is_refused_before_allocating(params):
    X, y = halves(8)
    with pytest.raises(ValueError, match=r"would need about [\d,.]+ GiB of memory .*widths"):
        CNNClassifier(device="cpu", epochs=1, **params).fit(X, y)


def test_a_huge_batch_size_of_a_small_data_set_is_fine():
    X, y = halves(8)
    CNNClassifier(**dict(FAST, epochs=1, batch_size=10**9)).fit(X, y)


@pytest.mark.parametrize("cls,name,value", [
    (ResNetSmall, "widths", "48"), (ResNetSmall, "widths", (True, 8)),
    (ResNetSmall, "widths", (4.5,)), (ResNetSmall, "stem_width", True),
    (LeNet5, "widths", "66"), (LeNet5, "hidden", (120, 8.0)),
])
def test_layer_sizes_must_be_integers(cls, name, value):
    with pytest.raises(ValueError, match=name):
        cls(in_channels=1, n_classes=2, image_size=(8, 8), **{name: value})


@pytest.mark.parametrize("params", [{"epochs": True}, {"batch_size": True},
                                    {"n_iter_no_change": True}, {"learning_rate": True}])
def test_booleans_are_refused_for_numeric_parameters(params):
    X, y = halves(8)
    with pytest.raises(ValueError, match=next(iter(params))):
        CNNClassifier(**dict(FAST, **params)).fit(X, y)
