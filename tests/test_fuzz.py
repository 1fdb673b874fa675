"""Property-based fuzzing of the public estimators (issue 17).

Arbitrary shapes (empty and one-pixel images included), dtypes (bool, 8- to 64-bit
integers, float16 to float64) and values (NaN, infinities, 1e300, subnormals,
constants) go through ``fit`` then ``transform`` / ``predict``. The property: every
call either raises a ``ValueError`` or ``TypeError`` with a message, or returns finite
output (known labels for ``predict``); never a hang (an alarm fails a call after
``HANG_SECONDS``) and never NaN.

Examples are derandomized (the same ones on every run) and bounded
(``max_examples``, ``deadline``) so that the file runs in well under 30 s on 2 cores.
"""

import contextlib
import signal
import threading

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from sklearn_ckn import CKNClassifier, CKNTransformer, CNNClassifier  # noqa: E402
from sklearn_ckn._baselines import ImageFlattener, KernelSVC  # noqa: E402
from sklearn_ckn.svm import TorchLinearSVC  # noqa: E402

HANG_SECONDS = 20
DTYPES = [np.bool_, np.uint8, np.int8, np.int32, np.int64, np.uint64,
          np.float16, np.float32, np.float64]


def fuzz_settings(max_examples):
    return settings(
        max_examples=max_examples,
        deadline=10_000,  # ms per example; a real hang is caught by the alarm below
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )


@contextlib.contextmanager
def no_hang(seconds=HANG_SECONDS):
    """Fail (instead of blocking the test run) if the block runs longer than ``seconds``."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not hasattr(signal, "setitimer") or not in_main_thread:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"call still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(call):
    """Run ``call``; return ``(True, result)``, or ``(False, None)`` after a ValueError or
    TypeError that has a message. Anything else (another exception, a hang) fails."""
    try:
        with no_hang():
            result = call()
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        event(f"{type(exc).__name__}: {str(exc)[:60]}")
        return False, None
    event("returned")
    return True, result


def assert_finite(result, what):
    result = np.asarray(result)
    if result.dtype.kind in "fc":
        assert np.isfinite(result).all(), f"{what} returned NaN or infinity"


def values(dtype):
    """Every value of ``dtype``, specials and extremes included."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return st.floats(width=8 * dtype.itemsize, allow_nan=True, allow_infinity=True)
    return hnp.from_dtype(dtype)


@st.composite
def images(draw, max_n=10, max_side=9, layouts=("3d", "4d", "2d"), min_side=0, max_height=None):
    """``(X, layout)``: images of any layout, size, dtype and values."""
    n = draw(st.integers(1, max_n))
    max_height = max_side if max_height is None else max_height
    h, w = draw(st.integers(min_side, max_height)), draw(st.integers(min_side, max_side))
    layout = draw(st.sampled_from(layouts))
    shape = {"3d": (n, h, w), "4d": (n, h, w, draw(st.sampled_from([1, 3]))),
             "2d": (n, h * w)}[layout]
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.sampled_from(["any", "scaled", "pixels"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "pixels":  # ordinary images: 0..255 (0..1 for bool) in the dtype
        X = (rng.random(shape) * (1 if dtype is np.bool_ else 255)).round().astype(dtype)
    elif kind == "scaled" and np.dtype(dtype).kind == "f":
        # Noise times a scale from 1e-30 to 1e30: around the range limits.
        scale = 10.0 ** draw(st.integers(-30, 30))
        with np.errstate(over="ignore"):
            X = (rng.random(shape) * scale).astype(dtype)
    else:
        X = draw(hnp.arrays(dtype, shape, elements=values(dtype)))
    return X, layout


@st.composite
def labels(draw, n):
    """``n`` labels: ints (possibly one class), strings, or mixed types."""
    kind = draw(st.sampled_from(["int", "int", "str", "mixed"]))
    y = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    if kind == "str":
        return [f"c{v}" for v in y]
    if kind == "mixed":
        return [v if i % 2 else f"c{v}" for i, v in enumerate(y)]
    return y


def labelled(image_strategy):
    return image_strategy.flatmap(
        lambda Xl: st.tuples(st.just(Xl[0]), labels(len(Xl[0])))
    )


@fuzz_settings(max_examples=200)
@given(data=images())
def test_image_flattener(data):
    X, _ = data
    fitted, est = outcome(lambda: ImageFlattener().fit(X))
    if fitted:
        done, Xt = outcome(lambda: est.transform(X))
        if done:
            assert Xt.shape == (len(X), est.n_features_in_)
            assert_finite(Xt, "ImageFlattener.transform")


def rescaled(X, exponent):
    """``X`` times ``10 ** exponent`` in float64 (new values for a fitted estimator)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return X.astype(np.float64) * 10.0**exponent


@fuzz_settings(max_examples=40)
@given(data=images(max_n=8, max_side=10), exponent=st.integers(-30, 30))
def test_ckn_transformer(data, exponent):
    X, _ = data
    ckn = CKNTransformer(n_filters=(4,), subsamplings=(2,), n_patches=200, kmeans_max_iter=3,
                         device="cpu", random_state=0)
    fitted, _ = outcome(lambda: ckn.fit(X))
    if fitted:
        for X_new in (X, rescaled(X, exponent)):
            done, features = outcome(lambda: ckn.transform(X_new))
            if done:
                assert len(features) == len(X)
                assert_finite(features, "CKNTransformer.transform")


def check_cnn(X, y, exponent=0):
    cnn = CNNClassifier("resnet-small", architecture_params={"widths": (4,)}, epochs=1,
                        batch_size=4, device="cpu", random_state=0)
    fitted, _ = outcome(lambda: cnn.fit(X, y))
    if fitted:
        X_new = rescaled(X, exponent)
        done, pred = outcome(lambda: cnn.predict(X_new))
        if done:
            assert set(np.asarray(pred).tolist()) <= set(cnn.classes_.tolist())
        done, proba = outcome(lambda: cnn.predict_proba(X_new))
        if done:
            assert_finite(proba, "CNNClassifier.predict_proba")


@fuzz_settings(max_examples=30)
@given(data=labelled(images(max_n=10, max_side=8, min_side=1)), exponent=st.integers(-30, 30))
def test_cnn_classifier(data, exponent):
    check_cnn(*data, exponent=exponent)


@pytest.mark.parametrize("shape", [(2, 0, 0), (2, 0, 3), (2, 3, 0, 1)])
def test_cnn_classifier_empty_images(shape):
    # Found by test_cnn_classifier with images of side 0 (now drawn from 1 up).
    with pytest.raises(ValueError, match="at least 1x1 pixels"):
        CNNClassifier(device="cpu").fit(np.zeros(shape, dtype=bool), [0, 1])


@fuzz_settings(max_examples=12)
@given(data=labelled(images(max_n=8, max_side=8, min_side=1)), exponent=st.integers(-30, 30))
def test_ckn_classifier(data, exponent):
    X, y = data
    ckn = CKNTransformer(n_filters=(4,), subsamplings=(2,), n_patches=200, kmeans_max_iter=2)
    clf = CKNClassifier(ckn=ckn, epochs=1, batch_size=4, device="cpu", random_state=0)
    fitted, _ = outcome(lambda: clf.fit(X, y))
    if fitted:
        X_new = rescaled(X, exponent)
        done, pred = outcome(lambda: clf.predict(X_new))
        if done:
            assert set(np.asarray(pred).tolist()) <= set(clf.classes_.tolist())
        done, scores = outcome(lambda: clf.decision_function(X_new))
        if done:
            assert_finite(scores, "CKNClassifier.decision_function")


def features_2d(max_n=12, max_d=6):
    """2-D feature matrices of any dtype and values, for the linear / kernel SVMs."""
    @st.composite
    def strategy(draw):
        n, d = draw(st.integers(1, max_n)), draw(st.integers(1, max_d))
        dtype = draw(st.sampled_from(DTYPES))
        return draw(hnp.arrays(dtype, (n, d), elements=values(dtype)))

    return strategy().flatmap(lambda X: st.tuples(st.just(X), labels(len(X))))


def check_classifier(make, X, y):
    est = make()
    fitted, _ = outcome(lambda: est.fit(X, y))
    if fitted:
        done, pred = outcome(lambda: est.predict(X))
        if done:
            assert set(np.asarray(pred).tolist()) <= set(est.classes_.tolist())
        done, scores = outcome(lambda: est.decision_function(X))
        if done:
            assert_finite(scores, f"{type(est).__name__}.decision_function")


@fuzz_settings(max_examples=60)
@given(data=features_2d())
def test_torch_linear_svc(data):
    check_classifier(lambda: TorchLinearSVC(max_iter=20), *data)


@fuzz_settings(max_examples=60)
@given(data=features_2d())
def test_kernel_svc(data):
    check_classifier(lambda: KernelSVC(), *data)
