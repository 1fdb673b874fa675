"""The scripts of examples/: what the gallery shows and runs.

Every ``plot_*.py`` but the CIFAR-10 Grad-CAM script (a command-line script, run by
tests/explain/test_example.py) is a page of the gallery, executed when the
documentation is built (``docs/conf.py``, in the order of
``docs/sphinxext/gallery_order.py``). The gallery runs them on the bundled digits: they
must need no file, no download and no command-line argument, and each must make a
figure (its thumbnail). The docs build runs them all; here the fast command-line
example runs in-process, the others are checked statically.
"""

import ast
import importlib.util
import runpy
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS_OUTSIDE_GALLERY = ["plot_cifar10_grad_cam.py"]

pytestmark = pytest.mark.usefixtures("hermetic")  # see tests/conftest.py


def gallery_order():
    spec = importlib.util.spec_from_file_location(
        "gallery_order", ROOT / "docs" / "sphinxext" / "gallery_order.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ORDER


GALLERY = gallery_order()


def test_every_example_is_in_the_gallery():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(GALLERY + SCRIPTS_OUTSIDE_GALLERY)


@pytest.mark.parametrize("name", GALLERY)
def test_example_is_a_self_contained_walkthrough(name):
    source = (EXAMPLES / name).read_text(encoding="utf-8")
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree)
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) == len(title), name
    assert len(title) <= 45, f"{name}: a short title (thumbnails clip long ones)"
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "argparse" not in imported and "sys" not in imported, name
    assert "../shared" not in source, name
    assert "# sphinx_gallery_thumbnail_number = " in source, name
    assert source.count("\n# %%") >= 3, f"{name}: notebook-style cells"


def test_command_line_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(EXAMPLES / "plot_digits_comparison.py"))
    assert namespace["status"] == 0
    printed = capsys.readouterr().out
    assert "Results on digits" in printed and "kernel_svm" in printed
    out = namespace["out"]
    assert {"results.csv", "per_class_accuracy.csv", "confusion_matrices.png"} <= {
        p.name for p in out.iterdir()}
