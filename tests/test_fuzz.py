"""Property-based fuzzing of the public estimators (issues 17 and 28).

Arbitrary shapes (empty and one-pixel images included), dtypes (bool, 8- to 64-bit
integers, float16 to float64, both byte orders) and values (NaN, infinities, 1e300,
subnormals, constants) go through ``fit`` then ``transform`` / ``predict``. The
properties:

* every call either returns, or raises a ``ValueError`` or ``TypeError`` raised by
  this package or scikit-learn's validation (never from inside torch or NumPy),
  whose message names the offending input or parameter (:data:`NAMED`) and is none
  of the internal messages of :data:`INTERNAL`;
* what it returns has the right shape and is finite (``transform``, probabilities,
  scores), or holds known labels (``predict``);
* never a hang (an alarm fails a call after ``HANG_SECONDS``).

Examples are derandomized (the same ones on every run) and bounded
(``max_examples``, ``deadline``) so that the file runs in well under a minute on 2
cores.
"""

import contextlib
import os
import re
import signal
import threading

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, assume, event, given, settings  # noqa: E402
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


#: An error message must name what is wrong: the input (images, labels, their
#: values, shape or dtype) or a parameter. Matched case-insensitively.
NAMED = re.compile(
    r"\b(X|y|input|images?|pixels?|labels?|class(es)?|samples?|features?|dtype|shape|NaN|"
    r"infinity|array|patch(es)?|parameter|image_shape|n_filters|subsamplings?|patch_sizes|"
    r"batch_size|learning_rate|epochs|sigmas?|power|whitening|whitening_reg|n_patches|"
    r"kmeans_max_iter|n_jobs|dropout|n_iter_no_change|architecture|widths|stem_width|"
    r"hidden)\b",
    re.IGNORECASE,
)

#: Messages of torch's and NumPy's internals, which tell the user nothing.
INTERNAL = re.compile(
    r"byte order|numpy\(\)|can't allocate|DefaultCPUAllocator|size of tensor|"
    r"mat1 and mat2|Calculated padded input size|not implemented for|unexpected keyword|"
    r"cannot reshape|Expected \d+D|sizes of tensors|out of bounds",
    re.IGNORECASE,
)

_LIBRARIES = tuple(
    os.path.dirname(module.__file__) + os.sep
    for module in (np, __import__("torch"))
)


def _raised_in(exc):
    """File of the innermost Python frame of ``exc``'s traceback."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def check_error(exc):
    """The property of errors (module docstring); a failing one names itself."""
    message = str(exc).strip()
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__}: {message}"
    assert message, f"{type(exc).__name__} without a message"
    where = _raised_in(exc)
    assert not where.startswith(_LIBRARIES), (
        f"{type(exc).__name__} raised inside {where}: {message}"
    )
    assert not INTERNAL.search(message), f"an internal message: {message}"
    assert NAMED.search(message), f"a message naming neither input nor parameter: {message}"


def outcome(call):
    """Run ``call``; return ``(True, result)``, or ``(False, None)`` after an error that
    satisfies :func:`check_error`. Anything else (another error, a hang) fails."""
    try:
        with no_hang():
            result = call()
    except Exception as exc:
        check_error(exc)
        event(f"{type(exc).__name__}: {str(exc)[:60]}")
        return False, None
    event("returned")
    return True, result


def assert_finite(result, what, shape=None):
    """``result`` is an array of ``shape`` (when given) with finite values."""
    result = np.asarray(result)
    if shape is not None:
        assert result.shape == tuple(shape), f"{what} returned shape {result.shape}, not {shape}"
    if result.dtype.kind in "fc":
        assert np.isfinite(result).all(), f"{what} returned NaN or infinity"


def assert_labels(pred, est, n, what):
    pred = np.asarray(pred)
    assert pred.shape == (n,), f"{what} returned shape {pred.shape}, not ({n},)"
    assert set(pred.tolist()) <= set(est.classes_.tolist()), f"{what} returned unknown labels"


def assert_proba(proba, est, n, what):
    assert_finite(proba, what, (n, len(est.classes_)))
    assert (proba >= 0).all() and np.allclose(proba.sum(axis=1), 1.0, atol=1e-6), (
        f"{what} returned rows that are not probabilities"
    )


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
    big_endian = draw(st.booleans())
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
    if big_endian:
        X = X.astype(X.dtype.newbyteorder(">"))
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
            assert_finite(Xt, "ImageFlattener.transform", (len(X), est.n_features_in_))


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
                assert_finite(features, "CKNTransformer.transform",
                              (len(X), ckn.n_features_out_))


def check_cnn(X, y, exponent=0):
    cnn = CNNClassifier("resnet-small", architecture_params={"widths": (4,)}, epochs=1,
                        batch_size=4, device="cpu", random_state=0)
    fitted, _ = outcome(lambda: cnn.fit(X, y))
    if fitted:
        X_new = rescaled(X, exponent)
        done, pred = outcome(lambda: cnn.predict(X_new))
        if done:
            assert_labels(pred, cnn, len(X), "CNNClassifier.predict")
        done, proba = outcome(lambda: cnn.predict_proba(X_new))
        if done:
            assert_proba(proba, cnn, len(X), "CNNClassifier.predict_proba")


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
            assert_labels(pred, clf, len(X), "CKNClassifier.predict")
        done, scores = outcome(lambda: clf.decision_function(X_new))
        if done:
            k = len(clf.classes_)
            assert_finite(scores, "CKNClassifier.decision_function",
                          (len(X),) if k == 2 else (len(X), k))


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
            assert_labels(pred, est, len(X), f"{type(est).__name__}.predict")
        done, scores = outcome(lambda: est.decision_function(X))
        if done:
            k = len(est.classes_)
            assert_finite(scores, f"{type(est).__name__}.decision_function",
                          (len(X),) if k == 2 else (len(X), k))


@fuzz_settings(max_examples=60)
@given(data=features_2d())
def test_torch_linear_svc(data):
    check_classifier(lambda: TorchLinearSVC(max_iter=20), *data)


@fuzz_settings(max_examples=60)
@given(data=features_2d())
def test_kernel_svc(data):
    check_classifier(lambda: KernelSVC(), *data)


# -- parameters (issue 28): a refused value names its parameter --------------------------

def odd_values():
    """Values of every kind, for any parameter: booleans, strings, huge and negative
    numbers, NaN, sequences of those, None."""
    scalar = st.one_of(
        st.booleans(), st.integers(-3, 10**12), st.floats(allow_nan=True, allow_infinity=True),
        st.text(alphabet="0123456789ab", max_size=3), st.none(),
    )
    return st.one_of(scalar, st.lists(scalar, min_size=0, max_size=3).map(tuple),
                     st.lists(scalar, min_size=1, max_size=3))


#: Parameters whose large values only make ``fit`` long (not a failure to look for).
COSTLY = {"epochs": 8, "kmeans_max_iter": 20, "n_iter_no_change": 10**12}


def check_parameter(make, name, value, fit, *, set_param=True, refused=(bool, np.bool_)):
    """Fitting with ``name=value`` returns, or fails with an error naming ``name``.

    ``set_param=False``: ``make`` has already put the value in place (e.g. inside
    ``architecture_params``). An accepted value of one of the ``refused`` types fails.
    """
    if name in COSTLY and isinstance(value, int) and not isinstance(value, bool):
        assume(value <= COSTLY[name])
    est = make()
    if set_param:
        est.set_params(**{name: value})
    try:
        with no_hang():
            fit(est)
    except Exception as exc:
        check_error(exc)
        assert name in str(exc), f"{name}={value!r}: the error does not name {name}: {exc}"
        event(f"refused {name}")
        return
    event(f"accepted {name}")
    if isinstance(value, refused):
        raise AssertionError(f"{name}={value!r} was accepted: a {type(value).__name__} "
                             "where a number is expected")


CKN_PARAMETERS = ["n_filters", "patch_sizes", "subsamplings", "sigmas", "power",
                  "whitening_reg", "n_patches", "kmeans_max_iter", "batch_size", "n_jobs"]


@fuzz_settings(max_examples=60)
@given(name=st.sampled_from(CKN_PARAMETERS), value=odd_values())
def test_ckn_transformer_parameters(name, value):
    X = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)

    def make():
        return CKNTransformer(n_filters=(4,), subsamplings=(2,), n_patches=100,
                              kmeans_max_iter=2, device="cpu", random_state=0)

    def fit(est):
        F = est.fit_transform(X)
        assert_finite(F, f"CKNTransformer({name}={value!r}).fit_transform",
                      (len(X), est.n_features_out_))

    check_parameter(make, name, value, fit)


CNN_PARAMETERS = ["epochs", "batch_size", "learning_rate", "n_iter_no_change", "dropout",
                  "widths", "stem_width"]


@fuzz_settings(max_examples=40)
@given(name=st.sampled_from(CNN_PARAMETERS), value=odd_values())
def test_cnn_classifier_parameters(name, value):
    X = np.random.default_rng(0).random((8, 6, 6)).astype(np.float32)
    y = np.arange(8) % 2
    architecture_params = {"widths": (4,)}
    if name in ("widths", "stem_width"):
        architecture_params = dict(architecture_params, **{name: value})

    def make():
        return CNNClassifier(architecture_params=architecture_params, epochs=1, batch_size=4,
                             device="cpu", random_state=0)

    def fit(est):
        est.fit(X, y)
        assert_proba(est.predict_proba(X), est, len(X), f"CNNClassifier({name}={value!r})")

    if name in ("widths", "stem_width"):  # set inside architecture_params by make()
        check_parameter(make, name, value, fit, set_param=False,
                        refused=(bool, np.bool_, str))
        return
    check_parameter(make, name, value, fit)
