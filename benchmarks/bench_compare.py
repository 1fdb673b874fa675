"""Run the model comparison on MNIST, CIFAR-10 and Fruits-360.

For each data set, runs the command ``sklearn-ckn compare`` (the package's one
command line, :func:`sklearn_ckn.compare.run_comparison` behind it) with every model
and writes its tables and figures into ``<results>/compare_<dataset>/``
(``results.csv``/``.json``, ``per_class_accuracy.csv``, ``predictions.csv``,
``confusion_matrices.png``, ``misclassified_<model>.png``), then a summary of all
data sets into ``<results>/compare_summary.csv``. Every option besides
``--datasets``, ``--data-home`` and ``--results`` is passed to ``compare`` (see
``python -m sklearn_ckn compare --help``); ``--verbose`` defaults to 2 here.

Full run (hours on a CPU; use a GPU for the CNN and the CKN)::

    python benchmarks/bench_compare.py --data-home ../shared/datasets --device cuda

Smoke test (seconds)::

    python benchmarks/bench_compare.py --data-home ../shared/datasets \\
        --n-train 200 --n-test 100 --quick --results /tmp/bench_compare
"""

import argparse
import os
import sys
import time

import pandas as pd

from sklearn_ckn.__main__ import main as sklearn_ckn_cli
from sklearn_ckn.datasets import available_datasets

HERE = os.path.dirname(os.path.abspath(__file__))
# The data sets of the README's study (of available_datasets()).
DEFAULT_DATASETS = ("mnist", "cifar10", "fruits360")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Other options go to 'python -m sklearn_ckn compare' (see its --help).",
    )
    parser.add_argument("--data-home", default="../shared/datasets",
                        help="folder containing mnist/, cifar-10-batches-py/, fruits-360/")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                        help=f"comma-separated among {', '.join(available_datasets())} "
                             "(default: %(default)s)")
    parser.add_argument("--results", default=os.path.join(HERE, "results"),
                        help="results folder (default: benchmarks/results)")
    args, compare_argv = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in datasets if d not in available_datasets()]
    if unknown:  # before hours of fitting on the first ones
        parser.error(f"--datasets: unknown {', '.join(unknown)}; available: "
                     f"{', '.join(available_datasets())}")
    summaries = []
    for dataset in datasets:
        out = os.path.join(args.results, f"compare_{dataset}")
        start = time.perf_counter()
        status = sklearn_ckn_cli(["compare", "--dataset", dataset, "--data-home", args.data_home,
                                  "--out", out, "--verbose", "2", *compare_argv])
        if status:
            sys.exit(status)
        table = pd.read_csv(os.path.join(out, "results.csv"))
        table.insert(0, "dataset", dataset)
        summaries.append(table)
        print(f"== {dataset} done in {time.perf_counter() - start:.1f} s -> {out}\n")
    summary = pd.concat(summaries, ignore_index=True)
    os.makedirs(args.results, exist_ok=True)
    summary.to_csv(os.path.join(args.results, "compare_summary.csv"), index=False)
    print(summary.to_string(index=False, float_format="%.4f"))
    return summary


if __name__ == "__main__":
    main()
