"""core/ is plain torch: no module of sklearn_ckn.core imports scikit-learn, the
package's helpers (progress bars, threads, image validation...) or anything of
sklearn_ckn outside core. Imports are read from the source with ``ast`` (those inside
functions too), so a lazy import does not slip through."""

import ast
import pathlib

import pytest

import sklearn_ckn.core

CORE = pathlib.Path(sklearn_ckn.core.__file__).parent
# Libraries the front ends use and core must not: scikit-learn, and the dependencies
# of the package's own helpers (tqdm bars, joblib workers, threadpoolctl limits).
FORBIDDEN = {"sklearn", "tqdm", "joblib", "threadpoolctl"}
# Modules of core that still import outside it, with what: each entry is an open
# issue. The test of such a module is an expected failure (strict: once the import is
# gone, the test passes and the entry must be removed).
KNOWN = {}


def violations(source, module="sklearn_ckn.core.example"):
    """The imports of ``source`` (a module of core) that leave core, as strings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve it against the module's package
                package = module.split(".")[: -node.level]
                names = [".".join(package + ([node.module] if node.module else []))]
            else:
                names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            outside = top == "sklearn_ckn" and not (name + ".").startswith("sklearn_ckn.core.")
            if top in FORBIDDEN or outside:
                found.append(f"line {node.lineno}: {name}")
    return found


def core_modules():
    return sorted(path.stem for path in CORE.glob("*.py") if path.stem != "__init__") + ["__init__"]


@pytest.mark.parametrize(
    "stem",
    [pytest.param(stem, marks=pytest.mark.xfail(strict=True, reason=f"imports {KNOWN[stem]}"))
     if stem in KNOWN else stem for stem in core_modules()],
)
def test_core_module_imports_nothing_outside_core(stem):
    module = "sklearn_ckn.core" if stem == "__init__" else f"sklearn_ckn.core.{stem}"
    if stem == "__init__":  # a package's relative imports resolve against itself
        module += ".__init__"
    found = violations((CORE / f"{stem}.py").read_text(), module)
    assert found == [], f"{module} imports outside core:\n" + "\n".join(found)


def test_the_checker_finds_imports_outside_core():
    bad = [
        "from .._progress import progress",
        "from ..svm import TorchLinearSVC",
        "import sklearn",
        "from sklearn.utils import check_array",
        "import sklearn_ckn._threads",
        "from sklearn_ckn import make_model",
        "from tqdm.auto import tqdm",
        "def f():\n    from joblib import cpu_count",
    ]
    for source in bad:
        assert violations(source), source
    good = [
        "import torch",
        "from torch.nn import functional as F",
        "import numpy as np",
        "import itertools",
        "from .row_chunks import RowChunks",
        "from . import kernels",
        "from sklearn_ckn.core.layers import CKNLayer",
    ]
    for source in good:
        assert violations(source) == [], source
    assert len(core_modules()) > 10  # the modules are found
