"""Measuring helpers shared by the cases: machine description, matmul rate, in-place
scaling, alternating timings, a busy core, process memory, CIFAR-10 k-means patches,
a measurement in a process of its own with a time limit."""

import contextlib
import multiprocessing
import os
import platform
import threading
import time

import numpy as np
import torch


def machine_info(device=None):
    """Where and with what a benchmark ran (``device``: the torch device it used, if any)."""
    import sklearn

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    if device is not None:
        info["device"] = str(device)
    try:
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        pass
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.read().splitlines()
        names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
        info["cpu_model"] = names[0] if names else None
        # Matrix units decide bfloat16 speed (AMX on recent Xeons): record them.
        flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
        info["cpu_flags_of_note"] = sorted(
            f for f in flags if f in {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
        )
    except OSError:
        pass
    return info


def load_average():
    """The 1, 5 and 15 minute load averages (``None`` where the platform has none)."""
    try:
        return list(os.getloadavg())
    except (OSError, AttributeError):
        return None


def standardize_inplace(scaler, F, *others, chunk=4096):
    """Fit ``scaler`` (a StandardScaler) on ``F`` and standardise ``F`` and ``others`` in place.

    Statistics are accumulated over row chunks and the arrays are overwritten rather
    than copied: ``StandardScaler.fit`` on a whole 50,000 x 32,768 matrix makes float64
    temporaries of its size, which exceed the memory.
    """
    for start in range(0, len(F), chunk):
        scaler.partial_fit(F[start:start + chunk])
    for A in (F,) + others:
        for start in range(0, len(A), chunk):
            A[start:start + chunk] = scaler.transform(A[start:start + chunk])
    return scaler


def matmul_gflops(device="cpu", n=4096, repeats=5, dtype=torch.float32):
    """The machine's own matmul speed in ``dtype``, measured now (best of ``repeats``).

    Large enough (0.14 TFLOP per product) that a single product's timing is not
    dominated by start-up or frequency ramp-up; benchmarks call it at the start and
    at the end of a run and keep the faster figure.
    """
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        if device != "cpu":
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def cifar10_ckn_patches(data_home, n_images, n_patches, n_filters=(256, 1024), *, layer1_iter=5, seed=0):
    """Unit-norm patches each layer's k-means sees when a CIFAR-10 CKN is fitted.

    Fits ``CKNTransformer(n_filters, subsamplings=(2, 4), whitening="local")`` on the
    first ``n_images`` training images with ``n_patches`` patches per layer, with its
    k-means intercepted: the patches of every layer are recorded; layer 1's anchors
    get ``layer1_iter`` real iterations (so that layer 2's input is a realistic
    embedding), later layers keep their random initial anchors.

    Returns ``(patches, transformer)``: a list of ``(n_usable, d)`` float32 tensors,
    one per layer, and the fitted transformer.
    """
    from unittest import mock

    from sklearn_ckn import CKNTransformer
    from sklearn_ckn.core import unsupervised
    from sklearn_ckn.datasets import load_cifar10

    real = unsupervised.spherical_kmeans
    captured = []

    def capture(X, n_clusters, **kwargs):
        captured.append(X.clone())
        kwargs["max_iter"] = layer1_iter if len(captured) == 1 else 0
        return real(X, n_clusters, **kwargs)

    images, _ = load_cifar10(data_home, subset="train", return_X_y=True, n_samples=n_images)
    ckn = CKNTransformer(
        n_filters=n_filters, subsamplings=(2, 4)[: len(n_filters)], whitening="local",
        n_patches=n_patches, device="cpu", random_state=seed,
    )
    with mock.patch.object(unsupervised, "spherical_kmeans", capture):
        ckn.fit(images)
    return captured, ckn


def alternate_timings(funcs, repeats):
    """Run every function of the dict ``funcs`` ``repeats`` times, alternating between them.

    Returns ``{name: [seconds, ...]}``. Alternating spreads the load of a shared
    machine over all competitors instead of favouring whichever ran in a quiet moment.
    """
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    return times


def _spin(stop):
    """Keep one core busy until ``stop`` is set (a pure-Python loop: one core)."""
    while not stop.is_set():
        sum(range(10_000))


@contextlib.contextmanager
def busy_core(busy=True):
    """Another process spins on one core for the block (a user's browser or second
    notebook kernel: the normal case on a shared machine); nothing when ``busy`` is
    False."""
    if not busy:
        yield
        return
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
    spinner.start()
    time.sleep(1.0)  # the spinner is running before the work starts
    try:
        yield
    finally:
        stop.set()
        spinner.join()


#: The fields of ``/proc/self/status`` that :func:`proc_status` reads.
STATUS_FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")


def proc_status():
    """This process's memory from ``/proc/self/status``, in bytes: :data:`STATUS_FIELDS`.

    ``RssAnon`` is the process's own memory; ``VmRSS`` also counts mapped file pages
    (reclaimable page cache); ``VmHWM`` is the kernel's exact peak of ``VmRSS``.
    """
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in STATUS_FIELDS:
                out[key] = int(line.split()[1]) * 1024
    return out


class MemorySampler(threading.Thread):
    """Largest ``VmRSS`` and ``RssAnon`` of this process, every ``period`` seconds, until stopped."""

    def __init__(self, period=0.002):
        super().__init__(daemon=True)
        self.period, self.peak, self._stop_event = period, {"VmRSS": 0, "RssAnon": 0}, threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            status = proc_status()
            for key in self.peak:
                self.peak[key] = max(self.peak[key], status[key])
            self._stop_event.wait(self.period)

    def stop(self):
        """Stop sampling; return the peaks (a dict of bytes)."""
        self._stop_event.set()
        self.join()
        return self.peak


def run_with_timeout(target, args, timeout, context="spawn"):
    """``target(*args, queue)`` in a new process; what it puts in ``queue``, or
    ``{"timed_out_after_seconds": ...}`` when nothing came within ``timeout`` seconds
    (the process is then stopped). ``"spawn"``: a fresh interpreter (forked children
    run torch on one thread); ``"fork"``: the parent's memory, no re-import."""
    ctx = multiprocessing.get_context(context)
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    t0 = time.perf_counter()
    proc.start()
    try:
        record = queue.get(timeout=timeout)
    except Exception:
        proc.terminate()
        record = {"timed_out_after_seconds": round(time.perf_counter() - t0, 1)}
    proc.join()
    return record
