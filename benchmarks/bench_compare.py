"""Run the model comparison on MNIST, CIFAR-10 and Fruits-360.

For each data set, runs :func:`sklearn_ckn.compare.run_comparison` (the code of
``sklearn-ckn compare``) with every model and writes its tables and figures into
``<results>/compare_<dataset>/`` (``results.csv``/``.json``, ``per_class_accuracy.csv``,
``predictions.csv``, ``confusion_matrices.png``, ``misclassified_<model>.png``), then
a summary of all data sets into ``<results>/compare_summary.csv``.

Full run (hours on a CPU; use a GPU for the CNN and the CKN)::

    python benchmarks/bench_compare.py --data-home ../shared/datasets --device cuda

Smoke test (seconds)::

    python benchmarks/bench_compare.py --data-home ../shared/datasets \\
        --n-train 200 --n-test 100 --quick --results /tmp/bench_compare
"""

import argparse
import os
import shlex
import sys
import time

import pandas as pd

from sklearn_ckn.compare import run_comparison
from sklearn_ckn.datasets import available_datasets

HERE = os.path.dirname(os.path.abspath(__file__))
# The data sets of the README's study (of available_datasets()).
DEFAULT_DATASETS = ("mnist", "cifar10", "fruits360")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default="../shared/datasets",
                        help="folder containing mnist/, cifar-10-batches-py/, fruits-360/")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                        help=f"comma-separated among {', '.join(available_datasets())} "
                             "(default: %(default)s)")
    parser.add_argument("--models", default=None, help="comma-separated (default: all)")
    parser.add_argument("--n-train", type=int, default=None, help="training sample (default: all)")
    parser.add_argument("--n-test", type=int, default=None, help="test sample (default: all)")
    parser.add_argument("--cv", type=int, default=None, help="K-fold CV accuracy too")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny models (smoke test)")
    parser.add_argument("--verbose", type=int, default=2,
                        help="2 (default): steps, tables and progress bars")
    parser.add_argument("--results", default=os.path.join(HERE, "results"),
                        help="results folder (default: benchmarks/results)")
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw_argv)

    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in datasets if d not in available_datasets()]
    if unknown:  # before hours of fitting on the first ones
        parser.error(f"--datasets: unknown {', '.join(unknown)}; available: "
                     f"{', '.join(available_datasets())}")
    summaries = []
    for dataset in datasets:
        out = os.path.join(args.results, f"compare_{dataset}")
        start = time.perf_counter()
        result = run_comparison(
            dataset,
            models=args.models,
            data_home=args.data_home,
            n_train=args.n_train,
            n_test=args.n_test,
            cv=args.cv,
            device=args.device,
            out=out,
            random_state=args.random_state,
            verbose=args.verbose,
            quick=args.quick,
            command=shlex.join(["python", "benchmarks/bench_compare.py"] + raw_argv),
        )
        table = result.table.copy()
        table.insert(0, "dataset", dataset)
        summaries.append(table)
        if args.verbose:
            print(f"== {dataset} done in {time.perf_counter() - start:.1f} s -> {out}\n")
    summary = pd.concat(summaries, ignore_index=True)
    os.makedirs(args.results, exist_ok=True)
    summary.to_csv(os.path.join(args.results, "compare_summary.csv"), index=False)
    if args.verbose:
        print(summary.to_string(index=False, float_format="%.4f"))
    return summary


if __name__ == "__main__":
    main()
