"""Intersphinx inventories of scikit-learn, NumPy, PyTorch and Python, written offline.

The documentation is built without network access (CI, the 2-core machine), so the
``objects.inv`` files of the other projects cannot be downloaded at build time. This
module writes, at every build, small inventories from the *installed* packages: the
public classes, functions and methods that ``import`` finds, with the URL scheme of each
project's published API pages (``modules/generated/sklearn.svm.LinearSVC.html`` etc.).
``intersphinx_mapping`` in ``conf.py`` points at these files, so that bases, "See Also"
entries, parameter types and the gallery's code link to the real pages, for the versions
installed when the docs were built. An object that is not listed stays plain text (no
warning: the build is not nit-picky).
"""

import importlib
import inspect
import pkgutil
import zlib
from pathlib import Path


def _write(path, project, version, entries):
    """Write a Sphinx inventory (version 2): ``(name, role, uri, dispname)`` entries."""
    lines = []
    for name, role, uri, display in sorted(set(entries)):
        lines.append(f"{name} {role} 1 {uri} {display or '-'}")
    header = ("# Sphinx inventory version 2\n"
              f"# Project: {project}\n# Version: {version}\n"
              "# The remainder of this file is compressed using zlib.\n")
    Path(path).write_bytes(header.encode() + zlib.compress("\n".join(lines).encode() + b"\n"))
    return len(lines)


def _role(obj):
    if inspect.isclass(obj):
        return "py:exception" if issubclass(obj, BaseException) else "py:class"
    if callable(obj):
        return "py:function"
    return None


def _class_members(fullname, cls, uri_of):
    """Public methods and properties of ``cls``, on its page."""
    out = []
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, property):
            out.append((f"{fullname}.{attr}", "py:property", uri_of(fullname) + f"#{fullname}.{attr}", None))
        elif callable(value) or isinstance(value, (classmethod, staticmethod)):
            out.append((f"{fullname}.{attr}", "py:method", uri_of(fullname) + f"#{fullname}.{attr}", None))
    # methods inherited from mixins (fit_transform, score, get_params, ...) are on the page too
    for attr in dir(cls):
        if attr.startswith("_") or attr in vars(cls):
            continue
        if callable(getattr(cls, attr, None)):
            out.append((f"{fullname}.{attr}", "py:method", uri_of(fullname) + f"#{fullname}.{attr}", None))
    return out


def sklearn_entries():
    import sklearn

    def uri(fullname):
        return f"modules/generated/{fullname}.html"

    entries = []
    for info in pkgutil.iter_modules(sklearn.__path__):
        if info.name.startswith("_") or info.name in {"tests", "conftest", "externals"}:
            continue
        modname = f"sklearn.{info.name}"
        try:
            module = importlib.import_module(modname)
        except Exception:  # noqa: BLE001  (an optional dependency)
            continue
        entries.append((modname, "py:module", f"api/{modname}.html#module-{modname}", None))
        names = getattr(module, "__all__", None)
        if names is None:  # sklearn.base, sklearn.kernel_approximation, ...: no __all__
            names = [n for n, o in vars(module).items() if not n.startswith("_")
                     and (inspect.isclass(o) or inspect.isfunction(o))
                     and getattr(o, "__module__", "").startswith(modname)]
        for name in names:
            try:
                obj = getattr(module, name, None)
            except ImportError:  # experimental estimators (HalvingGridSearchCV, ...)
                continue
            role = _role(obj)
            if role is None:
                continue
            fullname = f"{modname}.{name}"
            entries.append((fullname, role, uri(fullname) + "#$", None))
            if inspect.isclass(obj):
                entries += _class_members(fullname, obj, uri)
    # labels that scikit-learn's own docstrings (inherited methods) refer to
    entries += [
        ("metadata_routing", "std:label", "metadata_routing.html#metadata-routing", "Metadata Routing"),
        ("sphx_glr_auto_examples_miscellaneous_plot_set_output.py", "std:label",
         "auto_examples/miscellaneous/plot_set_output.html#sphx-glr-auto-examples-miscellaneous-plot-set-output-py",
         "Introducing the set_output API"),
        ("glossary", "std:label", "glossary.html#glossary", "Glossary"),
        ("pipeline", "std:label", "modules/compose.html#pipeline", "Pipeline"),
        ("grid_search", "std:label", "modules/grid_search.html#grid-search", "Tuning the hyper-parameters"),
        ("model_persistence", "std:label", "model_persistence.html#model-persistence", "Model persistence"),
        ("accuracy_score", "std:label", "modules/model_evaluation.html#accuracy-score", "Accuracy score"),
        ("df_output_transform", "std:label", "developers/develop.html#df-output-transform",
         "Developer API for set_output"),
        ("user_guide", "std:label", "user_guide.html#user-guide", "User Guide"),
    ]
    for term in ["random_state", "n_jobs", "warm_start", "fit", "transform", "predict",
                 "predict_proba", "decision_function", "partial_fit", "feature_names_in_",
                 "n_features_in_", "classes_", "estimator", "transformer", "classifier",
                 "cross-validation estimator", "memmapping", "joblib"]:
        entries.append((term, "std:term", f"glossary.html#term-{term.replace(' ', '-')}", term))
    return sklearn.__version__, entries


def numpy_entries():
    import numpy

    entries = []
    for name in dir(numpy):
        if name.startswith("_"):
            continue
        obj = getattr(numpy, name, None)
        if inspect.ismodule(obj):
            continue
        if isinstance(obj, type) and issubclass(obj, numpy.generic):
            entries.append((f"numpy.{name}", "py:class", f"reference/arrays.scalars.html#numpy.{name}", None))
            continue
        role = _role(obj)
        if role is None:
            continue
        if role == "py:class" and name in {"ndarray", "memmap", "dtype"}:
            uri = f"reference/generated/numpy.{name}.html"
            entries.append((f"numpy.{name}", role, uri + "#$", None))
            entries += _class_members(f"numpy.{name}", obj, lambda _n, u=uri: u)
        else:
            entries.append((f"numpy.{name}", role, f"reference/generated/numpy.{name}.html#$", None))
    for name in ["default_rng", "Generator", "RandomState"]:
        entries.append((f"numpy.random.{name}", "py:function" if name[0].islower() else "py:class",
                        f"reference/random/generator.html#numpy.random.{name}" if name != "RandomState"
                        else "reference/random/legacy.html#numpy.random.RandomState", None))
    entries.append(("numpy.typing.ArrayLike", "py:data", "reference/typing.html#numpy.typing.ArrayLike", None))
    # what numpydoc's default type aliases (array_like, scalar) refer to
    entries += [("array_like", "std:term", "glossary.html#term-array_like", "array_like"),
                ("arrays.scalars", "std:label", "reference/arrays.scalars.html#arrays-scalars", "Scalars"),
                ("numpy", "py:module", "reference/index.html#module-numpy", None),
                ("numpy.inf", "py:data", "reference/constants.html#numpy.inf", None),
                ("numpy.nan", "py:data", "reference/constants.html#numpy.nan", None)]
    return numpy.__version__, entries


def torch_entries():
    import torch
    import torch.nn
    import torch.nn.functional

    entries = [("torch.Tensor", "py:class", "tensors.html#torch.Tensor", None),
               ("torch.device", "py:class", "tensor_attributes.html#torch.device", None),
               ("torch.dtype", "py:class", "tensor_attributes.html#torch.dtype", None),
               ("torch.autocast", "py:class", "amp.html#torch.autocast", None),
               ("torch.nn.Module", "py:class", "generated/torch.nn.Module.html#$", None),
               ("torch.nn.Parameter", "py:class", "generated/torch.nn.parameter.Parameter.html#torch.nn.parameter.Parameter", None),
               ("torch.cuda.is_available", "py:function", "generated/torch.cuda.is_available.html#$", None),
               ("torch.set_num_threads", "py:function", "generated/torch.set_num_threads.html#$", None),
               ("torch.compile", "py:function", "generated/torch.compile.html#$", None),
               ("torch.save", "py:function", "generated/torch.save.html#$", None),
               ("torch.load", "py:function", "generated/torch.load.html#$", None),
               ("torch.no_grad", "py:class", "generated/torch.no_grad.html#$", None),
               ("torch.bfloat16", "py:data", "tensor_attributes.html#torch.dtype", None),
               ("torch.float32", "py:data", "tensor_attributes.html#torch.dtype", None)]
    for name in dir(torch.nn.Module):
        if not name.startswith("_") and callable(getattr(torch.nn.Module, name)):
            entries.append((f"torch.nn.Module.{name}", "py:method",
                            f"generated/torch.nn.Module.html#torch.nn.Module.{name}", None))
    for modname, module in [("torch.nn", torch.nn), ("torch.optim", torch.optim),
                            ("torch.nn.functional", torch.nn.functional)]:
        for name in dir(module):
            obj = getattr(module, name, None)
            if name.startswith("_") or inspect.ismodule(obj):
                continue
            role = _role(obj)
            if role and (modname, name) != ("torch.nn", "Module"):
                entries.append((f"{modname}.{name}", role, f"generated/{modname}.{name}.html#$", None))
    return torch.__version__.split("+")[0], entries


PYTHON = {
    "library/functions.html": ["len", "print", "open", "isinstance", "range", "zip", "iter",
                               "pickle", "repr", "callable"],
    "library/stdtypes.html": ["int", "float", "str", "dict", "list", "tuple", "bool", "set",
                              "bytes", "slice", "range"],
    "library/exceptions.html": ["ValueError", "TypeError", "RuntimeError", "KeyError",
                                "FileNotFoundError", "NotImplementedError", "OSError",
                                "MemoryError", "IndexError", "UserWarning", "Warning",
                                "ImportError", "AttributeError"],
}


def python_entries():
    import sys

    entries = []
    for page, names in PYTHON.items():
        for name in names:
            role = "py:exception" if page.endswith("exceptions.html") else (
                "py:class" if page.endswith("stdtypes.html") else "py:function")
            entries.append((name, role, f"{page}#{name}", None))
    # labels that numpydoc's default type aliases (bool, ...) refer to
    entries += [("bltin-boolean-values", "std:label", "library/stdtypes.html#boolean-values", "Boolean Values"),
                ("bltin-type-objects", "std:label", "library/stdtypes.html#type-objects", "Type Objects")]
    entries += [(term, "std:term", f"glossary.html#term-{term}", term)
                for term in ["iterable", "sequence", "generator", "mapping", "path-like object"]]
    for name, uri, role in [
        ("pickle", "library/pickle.html#module-pickle", "py:module"),
        ("contextlib.contextmanager", "library/contextlib.html#contextlib.contextmanager", "py:function"),
        ("collections.namedtuple", "library/collections.html#collections.namedtuple", "py:function"),
        ("pathlib.Path", "library/pathlib.html#pathlib.Path", "py:class"),
        ("os.PathLike", "library/os.html#os.PathLike", "py:class"),
        ("os.cpu_count", "library/os.html#os.cpu_count", "py:function"),
        ("tempfile.TemporaryDirectory", "library/tempfile.html#tempfile.TemporaryDirectory", "py:class"),
        ("None", "library/constants.html#None", "py:data"),
        ("True", "library/constants.html#True", "py:data"),
        ("False", "library/constants.html#False", "py:data"),
        ("collections.abc.Sequence", "library/collections.abc.html#collections.abc.Sequence", "py:class"),
        ("collections.abc.Mapping", "library/collections.abc.html#collections.abc.Mapping", "py:class"),
    ]:
        entries.append((name, role, uri, None))
    return f"{sys.version_info.major}.{sys.version_info.minor}", entries


PROJECTS = {
    # name: (project, published root (the installed version's docs where they have one), entries)
    "sklearn": ("scikit-learn", "https://scikit-learn.org/{short}/", sklearn_entries),
    "numpy": ("NumPy", "https://numpy.org/doc/{short}/", numpy_entries),
    "torch": ("PyTorch", "https://docs.pytorch.org/docs/{short}/", torch_entries),
    "python": ("Python", "https://docs.python.org/{short}/", python_entries),
}


def write_inventories(folder):
    """Write one ``<name>.inv`` per project into ``folder``; return ``intersphinx_mapping``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for name, (project, root, make) in PROJECTS.items():
        version, entries = make()
        short = ".".join(version.split(".")[:2])
        path = folder / f"{name}.inv"
        _write(path, project, version, entries)
        mapping[name] = (root.format(short=short), str(path))
    return mapping
