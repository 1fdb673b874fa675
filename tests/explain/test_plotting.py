"""Figures: heat-map grids and first-layer filters, as Display objects."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sklearn_ckn import CKNTransformer, CNNClassifier
from sklearn_ckn.explain import (
    FiltersDisplay,
    GradCAMDisplay,
    grad_cam,
    plot_filters,
    plot_grad_cam,
)

NAMES = ["cross", "plus"]
PNG = b"\x89PNG\r\n\x1a\n"


def _titles(axes):
    return [ax.get_title() for ax in np.ravel(axes)]


def test_grad_cam_grid_of_two_models(cnn_model, ckn_model, task_test, tmp_path):
    X, y, _ = task_test
    X, y = X[:4], y[:4]
    disp = plot_grad_cam([cnn_model, ckn_model], X, y_true=y, target_names=NAMES)
    assert isinstance(disp, GradCAMDisplay)
    assert disp.axes_.shape == (4, 3) and len(disp.figure_.axes) == 12
    titles = _titles(disp.axes_)
    pred_cnn, pred_ckn = cnn_model.predict(X), ckn_model.predict(X)
    for i in range(4):
        assert titles[3 * i] == f"Original: {NAMES[y[i]]}"
        assert titles[3 * i + 1] == f"LayerCAM (CNN): {NAMES[pred_cnn[i]]}"
        assert titles[3 * i + 2] == f"LayerCAM (CKN): {NAMES[pred_ckn[i]]}"
    # The overlay is the map of the default method, in the jet colour map.
    overlay = disp.axes_[0, 2].get_images()[1]
    np.testing.assert_allclose(overlay.get_array(), grad_cam(ckn_model, X[:1])[0], atol=1e-5)
    assert overlay.get_cmap().name == "jet" and overlay.get_alpha() == 0.5
    np.testing.assert_array_equal(disp.maps[1], grad_cam(ckn_model, X))
    disp.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes().startswith(PNG)


def test_grad_cam_grid_options(cnn_model, ckn_model, task_test):
    X = task_test[0]
    disp = plot_grad_cam(cnn_model, X[:2])  # one model, no labels
    assert _titles(disp.axes_)[:2] == ["Original", f"LayerCAM: {cnn_model.predict(X[:1])[0]}"]
    disp = plot_grad_cam({"net": cnn_model, "kernel": ckn_model}, X[:2], alpha=0.3,
                         layer=["features.stem", 0], method=["gradcam", "hirescam"],
                         title="Two models")
    assert _titles(disp.axes_)[1].startswith("Grad-CAM (net): ")
    assert _titles(disp.axes_)[2].startswith("HiResCAM (kernel): ")
    np.testing.assert_array_equal(
        disp.maps[1], grad_cam(ckn_model, X[:2], layer=0, method="hirescam"))
    assert disp.axes_[0, 1].get_images()[1].get_alpha() == 0.3
    assert disp.figure_._suptitle.get_text() == "Two models"
    disp = plot_grad_cam([ckn_model, ckn_model], X[:1], model_names=["a", "b"])
    assert _titles(disp.axes_)[1:] == [
        f"LayerCAM ({m}): {ckn_model.predict(X[:1])[0]}" for m in "ab"]
    disp = plot_grad_cam([ckn_model, ckn_model], X[:1])
    assert [t.split(":")[0] for t in _titles(disp.axes_)[1:]] == [
        "LayerCAM (CKN 1)", "LayerCAM (CKN 2)"]
    # Wrong predictions get a red title.
    disp = plot_grad_cam(cnn_model, X[:2], y_true=1 - cnn_model.predict(X[:2]))
    assert disp.axes_[0, 1].title.get_color() == "tab:red"


def test_grad_cam_on_given_axes(cnn_model, ckn_model, task_test):
    X = task_test[0]
    fig, axes = plt.subplots(2, 3)
    disp = plot_grad_cam([cnn_model, ckn_model], X[:2], ax=axes)
    assert disp.figure_ is fig and disp.axes_[1, 2] is axes[1, 2]
    assert len(axes[1, 2].get_images()) == 2
    # Without the originals, one image and one model make one panel: a single Axes.
    fig, (left, right) = plt.subplots(1, 2)
    disp = plot_grad_cam(ckn_model, X[:1], ax=right, show_original=False)
    assert disp.axes_[0, 0] is right and not left.get_images()
    with pytest.raises(ValueError, match="4 matplotlib Axes"):
        plot_grad_cam(ckn_model, X[:2], ax=axes)


def test_display_renders_once_in_jupyter(ckn_model, task_test):
    X = task_test[0]
    disp = plot_grad_cam(ckn_model, X[:2])
    # A pyplot figure: plt.show() (and Jupyter's inline backend) would show it.
    assert disp.figure_.number in plt.get_fignums()
    png = disp._repr_png_()
    assert png.startswith(PNG)
    # Rendered as the cell's value, it is released from pyplot so that the inline
    # backend does not show it a second time; the figure itself is still usable.
    assert disp.figure_.number not in plt.get_fignums()
    assert disp._repr_png_().startswith(PNG)
    ipython = pytest.importorskip("IPython.core.formatters")
    assert ipython.PNGFormatter()(plot_filters(ckn_model)).startswith(PNG)
    assert "GradCAMDisplay(2 images" in repr(disp)


def test_grad_cam_grid_errors(cnn_model, task_test):
    X = task_test[0][:2]
    with pytest.raises(ValueError, match="model_names"):
        plot_grad_cam([cnn_model], X, model_names=["a", "b"])
    with pytest.raises(ValueError, match="alpha"):
        plot_grad_cam(cnn_model, X, alpha=2)
    with pytest.raises(ValueError, match="y_true"):
        plot_grad_cam(cnn_model, X, y_true=[0, 1, 1])
    with pytest.raises(ValueError, match="at least one"):
        plot_grad_cam([], X)
    with pytest.raises(ValueError, match="method must be one of"):
        plot_grad_cam(cnn_model, X, method="best")
    with pytest.raises(ValueError, match="method has 2 values"):
        plot_grad_cam(cnn_model, X, method=["gradcam", "hirescam"])


def test_colour_grid():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(24, 12, 12, 3), dtype=np.uint8)
    y = np.arange(24) % 3
    cnn = CNNClassifier("lenet5", epochs=1, device="cpu", random_state=0).fit(X, y)
    disp = plot_grad_cam(cnn, X[:2], y_true=y[:2], target_names=["a", "b", "c"])
    shown = disp.axes_[0, 0].get_images()[0].get_array()
    assert shown.shape == (12, 12, 3)
    np.testing.assert_allclose(shown, X[0] / 255.0)


def _panel(disp, k, ncols):
    """Filter ``k`` cut out of the mosaic (one-pixel gaps)."""
    kh, kw = disp.filters.shape[2:]
    r, c = divmod(k, ncols)
    return disp.mosaic_[r * (kh + 1):r * (kh + 1) + kh, c * (kw + 1):c * (kw + 1) + kw]


def test_filters_cnn(cnn_model, tmp_path):
    disp = plot_filters(cnn_model)
    assert isinstance(disp, FiltersDisplay)
    conv = cnn_model.network_.features.stem[0]
    n = conv.out_channels
    assert disp.filters.shape == (n, 1, 3, 3) and disp.n_total == n
    assert disp.mosaic_.shape == (4 * int(np.ceil(n / 8)) - 1, 4 * min(8, n) - 1)
    w = conv.weight[1, 0].detach().numpy()
    np.testing.assert_allclose(_panel(disp, 1, min(8, n)), (w - w.min()) / (w.max() - w.min()),
                               rtol=1e-6)
    assert np.array_equal(disp.ax_.get_images()[0].get_array(), disp.mosaic_)
    assert "features.stem.0" in disp.ax_.get_title()
    disp = plot_filters(cnn_model, n_filters=3, ncols=2)
    assert disp.filters.shape[0] == 3 and disp.mosaic_.shape == (7, 7)
    disp.savefig(tmp_path / "filters.png")
    assert (tmp_path / "filters.png").read_bytes().startswith(PNG)


def test_filters_on_given_axes(ckn_model):
    fig, (left, right) = plt.subplots(1, 2)
    disp = plot_filters(ckn_model, ax=right, title="anchors")
    assert disp.ax_ is right and disp.figure_ is fig and right.get_title() == "anchors"
    assert not left.get_images()


def test_filters_ckn_grey(ckn_model):
    disp = plot_filters(ckn_model, n_filters=5)
    assert disp.filters.shape == (5, 1, 3, 3)
    assert "pseudo-inverse" not in disp.ax_.get_title()
    anchor = ckn_model[0].module_.ckn.layers[0].anchors[0].detach().reshape(3, 3).numpy()
    np.testing.assert_allclose(_panel(disp, 0, 5), (anchor - anchor.min()) / np.ptp(anchor),
                               rtol=1e-5)
    # A bare transformer works too.
    assert plot_filters(ckn_model[0], n_filters=5).filters.shape[0] == 5


def test_filters_ckn_whitened_are_mapped_to_pixel_space():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(30, 10, 10, 3), dtype=np.uint8)
    ckn = CKNTransformer(n_filters=6, subsamplings=2, n_patches=1000, device="cpu",
                         random_state=0).fit(X)
    layer = ckn.module_.ckn.layers[0]
    assert layer.whitening
    disp = plot_filters(ckn)
    assert "pseudo-inverse of the whitening" in disp.ax_.get_title()
    assert disp.mosaic_.shape == (3, 6 * 4 - 1, 3)  # colour
    # Whitening the shown (pixel-space) patch gives back the anchor: A pinv(A) z = z.
    from sklearn_ckn.explain._filters import _ckn_first_layer_filters

    patches, _ = _ckn_first_layer_filters(ckn.module_.ckn)
    a = layer.white_weight.double().reshape(layer.patch_dim, -1)
    back = torch.from_numpy(patches.reshape(len(patches), -1)) @ a.T
    np.testing.assert_allclose(back.numpy(), layer.anchors.detach().double().numpy(), atol=1e-4)


def test_filters_errors(task, ckn_model):
    X, y, _ = task
    knn = make_pipeline(KNeighborsClassifier()).fit(X[:20].reshape(20, -1), y[:20])
    with pytest.raises(TypeError, match="plot_filters supports"):
        plot_filters(knn)
    with pytest.raises(TypeError, match="plot_filters supports"):
        plot_filters(LogisticRegression())
    with pytest.raises(ValueError, match="not fitted"):
        plot_filters(CNNClassifier())
    with pytest.raises(ValueError, match="n_filters"):
        plot_filters(ckn_model, n_filters=0)
    with pytest.raises(ValueError, match="1 matplotlib Axes"):
        plot_filters(ckn_model, ax=plt.subplots(1, 2)[1])


IPYTHON_SCRIPT = """
import numpy as np
from IPython.core.interactiveshell import InteractiveShell


class Shell(InteractiveShell):
    def enable_gui(self, gui=None):  # the inline backend needs no GUI event loop
        pass


shell = Shell.instance()
images = {"value": 0, "backend": 0}
shell.display_pub.publish = lambda data, *a, **k: images.__setitem__(
    "backend", images["backend"] + ("image/png" in data))
shell.displayhook.write_format_data = lambda data, *a, **k: images.__setitem__(
    "value", images["value"] + ("image/png" in data))
assert shell.run_cell("%matplotlib inline").success
assert shell.run_cell('''
import numpy as np
from sklearn_ckn.explain import FiltersDisplay
def plot_filters():  # what plot_filters returns, without fitting a model
    return FiltersDisplay(np.random.default_rng(0).random((6, 1, 3, 3)), 6, "filters").plot()
''').success
for cell in ("plot_filters()", "display = plot_filters()",
             "import matplotlib.pyplot as plt; plot_filters(); plt.show()"):
    images.update(value=0, backend=0)
    assert shell.run_cell(cell).success, cell
    print("RESULT", cell, "|", images["value"], images["backend"])
"""


def test_notebook_shows_each_figure_once():
    """In IPython with the inline backend, as in Jupyter: one image per figure."""
    pytest.importorskip("IPython")
    pytest.importorskip("matplotlib_inline")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", IPYTHON_SCRIPT], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    # (IPython writes its "Out[n]: " prompt on the same line before the print)
    shown = dict(line.split("RESULT ", 1)[1].rsplit(" | ", 1)
                 for line in out.stdout.splitlines() if "RESULT " in line)
    assert shown == {
        "plot_filters()": "1 0",                # the cell's value renders, once
        "display = plot_filters()": "0 1",      # the inline backend shows it
        "import matplotlib.pyplot as plt; plot_filters(); plt.show()": "0 1",
    }


def test_plot_filters_of_a_supervised_ckn():
    from sklearn_ckn import CKNClassifier, CKNTransformer
    from sklearn_ckn.explain import plot_filters

    rng = np.random.RandomState(0)
    X, y = rng.rand(30, 8, 8, 3).astype(np.float32), np.arange(30) % 2
    ckn = CKNTransformer(n_filters=(6, 8), n_patches=500)
    clf = CKNClassifier(ckn=ckn, epochs=1, device="cpu", random_state=0).fit(X, y)
    display = plot_filters(clf)
    assert display.description.startswith("Supervised CKN first layer")
    assert display.filters.shape[:2] == (6, 3)  # 6 trained anchors of 3x3x3 patches
    plt.close(display.figure_)
