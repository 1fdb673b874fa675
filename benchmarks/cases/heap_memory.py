"""Memory of training with and without the retained heap (``sklearn_ckn._heap``).

While ``fit`` or ``partial_fit`` of ``CKNClassifier`` or ``CNNClassifier`` runs, glibc's
malloc keeps the memory that a training step frees for the next step (fewer page
faults, see ``supervised.cost_per_flop``), and gives it back when the call ends. This
case measures what that costs in memory: for each setting (``SKLEARN_CKN_RETAIN_HEAP``
``1``, the default, and ``0``), in a fresh process, the estimator is initialised on the
first ``n_images`` of CIFAR-10 (random images of the same shape when it is not in
``--data-home``), then trained ``repeats`` warm epochs by ``partial_fit``. For each epoch
it records the seconds, the minor page faults, the peak of the process's own memory
(``RssAnon``, sampled every 5 ms) during the call and its value after the call. The
two settings alternate by process, ``rounds`` times. Run alone::

    python -m benchmarks run supervised.heap_memory --data-home ../shared/datasets
"""

import os
import time

import numpy as np

from ..harness import Case, arg, register
from ..harness.util import MemorySampler, proc_status, run_with_timeout
from .cost_per_flop import _images, _minor_faults, started


def _train(estimator_name, architecture, X, y, repeats, retain, queue):
    os.environ["SKLEARN_CKN_RETAIN_HEAP"] = retain
    est = started(estimator_name, architecture, X, y)
    epochs = []
    for _ in range(repeats):
        sampler = MemorySampler(period=0.005)
        sampler.start()
        faults, t0 = _minor_faults(), time.perf_counter()
        est.partial_fit(X, y)
        seconds = time.perf_counter() - t0
        peak = sampler.stop()["RssAnon"]
        epochs.append({"seconds": seconds, "minor_page_faults": _minor_faults() - faults,
                       "peak_rss_anon_bytes": peak, "rss_anon_after_bytes": proc_status()["RssAnon"]})
    queue.put({"epochs": epochs, "vmhwm_bytes": proc_status()["VmHWM"]})


def _summary(runs):
    """Medians over a setting's epochs (the first epoch of each process included)."""
    epochs = [e for r in runs for e in r.get("epochs", [])]
    if not epochs:
        return None
    return {key: float(np.median([e[key] for e in epochs]))
            for key in ("seconds", "minor_page_faults", "peak_rss_anon_bytes", "rss_anon_after_bytes")}


def run(ctx):
    args = ctx.params
    X, y, source = _images(ctx, args.n_images)
    out = {"images": source, "n_images": len(X), "architecture": args.architecture, "estimators": {}}
    for name in args.estimators:
        runs = {"1": [], "0": []}
        for _ in range(args.rounds):
            for retain in ("1", "0"):
                record = run_with_timeout(_train, (name, args.architecture, X, y, args.repeats, retain),
                                          args.timeout)
                runs[retain].append(record)
                print(f"{name} SKLEARN_CKN_RETAIN_HEAP={retain}: {record}", flush=True)
        medians = {retain: _summary(r) for retain, r in runs.items()}
        out["estimators"][name] = {"runs": runs, "retained": medians["1"], "default_malloc": medians["0"]}
        ctx.checkpoint(out)
    return out


register(Case(
    name="supervised.heap_memory", run=run, dataset="cifar10",
    params=(
        arg("--architecture", default="ckn5", help="the CKNClassifier architecture"),
        arg("--estimators", nargs="+", choices=("ckn", "cnn"), default=["ckn", "cnn"]),
        arg("--n-images", type=int, default=1024, help="training images an epoch"),
        arg("--repeats", type=int, default=3, help="warm epochs by partial_fit in each process"),
        arg("--rounds", type=int, default=2, help="processes of each setting, alternating"),
        arg("--timeout", type=float, default=600, hashed=False, help="seconds allowed per process"),
    ),
    description="peak and retained memory of partial_fit epochs, with and without the retained heap",
    metrics=("estimators.ckn.retained.peak_rss_anon_bytes", "estimators.ckn.default_malloc.peak_rss_anon_bytes",
             "estimators.ckn.retained.rss_anon_after_bytes", "estimators.ckn.default_malloc.rss_anon_after_bytes"),
))
