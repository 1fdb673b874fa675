"""Figures: Grad-CAM grids and first-layer filters (Agg canvas, nothing shown)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklearn_ckn import CKNTransformer, CNNClassifier  # noqa: E402
from sklearn_ckn.explain import grad_cam, plot_filters, plot_grad_cam  # noqa: E402

NAMES = ["dark", "bright"]


def _titles(fig):
    return [ax.get_title() for ax in fig.axes]


def test_grad_cam_grid_of_two_models(cnn_squares, ckn_squares, squares_test, tmp_path):
    X, y, _ = squares_test
    X, y = X[:4], y[:4]
    fig = plot_grad_cam([cnn_squares, ckn_squares], X, y_true=y, target_names=NAMES)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * 3
    titles = _titles(fig)
    pred_cnn, pred_ckn = cnn_squares.predict(X), ckn_squares.predict(X)
    for i in range(4):
        assert titles[3 * i] == f"Original: {NAMES[y[i]]}"
        assert titles[3 * i + 1] == f"Grad-CAM (CNN): {NAMES[pred_cnn[i]]}"
        assert titles[3 * i + 2] == f"Grad-CAM (CKN): {NAMES[pred_ckn[i]]}"
    # The overlay is the Grad-CAM map, in the jet colour map.
    overlay = fig.axes[2].get_images()[1]
    np.testing.assert_allclose(overlay.get_array(), grad_cam(ckn_squares, X[:1])[0])
    assert overlay.get_cmap().name == "jet" and overlay.get_alpha() == 0.5
    fig.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_grad_cam_grid_options(cnn_squares, ckn_squares, squares_test):
    X, y, _ = squares_test
    fig = plot_grad_cam(cnn_squares, X[:2])  # one model, no labels
    assert _titles(fig)[0] == "Original"
    assert _titles(fig)[1] == f"Grad-CAM: {cnn_squares.predict(X[:1])[0]}"
    fig = plot_grad_cam({"net": cnn_squares, "kernel": ckn_squares}, X[:2], alpha=0.3,
                        layer=["features.stem", 0], title="Two models")
    assert _titles(fig)[1].startswith("Grad-CAM (net): ")
    assert _titles(fig)[2].startswith("Grad-CAM (kernel): ")
    assert fig.axes[1].get_images()[1].get_alpha() == 0.3
    assert fig._suptitle.get_text() == "Two models"
    fig = plot_grad_cam([ckn_squares, ckn_squares], X[:1], model_names=["a", "b"])
    assert _titles(fig)[1:] == [f"Grad-CAM ({m}): {ckn_squares.predict(X[:1])[0]}" for m in "ab"]
    fig = plot_grad_cam([ckn_squares, ckn_squares], X[:1])
    assert [t.split(":")[0] for t in _titles(fig)[1:]] == ["Grad-CAM (CKN 1)", "Grad-CAM (CKN 2)"]
    # Wrong predictions get a red title.
    fig = plot_grad_cam(cnn_squares, X[:2], y_true=1 - cnn_squares.predict(X[:2]))
    assert fig.axes[1].title.get_color() == "tab:red"


def test_grad_cam_grid_errors(cnn_squares, squares_test):
    X = squares_test[0][:2]
    with pytest.raises(ValueError, match="model_names"):
        plot_grad_cam([cnn_squares], X, model_names=["a", "b"])
    with pytest.raises(ValueError, match="alpha"):
        plot_grad_cam(cnn_squares, X, alpha=2)
    with pytest.raises(ValueError, match="y_true"):
        plot_grad_cam(cnn_squares, X, y_true=[0, 1, 1])
    with pytest.raises(ValueError, match="at least one"):
        plot_grad_cam([], X)


def test_colour_grid(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(24, 12, 12, 3), dtype=np.uint8)
    y = np.arange(24) % 3
    cnn = CNNClassifier("lenet5", epochs=1, device="cpu", random_state=0).fit(X, y)
    fig = plot_grad_cam(cnn, X[:2], y_true=y[:2], target_names=["a", "b", "c"])
    shown = fig.axes[0].get_images()[0].get_array()
    assert shown.shape == (12, 12, 3)
    np.testing.assert_allclose(shown, X[0] / 255.0)


def test_filters_cnn(cnn_squares, tmp_path):
    fig = plot_filters(cnn_squares)
    conv = cnn_squares.network_.features.stem[0]
    n = conv.out_channels
    assert len(fig.axes) == 8 * int(np.ceil(n / 8))
    assert sum(1 for ax in fig.axes if ax.get_images()) == n
    first = fig.axes[0].get_images()[0].get_array()
    w = conv.weight[0, 0].detach().numpy()
    np.testing.assert_allclose(first, (w - w.min()) / (w.max() - w.min()), rtol=1e-6)
    assert "features.stem.0" in fig._suptitle.get_text()
    fig = plot_filters(cnn_squares, n_filters=3, ncols=2)
    assert sum(1 for ax in fig.axes if ax.get_images()) == 3
    fig.savefig(tmp_path / "filters.png")


def test_filters_ckn_grey(ckn_squares):
    fig = plot_filters(ckn_squares, n_filters=5)
    assert sum(1 for ax in fig.axes if ax.get_images()) == 5
    assert "pseudo-inverse" not in fig._suptitle.get_text()
    anchor = ckn_squares[0].network_.layers[0].anchors[0].reshape(3, 3).numpy()
    np.testing.assert_allclose(fig.axes[0].get_images()[0].get_array(),
                               (anchor - anchor.min()) / np.ptp(anchor), rtol=1e-5)
    # A bare transformer works too.
    assert len(plot_filters(ckn_squares[0], n_filters=5).axes) == 5


def test_filters_ckn_whitened_are_mapped_to_pixel_space():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(30, 10, 10, 3), dtype=np.uint8)
    ckn = CKNTransformer(n_filters=6, subsamplings=2, n_patches=1000, device="cpu",
                         random_state=0).fit(X)
    layer = ckn.network_.layers[0]
    assert layer.whitening
    fig = plot_filters(ckn)
    assert "pseudo-inverse of the whitening" in fig._suptitle.get_text()
    assert fig.axes[0].get_images()[0].get_array().shape == (3, 3, 3)
    # Whitening the shown (pixel-space) patch gives back the anchor: A pinv(A) z = z.
    from sklearn_ckn.explain._plotting import _ckn_first_layer_filters

    patches, _ = _ckn_first_layer_filters(ckn)
    a = layer.white_weight.double().reshape(layer.patch_dim, -1)
    back = torch.from_numpy(patches.reshape(len(patches), -1)) @ a.T
    np.testing.assert_allclose(back.numpy(), layer.anchors.double().numpy(), atol=1e-4)


def test_filters_errors(squares, ckn_squares):
    X, y, _ = squares
    knn = make_pipeline(KNeighborsClassifier()).fit(X[:20].reshape(20, -1), y[:20])
    with pytest.raises(TypeError, match="plot_filters supports"):
        plot_filters(knn)
    with pytest.raises(TypeError, match="plot_filters supports"):
        plot_filters(LogisticRegression())
    with pytest.raises(ValueError, match="not fitted"):
        plot_filters(CNNClassifier())
    with pytest.raises(ValueError, match="n_filters"):
        plot_filters(ckn_squares, n_filters=0)
