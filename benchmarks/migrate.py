"""The index of the results written before the harness: ``results/legacy_index.json``.

The files the 16 former scripts wrote (``results/*.json``, ``results/defaults/``,
``results/cnn_precision/``, ``results/compare_<dataset>/``) stay where they are: the
README, the docs, the changelog and docstrings of the package quote them by path. The
index maps each one to what the harness would key it by:

* ``case``: the registered case that replaces the script that wrote it (from the
  file's own ``command``; ``bench_defaults.py`` sections and ``sklearn-ckn compare``
  by the file's name);
* ``params`` and ``param_hash``: the file's ``command`` read by the case's parameter
  parser (the old scripts' flags are the cases' flags), over the case's defaults;
  ``options``: the parameters outside the hash;
* ``commit``: the last commit that wrote the file (``git log``; the run's code is that
  commit's or an earlier one), and ``added_in``, the commit that added it;
* ``metrics``: the case's metrics, read from the payload;
* ``rerun``: the harness command that measures the same case and parameters again;
* ``note``: where the command alone does not say what was run.

The payloads are not copied: :func:`benchmarks.harness.results.iter_records` reads each
file through its entry. ``python -m benchmarks index --write`` rebuilds the index (after
a legacy file changes); ``--check`` fails if it is out of date.
"""

import json
import os
import re
import shlex
import subprocess
import sys

from .harness import registry
from .harness.case import jsonable as _jsonable_params, param_hash
from .harness.results import LEGACY_INDEX, RESULTS, ROOT, get_path

__all__ = ["legacy_files", "build_entry", "build_index", "main"]

#: The supervised CKN's runs predate the one-module change (commit 672f8f7): its head
#: then saw unit-variance features, today's ckn.supervised start standard deviation 0.08.
_SUPERVISED_UNITS = (
    "measured before the one-module change (commit 672f8f7), when the weight decay was "
    "on unit-variance features: the rerun command gives it in today's units (times "
    "0.08^2 = 0.0064)"
)

#: Entries the command alone does not determine: file -> (param texts, note, commit of
#: the code measured when it is not the last commit that wrote the file).
OVERRIDES = {
    "defaults/digits_n_filters_64_256.json": (
        {"ckn_params": "n_filters=(64, 256)"},
        "written with n_filters=(64, 256), the default before n_filters='auto' (commit 7cd56b3, "
        "which renamed the file): the command has no --ckn-param", None,
    ),
    "defaults/mnist_normalize_standard.json": (
        {"ckn_params": "normalize='standard'"},
        "written when normalize='standard' was the default (commit 0cced67): the command has no "
        "--ckn-param", None,
    ),
    "defaults/mnist_kernel_svm.json": (
        {}, "the make_model('kernel_svm') part of a bench_defaults.py mnist run, in its own file", None,
    ),
    "ckn_sup_cifar10_64_256_10k_plain_head.json": (
        {"weight_decay": "1.28e-05"},
        "the run before commit 2778202 (exact head solves without shifted copies), kept for "
        "comparison: same parameters as ckn_sup_cifar10_64_256_10k.json, earlier code. "
        + _SUPERVISED_UNITS,
        "db852be388939e3522092ecd16715daf3cbe80e7",
    ),
    "ckn_sup_cifar10_64_256_10k.json": ({"weight_decay": "1.28e-05"}, _SUPERVISED_UNITS, None),
    "ckn_sup_cifar10_ckn5_10k.json": ({"weight_decay": "6.4e-05"}, _SUPERVISED_UNITS, None),
    "ckn_sup_mnist_64_256.json": ({}, _SUPERVISED_UNITS, None),
    "transform_cifar10_v2_before.json": (
        {}, "commit 7cd56b3's code and benchmark, run just before transform_cifar10_v2.json "
            "(commit 44bf2fc's message)", "7cd56b3577fec081f8df1b0818e53334144342b3",
    ),
    "kmeans_cifar10_run2.json": ({}, "a second run of kmeans_cifar10.json's command (load 6.8)", None),
    "defaults/mnist_variants.json": (
        {}, "a resumed file: every variant, the earlier ones from commit 521dd27's run, power=0.5 "
            "and 0.3 added by this command (--variants)", None,
    ),
}


def legacy_files(results_dir=RESULTS):
    """The ``.json`` files under ``results_dir`` outside ``runs/`` (and not the index)."""
    found = []
    for folder, dirs, files in os.walk(results_dir):
        rel = os.path.relpath(folder, results_dir)
        if rel == "runs" or rel.startswith("runs" + os.sep):
            dirs[:] = []
            continue
        dirs.sort()
        for name in sorted(files):
            path = os.path.normpath(os.path.join(rel, name))
            if name.endswith(".json") and path != LEGACY_INDEX and not name.endswith(".tmp"):
                found.append(path.replace(os.sep, "/"))
    return sorted(found)


def _case_name(rel, command):
    """The case that replaces whatever wrote ``rel`` (a path under ``results/``)."""
    if command.startswith("sklearn-ckn compare"):
        return "compare.models"
    script = re.search(r"benchmarks/(bench_\w+\.py)", command)
    if not script:
        raise ValueError(f"{rel}: no benchmark script in its command {command!r}")
    script = script.group(1)
    if script == "bench_defaults.py":
        name = os.path.basename(rel)[:-len(".json")]
        if name.startswith("digits"):
            return "defaults.digits"
        if name.endswith("_kernel_svm"):
            return "defaults.kernel_svm"
        if name.endswith("_variants"):
            return "defaults.variants"
        if name == "threads":
            return "defaults.threads"
        return "defaults.holdout"
    cases = [c.name for c in registry().values() if c.legacy_script == script]
    if len(cases) != 1:
        raise ValueError(f"{rel}: {script} maps to {cases}")
    return cases[0]


def _argv(command):
    """The arguments after the script (or after ``sklearn-ckn compare``)."""
    tokens = shlex.split(command)
    for i, token in enumerate(tokens):
        if token.endswith(".py") or token == "compare":
            return tokens[i + 1:]
    return tokens


def _as_text(param, value):
    """``value`` written as ``--param NAME=TEXT`` texts (a list: append actions repeat)."""
    import argparse

    if isinstance(param.action, argparse._AppendAction):
        return [_as_text_one(v) for v in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
        sep = ";" if any("," in v or " " in v for v in items) else ","
        return [sep.join(items)]
    return [str(value)]


def _as_text_one(value):
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str):
        name, v = value  # a (name, value) pair of --ckn-param
        return f"{name}={tuple(v) if isinstance(v, list) else v!r}"
    return str(value)


def rerun_command(case, params, options):
    """``python -m benchmarks run CASE --param ...`` for the parameters that differ from
    the case's defaults (``--data-home`` where the case reads real data)."""
    defaults = case.defaults()
    parts = ["python", "-m", "benchmarks", "run", case.name]
    for p in case.params:
        value = params.get(p.dest, options.get(p.dest))
        if not p.hashed or value is None or _jsonable_params(value) == _jsonable_params(defaults[p.dest]):
            continue
        for text in _as_text(p, value):
            parts += ["--param", f"{p.dest}={text}"]
    if case.dataset not in ("synthetic", "digits") and not case.dataset.startswith("features"):
        parts += ["--data-home", "../shared/datasets"]
    return " ".join(shlex.quote(p) for p in parts)


def _git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT, *args], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def build_entry(rel, payload, *, results_dir=RESULTS, git=True):
    """The index entry of the legacy file ``rel`` (its ``payload`` already read)."""
    command = payload.get("command") or ""
    case = registry()[_case_name(rel, command)]
    parsed, _ = case.parser().parse_known_args(_argv(command))
    params, options = case.split(vars(parsed))
    overrides, note, commit = OVERRIDES.get(rel, ({}, None, None))
    if case.name.startswith("defaults.") and case.name not in ("defaults.digits", "defaults.threads"):
        section = os.path.basename(rel)[:-len(".json")]
        dataset = section.split("_")[0]
        overrides = dict({"dataset": dataset}, **overrides)
    if overrides:  # re-parse with the overrides appended (as --param would give them)
        argv = _argv(command)
        for name, text in overrides.items():
            argv += case.param(name).to_argv(text)
        params, options = case.split(vars(case.parser().parse_known_args(argv)[0]))
    entry = {
        "case": case.name,
        "params": _jsonable_params(params),
        "param_hash": param_hash(params),
        "options": _jsonable_params(options),
        "command": command,
        "rerun": rerun_command(case, params, options),
        "metrics": {m: get_path(payload, m) for m in case.metrics},
    }
    if note:
        entry["note"] = note
    path = os.path.join(os.path.relpath(results_dir, ROOT), rel)
    if git:
        entry["commit"] = commit or _git("log", "-1", "--format=%H", "--", path) or "unknown"
        entry["added_in"] = _git("log", "--diff-filter=A", "--follow", "--format=%H", "--", path).split("\n")[-1] \
            or entry["commit"]
    artifacts = sorted(f for f in os.listdir(os.path.join(results_dir, os.path.dirname(rel)))
                       if not f.endswith(".json")) if case.name == "compare.models" else []
    if artifacts:
        entry["artifacts"] = artifacts  # beside the file: tables and figures of the run
    return entry


def build_index(results_dir=RESULTS, git=True):
    files = {}
    for rel in legacy_files(results_dir):
        with open(os.path.join(results_dir, rel)) as f:
            payload = json.load(f)
        files[rel] = build_entry(rel, payload, results_dir=results_dir, git=git)
    return {
        "schema": "sklearn-ckn-benchmark-legacy-index/1",
        "about": "Results written by the scripts that preceded the harness, where they were; "
                 "each mapped to its case, parameters (read from its command), parameter hash "
                 "and commit. Built by 'python -m benchmarks index --write' "
                 "(benchmarks/migrate.py).",
        "files": files,
    }


def _dump(index):
    return json.dumps(index, indent=2, sort_keys=False) + "\n"


def main(write=False, check=False, results_dir=RESULTS):
    path = os.path.join(results_dir, LEGACY_INDEX)
    text = _dump(build_index(results_dir))
    if write:
        with open(path, "w") as f:
            f.write(text)
        print(f"wrote {path}")
        return 0
    if check:
        old = open(path).read() if os.path.exists(path) else ""
        if old != text:
            print(f"{path} is out of date: run 'python -m benchmarks index --write'", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    sys.stdout.write(text)
    return 0
