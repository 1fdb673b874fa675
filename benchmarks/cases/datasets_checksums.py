"""Cost of ``verify_checksums``: MNIST's training set loaded with and without the check.

Each timing runs in a fresh process (the digests are cached per process), best of
``--repeats``: the first load without the check, the first load with it, and a second,
cached load with it (formerly ``bench_checksums.py``, ``results/checksums_mnist.json``)::

    python -m benchmarks run datasets.checksums --data-home ../shared/datasets
"""

import json
import subprocess
import sys

from ..harness import Case, arg, register

_CHILD = """
import json, sys, time
from sklearn_ckn.datasets import load_mnist
home, verify = sys.argv[1], sys.argv[2] == "1"
times = []
for _ in range(2):
    t = time.perf_counter()
    load_mnist(home, subset="train", download_if_missing=False, verify_checksums=verify)
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""

def _run(home, verify):
    out = subprocess.run([sys.executable, "-c", _CHILD, home, "1" if verify else "0"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def run(ctx):
    args = ctx.params
    off = [_run(ctx.data_home, False) for _ in range(args.repeats)]
    on = [_run(ctx.data_home, True) for _ in range(args.repeats)]
    result = {
        "protocol": "load_mnist(subset='train') twice in a fresh process, best of "
                    f"{args.repeats} processes; seconds",
        "first_load_without_check": min(t[0] for t in off),
        "first_load_with_check": min(t[0] for t in on),
        "second_load_with_check": min(t[1] for t in on),
        "second_load_without_check": min(t[1] for t in off),
    }
    result["added_by_check"] = result["first_load_with_check"] - result["first_load_without_check"]
    return result


PARAMS = (
    arg("--repeats", type=int, default=3),
)

register(Case(
    name='datasets.checksums',
    run=run,
    params=PARAMS,
    description="cost of verify_checksums: MNIST's training set loaded with and without the check",
    dataset='mnist',
    model=None,
    metrics=('added_by_check', 'first_load_without_check'),
    stages=(),
    legacy_script='bench_checksums.py',
))
