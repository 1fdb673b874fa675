"""The differentiable torch models reproduce the fitted estimators."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import LinearSVC

from sklearn_ckn import CKNTransformer, CNNClassifier
from sklearn_ckn.core.network import CKNNetwork
from sklearn_ckn.explain import ModelAdapter, as_differentiable
from sklearn_ckn.explain._adapters import (
    ADAPTERS,
    CKNAdapter,
    CKNPipelineAdapter,
    CNNAdapter,
)
from sklearn_ckn.explain._torch_steps import (
    LinearHead,
    scaler_to_torch,
)
from sklearn_ckn.svm._linear import make_linear_classifier

CLASSIFIERS = {
    "linearsvc": lambda: [LinearSVC(C=0.1, random_state=0)],
    "logistic": lambda: [LogisticRegression(max_iter=300)],
    "ridge": lambda: [RidgeClassifier()],
    "sgd": lambda: [SGDClassifier(random_state=0)],
    "make_linear_classifier": lambda: [make_linear_classifier("logistic", random_state=0)],
    "scalers+linearsvc": lambda: [StandardScaler(), Normalizer(), MaxAbsScaler(),
                                  LinearSVC(C=0.1, random_state=0)],
    "more scalers+logistic": lambda: [MinMaxScaler(clip=True), RobustScaler(),
                                      Normalizer("l1"), LogisticRegression(max_iter=300)],
    "nested+passthrough": lambda: [Pipeline([("a", "passthrough"), ("b", StandardScaler())]),
                                   make_pipeline(Normalizer("max"), RidgeClassifier())],
}


def _images(colour, n=48, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n, 12, 10, 3) if colour else (n, 12, 10)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def _ckn():
    return CKNTransformer(n_filters=(8, 12), subsamplings=(2, 3), n_patches=1500,
                          device="cpu", random_state=0)


def _check_scores(scores, estimator, X):
    dec = estimator.decision_function(X)
    tol = 1e-4 * np.abs(dec).max()
    if dec.ndim == 1:
        assert scores.shape == (len(X), 2)
        np.testing.assert_allclose(scores[:, 1], dec, rtol=1e-4, atol=tol)
        np.testing.assert_allclose(scores[:, 0], -dec, rtol=1e-4, atol=tol)
    else:
        np.testing.assert_allclose(scores, dec, rtol=1e-4, atol=tol)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("colour", [False, True], ids=["grey", "colour"])
@pytest.mark.parametrize("kind", list(CLASSIFIERS))
def test_ckn_pipeline_reproduces_decision_function(kind, colour, n_classes):
    X = _images(colour)
    y = np.arange(len(X)) % n_classes
    pipe = make_pipeline(_ckn(), *CLASSIFIERS[kind]()).fit(X, y)
    model = as_differentiable(pipe)
    assert isinstance(model, CKNPipelineAdapter) and model.family == "ckn"
    assert isinstance(model.module, CKNNetwork)
    np.testing.assert_array_equal(model.classes_, pipe.classes_)
    scores = model.decision_scores(X)
    _check_scores(scores, pipe, X)
    np.testing.assert_array_equal(model.classes_[scores.argmax(axis=1)], pipe.predict(X))
    # The gradient path (out-of-place kernel map after the target layer) agrees too.
    for layer in (0, 1):
        x = model.to_tensor(model.validate(X))
        _, _, grad_scores, _ = model.activations_and_gradients(x, layer)
        _check_scores(grad_scores.double().numpy(), pipe, X)


def test_mixed_precision_pipeline_is_explained_in_its_own_precision():
    # The adapter runs the transformer's module under the transformer's own context
    # (bfloat16 autocast): its scores are the mixed-precision pipeline's, so Grad-CAM's
    # default target is what the pipeline predicts.
    from sklearn_ckn.explain import grad_cam

    X = _images(colour=True)
    y = np.arange(len(X)) % 3
    pipe = make_pipeline(_ckn().set_params(mixed_precision=True), LinearSVC(C=0.1)).fit(X, y)
    model = as_differentiable(pipe)
    assert model.forward_predicts
    _check_scores(model.decision_scores(X), pipe, X)
    full = make_pipeline(_ckn(), LinearSVC(C=0.1)).fit(X, y)
    assert not np.allclose(as_differentiable(full).decision_scores(X), model.decision_scores(X),
                           rtol=1e-5, atol=1e-6)
    maps, targets = grad_cam(pipe, X[:6], return_targets=True)
    assert maps.shape == (6, 12, 10) and np.isfinite(maps).all()
    np.testing.assert_array_equal(targets, pipe.predict(X[:6]))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_cnn_reproduces_decision_function(n_classes):
    X = _images(colour=True, n=40)
    y = np.arange(40) % n_classes
    cnn = CNNClassifier("resnet-small", architecture_params={"widths": (8, 16)}, epochs=1,
                        device="cpu", random_state=0).fit(X, y)
    model = as_differentiable(cnn)
    assert isinstance(model, CNNAdapter) and model.family == "cnn"
    assert model.module is cnn.network_
    logits = model.decision_scores(X)
    dec = cnn.decision_function(X)
    if n_classes == 2:
        np.testing.assert_allclose(logits[:, 1] - logits[:, 0], dec, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(logits, dec, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cnn.classes_[logits.argmax(axis=1)], cnn.predict(X))
    x = model.to_tensor(model.validate(X[:5]))
    _, _, scores, _ = model.activations_and_gradients(x, model.resolve_layer(None, (12, 10, 3)))
    np.testing.assert_allclose(scores.double().numpy(), logits[:5], rtol=1e-5, atol=1e-5)


def test_ckn_classifier_reproduces_decision_function():
    from sklearn_ckn import CKNClassifier

    X = _images(colour=True, n=40)
    for n_classes in (2, 3):
        y = np.arange(40) % n_classes
        clf = CKNClassifier(ckn=_ckn(), epochs=1, device="cpu", random_state=0).fit(X, y)
        model = as_differentiable(clf)
        assert isinstance(model, CKNAdapter) and model.module is clf.network_
        logits = model.decision_scores(X)
        dec = clf.decision_function(X)
        if n_classes == 2:
            np.testing.assert_allclose(logits[:, 1] - logits[:, 0], dec, rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_allclose(logits, dec, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(clf.classes_[logits.argmax(axis=1)], clf.predict(X))
        x = model.to_tensor(model.validate(X[:5]))
        for layer in (0, 1):
            # The gradient path computes what predict computes (same kernel formula,
            # pooling summed in one order whatever the memory layout).
            _, _, scores, _ = model.activations_and_gradients(x, layer)
            np.testing.assert_allclose(scores.double().numpy(), logits[:5], rtol=1e-5,
                                       atol=1e-5 * np.abs(logits).max())


def test_wrappers_are_unwrapped():
    X = _images(colour=False, n=40)
    y = np.arange(40) % 2
    pipe = make_pipeline(_ckn(), LogisticRegression())
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=2).fit(X, y)
    for wrapped in (search, FrozenEstimator(search.best_estimator_)):
        model = as_differentiable(wrapped)
        _check_scores(model.decision_scores(X), search.best_estimator_, X)


def test_fitted_modules_are_shared_not_copied():
    X = _images(colour=False, n=30)
    pipe = make_pipeline(_ckn(), LogisticRegression()).fit(X, np.arange(30) % 2)
    model = as_differentiable(pipe)
    # The transformer's own module: its layers and output steps, not a rebuilt copy.
    assert model.module.ckn is pipe[0].module_.ckn
    assert model.module.output is pipe[0].module_.output
    assert all(not t.requires_grad for t in model.module.buffers())
    assert all(not t.requires_grad for t in model.module.parameters())  # frozen anchors


@pytest.mark.parametrize(
    "scaler",
    [StandardScaler(), StandardScaler(with_mean=False), StandardScaler(with_std=False),
     MaxAbsScaler(), MinMaxScaler(), MinMaxScaler(feature_range=(-1, 2), clip=True),
     RobustScaler(), RobustScaler(with_centering=False), Normalizer(), Normalizer("l1"),
     Normalizer("max")],
    ids=repr,
)
def test_scalers(scaler):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5)) * [1, 10, 0.1, 3, 0]  # a constant (zero) column too
    scaler.fit(X)
    X_new = rng.normal(size=(10, 5)) * 4
    X_new[0] = 0.0  # a zero row (Normalizer leaves it at zero)
    out = scaler_to_torch(scaler)(torch.from_numpy(X_new)).numpy()
    np.testing.assert_allclose(out, scaler.transform(X_new), rtol=1e-12, atol=1e-12)


def test_linear_head_binary_and_multiclass():
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    binary = LinearHead([[0.5, -1.0]], [0.25])(x)
    s = torch.tensor([0.5 - 2.0 + 0.25, -0.5 - 0.5 + 0.25], dtype=torch.float64)
    torch.testing.assert_close(binary, torch.stack([-s, s], dim=1))
    multi = LinearHead([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], 0.0)(x)
    torch.testing.assert_close(multi, torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, -0.5]],
                                                   dtype=torch.float64))


def test_unsupported_steps_name_the_supported_ones():
    X = _images(colour=False, n=30)
    pipe = make_pipeline(_ckn(), PCA(n_components=5), LogisticRegression())
    pipe.fit(X, np.arange(30) % 2)
    with pytest.raises(TypeError, match="PCA") as info:
        as_differentiable(pipe)
    for name in ("StandardScaler", "Normalizer", "MaxAbsScaler"):
        assert name in str(info.value)


def test_every_family_implements_the_interface():
    for adapter in ADAPTERS:
        assert issubclass(adapter, ModelAdapter) and adapter.family
        for name in ("accepts", "candidate_layers", "layer_key", "forward_from"):
            assert getattr(adapter, name) is not getattr(ModelAdapter, name), (adapter, name)


def test_a_new_family_is_one_small_class():
    """A toy family (a linear model on pixels) plugs in through the interface alone."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    from sklearn_ckn.explain import grad_cam

    class PixelScorer(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            self.n_features_in_ = X[0].size
            self.weight_ = torch.zeros(len(self.classes_), 1, *X.shape[1:3])
            self.weight_[1, 0, :2, :2] = 1.0  # class 1: the top-left corner is bright
            return self

        def predict(self, X):
            return self.classes_[np.asarray(X)[:, :2, :2].sum(axis=(1, 2)) > 1]

    class PixelAdapter(ModelAdapter):
        family = "pixels"

        @classmethod
        def accepts(cls, estimator):
            return isinstance(estimator, PixelScorer)

        def __init__(self, est):
            self.estimator = self.input_estimator = est
            self.classes_, self.device = est.classes_, torch.device("cpu")
            self.module = torch.nn.Identity()

        def validate(self, X):
            return np.asarray(X, dtype=np.float32)[..., None]

        def candidate_layers(self, image_shape):
            return [("input", tuple(image_shape[:2]))]

        def layer_key(self, layer):
            return "input"

        def forward_from(self, x, key):
            act = x.detach().requires_grad_(True)
            return (act[:, None] * self.estimator.weight_).sum(dim=(2, 3, 4)), act

    X = np.zeros((2, 6, 6))
    X[1, :2, :2] = 1.0
    est = PixelScorer().fit(X, np.array([0, 1]))
    ADAPTERS.append(PixelAdapter)
    try:
        maps = grad_cam(est, X, target=1, method="hirescam")
    finally:
        ADAPTERS.remove(PixelAdapter)
    assert maps[1, :2, :2].min() > 0.5 and maps[1, 3:, 3:].max() < 0.1
    assert not maps[0].any()  # no evidence at all: an all-zero map


@pytest.mark.parametrize("power", [0.5, 1.0])
@pytest.mark.parametrize("normalize", ["l2-standard", "standard", None])
def test_ckn_output_normalisation_is_reproduced(normalize, power):
    X = _images(colour=False, n=40)
    X[0] = 0  # a blank image: its norm is floored
    ckn = _ckn().set_params(normalize=normalize, power=power)
    pipe = make_pipeline(ckn, LogisticRegression(max_iter=300)).fit(X, np.arange(40) % 2)
    assert (getattr(pipe[0], "normalize_shift_", None) is not None) == (normalize is not None)
    _check_scores(as_differentiable(pipe).decision_scores(X), pipe, X)


