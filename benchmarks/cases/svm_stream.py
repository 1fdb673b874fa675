"""TorchLinearSVC fitted from features on disk (np.memmap, streamed by row chunks) vs in memory.

Writes an ``n x d`` float32 ``np.memmap`` of synthetic 10-class features (class means
plus correlated noise) into a temporary folder, then fits ``TorchLinearSVC`` on it in
fresh subprocesses, one per setting, alternating:

* ``memory``: the features read into RAM (``np.array(memmap)``), then the usual fit;
* ``stream``: ``fit(memmap)`` with ``chunk_size`` rows read at a time;
* ``stream_half``: the same on the first ``n / 2`` rows, to show that the streamed fit's
  memory does not grow with ``n``.

Each subprocess records its memory from ``/proc/self/status`` every 2 ms in a thread
(``RssAnon``: the process's own memory; ``VmRSS``, which also counts the pages of the
memmap's file the kernel keeps mapped, reclaimable page cache) and the kernel's exact
peak ``VmHWM``; the fit's time, iterations, the weights (saved, compared here) and the
time of ``decision_function`` over the same features. The ratio stream / memory of fit
times is measured in the same run::

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks run svm.stream

Each setting's subprocess runs this module (``python -m benchmarks.cases.svm_stream
--worker MODE ...``, an internal entry point: the runner is the user's).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from ..harness import Case, arg, register
from ..harness.results import ROOT
from ..harness.util import MemorySampler, proc_status


def make_features(path, n, d, n_classes, seed=0, block=2048):
    """Write ``n x d`` float32 features and return the labels (class means + correlated noise)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(n_classes, size=n)
    means = rng.normal(size=(n_classes, d)).astype(np.float32) * 0.05
    mix = rng.normal(size=(64, d)).astype(np.float32) / 8.0  # 64 shared directions: correlated features
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    for start in range(0, n, block):
        stop = min(start + block, n)
        m = stop - start
        noise = rng.standard_normal((m, d), dtype=np.float32) + rng.standard_normal((m, 64), dtype=np.float32) @ mix
        out[start:stop] = means[y[start:stop]] + noise
    out.flush()
    del out
    return y


def worker(args):
    import torch

    from sklearn_ckn.svm import TorchLinearSVC

    # Warm-up (torch's and LAPACK's first calls take seconds), before any measurement.
    warm = np.random.default_rng(1).standard_normal((200, 64)).astype(np.float32)
    TorchLinearSVC(device="cpu").fit(warm, np.arange(200) % 3)
    y = np.load(args.labels)
    mm = np.memmap(args.features, dtype=np.float32, mode="r", shape=(args.n, args.d))
    if args.mode == "stream_half":
        mm, y = mm[: args.n // 2], y[: args.n // 2]
    clf = TorchLinearSVC(C=args.C, tol=args.tol, device="cpu", chunk_size=args.chunk_size)
    before = proc_status()
    result = {"mode": args.mode, "n": len(y), "torch_threads": torch.get_num_threads(), "before_fit": before}
    t = time.perf_counter()
    if args.mode == "memory":
        X = np.array(mm)  # the features in RAM: what a fit without streaming needs
        result["load_s"] = time.perf_counter() - t
    else:
        X = mm
    sampler = MemorySampler()
    sampler.start()
    t = time.perf_counter()
    clf.fit(X, y)
    result["fit_s"] = time.perf_counter() - t
    peak = sampler.stop()
    result["peak_during_fit"] = peak
    result["after_fit"] = proc_status()
    result["n_iter"] = int(clf.n_iter_)
    t = time.perf_counter()
    scores = clf.decision_function(X)
    result["decision_s"] = time.perf_counter() - t
    result["train_accuracy"] = float((clf.classes_[scores.argmax(axis=1)] == y).mean())
    # The objective of the solution, in float64, over the same rows (streamed: one pass).
    from sklearn_ckn.core.linear_svm import RowChunks, squared_hinge_objective

    Y = torch.as_tensor(np.where(y[:, None] == clf.classes_[None, :], 1.0, -1.0))
    bounds = [*range(0, len(y), args.chunk_size), len(y)]
    rows = RowChunks(lambda i: np.array(mm[bounds[i]:bounds[i + 1]], dtype=np.float64), bounds, mm.shape[1],
                     dtype=torch.float64)
    result["objective"] = float(squared_hinge_objective(
        rows, Y, torch.as_tensor(clf.coef_.T), torch.as_tensor(clf.intercept_), args.C
    ))
    np.save(args.coef_out, np.concatenate([clf.coef_, clf.intercept_[:, None]], axis=1))
    np.save(args.coef_out.replace(".npy", "_scores.npy"), scores)
    print(json.dumps(result))


def run(ctx):
    args = ctx.params
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        features = os.path.join(tmp, "features.f32")
        t = time.perf_counter()
        y = make_features(features, args.n, args.d, args.classes)
        write_s = time.perf_counter() - t
        labels = os.path.join(tmp, "labels.npy")
        np.save(labels, y)
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        runs = []
        for r in range(args.repeats):
            for mode in ("stream", "memory", "stream_half"):
                coef = os.path.join(tmp, f"coef_{mode}_{r}.npy")
                cmd = [sys.executable, "-m", __name__, "--worker", mode, "--features", features,
                       "--labels", labels, "--coef-out", coef, "--n", str(args.n), "--d", str(args.d),
                       "--C", str(args.C), "--tol", str(args.tol), "--chunk-size", str(args.chunk_size)]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
                one = json.loads(out.stdout.strip().splitlines()[-1])
                one["repeat"] = r
                one["coef"] = np.load(coef)
                one["scores"] = np.load(coef.replace(".npy", "_scores.npy"))
                runs.append(one)
                print(mode, r, f"fit {one['fit_s']:.1f} s, {one['n_iter']} it, peak RssAnon "
                      f"{one['peak_during_fit']['RssAnon'] / 2**20:.0f} MiB, VmHWM "
                      f"{one['after_fit']['VmHWM'] / 2**20:.0f} MiB", flush=True)

    def pick(mode):
        return [r for r in runs if r["mode"] == mode]

    mem, stream, half = pick("memory"), pick("stream"), pick("stream_half")
    ref = mem[0]["coef"]
    diff = max(float(np.abs(r["coef"] - ref).max()) for r in stream)
    score_diff = max(float(np.abs(r["scores"] - mem[0]["scores"]).max()) for r in stream)
    MiB = 2**20

    def summary(rs):
        return {
            "fit_s": [r["fit_s"] for r in rs],
            "n_iter": [r["n_iter"] for r in rs],
            "decision_s": [r["decision_s"] for r in rs],
            "rss_anon_before_fit_MiB": rs[0]["before_fit"]["RssAnon"] / MiB,
            "peak_rss_anon_during_fit_MiB": max(r["peak_during_fit"]["RssAnon"] for r in rs) / MiB,
            "peak_rss_anon_growth_during_fit_MiB": max(
                r["peak_during_fit"]["RssAnon"] - r["before_fit"]["RssAnon"] for r in rs
            ) / MiB,
            "peak_vmrss_sampled_MiB": max(r["peak_during_fit"]["VmRSS"] for r in rs) / MiB,
            "vmhwm_MiB": max(r["after_fit"]["VmHWM"] for r in rs) / MiB,
            "rss_file_after_fit_MiB": rs[0]["after_fit"]["RssFile"] / MiB,
            "train_accuracy": rs[0]["train_accuracy"],
            "objective": [r["objective"] for r in rs],
            **({"load_s": [r["load_s"] for r in rs]} if "load_s" in rs[0] else {}),
        }

    d1 = args.d + 1
    result = {
        "benchmark": "TorchLinearSVC.fit from a np.memmap streamed by row chunks vs in memory",
        "data": {"n": args.n, "d": args.d, "classes": args.classes, "dtype": "float32",
                 "features_MiB": args.n * args.d * 4 / MiB, "write_s": write_s,
                 "generator": "class means (0.05 N(0,1)) + N(0,1) + 64 shared directions"},
        "estimator": {"C": args.C, "tol": args.tol, "chunk_size": args.chunk_size, "dtype": "float32", "device": "cpu"},
        "expected_MiB": {
            "chunk": args.chunk_size * args.d * 4 / MiB,
            "features_in_memory": args.n * args.d * 4 / MiB,
            "preconditioner_gram_and_factor": 3 * d1 * d1 * 4 / MiB,  # Gram, H and its Cholesky factor
        },
        "memory": summary(mem),
        "stream": summary(stream),
        "stream_half_n": summary(half),
        "ratios": {
            "fit_time_stream_over_memory": float(np.median([r["fit_s"] for r in stream])
                                                 / np.median([r["fit_s"] for r in mem])),
            "peak_rss_anon_growth_stream_over_memory": summary(stream)["peak_rss_anon_growth_during_fit_MiB"]
            / summary(mem)["peak_rss_anon_growth_during_fit_MiB"],
        },
        "max_abs_coef_diff_stream_vs_memory": diff,
        "max_abs_coef_memory": float(np.abs(ref).max()),
        "max_abs_decision_diff_stream_vs_memory": score_diff,
        "objective_rel_diff_stream_vs_memory": max(
            abs(r["objective"] - mem[0]["objective"]) / mem[0]["objective"] for r in stream
        ),
        "notes": "RssAnon: the process's own memory (sampled every 2 ms from /proc/self/status). "
                 "VmRSS/VmHWM also count the memmap file's pages mapped while reading (page cache, "
                 "reclaimable): the streamed fit's VmHWM therefore approaches the file's size while "
                 "its own memory stays bounded. 'memory' loads the features with np.array(memmap) "
                 "before the fit (load_s, not in fit_s). Each setting runs in a fresh subprocess.",
    }
    ctx.device = "cpu"
    return result


PARAMS = (
    arg("--n", type=int, default=20_000),
    arg("--d", type=int, default=8_192),
    arg("--classes", type=int, default=10),
    arg("--C", type=float, default=0.01),
    arg("--tol", type=float, default=1e-3, help="TorchLinearSVC's tol"),
    arg("--chunk-size", type=int, default=2_048),
    arg("--repeats", type=int, default=1, help="alternating runs of each setting"),
    arg("--tmp", default=None, hashed=False, help="folder for the memmap (a temporary one by default)"),
)
# The subprocesses' own arguments (not parameters of the case).
WORKER_ARGS = (
    arg("--worker", choices=["memory", "stream", "stream_half"], dest="mode"),
    arg("--features"),
    arg("--labels"),
    arg("--coef-out"),
)

CASE = register(Case(
    name='svm.stream',
    run=run,
    params=PARAMS,
    description='TorchLinearSVC fitted from a memmap streamed by row chunks against in memory: time and memory',
    dataset='synthetic',
    model=None,
    metrics=('ratios.fit_time_stream_over_memory', 'ratios.peak_rss_anon_growth_stream_over_memory'),
    stages=(),
    legacy_script='bench_svm_stream.py',
))


if __name__ == "__main__":  # a worker subprocess of run()
    parser = CASE.parser()
    for p in WORKER_ARGS:
        parser.add_argument(*p.flags, **p.kwargs)
    worker(parser.parse_args())
