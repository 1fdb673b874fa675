"""Benchmark cases: what is measured, with which parameters, and the registry of them.

A :class:`Case` names a measurement (``"ckn.linear"``, ``"kmeans.cifar10"``...), the
data set and model it uses, its parameters (declared like ``argparse`` arguments with
:func:`arg`, so that a parameter has one name, one type and one default), the metrics
to pull out of its result and the stages it saves to disk to be resumable. Its
``run`` function receives a :class:`~benchmarks.harness.runner.Context` and returns the
result (a JSON-able dict); the runner adds everything else (machine, versions,
commit, command, load averages, timings) and writes the record.

Parameters of cases built on :func:`sklearn_ckn.make_model` are named as ``make_model``
routes them: ``ckn__n_filters``, ``clf__C`` (``<step>__<param>`` of the pipeline).
"""

import argparse
import fnmatch
import hashlib
import importlib
import json
import pkgutil
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

__all__ = ["Case", "Param", "arg", "register", "registry", "find_cases", "param_hash",
           "canonical_json"]


class Param:
    """One parameter of a case, declared with ``argparse.add_argument``'s arguments.

    ``hashed=False`` marks parameters that do not change what is measured (a data
    folder, a scratch folder, verbosity): they are recorded but left out of the
    parameter hash. ``hashed="unless_default"`` marks a parameter added to a case after
    records were written: at its default it is left out of the hash, so that those
    records (and the resumable runs keyed by their hash) keep their keys.
    """

    def __init__(self, *flags, hashed=True, **kwargs):
        self.flags, self.kwargs, self.hashed = flags, kwargs, hashed
        scratch = argparse.ArgumentParser(add_help=False)
        self.action = scratch.add_argument(*flags, **kwargs)
        self.dest = self.action.dest

    @property
    def default(self):
        return self.action.default

    @property
    def help(self):
        return self.kwargs.get("help", "").replace("%%", "%")

    def to_argv(self, text):
        """The command-line tokens that give this parameter the value ``text`` (a string)."""
        flag = self.flags[0]
        if isinstance(self.action, argparse._StoreTrueAction):
            return [flag] if _truthy(text) else []
        if isinstance(self.action, argparse._StoreFalseAction):
            return [] if _truthy(text) else [flag]
        if self.action.nargs in ("+", "*"):  # "a;b" or "a,b" or "a b"; a whole choice stays whole
            if ";" in text:
                items = text.split(";")
            elif self.action.choices and text in self.action.choices:
                items = [text]
            else:
                items = text.replace(",", " ").split()
            return [flag] + [t.strip() for t in items if t.strip()]
        return [flag, text]


def _truthy(text):
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def arg(*flags, hashed=True, **kwargs):
    """A :class:`Param`: ``arg("--n-filters", dest="ckn__n_filters", type=ints, default=(64, 256))``."""
    return Param(*flags, hashed=hashed, **kwargs)


def ints(text):
    """``"64,256"`` -> ``(64, 256)``."""
    return tuple(int(v) for v in str(text).split(",") if v.strip())


def floats(text):
    """``"0.001,0.01"`` -> ``(0.001, 0.01)``."""
    return tuple(float(v) for v in str(text).split(",") if v.strip())


def jsonable(value):
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def canonical_json(value):
    """``value`` as compact JSON with sorted keys (tuples as lists): the hashed form."""
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), default=str)


def param_hash(params):
    """The first 10 hex digits of the SHA-256 of :func:`canonical_json` of ``params``."""
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()[:10]


@dataclass
class Case:
    """A registered benchmark case.

    Parameters
    ----------
    name : str
        Dotted name, ``<group>.<what>`` (``"ckn.linear"``); results go to
        ``results/runs/<name>/``.
    run : callable
        ``run(ctx) -> dict``: the measurement; ``ctx.params`` holds the parameters.
    params : tuple of Param
        Declared with :func:`arg`.
    description : str
        One line: what it measures.
    dataset : str
        The data set, or ``"param:<name>"`` when a parameter chooses it, or
        ``"synthetic"``.
    model : str or None
        The :func:`sklearn_ckn.make_model` name whose parameters the case routes
        (``<step>__<param>``), if any.
    metrics : tuple of str
        Dotted paths into the result copied into the record's ``metrics``.
    stages : tuple of str
        Names of the stages saved in the work folder (resumable runs).
    presets : dict
        Named parameter sets, ``{name: {param: text}}`` with values written as on the
        command line (``--preset NAME``): the configurations the README quotes.
    legacy_script : str or None
        The ``benchmarks/bench_*.py`` script the case replaces: the migration reads
        old result files' ``command`` with the case's parameters.
    """

    name: str
    run: Callable
    params: tuple = ()
    description: str = ""
    dataset: str = ""
    model: str = None
    metrics: tuple = ()
    stages: tuple = ()
    presets: dict = field(default_factory=dict)
    legacy_script: str = None

    def __post_init__(self):
        dests = [p.dest for p in self.params]
        if len(set(dests)) != len(dests):
            raise ValueError(f"{self.name}: duplicated parameter names")
        for name, preset in self.presets.items():
            unknown = set(preset) - set(dests)
            if unknown:
                raise ValueError(f"{self.name}: preset {name!r} sets unknown {sorted(unknown)}")

    def parser(self, prog=None):
        """An ``argparse`` parser of the case's parameters (also parses old scripts' commands)."""
        parser = argparse.ArgumentParser(prog=prog or self.name, add_help=False, exit_on_error=False)
        for p in self.params:
            parser.add_argument(*p.flags, **p.kwargs)
        return parser

    def param(self, name):
        """The :class:`Param` called ``name`` (its ``dest``; ``-`` is read as ``_``)."""
        name = name.lstrip("-").replace("-", "_")
        for p in self.params:
            if p.dest == name or any(f.lstrip("-").replace("-", "_") == name for f in p.flags):
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}; it has "
                       f"{', '.join(p.dest for p in self.params) or 'none'}")

    def defaults(self):
        return {p.dest: p.default for p in self.params}

    def resolve(self, overrides=(), preset=None):
        """Parameters from the defaults, then ``preset``, then ``overrides``.

        ``overrides``: ``"name=value"`` strings or a dict ``{name: text}``, values
        written as on the command line (``ckn__n_filters=64,256``, ``flip=true``).
        Returns ``(params, options)``: the hashed parameters and the others.
        """
        items = []
        if preset is not None:
            if preset not in self.presets:
                raise KeyError(f"{self.name} has no preset {preset!r}; it has "
                               f"{', '.join(self.presets) or 'none'}")
            items += list(self.presets[preset].items())
        if isinstance(overrides, dict):
            items += list(overrides.items())
        else:
            for text in overrides:
                name, sep, value = text.partition("=")
                if not sep:
                    raise ValueError(f"--param expects NAME=VALUE, got {text!r}")
                items.append((name.strip(), value))
        argv = []
        for name, value in items:
            argv += self.param(name).to_argv(value if isinstance(value, str) else _text(value))
        return self.split(vars(self.parser().parse_args(argv)))

    def split(self, values):
        """``(hashed, unhashed)`` parameters of a full ``{dest: value}`` dict."""
        # A parameter added later, at its default, is in neither (nor in the record):
        # the run's namespace gets its default.
        later = {p.dest for p in self.params
                 if p.hashed == "unless_default" and values[p.dest] == p.default}
        hashed = {p.dest: values[p.dest] for p in self.params if p.hashed and p.dest not in later}
        other = {p.dest: values[p.dest] for p in self.params if not p.hashed}
        return hashed, other

    def namespace(self, params, options):
        return SimpleNamespace(**{**self.defaults(), **params, **options})


def _text(value):
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


_REGISTRY = {}


def register(case):
    """Add ``case`` to the registry (its name must be new); return it."""
    if case.name in _REGISTRY and _REGISTRY[case.name] is not case:
        raise ValueError(f"a case named {case.name!r} is already registered")
    _REGISTRY[case.name] = case
    return case


def registry():
    """``{name: Case}`` of every case, after importing every module of ``benchmarks.cases``."""
    import benchmarks.cases as cases

    for module in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


def find_cases(pattern):
    """Cases whose name matches the shell pattern ``pattern`` (or equals it, or starts
    with ``pattern + "."``); a ``KeyError`` if none does."""
    cases = registry()
    found = [c for n, c in cases.items()
             if n == pattern or fnmatch.fnmatchcase(n, pattern) or n.startswith(pattern + ".")]
    if not found:
        raise KeyError(f"no case matches {pattern!r}; cases: {', '.join(cases)}")
    return found
