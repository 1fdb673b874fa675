"""Running a case: the context it receives, resumable stages, and the record written."""

import contextlib
import os
import pickle
import shlex
import sys
import time

from . import results
from .case import param_hash
from .util import load_average, machine_info

__all__ = ["Context", "run_case", "default_work_root"]


def default_work_root():
    """Where stages are saved: ``$SKLEARN_CKN_BENCH_WORK`` or ``~/.cache/sklearn-ckn-benchmarks``."""
    return os.environ.get("SKLEARN_CKN_BENCH_WORK",
                          os.path.join(os.path.expanduser("~"), ".cache", "sklearn-ckn-benchmarks"))


class Context:
    """What a case's ``run`` receives.

    Attributes
    ----------
    case : Case
    params : SimpleNamespace
        Every parameter (hashed or not) by its name: ``ctx.params.ckn__n_filters``.
    param_hash : str
    data_home : str
        The folder of the real data sets (``--data-home``).
    work_dir : str
        ``<work root>/<case>/<param_hash>``: where stages are saved; the same
        parameters give the same folder, so a killed run started again resumes.
    artifact_dir : str
        The record's path without ``.json``: the folder for the files a case writes
        besides its result (tables, figures); created by the case if it needs it.
    device : str or None
        The torch device the case reports it ran on (set it: ``ctx.device = ...``).
    """

    def __init__(self, case, params, options, *, data_home, work_dir, artifact_dir=None, writer=None):
        self.case, self.param_hash = case, param_hash(params)
        self.params = case.namespace(params, options)
        self.data_home, self.work_dir, self.artifact_dir = data_home, work_dir, artifact_dir
        self.device = None
        self.stages = {}
        self._writer = writer

    def stage(self, name, fn, *, save=None, load=None):
        """``fn()``'s value, computed once: saved to ``<work_dir>/<name>.pkl`` and read
        back by a later run with the same parameters (``"resumed": True`` in the
        record). ``save(value, path)`` / ``load(path)`` replace pickle."""
        os.makedirs(self.work_dir, exist_ok=True)
        path = os.path.join(self.work_dir, f"{name}.pkl")
        if os.path.exists(path):
            value = load(path) if load else _unpickle(path)
            self.stages[name] = {"seconds": None, "resumed": True}
            print(f"[{self.case.name}] stage {name}: resumed from {path}", flush=True)
            return value
        t = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - t
        if save:
            save(value, path)
        else:
            with open(path + ".tmp", "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(path + ".tmp", path)
        self.stages[name] = {"seconds": seconds, "resumed": False}
        print(f"[{self.case.name}] stage {name}: {seconds:.1f} s, saved to {path}", flush=True)
        return value

    @contextlib.contextmanager
    def timer(self, name, into):
        """``with ctx.timer("fit", seconds): ...`` stores the block's wall time in ``into[name]``."""
        t = time.perf_counter()
        yield
        into[name] = time.perf_counter() - t

    def checkpoint(self, result):
        """Write ``result`` now as a partial record (``"complete": false``); the end of
        the run overwrites it. For long cases, so that a crash keeps what was measured."""
        if self._writer is not None:
            self._writer(result, complete=False)


def _unpickle(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def run_case(case, params, options, *, results_dir=results.RESULTS, data_home="../shared/datasets",
             work_root=None, dry_run=False, force=False, command=None, out=None):
    """Run ``case`` with ``params`` (hashed) and ``options``; write and return its record.

    The record goes to :func:`results.record_path` under ``results_dir``, or to
    ``out`` if given. An existing record of the same case, parameters and commit is
    kept unless ``force``. With ``dry_run``, print what would run and return None.
    """
    commit, dirty = results.git_commit()
    h = param_hash(params)
    path = out or results.record_path(results_dir, case.name, h, commit, dirty)
    work_dir = os.path.join(work_root or default_work_root(), case.name, h)
    print(f"[{case.name}] params {h}: {params}\n[{case.name}] -> {path}", flush=True)
    if dry_run:
        return None
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path} exists (same case, parameters and commit); --force overwrites it")
    if command is None:
        command = command_line()
    base = {
        "schema": results.SCHEMA, "case": case.name, "description": case.description,
        "dataset": case.dataset, "model": case.model, "params": params, "param_hash": h,
        "options": options, "commit": commit, "commit_dirty": dirty, "command": command,
        "versions": results.versions(),
        "load_average": {"before": load_average(), "after": None},
    }
    load = base["load_average"]["before"]
    if load is not None and load[0] > 0.5 * (os.cpu_count() or 1):
        print(f"[{case.name}] warning: load average {_fmt(load)} on {os.cpu_count()} cores: "
              "timings taken now are upper bounds (time on a quiet machine)", flush=True)
    start, t0 = results.now(), time.perf_counter()

    def write(result, complete):
        record = dict(base, date=start, machine=machine_info(ctx.device), seconds=time.perf_counter() - t0,
                      stages=ctx.stages, complete=complete,
                      metrics={m: results.get_path(result, m) for m in case.metrics}, result=result)
        record["load_average"] = dict(base["load_average"], after=load_average())
        results.write_record(path, record)
        return record

    ctx = Context(case, params, options, data_home=data_home, work_dir=work_dir,
                  artifact_dir=os.path.splitext(path)[0], writer=write)
    result = case.run(ctx)
    record = write(result, complete=True)
    print(f"[{case.name}] wrote {path} ({record['seconds']:.1f} s; load average "
          f"{_fmt(record['load_average']['before'])} -> {_fmt(record['load_average']['after'])})", flush=True)
    record["path"] = path
    return record


def command_line():
    """This process's command line, ``python -m benchmarks ...`` when run that way."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(os.path.join("benchmarks", "__main__.py")):
        argv[:1] = ["-m", "benchmarks"]
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable)] + argv)


def _fmt(load):
    return "?" if load is None else "/".join(f"{v:.1f}" for v in load)
