"""The benchmarks of sklearn-ckn: registered cases, one runner, results keyed by case,
parameter hash and commit, and the README's tables generated from them.

Run from the project root (see ``docs/benchmarks.md``)::

    python -m benchmarks list                       # the cases and their parameters
    python -m benchmarks run ckn.linear --preset mnist_64_512_svc --data-home ../shared/datasets
    python -m benchmarks run 'kmeans.*' --param repeats=1 --dry-run
    python -m benchmarks tables --write             # README and docs tables from results/
    python -m benchmarks index --write              # the index of the pre-harness results
"""
