"""Per-class tables and figures of sklearn_ckn.compare (_per_class, _confusion, _misclassified)."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from sklearn_ckn.compare import (
    format_per_class_table,
    per_class_accuracy,
    plot_confusion_matrices,
    plot_misclassified,
)

# Hand-made: 3 classes, 4 + 2 + 4 test images.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
CNN = np.array([0, 0, 0, 1, 1, 0, 2, 2, 0, 0])  # 3/4, 1/2, 2/4
CKN = np.array([0, 0, 0, 0, 1, 1, 2, 1, 2, 2])  # 4/4, 2/2, 3/4
KNN = np.array([1, 1, 0, 0, 1, 1, 2, 2, 2, 2])  # 2/4, 2/2, 4/4
NAMES = ["cat", "dog", "frog"]


def visible_axes(fig):
    """Panels that show something (image axes are drawn without their frame)."""
    return [ax for ax in fig.axes if ax.images]


def test_per_class_accuracy_and_difference():
    table = per_class_accuracy(Y_TRUE, {"cnn": CNN, "ckn": CKN, "knn": KNN}, target_names=NAMES)
    assert list(table.columns) == ["class", "support", "cnn", "ckn", "knn", "ckn_minus_cnn"]
    assert list(table["class"]) == NAMES
    assert list(table["support"]) == [4, 2, 4]
    np.testing.assert_allclose(table["cnn"], [0.75, 0.5, 0.5])
    np.testing.assert_allclose(table["ckn"], [1.0, 1.0, 0.75])
    np.testing.assert_allclose(table["knn"], [0.5, 1.0, 1.0])
    np.testing.assert_allclose(table["ckn_minus_cnn"], [0.25, 0.5, 0.25])


def test_per_class_accuracy_without_both_models_and_labels():
    table = per_class_accuracy(Y_TRUE, {"ckn": CKN, "knn": KNN})
    assert "ckn_minus_cnn" not in table.columns
    assert list(table["class"]) == ["0", "1", "2"]
    # a class absent from the test set: support 0, accuracy NaN
    table = per_class_accuracy(Y_TRUE, {"ckn": CKN}, labels=[0, 1, 2, 3])
    assert table["support"].iloc[3] == 0 and np.isnan(table["ckn"].iloc[3])
    # string labels
    table = per_class_accuracy(np.array(["a", "b", "b"]), {"knn": np.array(["a", "a", "b"])})
    assert list(table["class"]) == ["a", "b"]
    np.testing.assert_allclose(table["knn"], [1.0, 0.5])


def test_per_class_accuracy_errors():
    with pytest.raises(ValueError, match="shape"):
        per_class_accuracy(Y_TRUE, {"ckn": CKN[:3]})
    with pytest.raises(ValueError, match="non-empty dict"):
        per_class_accuracy(Y_TRUE, {})


def test_format_per_class_table():
    table = per_class_accuracy(Y_TRUE, {"cnn": CNN, "ckn": CKN}, target_names=NAMES)
    lines = format_per_class_table(table).splitlines()
    assert lines[0].split() == ["CLASS", "CNN", "Acc", "CKN", "Acc", "Difference"]
    assert lines[1].split() == ["cat", "75.00", "100.00", "+25.00"]
    assert lines[2].split() == ["dog", "50.00", "100.00", "+50.00"]
    assert lines[3].split() == ["frog", "50.00", "75.00", "+25.00"]
    # ALL: the accuracies, 6/10 and 9/10
    assert lines[4].split() == ["ALL", "60.00", "90.00", "+30.00"]
    with pytest.raises(ValueError, match="no column 'cnn'"):
        format_per_class_table(per_class_accuracy(Y_TRUE, {"ckn": CKN}))


def test_confusion_matrices_figure(tmp_path):
    preds = {"cnn": CNN, "ckn": CKN, "knn": KNN, "naive_bayes": CNN}
    fig = plot_confusion_matrices(Y_TRUE, preds, target_names=NAMES)
    assert isinstance(fig, Figure)
    panels = visible_axes(fig)
    assert len(panels) == 4
    assert panels[1].get_title().startswith("ckn (accuracy 0.900)")
    assert [t.get_text() for t in panels[0].get_xticklabels()] == NAMES
    # counts written in the cells: CKN's frog row has 3 correct and 1 "dog"
    texts = {t.get_text() for t in panels[1].texts}
    assert {"4", "2", "3", "1"} <= texts
    fig.savefig(tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 0
    fig = plot_confusion_matrices(Y_TRUE, {"ckn": CKN}, normalize="true")
    assert len(visible_axes(fig)) == 1 and "0.75" in {t.get_text() for t in fig.axes[0].texts}


def test_misclassified_grid_titles():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, 8, 8), dtype=np.uint8)
    fig = plot_misclassified(images, Y_TRUE, CNN, target_names=NAMES, title="cnn")
    assert isinstance(fig, Figure)
    wrong = np.flatnonzero(Y_TRUE != CNN)
    titles = [ax.get_title() for ax in visible_axes(fig)]
    assert len(titles) == len(wrong) == 4
    assert titles[0] == f"Pred: {NAMES[CNN[wrong[0]]]} / True: {NAMES[Y_TRUE[wrong[0]]]}"
    assert titles == [f"Pred: {NAMES[CNN[i]]} / True: {NAMES[Y_TRUE[i]]}" for i in wrong]
    assert "4 misclassified of 10" in fig._suptitle.get_text()


def test_misclassified_limits_layouts_and_no_errors():
    rng = np.random.default_rng(0)
    y_true = np.zeros(50, dtype=int)
    y_pred = np.ones(50, dtype=int)
    colour = rng.integers(0, 256, size=(50, 6, 6, 3), dtype=np.uint8)
    fig = plot_misclassified(colour, y_true, y_pred, n_examples=7, ncols=4, random_state=0)
    assert len(visible_axes(fig)) == 7
    assert visible_axes(fig)[0].get_title() == "Pred: 1 / True: 0"
    flat = rng.normal(size=(50, 12))  # 2-D float rows with image_shape
    fig = plot_misclassified(flat, y_true, y_pred, n_examples=3, image_shape=(3, 4))
    assert visible_axes(fig)[0].images[0].get_array().shape == (3, 4)
    fig = plot_misclassified(colour[:5], y_true[:5], y_true[:5], title="perfect")
    assert isinstance(fig, Figure)
    assert "0 misclassified of 5" in fig._suptitle.get_text()


# ------------------------------------------------------------ Jupyter and ax= (issue 14)
PNG = b"\x89PNG\r\n\x1a\n"


def test_new_figures_render_as_png_in_jupyter():
    from sklearn_ckn.compare import ConfusionMatricesDisplay, MisclassifiedDisplay

    fig = plot_confusion_matrices(Y_TRUE, {"ckn": CKN})
    assert fig._repr_png_().startswith(PNG)  # a cell's last value shows the image
    images = np.zeros((10, 8, 8), dtype=np.uint8)
    fig = plot_misclassified(images, Y_TRUE, CNN)
    assert fig._repr_png_().startswith(PNG)
    disp = ConfusionMatricesDisplay.from_predictions(Y_TRUE, {"ckn": CKN, "cnn": CNN})
    assert disp._repr_png_().startswith(PNG) and len(disp.axes_) == 2
    disp = MisclassifiedDisplay.from_predictions(images, Y_TRUE, CNN, target_names=NAMES)
    assert disp._repr_png_().startswith(PNG) and len(disp.axes_) == 4


def test_given_axes_are_used_and_checked(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sklearn_ckn.compare import ConfusionMatricesDisplay

    mine = Figure()
    FigureCanvasAgg(mine)
    axes = mine.subplots(1, 3)
    fig = plot_confusion_matrices(Y_TRUE, {"cnn": CNN, "ckn": CKN}, ax=axes[:2])
    assert fig is mine
    assert axes[1].get_title().startswith("ckn") and axes[1].images
    assert not axes[2].images  # left alone
    disp = ConfusionMatricesDisplay.from_predictions(Y_TRUE, {"knn": KNN}, ax=axes[2])
    assert disp.figure_ is mine and disp.axes_[0] is axes[2] and axes[2].images
    with pytest.raises(ValueError, match="ax must be 2 matplotlib Axes"):
        plot_confusion_matrices(Y_TRUE, {"cnn": CNN, "ckn": CKN}, ax=axes[0])
    grid = mine.subplots(2, 2)
    images = np.zeros((10, 8, 8), dtype=np.uint8)
    fig = plot_misclassified(images, Y_TRUE, CNN, ax=grid)
    assert fig is mine and grid[1, 1].get_title().startswith("Pred:")
    with pytest.raises(ValueError, match="ax must be 4 matplotlib Axes"):
        plot_misclassified(images, Y_TRUE, CNN, ax=grid[0])
    mine.savefig(tmp_path / "mine.png")


def test_display_savefig_and_replot():
    from sklearn_ckn.compare import ConfusionMatricesDisplay

    disp = ConfusionMatricesDisplay.from_predictions(Y_TRUE, {"ckn": CKN}, target_names=NAMES)
    first = disp.figure_
    disp.plot(cmap="Greens")
    assert disp.figure_ is not first
    assert [t.get_text() for t in disp.axes_[0].get_xticklabels()] == NAMES
    with pytest.raises(ValueError, match="Nothing is plotted"):
        ConfusionMatricesDisplay({}).savefig("unused.png")


def test_compare_modules_stay_small():
    # Issue 27: one idea per module (the former _plotting.py had 642 lines).
    from pathlib import Path

    import sklearn_ckn.compare

    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in Path(sklearn_ckn.compare.__file__).parent.glob("*.py")}
    assert "_plotting.py" not in sizes and len(sizes) >= 10
    assert max(sizes.values()) <= 600, sizes
