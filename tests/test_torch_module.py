"""Tests of the pickling of every torch estimator's ``module_`` (``sklearn_ckn._torch_module``)."""

import copy
import pickle

import numpy as np
import pytest

from sklearn_ckn import CKNTransformer, CNNClassifier


def _fitted_ckn():
    X = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    return CKNTransformer(n_filters=(4, 8), n_patches=500, device="cpu", random_state=0).fit(X), X


def test_a_configuration_larger_than_its_arrays_is_refused_before_building():
    # A file naming a layer of 200,000 anchors beside arrays of 8 would make building the
    # module allocate 160 GB: the shapes are checked on the meta device first.
    ckn, _ = _fitted_ckn()
    state = ckn.__getstate__()
    config = copy.deepcopy(state["_module_config_"])
    config["ckn"]["layers"][1]["n_filters"] = 200_000
    bad = dict(state, _module_config_=config)
    with pytest.raises(ValueError, match="does not match the saved configuration.*200000"):
        CKNTransformer.__new__(CKNTransformer).__setstate__(bad)


@pytest.mark.parametrize("change", ["missing", "not an array", "strings"])
def test_malformed_arrays_are_refused(change):
    ckn, _ = _fitted_ckn()
    state = ckn.__getstate__()
    arrays = dict(state["_module_state_"])
    name = "ckn.layers.0.anchors"
    if change == "missing":
        del arrays[name]
    elif change == "not an array":
        arrays[name] = arrays[name].tolist()
    else:
        arrays[name] = arrays[name].astype(str)
    with pytest.raises(ValueError, match="does not match the saved configuration"):
        CKNTransformer.__new__(CKNTransformer).__setstate__(dict(state, _module_state_=arrays))


def test_cnn_module_config_names_its_architecture():
    # A registered architecture is stored by name (builtins only, skops needs no trusted
    # torch class); the pickled model predicts as the original.
    X = np.random.default_rng(0).random((24, 8, 8)).astype(np.float32)
    y = np.arange(24) % 2
    clf = CNNClassifier(architecture="lenet5", epochs=1, device="cpu", random_state=0).fit(X, y)
    assert clf._module_config_["architecture"] == "lenet5"
    assert clf.network_ is clf.module_
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.decision_function(X), clf.decision_function(X))


def test_skops_needs_only_the_estimator_classes():
    sio = pytest.importorskip("skops.io")
    X = np.random.default_rng(0).random((24, 8, 8)).astype(np.float32)
    y = np.arange(24) % 2
    clf = CNNClassifier(architecture="lenet5", epochs=1, device="cpu", random_state=0).fit(X, y)
    data = sio.dumps(clf)
    assert sio.get_untrusted_types(data=data) == ["sklearn_ckn.cnn._classifier.CNNClassifier"]
    loaded = sio.loads(data, trusted=["sklearn_ckn.cnn._classifier.CNNClassifier"])
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
