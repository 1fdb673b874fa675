"""The results: one JSON record per run, keyed by case, parameter hash and commit.

Layout (under ``benchmarks/results/``)::

    runs/<case>/<param_hash>-<commit12>[-dirty].json   one record per run (this schema)
    legacy_index.json                                  the files written before the
                                                       harness, each mapped to its case
    <old name>.json, defaults/, compare_<dataset>/...  those files, where they were

A record (``"schema": SCHEMA``) holds ``case``, ``params`` (hashed), ``param_hash``,
``options`` (parameters outside the hash: folders, verbosity), ``commit`` and
``commit_dirty``, ``date``, ``command``, ``machine``, ``versions``,
``load_average`` (``before`` and ``after`` the run), ``seconds`` (the run's wall
time), ``stages`` (per saved stage: seconds, resumed or not), ``metrics`` (the case's
declared metrics, copied out of the result), ``complete`` (False while a run writes
partial results) and ``result`` (what the case returned).

:func:`iter_records` reads both kinds, the old files through the index, as records of
the same shape (``"legacy": True``, their payload as ``result``).
"""

import datetime
import json
import os
import platform
import subprocess

SCHEMA = "sklearn-ckn-benchmark/1"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # benchmarks/
RESULTS = os.path.join(HERE, "results")
ROOT = os.path.dirname(HERE)
LEGACY_INDEX = "legacy_index.json"

__all__ = ["SCHEMA", "RESULTS", "git_commit", "record_path", "write_record", "iter_records",
           "get_path", "versions"]


def git_commit(root=ROOT):
    """``(commit, dirty)``: ``HEAD``'s hash and whether tracked files differ from it."""
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                                check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True
    return commit, bool(status.strip())


def versions():
    """Versions of Python and of the libraries that set the speed and the results."""
    import numpy
    import scipy
    import sklearn
    import torch

    import sklearn_ckn

    return {"python": platform.python_version(), "sklearn_ckn": sklearn_ckn.__version__,
            "torch": torch.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__}


def record_path(results_dir, case, param_hash, commit, dirty=False):
    """``<results_dir>/runs/<case>/<param_hash>-<commit12>[-dirty].json``."""
    name = f"{param_hash}-{commit[:12]}{'-dirty' if dirty else ''}.json"
    return os.path.join(results_dir, "runs", case, name)


def write_record(path, record):
    """Write ``record`` as indented JSON (atomically: a temporary file, then a rename)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=2, default=_default)
        f.write("\n")
    os.replace(tmp, path)
    return path


def _default(value):
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return float(value)


def get_path(mapping, dotted, default=None):
    """``mapping["a"]["b"]`` for ``"a.b"`` (list items by index), ``default`` if absent."""
    value = mapping
    for key in dotted.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.lstrip("-").isdigit() and -len(value) <= int(key) < len(value):
            value = value[int(key)]
        else:
            return default
    return value


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def load_legacy_index(results_dir=RESULTS):
    path = os.path.join(results_dir, LEGACY_INDEX)
    if not os.path.exists(path):
        return {"files": {}}
    with open(path) as f:
        return json.load(f)


def iter_records(results_dir=RESULTS, case=None, legacy=True):
    """Every record under ``results_dir`` (of ``case`` only, if given), sorted by path.

    Each is the record as written, plus ``path`` (relative to ``benchmarks/`` when
    inside it, e.g. ``results/runs/ckn.linear/...``). The files listed in
    ``legacy_index.json`` come as records of the same shape: their index entry
    (case, params, param_hash, commit...), ``result`` (the file's payload),
    ``machine``, ``command`` and ``date`` (from the payload) and ``legacy: True``.
    """
    found = []
    runs = os.path.join(results_dir, "runs")
    if os.path.isdir(runs):
        for case_dir in sorted(os.listdir(runs)):
            if case is not None and case_dir != case:
                continue
            for name in sorted(os.listdir(os.path.join(runs, case_dir))):
                if name.endswith(".json"):
                    path = os.path.join(runs, case_dir, name)
                    with open(path) as f:
                        record = json.load(f)
                    record["path"] = _rel(path, results_dir)
                    found.append(record)
    if legacy:
        for name, entry in load_legacy_index(results_dir)["files"].items():
            if case is not None and entry.get("case") != case:
                continue
            with open(os.path.join(results_dir, name)) as f:
                payload = json.load(f)
            record = dict(entry)
            record.update(legacy=True, result=payload, path=_rel(os.path.join(results_dir, name), results_dir),
                          machine=payload.get("machine", {}), command=payload.get("command"),
                          date=payload.get("date", entry.get("date")))
            found.append(record)
    return sorted(found, key=lambda r: r["path"])


def _rel(path, results_dir):
    """``results/<...>`` relative to the results folder's parent."""
    return os.path.relpath(path, os.path.dirname(os.path.abspath(results_dir)))
