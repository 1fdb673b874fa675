"""Sphinx configuration of the sklearn-ckn documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. ``.ci/run`` builds it on every run.

* The API reference (``api.rst``) is generated here, at every build, from the
  ``__all__`` of ``sklearn_ckn`` and of its subpackages, so that it lists exactly
  the public API; each object gets a page from the numpydoc docstrings.
* The gallery is built from ``examples/`` by sphinx-gallery: every example runs at
  every build, on the bundled digits or tiny synthetic data (no download), each in
  well under a minute on 2 CPU cores (``sg_execution_times`` lists the times).
* Links to scikit-learn, NumPy, PyTorch and Python go through intersphinx, with
  inventories written from the installed packages (``sphinxext/local_inventories.py``:
  the build runs offline).
* The existing Markdown pages (``ckn.md``, ``cnn.md``, ...) are read with MyST.
"""

import importlib
import pkgutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the package itself, also when not installed
sys.path.insert(0, str(DOCS / "sphinxext"))

import sklearn_ckn  # noqa: E402
from local_inventories import write_inventories  # noqa: E402

# -- project -----------------------------------------------------------------------
project = "sklearn-ckn"
author = "sklearn-ckn developers"
copyright = "2026, sklearn-ckn developers"
release = sklearn_ckn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5", "auto_examples/*.pickle"]
templates_path = ["_templates"]

# -- HTML --------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-ckn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
}
html_static_path = []

# -- MyST (the Markdown pages) -----------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
# The Markdown pages link to files of the repository (benchmarks/results/*.json,
# ../README.md) that are not pages of the site: those links stay plain links.
suppress_warnings = ["myst.xref_missing", "config.cache"]

# -- intersphinx: scikit-learn, NumPy, PyTorch, Python -----------------------------
# The build runs offline (no inventory can be downloaded), so the inventories are
# written at every build from the installed packages (docs/sphinxext/local_inventories.py)
# with each project's published URL scheme: links go to the installed versions' pages.
intersphinx_mapping = write_inventories(Path(tempfile.mkdtemp(prefix="sklearn_ckn_inv_")))
intersphinx_disabled_reftypes = ["std:doc"]

# -- autodoc / autosummary / numpydoc ----------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Parameter types link to their pages ("ndarray", "Pipeline", "torch.device", ...).
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "memmap": "numpy.memmap",
    "np.memmap": "numpy.memmap",
    "DataFrame": "pandas.DataFrame",
    "pandas.DataFrame": "pandas.DataFrame",
    "Pipeline": "sklearn.pipeline.Pipeline",
    "BaseEstimator": "sklearn.base.BaseEstimator",
    "Bunch": "sklearn.utils.Bunch",
    "Figure": "matplotlib.figure.Figure",
    "Axes": "matplotlib.axes.Axes",
    "RandomState": "numpy.random.RandomState",
    "Tensor": "torch.Tensor",
    "torch.Tensor": "torch.Tensor",
    "nn.Module": "torch.nn.Module",
    "torch.nn.Module": "torch.nn.Module",
    "torch.device": "torch.device",
    "path-like": "os.PathLike",
}
numpydoc_xref_ignore = {"of", "or", "and", "default", "optional", "shape", "object",
                        "instance", "type", "a", "an", "the", "to", "with", "in", "n",
                        "n_samples", "n_features", "n_classes", "estimator", "function",
                        "mapping", "any", "fitted", "transformer", "classifier", "like"}
# Every class page lists its methods, inherited ones included (docs/_templates).
autosummary_context = {"toplevel": sorted(n for n in sklearn_ckn.__all__ if n != "__version__")}


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing ``set_*_request`` methods are generated on every
    # estimator class; their docstrings belong to (and link into) scikit-learn's docs.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    # The torch modules of sklearn_ckn.core inherit dozens of torch.nn.Module methods:
    # their page lists the module's own (forward, ...) and links to Module's page.
    if obj is not None and getattr(_TorchModule, name, None) is obj:
        return True
    # Fitted attributes computed by properties (``network_``, ``normalize_shift_``, ...)
    # are documented in the class's Attributes section, not a second time as members.
    if isinstance(obj, property) and name.endswith("_") and not name.startswith("_"):
        return True
    return skip


from torch.nn import Module as _TorchModule  # noqa: E402


# -- API reference, generated from __all__ -----------------------------------------
# Sections of the API page, in this order (each opens with the subpackage's docstring).
SUBPACKAGES = ["ckn", "cnn", "svm", "datasets", "explain", "compare", "core"]
# Shown for a subpackage without a docstring.
FALLBACK_SUMMARIES = {
    "core": "The CKN algorithm in plain PyTorch (no scikit-learn), one module per step: "
            "patches, kernels, whitening, spherical k-means, Nystrom maps, pooling, "
            "layers, the unsupervised fit and the linear SVM solver.",
}


def _public_names(module):
    return [name for name in getattr(module, "__all__", []) if not name.startswith("_")]


def _home(module, name):
    """Where the object ``module.name`` is documented: the public (sub)package whose
    name its defining module starts with, if that one exports it; else ``module``."""
    obj = getattr(module, name)
    defining = getattr(obj, "__module__", None) or module.__name__
    public = ".".join(p for p in defining.split(".") if not p.startswith("_"))
    try:
        if name in getattr(importlib.import_module(public), "__all__", []):
            return public
    except ImportError:
        pass
    return module.__name__


def _autosummary(module_name, names):
    lines = [f".. currentmodule:: {module_name}", "", ".. autosummary::",
             "   :toctree: generated/", "   :nosignatures:", ""]
    return lines + [f"   {name}" for name in names] + [""]


def write_api_reference():
    """Write ``api.rst``: one section per (sub)package, one page per public object.

    Every object is documented once, where it is defined: ``CKNTransformer`` as
    ``sklearn_ckn.ckn.CKNTransformer`` (also importable as ``sklearn_ckn.CKNTransformer``,
    which the top-level section says), the pages the estimators' HTML repr links to.
    """
    out = ["API reference", "=============", "",
           "Everything public is listed here: the names in ``__all__`` of",
           ":mod:`sklearn_ckn` and of its subpackages. Modules whose name starts with an",
           "underscore are private.", ""]
    top_level = [n for n in _public_names(sklearn_ckn) if n != "__version__"]
    own, reexported = [], []
    for name in top_level:
        home = _home(sklearn_ckn, name)
        (own if home == "sklearn_ckn" else reexported).append((name, home))
    out += [":mod:`sklearn_ckn`", "-" * 18, "", ".. automodule:: sklearn_ckn",
            "   :no-members:", "   :no-index:", ""]
    if reexported:
        out += ["Re-exported from the subpackages (documented there):", ""]
        out += [f"- ``sklearn_ckn.{n}``: :class:`{m}.{n}`" if isinstance(
                    getattr(sklearn_ckn, n), type) else f"- ``sklearn_ckn.{n}``: :func:`{m}.{n}`"
                for n, m in reexported]
        out.append("")
    out += _autosummary("sklearn_ckn", [n for n, _ in own])
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"sklearn_ckn.{sub}")
        title = f":mod:`sklearn_ckn.{sub}`"
        out += [title, "-" * len(title), "",
                f".. automodule:: sklearn_ckn.{sub}", "   :no-members:", "   :no-index:", ""]
        if not (module.__doc__ or "").strip():
            out += [FALLBACK_SUMMARIES.get(sub, ""), ""]
        names = [n for n in _public_names(module) if _home(module, n) == module.__name__]
        if names:
            out += _autosummary(f"sklearn_ckn.{sub}", sorted(names, key=str.lower))
        submodules = sorted(
            m.name for m in pkgutil.iter_modules(module.__path__) if not m.name.startswith("_")
        )
        for sm in submodules:
            full = f"sklearn_ckn.{sub}.{sm}"
            sm_module = importlib.import_module(full)
            title = f":mod:`{full}`"
            out += [title, "~" * len(title), "", f".. automodule:: {full}",
                    "   :no-members:", "   :no-index:", ""]
            out += _autosummary(full, sorted(_public_names(sm_module), key=str.lower))
    text = "\n".join(out) + "\n"
    path = DOCS / "api.rst"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


write_api_reference()

# -- sphinx-gallery ----------------------------------------------------------------
# Every example of the gallery runs at every build, on the bundled digits or tiny
# synthetic data (no download, no file), each in well under a minute on 2 CPU cores;
# its figures are scraped from matplotlib. examples/plot_cifar10_grad_cam.py is a
# command-line script for the full CIFAR-10 study (it needs the data set on disk): it
# is kept next to the gallery but not part of it (plot_grad_cam_digits.py is its
# gallery version).
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"plot_cifar10_grad_cam\.py",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "doc_module": ("sklearn_ckn",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "gallery_order.ExampleOrder",
    "show_memory": False,
}


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
