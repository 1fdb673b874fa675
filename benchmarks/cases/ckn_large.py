"""A CKN too large for memory (e.g. the reference's 512/8192 on CIFAR-10), out of core and resumably.

Example (from the project root; about 1.5-2 hours on a 2-core CPU)::

    python -m benchmarks run ckn.large --data-home ../shared/datasets

(the defaults are that run's parameters). The work folder is the harness's,
``<work root>/ckn.large/<param_hash>``.

The features of the 50,000 training images (73,728 each: 14.7 GB in float32) never
sit in memory. The run is a sequence of stages, each saved in the work folder, so a
killed run started again with the same command resumes where it stopped:

1. ``fit``: :class:`~sklearn_ckn.CKNTransformer` (k-means per layer and the output
   normalisation), pickled;
2. ``transform_train`` and ``transform_test``: :func:`~sklearn_ckn.transform_to` into
   ``.npy`` files on disk, a block of ``--block`` images at a time (the number of
   blocks done is saved after each, so at most one block is redone);
3. ``svm``: :class:`~sklearn_ckn.svm.TorchLinearSVCCV` reads the training features one
   chunk of rows at a time, picks C on a 20% hold-out (a warm-started path with one
   shared preconditioner) and refits on all rows; then it predicts the test features,
   also streamed.

The labels, in the order of the files' rows, are saved beside them (``labels.npz``):
``linear.stage --param ckn_params=large`` times the linear solvers on these files.

The features are read with plain file reads (no memory map), so the process's
resident memory is its own: the peak (``VmHWM``) and the anonymous memory of every
stage are recorded. The training images are shuffled once (``--random-state``) before
they are transformed, so the hold-out is the file's last 20% of rows, read
contiguously. ``--feature-dtype float16`` (the default) halves the disk and the reads;
each chunk is computed in float32.
"""

import contextlib
import json
import os
import pickle
import time

import numpy as np
import torch

from sklearn_ckn.datasets import DATASETS

from ..harness import Case, arg, floats, ints, register
from ..harness.data import load_train_test
from ..harness.util import MemorySampler, matmul_gflops, proc_status


class NpyRows:
    """Rows of a 2-d ``.npy`` file, read by slices with plain reads (no memory map).

    Rows come out as ``dtype`` (float32: the solver's), whatever the file's dtype.
    Any array-like with ``shape``, ``dtype`` and row slicing is streamed by the linear
    SVMs; a ``np.memmap`` would also do, but its pages would count as this process's
    resident memory and hide what the solver itself holds.
    """

    def __init__(self, path, start=0, stop=None, dtype=np.float32):
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype_on_disk = read_header(f)
            self._offset = f.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path}: expected a C-ordered 2-d array, got shape {shape}.")
        self.path, self._file_dtype, self.dtype = path, np.dtype(dtype_on_disk), np.dtype(dtype)
        self._n_total, self._d = shape
        self.start = start
        self.stop = self._n_total if stop is None else stop
        self.shape = (self.stop - self.start, self._d)
        self.ndim = 2

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if not isinstance(key, slice):  # increasing row indices, from a fold's RowSubset
            rows = np.asarray(key)
            if rows.ndim != 1 or rows.dtype.kind not in "iu":
                raise TypeError("NpyRows supports row slices and 1-d arrays of row indices")
            if len(rows) and np.all(np.diff(rows) == 1):
                return self[int(rows[0]):int(rows[-1]) + 1]
            return np.concatenate([self[int(r):int(r) + 1] for r in rows]) if len(rows) else self[0:0]
        first, last, step = key.indices(self.shape[0])
        if step != 1:
            raise TypeError("NpyRows supports contiguous row slices only")
        n = max(last - first, 0)
        row_bytes = self._d * self._file_dtype.itemsize
        with open(self.path, "rb") as f:
            f.seek(self._offset + (self.start + first) * row_bytes)
            rows = np.fromfile(f, dtype=self._file_dtype, count=n * self._d).reshape(n, self._d)
        if rows.dtype == self.dtype:
            return rows
        # Converted here on torch's threads (NumPy's float16 cast runs on one).
        out = np.empty(rows.shape, dtype=self.dtype)
        torch.from_numpy(out).copy_(torch.from_numpy(rows))
        return out


class Stages:
    """The run's state in ``work_dir/state.json``: finished stages and their figures."""

    def __init__(self, work_dir):
        self.path = os.path.join(work_dir, "state.json")
        self.state = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.state = json.load(f)

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=1)
        os.replace(tmp, self.path)  # the state is complete or the previous one

    @contextlib.contextmanager
    def measure(self, name):
        """Time the ``with`` body and sample its memory; add both to stage ``name`` and save.

        Yields a dict whose items (set in the body) are stored with the stage.
        """
        extra = {}
        sampler = MemorySampler(period=0.05)
        sampler.start()
        t0 = time.perf_counter()
        try:
            yield extra
        finally:
            seconds = time.perf_counter() - t0
            peak_anon = sampler.stop()["RssAnon"]
        stage = self.state.setdefault(name, {"seconds": 0.0, "peak_rss_anon_bytes": 0, "vmhwm_bytes": 0})
        stage["seconds"] += seconds
        stage["peak_rss_anon_bytes"] = max(stage["peak_rss_anon_bytes"], peak_anon)
        stage["vmhwm_bytes"] = max(stage["vmhwm_bytes"], proc_status()["VmHWM"])
        stage.update(extra)
        self.save()


def _pickle(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    os.replace(tmp, path)


def save_labels(work_dir, y_train, y_test):
    """``labels.npz`` in ``work_dir``: the labels in the order of the feature files' rows
    (``linear.stage --param ckn_params=large`` reads them); written once."""
    path = os.path.join(work_dir, "labels.npz")
    if not os.path.exists(path):
        tmp = path + ".tmp.npz"
        np.savez(tmp, y_train=y_train, y_test=y_test)
        os.replace(tmp, path)


def _transform_stage(name, ckn, X, path, stages, args):
    """Transform ``X`` into the ``.npy`` file ``path``, block by block, resumably."""
    from sklearn_ckn import transform_to

    stage = stages.state.get(name, {})
    if stage.get("complete"):
        return
    n, d = len(X), ckn.n_features_out_
    done = stage.get("images_done", 0)
    if done == 0 or not os.path.exists(path):
        done = 0
        np.lib.format.open_memmap(path, mode="w+", dtype=args.feature_dtype, shape=(n, d)).flush()
    out = np.lib.format.open_memmap(path, mode="r+")
    while done < n:
        stop = min(done + args.block, n)
        with stages.measure(name) as extra:
            transform_to(ckn, X[done:stop], out[done:stop])  # written and flushed
            extra.update(images_done=stop, complete=stop == n)
        print(f"{name}: {stop}/{n} images, {stages.state[name]['seconds']:.0f} s", flush=True)
        done = stop
    del out


def run(ctx):
    args = ctx.params
    os.makedirs(ctx.work_dir, exist_ok=True)
    from sklearn_ckn import CKNTransformer
    from sklearn_ckn.svm import TorchLinearSVCCV

    stages = Stages(ctx.work_dir)
    # One fixed shuffle: the hold-out for C is then the last 20% of the rows on disk.
    X, y, X_test, y_test = load_train_test(args.dataset, ctx.data_home, args.n_train, args.n_test,
                                           how="shuffle", seed=args.random_state)
    print(f"{args.dataset}: train {X.shape}, test {X_test.shape}", flush=True)
    save_labels(ctx.work_dir, y, y_test)
    ckn_path = os.path.join(ctx.work_dir, "ckn.pkl")
    if not stages.state.get("fit", {}).get("complete"):
        ckn = CKNTransformer(
            n_filters=args.n_filters, patch_sizes=args.patch_sizes, subsamplings=args.subsamplings,
            sigmas=args.sigmas, whitening=args.whitening, n_patches=args.n_patches,
            kmeans_max_iter=args.kmeans_max_iter, random_state=args.random_state, verbose=1,
        )
        with stages.measure("fit") as extra:
            ckn.fit(X)
            extra.update(complete=True, n_features=int(ckn.n_features_out_))
        _pickle(ckn, ckn_path)
    with open(ckn_path, "rb") as f:
        ckn = pickle.load(f)
    ckn.set_params(verbose=0)
    train_path = os.path.join(ctx.work_dir, "features_train.npy")
    test_path = os.path.join(ctx.work_dir, "features_test.npy")
    _transform_stage("transform_train", ckn, X, train_path, stages, args)
    _transform_stage("transform_test", ckn, X_test, test_path, stages, args)

    svm_path = os.path.join(ctx.work_dir, "svm.pkl")
    if not stages.state.get("svm", {}).get("complete"):
        n_fit = int(round(0.8 * len(y)))
        cv = [(np.arange(n_fit), np.arange(n_fit, len(y)))]
        svm = TorchLinearSVCCV(Cs=sorted(args.Cs), cv=cv, tol=args.tol, device="cpu")
        with stages.measure("svm") as extra:
            svm.fit(NpyRows(train_path), y)
            extra.update(
                complete=True, C=float(svm.C_),
                validation_accuracy=dict(zip(map(str, sorted(args.Cs)), svm.mean_scores_.tolist())),
            )
        _pickle(svm, svm_path)
    with open(svm_path, "rb") as f:
        svm = pickle.load(f)
    with stages.measure("predict") as extra:
        accuracy = float((svm.predict(NpyRows(test_path)) == y_test).mean())
        extra.update(test_accuracy=accuracy)

    state = stages.state
    h, w = X.shape[1:3]
    flops = ckn.network_.flops(h, w)
    transform_seconds = state["transform_train"]["seconds"] + state["transform_test"]["seconds"]
    result = {
        "benchmark": "ckn_large",
        "dataset": args.dataset,
        "n_train": int(len(y)),
        "n_test": int(len(y_test)),
        "ckn_params": {k: v for k, v in ckn.get_params().items() if k != "verbose"},
        "n_features": int(ckn.n_features_out_),
        "feature_dtype_on_disk": args.feature_dtype,
        "feature_bytes_train_float32": int(len(y)) * int(ckn.n_features_out_) * 4,
        "classifier": repr(svm),
        "C": state["svm"]["C"],
        "C_validation": "20% hold-out (the last rows of the shuffled training set)",
        "C_validation_accuracy": state["svm"]["validation_accuracy"],
        "test_accuracy": accuracy,
        "stages": state,
        "seconds_total": float(sum(s["seconds"] for s in state.values())),
        "peak_vmhwm_bytes": max(s["vmhwm_bytes"] for s in state.values()),
        "peak_rss_anon_bytes": max(s["peak_rss_anon_bytes"] for s in state.values()),
        "throughput": {
            "transform_images_per_second": (len(y) + len(y_test)) / transform_seconds,
            "matmul_flops_per_image": flops,
            "transform_gflops": flops * (len(y) + len(y_test)) / transform_seconds / 1e9,
            "machine_matmul_gflops_at_end": matmul_gflops("cpu"),
        },
    }
    print(f"test accuracy {accuracy:.4f}, peak VmHWM {result['peak_vmhwm_bytes'] / 2**30:.2f} GiB, "
          f"{result['seconds_total'] / 60:.1f} min", flush=True)
    return result


PARAMS = (
    arg("--dataset", choices=[n for n, info in DATASETS.items() if info.subsets], default="cifar10"),
    arg("--n-train", type=int, default=None),
    arg("--n-test", type=int, default=None),
    arg("--n-filters", type=ints, default=(512, 8192)),
    arg("--patch-sizes", type=ints, default=(3, 2)),
    arg("--subsamplings", type=ints, default=(2, 6)),
    arg("--sigmas", type=floats, default=(0.6,)),
    arg("--whitening", default="local"),
    arg("--n-patches", type=int, default=200_000),
    arg("--kmeans-max-iter", type=int, default=12),
    # The features come out of CKNTransformer's default normalize="l2-standard" with a
    # standard deviation of 0.1: C here is 100 times StandardScaler's C.
    arg("--Cs", type=floats, default=(0.005, 0.01, 0.02)),
    arg("--tol", type=float, default=1e-3),
    arg("--feature-dtype", choices=["float16", "float32"], default="float16"),
    arg("--block", type=int, default=1024, help="images transformed per saved block"),
    arg("--random-state", type=int, default=0),
)

register(Case(
    name='ckn.large',
    run=run,
    params=PARAMS,
    description='a CKN too large for memory (512/8192 on CIFAR-10), out of core and in resumable stages',
    dataset='param:dataset',
    model=None,
    metrics=('test_accuracy', 'C', 'seconds_total', 'peak_vmhwm_bytes'),
    stages=('fit', 'transform_train', 'transform_test', 'svm', 'predict'),
    legacy_script='bench_ckn_large.py',
))
