"""make_model, ImageFlattener and KernelSVC on tiny synthetic images.

Every model must learn the easy task of ``make_images`` (three classes of bright
halves): trained on one sample, it classifies a fresh sample far above chance (1/3),
with the training labels as its classes, whatever the image layout, cloned,
cross-validated, grid-searched or inside a pipeline.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from sklearn_ckn import available_models, make_model
from sklearn_ckn._baselines import EXACT_SVM_MAX_SAMPLES, ImageFlattener, KernelSVC

from .conftest import estimator_checks

# Tiny models: every fit takes a fraction of a second, and learns make_images' task.
TINY = {
    "ckn": {
        "ckn__n_filters": (4, 8),
        "ckn__n_patches": 500,
        "ckn__kmeans_max_iter": 2,
        "clf__max_iter": 200,
    },
    "ckn_supervised": {"ckn__n_filters": (4, 8), "ckn__n_patches": 500,
                       "ckn__kmeans_max_iter": 2, "epochs": 2, "batch_size": 16},
    # no augmentation: the mirror images it makes of colour images swap left and right
    "cnn": {"architecture": "lenet5", "epochs": 10, "batch_size": 8, "augment": False},
    "kernel_svm": {},
    "naive_bayes": {},
    "knn": {"knn__n_neighbors": 3},
}


def make_images(n_per_class=12, size=8, channels=None, seed=0):
    """Three easy classes of uint8 images: a bright left, right or top half."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in range(3):
        base = np.zeros((size, size))
        if label == 0:
            base[:, : size // 2] = 200
        elif label == 1:
            base[:, size // 2 :] = 200
        else:
            base[: size // 2, :] = 200
        for _ in range(n_per_class):
            images.append(base + rng.normal(0, 20, size=(size, size)))
            labels.append(label)
    X = np.clip(np.stack(images), 0, 255).astype(np.uint8)
    if channels:
        X = np.repeat(X[..., None], channels, axis=-1)
    y = np.array(labels)
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


def tiny_model(name, **params):
    return make_model(name, random_state=0, device="cpu", **{**TINY[name], **params})


# Labels of make_images' classes: strings, so that a prediction that is a class index or
# a score instead of a label fails.
NAMES = np.array(["left", "right", "top"])
CHANCE = 1 / 3
LEARNED = 0.9  # what every tiny model reaches on fresh images (all reach 1.0 today)


def test_registry_is_a_public_module_reexported_by_the_root():
    import sklearn_ckn
    import sklearn_ckn.models

    assert sklearn_ckn.make_model is sklearn_ckn.models.make_model is make_model
    assert sklearn_ckn.available_models is sklearn_ckn.models.available_models
    assert sklearn_ckn.models.__all__ == ["available_models", "make_model"]


def test_available_models():
    assert available_models() == ["ckn", "ckn_supervised", "cnn", "kernel_svm", "naive_bayes",
                                  "knn"]


def test_unknown_model_lists_the_names():
    with pytest.raises(ValueError, match="Unknown model 'svm'.*'ckn'.*'knn'"):
        make_model("svm")


def test_unknown_parameter():
    with pytest.raises(ValueError, match="Invalid parameter"):
        make_model("ckn", n_filters=(8, 16))  # needs the step prefix: ckn__n_filters
    with pytest.raises(ValueError, match="Invalid parameter"):
        make_model("cnn", epochz=3)


def test_supervised_ckn_trains_with_cross_entropy_but_the_comparisons_keep_their_loss():
    # CKNClassifier's default loss is the cross-entropy; make_model("ckn_supervised"),
    # whose results are recorded in benchmarks/results/compare_*, keeps the squared
    # hinge they were run with.
    from sklearn_ckn import CKNClassifier

    assert CKNClassifier().loss == "cross_entropy"
    assert make_model("ckn_supervised").loss == "squared_hinge"


def test_params_are_routed():
    model = make_model("ckn", ckn__n_filters=(32, 128), clf__C=0.5, random_state=3, device="cpu")
    params = model.get_params()
    assert isinstance(model, Pipeline)
    assert [s for s, _ in model.steps][0] == "ckn"
    assert params["ckn__n_filters"] == (32, 128) and params["clf__C"] == 0.5
    assert params["ckn__random_state"] == 3
    assert params["ckn__device"] == "cpu" and params["clf__device"] == "cpu"
    cnn = make_model("cnn", epochs=3, random_state=4, device="cpu", verbose=1)
    assert (cnn.epochs, cnn.random_state, cnn.device, cnn.verbose) == (3, 4, "cpu", 1)
    svm = make_model("kernel_svm", svm__C=2.0, random_state=5, image_shape=(8, 8))
    assert svm.get_params()["svm__random_state"] == 5 and svm.get_params()["svm__C"] == 2.0
    assert svm.get_params()["flatten__image_shape"] == (8, 8)
    # deterministic models accept the common keywords
    make_model("naive_bayes", random_state=0, device="cpu", verbose=1)
    knn = make_model("knn", knn__n_neighbors=7, random_state=0)
    assert knn.get_params()["knn__n_neighbors"] == 7


@pytest.mark.parametrize("name", available_models())
def test_learns_the_easy_task_and_predicts_labels(name):
    X, y = make_images(seed=0)
    X_test, y_test = make_images(n_per_class=10, seed=1)  # fresh images
    model = tiny_model(name).fit(X, NAMES[y])
    pred = model.predict(X_test)
    assert list(model.classes_) == list(NAMES)
    assert pred.shape == y_test.shape and set(pred) <= set(NAMES)
    assert np.mean(pred == NAMES[y_test]) >= LEARNED
    assert model.score(X_test, NAMES[y_test]) == pytest.approx(np.mean(pred == NAMES[y_test]))


@pytest.mark.parametrize("name", available_models())
def test_image_layouts_give_the_same_model(name):
    X, y = make_images(channels=3)
    X_test, y_test = make_images(n_per_class=4, channels=3, seed=1)
    pred = tiny_model(name).fit(X, y).predict(X_test)  # (n, H, W, C)
    assert np.mean(pred == y_test) >= LEARNED
    flat = tiny_model(name, image_shape=(8, 8, 3)).fit(X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(flat.predict(X_test.reshape(len(X_test), -1)), pred)


@pytest.mark.parametrize("name", available_models())
def test_clone_cross_val_and_pipeline(name):
    X, y = make_images(n_per_class=20)  # 2 folds of 30 images: naive Bayes needs them
    model = tiny_model(name)
    copy = clone(model)
    assert copy is not model and copy.get_params().keys() == model.get_params().keys()
    assert repr(copy) == repr(model)  # the same parameters, unfitted
    scores = cross_val_score(copy, X, y, cv=2, error_score="raise")
    assert scores.min() >= LEARNED, scores
    X_test, y_test = make_images(n_per_class=4, seed=1)
    fitted = tiny_model(name).fit(X, y)
    alone = fitted.predict(X_test)
    check_is_fitted(fitted)
    with pytest.raises(NotFittedError):
        check_is_fitted(clone(fitted))  # a clone is unfitted
    wrapped = Pipeline([("model", tiny_model(name))]).fit(X, y)
    np.testing.assert_array_equal(wrapped.predict(X_test), alone)
    assert np.mean(alone == y_test) >= LEARNED


def test_grid_search_pixel_and_ckn_models():
    X, y = make_images(n_per_class=12)
    X_test, y_test = make_images(n_per_class=4, seed=1)
    # 1 neighbour beats 15 when a class has only 6 training images per fold
    search = GridSearchCV(tiny_model("knn"), {"knn__n_neighbors": [1, 15]}, cv=2,
                          error_score="raise").fit(X, y)
    assert list(search.cv_results_["param_knn__n_neighbors"]) == [1, 15]
    assert search.best_params_ == {"knn__n_neighbors": 1} and search.best_score_ >= LEARNED
    for name, grid in [("ckn", {"clf__C": [0.1, 1.0]}), ("cnn", {"epochs": [1, 10]})]:
        search = GridSearchCV(tiny_model(name), grid, cv=2, error_score="raise").fit(X, y)
        assert len(search.cv_results_["mean_test_score"]) == 2
        assert search.best_score_ >= LEARNED and search.score(X_test, y_test) >= LEARNED
        assert search.best_estimator_.get_params()[next(iter(grid))] == next(
            iter(search.best_params_.values()))
    assert search.best_params_ == {"epochs": 10}  # one epoch of LeNet-5 learns nothing


def test_random_state_makes_fits_reproducible():
    X, y = make_images()
    a = tiny_model("ckn").fit(X, y).decision_function(X)
    b = tiny_model("ckn").fit(X, y).decision_function(X)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- ImageFlattener ---------------------------------------------------------------------


def test_flattener_scales_uint8_and_keeps_floats():
    X, _ = make_images(n_per_class=2, channels=3)
    out = ImageFlattener().fit_transform(X)
    assert out.shape == (6, 8 * 8 * 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, X.reshape(6, -1) / 255.0, rtol=1e-6)
    Xf = X.astype(np.float64)
    out = ImageFlattener().fit_transform(Xf)
    assert out.dtype == np.float64 and out.max() > 1
    out = ImageFlattener().fit_transform(X.astype(np.int16))
    assert out.dtype == np.float32 and out.max() > 1


def test_flattener_feature_names():
    X, _ = make_images(n_per_class=2)
    flat = ImageFlattener().fit(X)
    names = flat.get_feature_names_out()
    assert names[0] == "pixel_y0_x0_c0" and names[-1] == "pixel_y7_x7_c0" and len(names) == 64
    df = pd.DataFrame(X.reshape(len(X), -1), columns=[f"p{i}" for i in range(64)])
    flat = ImageFlattener(image_shape=(8, 8)).fit(df)
    assert list(flat.get_feature_names_out()) == [f"p{i}" for i in range(64)]
    np.testing.assert_allclose(flat.transform(df), X.reshape(len(X), -1) / 255.0, rtol=1e-6)


def test_flattener_checks_shapes():
    X, _ = make_images(n_per_class=2)
    flat = ImageFlattener().fit(X)
    with pytest.raises(ValueError, match="shape"):
        flat.transform(X[:, :4, :4])
    with pytest.raises(ValueError, match="image_shape"):
        ImageFlattener(image_shape=(4, 4)).fit(X.reshape(len(X), -1))


def test_pipeline_feature_names_out():
    X, y = make_images(n_per_class=4)
    model = make_model("naive_bayes").fit(X, y)
    assert model[:-1].get_feature_names_out()[0] == "pixel_y0_x0_c0"


# -- KernelSVC ---------------------------------------------------------------------------


def test_kernel_svc_exact_route_is_svc():
    X, y = make_images()
    flat = X.reshape(len(X), -1) / 255.0
    model = KernelSVC(C=3.0).fit(flat, y)
    assert not model.approximate_
    assert isinstance(model.estimator_, SVC)
    ref = SVC(C=3.0, gamma="scale").fit(flat, y)
    np.testing.assert_array_equal(model.predict(flat), ref.predict(flat))
    assert model.gamma_ == pytest.approx(ref._gamma)


def test_kernel_svc_switches_to_nystroem_in_fit():
    X, y = make_images()
    flat = X.reshape(len(X), -1) / 255.0
    model = KernelSVC(exact_max_samples=20, n_components=15, random_state=0)
    assert not hasattr(model, "approximate_")  # nothing decided before fit
    model.fit(flat, y)
    assert model.approximate_
    assert model.estimator_[0].n_components == 15
    assert model.score(flat, y) > 0.8
    assert model.decision_function(flat).shape == (len(y), 3)
    assert KernelSVC().exact_max_samples == EXACT_SVM_MAX_SAMPLES == 10_000


@estimator_checks([ImageFlattener(), KernelSVC()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
