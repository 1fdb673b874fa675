"""Input validation shared by every estimator (sklearn_ckn/_images.py): pixel range,
non-finite values and mixed-type labels."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_ckn import CKNTransformer, make_model
from sklearn_ckn._baselines import ImageFlattener, KernelSVC
from sklearn_ckn._images import MAX_ABS_PIXEL, check_classification_labels, validate_images
from sklearn_ckn.svm import TorchLinearSVC

RANGE = r"pixel values in \[.*\]; expected values within \[-1e\+12, 1e\+12\]"


def tiny_ckn():
    return CKNTransformer(n_filters=(8,), subsamplings=(2,), n_patches=500, random_state=0)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.random((20, 10, 10)).astype(np.float32), np.arange(20) % 2


@pytest.fixture(scope="module")
def fitted_ckn(images):
    X, _ = images
    return tiny_ckn().fit(X)


def test_limit_itself_gives_finite_features(images, fitted_ckn):
    X, _ = images
    features = fitted_ckn.transform(X * np.float32(MAX_ABS_PIXEL))
    assert np.isfinite(features).all() and np.abs(features).max() > 0


@pytest.mark.parametrize("scale", [1e13, 1e19, -1e30])
def test_transform_rejects_overflowing_values(images, fitted_ckn, scale):
    X, _ = images
    # Before the check, X * 1e19 gave all-NaN features (squared patch norms overflow).
    with pytest.raises(ValueError, match=RANGE):
        fitted_ckn.transform(X * np.float32(scale))


def test_fit_rejects_overflowing_values_with_the_range(images):
    X, y = images
    with pytest.raises(ValueError, match=RANGE) as info:
        tiny_ckn().fit(X * np.float32(1e19))
    assert "usable" not in str(info.value)
    # The "ckn" model used to say "Input X contains NaN" (from its StandardScaler).
    model = make_model("ckn", ckn__n_filters=(8,), ckn__subsamplings=(2,),
                       ckn__n_patches=500, random_state=0)
    with pytest.raises(ValueError, match=RANGE) as info:
        model.fit(X * np.float32(1e19), y)
    assert "NaN" not in str(info.value)


def test_grad_cam_inherits_the_check(images, fitted_ckn):
    from sklearn_ckn.explain import grad_cam

    X, y = images
    pipe = make_pipeline(fitted_ckn, LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match=RANGE):
        grad_cam(pipe, X[:2] * np.float32(1e19))


@pytest.mark.parametrize(
    "X",
    [
        np.full((2, 4, 4), 1e300),  # finite in float64, infinite in float32
        np.full((2, 4, 4), np.iinfo(np.int64).max, dtype=np.int64),
        np.full((2, 4, 4), np.iinfo(np.uint64).max, dtype=np.uint64),
        np.full((2, 16), -1e15),
    ],
    ids=["float64", "int64", "uint64", "2d"],
)
def test_every_dtype_is_range_checked(X):
    with pytest.raises(ValueError, match=RANGE):
        ImageFlattener().fit(X)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(bad, dtype):
    X = np.zeros((3, 4, 4), dtype=dtype)
    X[2, 1, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        ImageFlattener().fit(X)


def test_small_dtypes_and_valid_extremes_pass():
    for X in (
        np.full((2, 4, 4), 255, dtype=np.uint8),
        np.full((2, 4, 4), np.iinfo(np.int32).min, dtype=np.int32),
        np.full((2, 4, 4), 65504, dtype=np.float16),
        np.full((2, 4, 4), -MAX_ABS_PIXEL),
        np.ones((2, 4, 4), dtype=bool),
    ):
        assert validate_images(ImageFlattener(), X, reset=True).shape == (2, 4, 4, 1)


@pytest.mark.parametrize(
    "y, shown",
    [
        ([1, "a", 1, "a"], "int 1 and str 'a'"),
        (np.array([2.5, "b"], dtype=object), "float 2.5 and str 'b'"),
        (pd.Series([None, "a"], dtype=object), "NoneType None and str 'a'"),
        ([b"x", "x"], "bytes b'x' and str 'x'"),
    ],
)
def test_mixed_labels_message(y, shown):
    with pytest.raises(ValueError, match="mixes labels of different types") as info:
        check_classification_labels(y)
    assert shown in str(info.value)


@pytest.mark.parametrize(
    "y",
    [[1, 2.5, True, np.int64(3)], ["a", np.str_("b")], np.array([1, 2]),
     np.array(["a", "b"], dtype=object), [[1, 2], [3, 4]], [], [np.nan, 1.0]],
)
def test_single_type_labels_pass(y):
    assert check_classification_labels(y) is y


@pytest.mark.parametrize("estimator", [KernelSVC(), TorchLinearSVC(max_iter=5)],
                         ids=["KernelSVC", "TorchLinearSVC"])
def test_classifiers_reject_mixed_labels_at_fit(estimator):
    # Before: fit turned the labels into the strings "1", "a", and score() with the
    # original object array raised "'<' not supported between 'str' and 'int'".
    X = np.random.default_rng(0).random((4, 6))
    with pytest.raises(ValueError, match=r"mixes labels .*int 1 and str 'a'"):
        estimator.fit(X, np.array([1, "a", 1, "a"], dtype=object))
    with pytest.raises(ValueError, match="mixes labels"):
        estimator.fit(X, [1, "a", 1, "a"])
    assert estimator.fit(X, ["1", "a", "1", "a"]).score(X, ["1", "a", "1", "a"]) >= 0


# -- issue 28: byte order, torch tensors, booleans for numbers --------------------------


def _cnn():
    from sklearn_ckn import CNNClassifier

    return CNNClassifier("lenet5", epochs=1, batch_size=8, device="cpu", random_state=0)


@pytest.mark.parametrize("make", [tiny_ckn, _cnn], ids=["ckn", "cnn"])
@pytest.mark.parametrize("layout", ["3d", "2d"])
def test_big_endian_images_give_the_native_results(images, make, layout):
    X, y = images
    if layout == "2d":
        X = X.reshape(len(X), -1)
    big = X.astype(">f4")
    assert not big.dtype.isnative
    native = make().fit(X, y)
    swapped = make().fit(big, y)
    if hasattr(native, "transform"):
        np.testing.assert_array_equal(native.transform(X), swapped.transform(big))
    else:
        np.testing.assert_array_equal(native.predict_proba(X), swapped.predict_proba(big))
    # validation converts a big-endian integer array too, without touching the caller's
    est = CKNTransformer()
    out = validate_images(est, (X * 255).astype(">u2").reshape(X.shape), reset=True)
    assert out.dtype.isnative and out.dtype == np.uint16


@pytest.mark.parametrize("make", [tiny_ckn, _cnn], ids=["ckn", "cnn"])
def test_torch_tensors_are_detached(images, make):
    torch = pytest.importorskip("torch")
    X, y = images
    leaf = torch.tensor(X, requires_grad=True)
    expected = make().fit(X, y)
    got = make().fit(leaf * 1.0, y)  # a non-leaf tensor with a grad_fn
    if hasattr(expected, "transform"):
        np.testing.assert_array_equal(expected.transform(X), got.transform(leaf))
    else:
        np.testing.assert_array_equal(expected.predict(X), got.predict(leaf))
    assert leaf.grad is None  # nothing back-propagated into the caller's tensor
    # bfloat16 has no NumPy dtype: converted to float32
    out = validate_images(CKNTransformer(), torch.tensor(X).bfloat16(), reset=True)
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    "params",
    [{"batch_size": True}, {"n_patches": True}, {"kmeans_max_iter": False},
     {"n_filters": True}, {"n_filters": (8, True)}, {"subsamplings": (True,)},
     {"whitening_reg": True}, {"power": True}, {"n_jobs": True}],
)
def test_booleans_are_refused_where_numbers_are_expected(images, params):
    X, _ = images
    name = next(iter(params))
    with pytest.raises(ValueError, match=f"{name}"):
        tiny_ckn().set_params(**params).fit(X)
