"""The Grad-CAM example runs end to end on a tiny fake CIFAR-10 (official layout)."""

import pickle
import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plot_cifar10_grad_cam.py"
NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
         b"dog", b"frog", b"horse", b"ship", b"truck"]  # fmt: skip


def write_cifar10(data_home, n=10, seed=0):
    """A ``cifar-10-batches-py/`` folder with ``n`` images per batch, labels 0..9 in turn."""
    rng = np.random.default_rng(seed)
    folder = data_home / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": (np.arange(n) % 10).tolist(),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"num_cases_per_batch": n, b"label_names": NAMES, b"num_vis": 3072})
    )


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch, tmp_path):
    import urllib.request

    def no_network(url, *args, **kwargs):
        raise AssertionError(f"a test tried to reach the network: {url}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("SKLEARN_CKN_DATA", str(tmp_path / "default_home"))


def test_example_on_tiny_cifar10(tmp_path, capsys):
    home = tmp_path / "data"
    write_cifar10(home)
    out = tmp_path / "out"
    main = runpy.run_path(str(EXAMPLE))["main"]
    result = main(["--data-home", str(home), "--n-train", "40", "--n-test", "0",
                   "--n-show", "4", "--quick", "--device", "cpu", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "CLASS" in printed and "CNN Acc" in printed and "CKN Acc" in printed
    assert "airplane" in printed and "Difference" in printed
    for name in ("grad_cam_cifar10.png", "filters_cnn.png", "filters_ckn.png"):
        assert (out / name).stat().st_size > 0
    assert list(result["per_class"]["class"])[:2] == ["airplane", "automobile"]
    assert set(result["files"]) == {"grad_cam", "filters_cnn", "filters_ckn"}
