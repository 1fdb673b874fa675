"""Sphinx configuration of the sklearn-ckn documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. ``.ci/run`` builds it on every run.

* The API reference (``api.rst``) is generated here, at every build, from the
  ``__all__`` of ``sklearn_ckn`` and of its subpackages, so that it lists exactly
  the public API; each object gets a page from the numpydoc docstrings.
* The gallery is built from ``examples/`` by sphinx-gallery, on small data:
  ``plot_digits_comparison.py`` (the bundled 8x8 digits, as written, about 30 s) and
  ``plot_ckn_gridsearch_digits.py`` (``--quick``) need no file and always run; the
  others need a data set on disk and run, with ``--quick`` on 200 training and 100
  test images, only when ``SKLEARN_CKN_GALLERY_DATA`` names the folder that holds
  them (the examples' ``--data-home``); otherwise their pages show the code only.
  ``SKLEARN_CKN_GALLERY=full`` runs every executed example with its own defaults.
  Figures the examples save into their ``--out`` folder are shown on their pages.
* The existing Markdown pages (``ckn.md``, ``cnn.md``, ...) are read with MyST.
"""

import importlib
import os
import pkgutil
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the package itself, also when not installed

import sklearn_ckn  # noqa: E402
from sphinx_gallery.scrapers import figure_rst  # noqa: E402

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

# -- autodoc / autosummary / numpydoc ----------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn's metadata-routing ``set_*_request`` methods are generated on every
    # estimator class; their docstrings belong to (and link into) scikit-learn's docs.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


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
             "   :toctree: generated/", ""]
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
NO_DATA_EXAMPLES = ["plot_digits_comparison.py", "plot_ckn_gridsearch_digits.py"]
GALLERY_DATA = os.environ.get("SKLEARN_CKN_GALLERY_DATA")
GALLERY_FULL = os.environ.get("SKLEARN_CKN_GALLERY", "quick") == "full"
GALLERY_OUT = tempfile.mkdtemp(prefix="sklearn_ckn_gallery_")
# Command line of each example in the default (CI) build: the digits comparison runs
# as written (about 30 s on 2 cores: real accuracies); the grid search and the
# examples on downloaded data sets run with tiny models on a few images.
QUICK_ARGV = {
    "plot_digits_comparison": [],
    "plot_ckn_gridsearch_digits": ["--quick"],
}
QUICK_DEFAULT = ["--quick", "--n-train", "200", "--n-test", "100"]


def gallery_argv(gallery_conf, script_vars):
    """Command line of each example: small data, outputs outside the source tree."""
    name = Path(script_vars["src_file"]).stem
    if name == "plot_ckn_gridsearch_digits":  # takes neither --out nor --data-home
        return (["--quick"] if not GALLERY_FULL else []) + ["--verbose", "0"]
    argv = ["--out", os.path.join(GALLERY_OUT, name)]
    if GALLERY_DATA:
        argv += ["--data-home", GALLERY_DATA]
    if not GALLERY_FULL:
        argv += QUICK_ARGV.get(name, QUICK_DEFAULT)
    return argv


_SHOWN = set()


def saved_figure_scraper(block, block_vars, gallery_conf):
    """Show the PNG files an example wrote into its ``--out`` folder (the examples
    save their figures and close them, so matplotlib's scraper sees none)."""
    folder = Path(GALLERY_OUT) / Path(block_vars["src_file"]).stem
    new = sorted(p for p in folder.rglob("*.png") if p not in _SHOWN) if folder.is_dir() else []
    images = []
    for path in new:
        _SHOWN.add(path)
        target = block_vars["image_path_iterator"].next()
        shutil.copyfile(path, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


_executed = NO_DATA_EXAMPLES if not GALLERY_DATA else ["plot_"]
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/(" + "|".join(p.replace(".", r"\.") for p in _executed) + ")",
    "reset_argv": gallery_argv,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "doc_module": ("sklearn_ckn",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_ckn": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib", saved_figure_scraper),
}


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
