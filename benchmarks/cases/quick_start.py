"""The README's quick start, timed: quiet and with a core kept busy, default threads and one.

The quick start is ``cross_val_score(make_pipeline(CKNTransformer(random_state=0),
LinearSVC()), X, y, cv=3)`` on scikit-learn's digits, every default. Each setting runs
in a fresh Python process (so that no thread pool or cache carries over), in the order
given, ``repeats`` times:

* ``quiet``: nothing else started by the benchmark (the load average before and after
  each run is recorded: a figure under load is not a speed figure);
* ``busy``: another process spins on one core for the whole run (a user's browser or
  second notebook kernel), the normal case on a shared machine.

Each with the default ``n_jobs=None`` and with ``n_jobs=1``; the record gives every
time, the 3-fold mean accuracy and the ratios default / ``n_jobs=1``. Run alone::

    python -m benchmarks run defaults.quick_start
    python -m benchmarks run defaults.quick_start --param ckn_param=n_patches='auto'
"""

import json
import os
import subprocess
import sys

from ..harness import Case, arg, register
from ..harness.util import busy_core
from .defaults import CKN_PARAM

#: The child: the quick start with the given CKNTransformer parameters, as JSON.
_CHILD = r"""
import json, sys, time, warnings
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn_ckn import CKNTransformer

params = json.loads(sys.argv[1])
X, y = load_digits(return_X_y=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    start = time.perf_counter()
    scores = cross_val_score(make_pipeline(CKNTransformer(random_state=0, **params),
                                           LinearSVC()), X, y, cv=3)
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "cv_scores": scores.tolist(),
                  "cv_mean": float(scores.mean()),
                  "warnings": sorted({type(w.message).__name__ for w in caught})}))
"""


def _run_child(params):
    load = os.getloadavg()
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(params)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_average_before"], result["load_average_after"] = load, os.getloadavg()
    return result


def run(ctx):
    args = ctx.params
    ckn = dict(args.ckn_params)
    out = {"protocol": "cross_val_score(make_pipeline(CKNTransformer(random_state=0, "
                       "**ckn_params), LinearSVC()), *load_digits(return_X_y=True), cv=3), "
                       "each run in a fresh process",
           "ckn_params": {k: repr(v) for k, v in ckn.items()}, "runs": []}
    for _ in range(args.repeats):
        for load in args.loads:
            with busy_core(load == "busy"):
                for n_jobs in (None, 1):
                    params = dict(ckn, n_jobs=n_jobs) if n_jobs else dict(ckn)
                    result = _run_child(params)
                    result.update(load=load, n_jobs=n_jobs)
                    out["runs"].append(result)
                    print(f"{load}, n_jobs={n_jobs}: {result['seconds']:.1f} s, "
                          f"accuracy {result['cv_mean']:.4f} (load "
                          f"{result['load_average_before'][0]:.1f} -> "
                          f"{result['load_average_after'][0]:.1f})", flush=True)
    for load in args.loads:
        runs = [r for r in out["runs"] if r["load"] == load]
        default = min(r["seconds"] for r in runs if r["n_jobs"] is None)
        one = min(r["seconds"] for r in runs if r["n_jobs"] == 1)
        out[load] = {"seconds_default": default, "seconds_n_jobs_1": one,
                     "ratio_default_to_n_jobs_1": default / one,
                     "cv_mean": runs[0]["cv_mean"]}
    return out


register(Case(
    name="defaults.quick_start", run=run, dataset="digits",
    params=(
        CKN_PARAM,
        arg("--loads", nargs="+", choices=("quiet", "busy"), default=["quiet", "busy"],
            help="quiet: nothing else started; busy: another process spins on one core"),
        arg("--repeats", type=int, default=1, help="rounds over the settings (best kept)"),
    ),
    description="the README quick start (digits, 3-fold CV, every default): seconds quiet "
                "and with a busy core, default threads against n_jobs=1",
    metrics=("quiet.seconds_default", "quiet.cv_mean", "busy.ratio_default_to_n_jobs_1"),
))
