import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from sklearn_ckn import CKNTransformer


def _bars(n=60, size=10, channels=None, seed=0):
    """Horizontal (0) vs vertical (1) bars in noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.3, size=(n, size, size))
    y = np.arange(n) % 2
    pos = rng.integers(1, size - 1, size=n)
    for i in range(n):
        if y[i]:
            X[i, :, pos[i]] += 1.0
        else:
            X[i, pos[i], :] += 1.0
    if channels:
        X = np.repeat(X[..., None], channels, axis=3) * rng.uniform(0.5, 1.0, size=channels)
    return X.astype(np.float32), y


def _small(**kw):
    params = dict(n_filters=(8, 16), n_patches=3000, random_state=0, device="cpu")
    params.update(kw)
    return CKNTransformer(**params)


def test_output_shape_dtype_and_feature_names():
    X, _ = _bars(20, size=12)
    ckn = _small(subsamplings=(2, 3)).fit(X)
    F = ckn.transform(X)
    assert F.dtype == np.float32
    assert ckn.output_shape_ == (16, 2, 2)  # 12 -> 6 -> 2
    assert F.shape == (20, 64) == (20, ckn.n_features_out_)
    names = ckn.get_feature_names_out()
    assert names[0] == "ckn_c0_y0_x0" and names[-1] == "ckn_c15_y1_x1"
    assert len(names) == F.shape[1]


def test_eight_by_eight_digits_work_with_the_defaults():
    from sklearn.datasets import load_digits

    X = load_digits().images[:300]
    ckn = CKNTransformer(n_filters=(8, 16), random_state=0, device="cpu")
    F = ckn.fit_transform(X)
    assert ckn.subsamplings_ == (1, 2) and ckn.output_shape_ == (16, 4, 4)  # 8 -> 8 -> 4
    assert F.shape == (300, 256)
    assert np.isfinite(F).all() and F.std() > 0


@pytest.mark.parametrize(
    "size, layers, expected, final",
    [
        (8, 2, (1, 2), 4),
        (28, 2, (2, 4), 4),
        (32, 2, (2, 4), 4),
        (64, 2, (4, 4), 4),
        (100, 2, (6, 4), 5),
        (28, 3, (2, 2, 2), 4),
        (100, 1, (25,), 4),
        (4, 2, (1, 1), 4),
        (1, 2, (1, 1), 1),
    ],
)
def test_auto_subsamplings_end_near_four_by_four(size, layers, expected, final):
    from sklearn_ckn.ckn._architecture import auto_subsamplings

    subs = auto_subsamplings(size, size, layers)
    assert subs == expected
    side = size
    for s in subs:
        side = -(-side // s)
    assert side == final


def test_auto_subsamplings_follow_the_image_and_explicit_ones_are_kept():
    X, _ = _bars(12, size=20)
    ckn = _small().fit(X)
    assert ckn.subsamplings_ == (2, 2) and ckn.output_shape_ == (16, 5, 5)  # 20 -> 10 -> 5
    assert [layer.subsampling for layer in ckn.module_.ckn.layers] == [2, 2]
    assert _small(subsamplings=(1, 5)).fit(X).output_shape_ == (16, 4, 4)
    assert _small(subsamplings=3).fit(X).subsamplings_ == (3, 3)


@pytest.mark.parametrize(
    "map_size, layers, expected",
    [(8, 2, (128, 512)), (4, 2, (128, 512)), (9, 2, (64, 256)), (14, 2, (64, 256)),
     (16, 2, (64, 256)), (8, 3, (128, 512, 512)), (17, 3, (64, 256, 256))],
)
def test_auto_n_filters_double_only_when_the_last_map_is_small(map_size, layers, expected):
    from sklearn_ckn.ckn._architecture import auto_n_filters

    assert auto_n_filters(map_size, map_size, layers) == expected


def test_auto_n_filters_follow_the_image_and_explicit_ones_are_kept():
    assert CKNTransformer().n_filters == "auto"
    X, _ = _bars(12, size=8)  # 8x8: the last layer sees an 8x8 map -> doubled
    ckn = CKNTransformer(n_patches=768, kmeans_max_iter=2, random_state=0).fit(X)
    assert ckn.n_filters_ == (128, 512) and ckn.subsamplings_ == (1, 2)
    assert [layer.n_filters for layer in ckn.module_.ckn.layers] == [128, 512]
    assert ckn.output_shape_ == (512, 4, 4)
    X, _ = _bars(6, size=20)  # 20 -> 10: a 10x10 map -> (64, 256)
    ckn = CKNTransformer(n_patches=500, kmeans_max_iter=2, random_state=0).fit(X)
    assert ckn.n_filters_ == (64, 256)
    # the other per-layer parameters set the depth; explicit filters are kept
    ckn = CKNTransformer(subsamplings=(1, 1, 2), n_patches=500, kmeans_max_iter=2).fit(X)
    assert ckn.n_filters_ == (64, 256, 256)
    assert _small().fit(X).n_filters_ == (8, 16)
    with pytest.raises(ValueError, match="n_filters"):
        CKNTransformer(n_filters="wide").fit(X)


def test_standard_normalization_is_learned_in_fit():
    X, _ = _bars(40)
    assert CKNTransformer().normalize == "l2-standard"
    ckn = _small(normalize="standard").fit(X)
    F = ckn.transform(X)
    raw = _small(normalize=None).fit(X).transform(X)
    assert ckn.normalize_shift_.shape == ckn.normalize_scale_.shape == (ckn.n_features_out_,)
    assert ckn.normalize_shift_.dtype == np.float32
    np.testing.assert_allclose(F, (raw - ckn.normalize_shift_) / ckn.normalize_scale_, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(F.mean(axis=0), 0, atol=1e-4)
    std = F.std(axis=0)
    from sklearn_ckn.core.output import OUTPUT_STD

    assert np.all(std <= OUTPUT_STD + 1e-4) and np.median(std) > OUTPUT_STD - 1e-3
    assert not hasattr(_small(normalize=None).fit(X), "normalize_shift_")
    np.testing.assert_allclose(_small(normalize="standard").fit_transform(X), F, rtol=1e-5,
                               atol=1e-6)
    # the statistics come from the training images: other images are not centred
    X2, _ = _bars(40, seed=1)
    assert abs(ckn.transform(X2 * 3).mean()) > 1e-3


def test_signed_power_comes_before_the_normalization():
    X, _ = _bars(40)
    assert CKNTransformer().power == 1.0  # off by default
    plain = _small(normalize=None, power=1.0).fit(X).transform(X).astype(np.float64)
    assert (plain < 0).any() and (plain > 0).any()  # both signs are kept
    # blank images have exactly zero features (no rounding noise for the power to amplify)
    blank = np.zeros_like(X[:2])
    assert not _small(normalize=None, power=0.5).fit(X).transform(blank).any()
    for power in (0.5, 0.3):
        powered = _small(normalize=None, power=power).fit(X).transform(X)
        np.testing.assert_allclose(powered, np.sign(plain) * np.abs(plain) ** power,
                                   rtol=1e-4, atol=1e-6)
    ckn = _small(normalize="l2-standard", power=0.5).fit(X)
    root = np.sign(plain) * np.sqrt(np.abs(plain))
    unit = root / np.linalg.norm(root, axis=1, keepdims=True)
    np.testing.assert_allclose(ckn.transform(X), (unit - ckn.normalize_shift_) / ckn.normalize_scale_,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_small(power=0.5).fit_transform(X), ckn.transform(X),
                               rtol=1e-5, atol=1e-5)
    # a model pickled before `power` existed keeps transforming without it
    state = _small(normalize=None, power=1.0).fit(X).__getstate__()
    state.pop("power")
    old = CKNTransformer.__new__(CKNTransformer)
    old.__setstate__(state)
    assert old.power == 1.0
    np.testing.assert_allclose(old.transform(X), plain, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="power"):
        _small(power=0).fit(X)


def test_l2_standard_normalises_each_image_first():
    X, _ = _bars(40)
    ckn = _small(normalize="l2-standard").fit(X)
    assert ckn.normalize_rows_ and not _small(normalize="standard").fit(X).normalize_rows_
    raw = _small(normalize=None).fit(X).transform(X).astype(np.float64)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    assert ckn.normalize_norm_floor_ == pytest.approx(1e-3 * np.median(norms), rel=1e-4)
    unit = raw / norms
    np.testing.assert_allclose(ckn.transform(X), (unit - ckn.normalize_shift_) / ckn.normalize_scale_,
                               rtol=1e-4, atol=1e-5)
    # invariant to the images' contrast; an all-zero image stays finite
    np.testing.assert_allclose(ckn.transform(3 * X), ckn.transform(X), rtol=1e-4, atol=1e-5)
    F0 = ckn.transform(np.zeros_like(X[:2]))
    np.testing.assert_allclose(F0, np.broadcast_to(-ckn.normalize_shift_ / ckn.normalize_scale_,
                                                   F0.shape), rtol=1e-3, atol=1e-3)


def test_normalization_statistics_use_a_sample_of_large_training_sets(monkeypatch):
    from sklearn_ckn.ckn import _transformer

    monkeypatch.setattr(_transformer, "NORMALIZE_SAMPLE", 16)
    X, _ = _bars(50)
    ckn = _small().fit(X)
    F = ckn.transform(X)
    assert np.abs(F.mean(axis=0)).max() > 1e-4  # not all 50 images: a sample of 16
    np.testing.assert_allclose(_small().fit_transform(X), F, rtol=1e-5, atol=1e-6)


def test_input_layouts_agree():
    X, _ = _bars(16, size=9, channels=3)
    ckn = _small()
    F4 = ckn.fit(X).transform(X)
    F2 = _small(image_shape=(9, 9, 3)).fit(X.reshape(16, -1)).transform(X.reshape(16, -1))
    np.testing.assert_allclose(F2, F4, rtol=1e-5, atol=1e-6)
    df = pd.DataFrame(X.reshape(16, -1), columns=[f"px{i}" for i in range(243)])
    ckn_df = _small(image_shape=(9, 9, 3)).fit(df)
    np.testing.assert_allclose(ckn_df.transform(df), F4, rtol=1e-5, atol=1e-6)
    assert list(ckn_df.feature_names_in_[:2]) == ["px0", "px1"]


def test_uint8_images_are_scaled_to_unit_range():
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, size=(12, 8, 8), dtype=np.uint8)
    F8 = _small().fit(X8).transform(X8)
    Ff = _small().fit(X8 / 255.0).transform(X8 / 255.0)
    np.testing.assert_allclose(F8, Ff, rtol=1e-4, atol=1e-5)


def test_square_rows_are_read_as_square_grey_images():
    X, _ = _bars(10, size=8)
    ckn = _small().fit(X.reshape(10, 64))
    assert ckn.image_shape_ == (8, 8, 1)


def test_random_state_makes_fit_and_transform_repeatable():
    X, _ = _bars(30)
    a = _small(random_state=3).fit_transform(X)
    b = _small(random_state=3).fit_transform(X)
    c = _small(random_state=4).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_transform_does_not_depend_on_batch_size():
    X, _ = _bars(23)
    ckn = _small(batch_size=5).fit(X)
    small_batches = ckn.transform(X)
    ckn.set_params(batch_size=1000)
    np.testing.assert_allclose(ckn.transform(X), small_batches, rtol=1e-5, atol=1e-6)


def test_mixed_precision_changes_transform_only_and_keeps_accuracy():
    X, y = _bars(40, channels=3)
    exact = _small(whitening="local").fit(X)
    mixed = _small(whitening="local", mixed_precision=True).fit(X)
    # fit learns the anchors in float32 either way
    for a, b in zip(exact.module_.ckn.layers, mixed.module_.ckn.layers):
        torch.testing.assert_close(a.anchors, b.anchors, rtol=0, atol=0)
    F_exact, F_mixed = exact.transform(X), mixed.transform(X)
    assert F_mixed.dtype == np.float32 and np.isfinite(F_mixed).all()
    assert not np.array_equal(F_mixed, F_exact)  # bfloat16 products did run
    assert np.linalg.norm(F_mixed - F_exact) / np.linalg.norm(F_exact) < 0.2
    pred_exact = LinearSVC().fit(F_exact, y).predict(F_exact)
    pred_mixed = LinearSVC().fit(F_mixed, y).predict(F_mixed)
    assert (pred_exact == y).mean() == (pred_mixed == y).mean() == 1.0
    # a model pickled before the parameter existed transforms in float32
    state = mixed.__getstate__()
    state.pop("mixed_precision")
    old = CKNTransformer.__new__(CKNTransformer)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.transform(X), mixed.set_params(mixed_precision=False).transform(X))


def test_whitening_auto_means_colour_only():
    Xc, _ = _bars(10, channels=3)
    Xg, _ = _bars(10)
    assert _small().fit(Xc).module_.ckn.layers[0].whitening
    assert not _small().fit(Xg).module_.ckn.layers[0].whitening
    assert _small(whitening=True).fit(Xg).module_.ckn.layers[0].whitening


def test_whitening_and_one_pixel_first_patches():
    # Centring a 1x1 patch channel by channel leaves zeros: "auto" does not whiten
    # such a layer (it used to fail with "0 usable patches"), True is refused.
    Xc, _ = _bars(10, channels=3)
    ckn = _small(patch_sizes=(1, 3), subsamplings=(1, 2)).fit(Xc)
    assert not ckn.module_.ckn.layers[0].whitening
    F = ckn.transform(Xc)
    assert np.isfinite(F).all() and np.abs(F).max() > 0
    with pytest.raises(ValueError, match="1x1 patches"):
        _small(patch_sizes=(1, 3), whitening=True).fit(Xc)


def test_per_layer_parameters_broadcast_and_set_depth():
    X, _ = _bars(20, size=12)
    ckn = _small(n_filters=(4, 8, 8), subsamplings=(1, 2, 2), sigmas=(0.5, 0.6, 0.7)).fit(X)
    assert ckn.n_layers_ == 3
    assert [layer.patch_size for layer in ckn.module_.ckn.layers] == [3, 3, 3]
    assert [layer.sigma for layer in ckn.module_.ckn.layers] == [0.5, 0.6, 0.7]
    with pytest.raises(ValueError, match="subsamplings has 2 values but the network has 3"):
        _small(n_filters=(4, 8, 8), subsamplings=(1, 2)).fit(X)


def _torch_free(obj):
    """True if ``obj`` holds only builtins and NumPy arrays (no torch object)."""
    if isinstance(obj, dict):
        return all(_torch_free(k) and _torch_free(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_torch_free(v) for v in obj)
    return isinstance(obj, (np.ndarray, np.generic, str, int, float, bool, type(None)))


def test_pickle_round_trip_keeps_numpy_state_and_predictions():
    X, _ = _bars(20)
    ckn = _small(device=torch.device("cpu")).fit(X)
    state = ckn.__getstate__()
    assert "module_" not in state and _torch_free(state)
    assert state["device"] == "cpu"
    clone = pickle.loads(pickle.dumps(ckn))
    assert next(clone.module_.buffers()).device.type == "cpu"
    np.testing.assert_array_equal(clone.transform(X), ckn.transform(X))
    assert clone.module_ is not ckn.module_ and clone.network_ is clone.module_
    for key, value in ckn.module_.state_dict().items():
        torch.testing.assert_close(clone.module_.state_dict()[key], value)


def test_skops_round_trip():
    sio = pytest.importorskip("skops.io")
    X, y = _bars(30)
    pipe = Pipeline([("ckn", _small(whitening="local")), ("svm", LinearSVC())]).fit(X, y)
    data = sio.dumps(pipe)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == ["sklearn_ckn.ckn._transformer.CKNTransformer"]
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    np.testing.assert_array_equal(loaded[0].transform(X), pipe[0].transform(X))


def test_device_object_and_array_parameters_are_accepted():
    X, _ = _bars(20)
    ckn = _small(device=torch.device("cpu"), n_filters=np.array([8, 16]),
                 sigmas=np.array([0.5, 0.7]), patch_sizes=np.int64(3)).fit(X)
    assert [layer.n_filters for layer in ckn.module_.ckn.layers] == [8, 16]
    assert [layer.sigma for layer in ckn.module_.ckn.layers] == [0.5, 0.7]
    np.testing.assert_allclose(ckn.transform(X), _small(sigmas=(0.5, 0.7)).fit_transform(X),
                               rtol=1e-5, atol=1e-6)


def test_n_jobs_sets_the_threads_of_fit_and_transform(monkeypatch):
    from sklearn_ckn.ckn import _transformer

    seen = []
    original = _transformer.CKNTransformer._forward

    def spy(self, images, raw=False):
        seen.append(torch.get_num_threads())
        return original(self, images, raw=raw)

    monkeypatch.setattr(_transformer.CKNTransformer, "_forward", spy)
    X, _ = _bars(12)
    before = torch.get_num_threads()
    ckn = _small(n_jobs=1).fit(X)
    ckn.transform(X)
    assert seen == [1, 1] and torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_jobs"):
        _small(n_jobs=0).fit(X)


@pytest.mark.parametrize("sigmas", [0.02, (0.02, 0.6)])
def test_too_small_sigma_is_refused_with_the_right_advice(sigmas):
    from sklearn.datasets import load_digits

    X = load_digits().images[:100]
    with pytest.raises(ValueError, match=r"sigmas=0.02 is too small for layer 1: .* Use sigmas >= 0\.\d+"):
        _small(sigmas=sigmas).fit(X)


SOME_ZEROS_SIGMA = 0.08  # on these digits: a fifth of layer 2's patches underflow


def test_a_bandwidth_that_zeroes_some_features_warns():
    from sklearn.datasets import load_digits

    X = load_digits().images[:100]
    with pytest.warns(UserWarning, match=r"sigmas=0.08 is too small for layer 2: for \d+\.\d% "):
        _small(sigmas=SOME_ZEROS_SIGMA).fit(X)


@pytest.mark.parametrize("sigma", [1e-25, 1e-4, float("inf"), float("nan")])
def test_bandwidths_out_of_range_are_refused(sigma):
    X, _ = _bars(12)
    with pytest.raises(ValueError, match="sigmas"):
        _small(sigmas=sigma).fit(X)


def test_set_output_pandas():
    X, _ = _bars(10)
    ckn = _small().set_output(transform="pandas").fit(X)
    out = ckn.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(ckn.get_feature_names_out())


def test_pipeline_cross_val_and_grid_search():
    X, y = _bars(80)
    pipe = Pipeline([("ckn", _small()), ("svm", LinearSVC())])
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.9
    grid = GridSearchCV(
        pipe, {"ckn__n_filters": [(4, 8), (8, 16)], "svm__C": [0.1, 1.0]}, cv=2, n_jobs=1
    ).fit(X, y)
    assert grid.best_score_ > 0.9


def test_verbose_reports_layers_and_progress(capsys):
    X, _ = _bars(10)
    _small(verbose=1).fit(X).transform(X)
    captured = capsys.readouterr()
    assert "[CKN] layer 1/2" in captured.out
    assert "CKN transform" in captured.err


@pytest.mark.parametrize(
    "X, params, match",
    [
        (np.full((4, 8, 8), np.nan), {}, "NaN or infinity"),
        (np.zeros((4, 8, 8, 3, 1)), {}, "got an array with 5 dimension"),
        (np.zeros(64), {}, "Reshape your data"),
        (np.ones((4, 2, 2)), {}, r"smaller than the first layer's 3x3 patches"),
        (np.ones((4, 64)), {"image_shape": (8, 4)}, r"image_shape=\(8, 4, 1\) means 32"),
        (np.ones((4, 8, 8)), {"image_shape": (8, 7)}, "does not match images of shape"),
        (np.zeros((0, 8, 8)), {}, "0 sample"),
        (np.array([[["a"] * 4] * 4] * 3), {}, "could not convert|numeric"),
        (np.ones((4, 8, 8), dtype=complex), {}, "[Cc]omplex"),
        (np.ones((4, 8, 8)), {"n_filters": (8, 5000), "n_patches": 6000}, "fewer than its 5000 filters"),
        (np.ones((4, 8, 8)), {"kernel": "rbf"}, "kernel"),
        (np.ones((4, 8, 8)), {"device": "tpu"}, "device must be"),
    ],
)
def test_bad_input_gets_a_clear_error(X, params, match):
    with pytest.raises(ValueError, match=match):
        _small(**params).fit(X)


def test_transform_checks_image_size():
    X, _ = _bars(10, size=10)
    ckn = _small().fit(X)
    with pytest.raises(ValueError, match=r"fitted on images of shape \(10, 10, 1\)"):
        ckn.transform(X[:, :8, :8])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_and_cpu_agree_and_gpu_model_loads_on_cpu():
    X, _ = _bars(40, channels=3)
    cpu = _small(device="cpu").fit(X)
    gpu = _small(device="cuda").fit(X)
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), rtol=1e-3, atol=1e-4)
    loaded = pickle.loads(pickle.dumps(gpu))
    assert next(loaded.module_.buffers()).device.type == "cpu"
    loaded.set_params(device="cpu")
    np.testing.assert_allclose(loaded.transform(X), cpu.transform(X), rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_mixed_precision_transform_is_close_to_float32():
    X, _ = _bars(40, channels=3)
    gpu = _small(device="cuda", whitening="local").fit(X)
    exact = gpu.transform(X)
    mixed = gpu.set_params(mixed_precision=True).transform(X)
    assert mixed.dtype == np.float32 and np.isfinite(mixed).all()
    assert np.linalg.norm(mixed - exact) / np.linalg.norm(exact) < 0.2


def test_whitening_reg_controls_the_zca_map():
    X, _ = _bars(20, channels=3)
    weak = _small(whitening_reg=0.0).fit(X)
    strong = _small(whitening_reg=10.0).fit(X)
    assert np.isfinite(weak.transform(X)).all()
    w_weak = weak.module_.ckn.layers[0].white_weight.norm().item()
    w_strong = strong.module_.ckn.layers[0].white_weight.norm().item()
    assert w_weak > w_strong  # less regularised whitening amplifies more


def test_local_whitening_is_the_per_image_preprocessing_then_plain_layers():
    from sklearn_ckn.core.local_whitening import whiten_images_locally

    X, _ = _bars(channels=3)
    local = _small(whitening="local").fit(X)
    assert not local.module_.ckn.layers[0].whitening  # no fitted ZCA on top
    pre = whiten_images_locally(torch.as_tensor(X, dtype=torch.float32).permute(0, 3, 1, 2))
    X_pre = pre.permute(0, 2, 3, 1).numpy()
    plain = _small(whitening=False).fit(X_pre)
    np.testing.assert_allclose(local.transform(X), plain.transform(X_pre), rtol=1e-4, atol=1e-5)
    restored = pickle.loads(pickle.dumps(local))
    np.testing.assert_allclose(restored.transform(X), local.transform(X), rtol=1e-6, atol=1e-7)


def test_faint_training_images_do_not_overflow_bright_ones():
    # A ZCA whitening fitted on faint colour images (pixels ~1e-8) multiplies patches
    # by ~1e8: the squares of bright images' whitened patches (pixels ~1e11) overflow
    # float32. Their norms are then summed in float64, not turned into inf / NaN.
    X = np.random.default_rng(0).random((6, 4, 4, 3)).astype(np.float32) * 1e-7
    ckn = _small(n_filters=(4,), subsamplings=(2,), normalize=None).fit(X)
    assert ckn.module_.ckn.layers[0].whitening
    bright = ckn.transform(X * 1e18)
    assert np.isfinite(bright).all() and np.abs(bright).max() > 0
    # The same network in float64 (no overflow) as the reference.
    import copy

    reference = copy.deepcopy(ckn.module_).double()
    with torch.no_grad():
        x = torch.as_tensor(X * 1e18, dtype=torch.float64).permute(0, 3, 1, 2)
        expected = reference(x).numpy()
    np.testing.assert_allclose(bright, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


# -- issue 28: silent wrong results ----------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sklearn_ckn.core.output import MIN_POWER  # noqa: E402
from sklearn_ckn.core.unsupervised import TooFewPatchesError  # noqa: E402


@pytest.mark.parametrize("normalize", ["standard", "l2-standard"])
@pytest.mark.parametrize("n", [3, 257, 300])
def test_fitted_on_identical_images_gives_bounded_features(normalize, n):
    X, _ = _bars(20)
    same = np.repeat(X[:1], n, axis=0)
    ckn = _small(n_filters=(8,), normalize=normalize, batch_size=128).fit(same)
    assert ckn.normalize_scale_.min() > 1e-3 * np.abs(ckn.normalize_shift_).max()
    F = ckn.transform(X)
    assert np.isfinite(F).all() and np.abs(F).max() < 100


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(power=st.floats(MIN_POWER, 1.0), seed=st.integers(0, 100))
def test_every_accepted_power_gives_informative_features(power, seed):
    # power=1e-9 rounded every feature to +-1: all-zero standardised features.
    X, _ = _bars(16, seed=seed)
    F = _small(n_filters=(8,), power=power).fit(X).transform(X)
    assert np.isfinite(F).all()
    assert (F.std(0) > 1e-3).mean() > 0.5


@pytest.mark.parametrize("power", [1e-9, 0.005, 0.0, 1.5])
def test_powers_that_round_features_away_are_refused(power):
    X, _ = _bars(10)
    with pytest.raises(ValueError, match=r"power.*\[0\.01, 1\.0\]"):
        _small(power=power).fit(X)


def test_set_params_after_fit_changes_nothing_until_refit():
    X, _ = _bars(20)
    ckn = _small(n_filters=(8,), power=0.5).fit(X)
    expected = ckn.transform(X)
    for bad in ({"power": 5}, {"power": 0.3}, {"normalize": None}, {"n_filters": 10**9}):
        ckn.set_params(**bad)
        np.testing.assert_array_equal(ckn.transform(X), expected)  # the fitted state only
    with pytest.raises(ValueError, match="n_filters"):
        ckn.fit(X)
    ckn.set_params(n_filters=(8,), power=5)
    with pytest.raises(ValueError, match="power"):
        ckn.fit(X)


@pytest.mark.parametrize("scale", [1e-25, 1e-30])
def test_faint_images_are_named_as_the_cause(scale):
    X, _ = _bars(20)
    with pytest.raises(TooFewPatchesError, match="underflow in float32.*Rescale the images") as info:
        _small(n_filters=(8,)).fit(X.astype(np.float64) * scale)
    assert "fewer n_filters" not in str(info.value)


def test_blank_images_are_named_as_the_cause():
    with pytest.raises(TooFewPatchesError, match="every patch drawn is zero.*blank") as info:
        _small(n_filters=(8,)).fit(np.zeros((10, 8, 8), dtype=np.float32))
    assert "fewer n_filters" not in str(info.value)


@pytest.mark.parametrize("params,name", [
    ({"n_filters": (10**9,)}, r"n_filters=\(1000000000,\)"),
    ({"n_filters": (8, 10**6)}, r"n_filters=\(8, 1000000\)"),
    ({"subsamplings": (10**10,)}, r"subsamplings=\(10000000000, 10000000000\)"),
    ({"patch_sizes": (9,), "n_filters": (10**7,)}, r"patch_sizes=\(9,\)"),
])
def test_networks_too_large_for_memory_are_refused_before_allocating(params, name):
    X, _ = _bars(10)
    with pytest.raises(ValueError, match=rf"would need about [\d,.]+ GiB of memory.*{name}"):
        _small(**params).fit(X)


@settings(max_examples=5, deadline=None, derandomize=True, database=None)
@given(exponent=st.integers(-15, 11))
def test_features_do_not_depend_on_the_pixel_scale(exponent):
    # No absolute threshold anywhere between the pixels and the features: images at
    # scale 1e-6 (or 1e10) get the features of the same images at scale 1.
    X, _ = _bars(20)
    expected = _small(n_filters=(8,)).fit_transform(X)
    got = _small(n_filters=(8,)).fit_transform(X.astype(np.float64) * 10.0**exponent)
    np.testing.assert_allclose(got, expected, atol=2e-3 * np.abs(expected).max())
