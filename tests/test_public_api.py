"""The public API: what ``__all__`` promises is there, and modules keep to it.

* every name in ``__all__`` of ``sklearn_ckn``, of its subpackages and of the public
  modules of ``sklearn_ckn.core`` is importable, and the subpackages are reachable as
  attributes of ``sklearn_ckn``;
* no module imports a private module (or a private name) of another subpackage,
  except the shared private helpers below, and the scripts of ``examples/`` and
  ``benchmarks/`` import public names only (``sklearn_ckn.__main__``, the command
  line, is public: a dunder name is not a private one);
* every public estimator's HTML repr links to its page of the API reference.
"""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator

import sklearn_ckn

PACKAGE = Path(sklearn_ckn.__file__).resolve().parent
SUBPACKAGES = ["ckn", "cnn", "compare", "core", "datasets", "explain", "svm"]
# Private top-level modules that every subpackage may use.
SHARED_PRIVATE = {"_images", "_device", "_progress", "_threads", "_compat", "_display", "_dask",
                  "_docstrings",  # texts that several docstrings share (fill_doc)
                  "_batches", "_torch_estimator", "_torch_module", "_explainable"}  # the last
# four: ImageBatches, the TorchImageClassifier base (CNN and supervised CKN), the
# pickling of every torch estimator's module_ and what an estimator hands to explain/
# (importer, private module) pairs allowed across subpackages: the package's docstring
# texts use core's fill_doc (one rule; core may import nothing outside itself).
ALLOWED_PRIVATE = {("sklearn_ckn._docstrings", "sklearn_ckn.core._docstrings")}
# Scripts outside the package: they may import public names of sklearn_ckn only.
SCRIPTS = ["examples", "benchmarks"]


def public_modules():
    names = ["sklearn_ckn"]
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"sklearn_ckn.{sub}")
        names.append(module.__name__)
        names += [f"{module.__name__}.{m.name}" for m in pkgutil.iter_modules(module.__path__)
                  if not m.name.startswith("_")]
    return names


@pytest.mark.parametrize("module_name", public_modules())
def test_all_names_importable(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if module_name == "sklearn_ckn.core":
        assert names is None or isinstance(names, list)
        return
    assert names, f"{module_name} has no __all__"
    assert len(set(names)) == len(names), f"duplicates in {module_name}.__all__"
    for name in names:
        assert not name.startswith("_") or name == "__version__", name
        assert getattr(module, name) is not None, f"{module_name}.{name}"
        exec(f"from {module_name} import {name}", {})  # the import statement works too


def test_subpackages_are_attributes():
    for sub in SUBPACKAGES:
        assert getattr(sklearn_ckn, sub) is importlib.import_module(f"sklearn_ckn.{sub}")
        assert sub in dir(sklearn_ckn)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        sklearn_ckn.not_a_name  # noqa: B018


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(module_name):
    path = PACKAGE.parent.joinpath(*module_name.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def _imports(source, module_name, is_package):
    """``(absolute module, imported names)`` of every import in ``source``."""
    package = module_name if is_package else module_name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            if node.level and not node.module:  # "from . import x": modules or names
                modules = [n for n in names if _is_module(f"{base}.{n}")]
                for n in modules:
                    yield f"{base}.{n}", []
                names = [n for n in names if n not in modules]
            yield base, names


def _private(part):
    """``_name`` is private; ``__main__`` (a dunder name) is not."""
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _subpackage(module_name):
    """``"ckn"`` for ``sklearn_ckn.ckn._transformer``; ``""`` for top-level modules;
    ``None`` for modules outside the package (scripts)."""
    parts = module_name.split(".")
    if parts[0] != "sklearn_ckn":
        return None
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return ""


def _violations(modules):
    """Cross-subpackage private imports in ``modules``: ``(name, is_package, source)``."""
    found = []
    for importer, is_package, source in modules:
        for target, names in _imports(source, importer, is_package):
            if target != "sklearn_ckn" and not target.startswith("sklearn_ckn."):
                continue
            inside = _subpackage(importer) is not None
            same = _subpackage(target) == _subpackage(importer)
            parts = target.split(".")[1:]
            shared = inside and len(parts) == 1 and parts[0] in SHARED_PRIVATE
            shared = shared or (importer, target) in ALLOWED_PRIVATE
            if not same and not shared and any(map(_private, parts)):
                found.append(f"{importer} imports the private module {target}")
            if not same:
                found += [f"{importer} imports the private name {target}.{n}"
                          for n in names if _private(n)]
    return found


def package_modules():
    return [(_module_name(path), path.name == "__init__.py", path.read_text(encoding="utf-8"))
            for path in sorted(PACKAGE.rglob("*.py"))]


def script_modules():
    root = PACKAGE.parent
    return [(f"{folder}.{path.stem}", False, path.read_text(encoding="utf-8"))
            for folder in SCRIPTS for path in sorted((root / folder).glob("*.py"))]


def test_no_private_imports_across_subpackages():
    found = _violations(package_modules())
    assert found == [], "import the public names instead:\n" + "\n".join(found)


def test_scripts_import_public_names_only():
    assert len(script_modules()) > 10  # the examples and the benchmarks are found
    found = _violations(script_modules())
    assert found == [], "import the public names instead:\n" + "\n".join(found)


def test_private_import_check_finds_violations():
    bad = [
        ("sklearn_ckn.explain._grad_cam", False, "from ..ckn._transformer import CKNTransformer"),
        ("sklearn_ckn.explain._grad_cam", False, "from ..ckn import _helper"),
        ("sklearn_ckn.compare", True, "from sklearn_ckn._models import make_model"),
        ("sklearn_ckn.compare._data", False, "from ..datasets._base import get_data_home"),
        ("sklearn_ckn.compare._config", False, "from .. import _models"),
        ("sklearn_ckn.explain._plotting", False, "from .._images import _check_finite"),
        ("sklearn_ckn.explain._plotting", False, "from ..compare._plotting import x"),
        ("benchmarks.bench_x", False, "from sklearn_ckn._device import resolve_device"),
        ("benchmarks.bench_x", False, "from sklearn_ckn.svm._linear import linear_steps"),
        ("examples.plot_x", False, "import sklearn_ckn.compare._run"),
        ("examples.plot_x", False, "from sklearn_ckn.compare import _run"),
        ("examples.plot_x", False, "from sklearn_ckn.__main__ import _literal"),
    ]
    assert len(_violations(bad)) == len(bad)
    good = [
        ("sklearn_ckn.explain._grad_cam", False, "from ._adapters import _unwrap"),
        ("sklearn_ckn.explain._grad_cam", False, "from .._compat import fit_context"),
        ("sklearn_ckn.ckn._transformer", False, "from ..core.layers import CKNLayer"),
        ("sklearn_ckn._models", False, "from ._baselines import KernelSVC"),
        ("sklearn_ckn.ckn", True, "from ._transformer import CKNTransformer"),
        ("sklearn_ckn.compare", True, "from .. import make_model"),
        ("sklearn_ckn.compare._run", False, "from .. import __version__"),
        ("sklearn_ckn.__main__", False, "from .compare import ParameterError"),
        ("examples.plot_x", False, "from sklearn_ckn.__main__ import main"),
        ("benchmarks.bench_x", False, "from _common import write_result"),
        ("benchmarks.bench_x", False, "from sklearn_ckn.datasets import load_dataset"),
    ]
    assert _violations(good) == []


def public_estimators():
    seen = {}
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                seen.setdefault(obj, f"{module_name}.{name}")
    return sorted(seen.items(), key=lambda item: item[1])


def _api_page(cls):
    """The page name docs/conf.py gives the class: its public (sub)package + name."""
    public = ".".join(p for p in cls.__module__.split(".") if not p.startswith("_"))
    return f"{public}.{cls.__name__}"


@pytest.mark.parametrize("cls", [c for c, _ in public_estimators()], ids=lambda c: c.__name__)
def test_html_repr_links_to_api_page(cls):
    estimator = cls()
    link = estimator._get_doc_link()
    assert link.endswith(f"/generated/{_api_page(cls)}.html"), link
    assert link.startswith("https://")
    assert f'href="{link}"' in estimator._repr_html_()
    module = importlib.import_module(_api_page(cls).rpartition(".")[0])
    assert getattr(module, cls.__name__) is cls  # the page documents a public name
