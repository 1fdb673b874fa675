"""The Grad-CAM example runs end to end on a tiny fake CIFAR-10 (official layout)."""

import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plot_cifar10_grad_cam.py"

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py


def test_example_on_tiny_cifar10(tmp_path, capsys, fake_datasets):
    home = tmp_path / "data"
    fake_datasets["cifar10"](home, n=10)
    out = tmp_path / "out"
    main = runpy.run_path(str(EXAMPLE))["main"]
    result = main(["--data-home", str(home), "--n-train", "40", "--n-test", "0",
                   "--n-show", "4", "--quick", "--device", "cpu", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "CLASS" in printed and "CNN Acc" in printed and "CKN Acc" in printed
    assert "airplane" in printed and "Difference" in printed
    for name in ("grad_cam_cifar10.png", "filters_cnn.png", "filters_ckn.png",
                 "filters_ckn_supervised.png"):
        assert (out / name).stat().st_size > 0
    assert list(result["per_class"]["class"])[:2] == ["airplane", "automobile"]
    assert set(result["files"]) == {"grad_cam", "filters_cnn", "filters_ckn",
                                    "filters_ckn_supervised"}
    # One row per class: the original, then the CNN, the CKN and the supervised CKN maps.
    axes = result["display"].axes_
    assert axes.shape == (4, 4)
    assert axes[0, 0].get_title() == "Original: airplane"
    assert axes[0, 1].get_title().startswith("LayerCAM (CNN): ")
    assert axes[0, 2].get_title().startswith("LayerCAM (CKN): ")
    assert axes[0, 3].get_title().startswith("LayerCAM (Supervised CKN): ")
