"""Cost of ``verify_checksums``: MNIST's training set loaded with and without the check.

Each timing runs in a fresh process (the digests are cached per process), best of
``--repeats``: the first load without the check, the first load with it, and a second,
cached load with it. Writes ``benchmarks/results/checksums_mnist.json``::

    python benchmarks/bench_checksums.py --data-home ../shared/datasets
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import write_result  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "checksums_mnist.json")

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    off = [_run(args.data_home, False) for _ in range(args.repeats)]
    on = [_run(args.data_home, True) for _ in range(args.repeats)]
    result = {
        "protocol": "load_mnist(subset='train') twice in a fresh process, best of "
                    f"{args.repeats} processes; seconds",
        "first_load_without_check": min(t[0] for t in off),
        "first_load_with_check": min(t[0] for t in on),
        "second_load_with_check": min(t[1] for t in on),
        "second_load_without_check": min(t[1] for t in off),
    }
    result["added_by_check"] = result["first_load_with_check"] - result["first_load_without_check"]
    write_result(OUT, result)


if __name__ == "__main__":
    main()
