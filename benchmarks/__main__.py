"""The one entry point of the benchmarks: ``python -m benchmarks {list,run,tables,index}``.

* ``list [PATTERN]``: the registered cases, their parameters (name, default) and presets;
* ``run PATTERN [--preset NAME] [--param NAME=VALUE ...] [--grid NAME=V1|V2 ...]
  [--data-home DIR] [--dry-run]``: run every matching case (once per point of the
  grid, if any), each run writing one record to
  ``benchmarks/results/runs/<case>/<param_hash>-<commit>.json``;
* ``tables [--write | --check]``: print the README and docs tables generated from the
  results, write them between their markers, or fail if the files are out of date;
* ``index [--write | --check]``: the index of the results written before the harness
  (``results/legacy_index.json``: each old file's case, parameters, hash and commit).
"""

import argparse
import sys


def _list(args):
    from .harness import find_cases

    for case in find_cases(args.pattern or "*"):
        print(f"{case.name}: {case.description}")
        extra = [f"dataset={case.dataset}" if case.dataset else "", f"model={case.model}" if case.model else "",
                 f"stages={','.join(case.stages)}" if case.stages else "",
                 f"replaces benchmarks/{case.legacy_script}" if case.legacy_script else ""]
        if any(extra):
            print("    " + "; ".join(e for e in extra if e))
        if args.verbose:
            for p in case.params:
                mark = "" if p.hashed else " (not hashed)"
                print(f"    --param {p.dest}={p.default!r}{mark}  {p.help}")
            for name, preset in case.presets.items():
                print(f"    --preset {name}: " + " ".join(f"{k}={v}" for k, v in preset.items()))
    return 0


def grid_points(grid):
    """``["a=1|2", "b=x|y"]`` -> ``[["a=1", "b=x"], ["a=1", "b=y"], ["a=2", "b=x"], ...]``
    (one list of ``NAME=VALUE`` texts per point of the product; ``[[]]`` without a grid)."""
    import itertools

    axes = []
    for text in grid:
        name, sep, values = text.partition("=")
        if not sep or not values:
            raise ValueError(f"--grid expects NAME=V1|V2..., got {text!r}")
        axes.append([f"{name}={v}" for v in values.split("|")])
    return [list(point) for point in itertools.product(*axes)]


def _run(args):
    import argparse as _argparse

    from .harness import find_cases, run_case

    cases = find_cases(args.pattern)
    points = grid_points(args.grid)
    if args.out and len(cases) * len(points) > 1:
        raise SystemExit("--out needs one case and no grid")
    plans = []
    for case in cases:  # every parameter checked before anything runs
        for point in points:
            try:
                plans.append((case, *case.resolve(args.param + point, preset=args.preset)))
            except (KeyError, ValueError, _argparse.ArgumentError) as exc:
                raise SystemExit(f"error: {exc.args[0] if exc.args else exc}") from None
    status = 0
    for case, params, options in plans:
        try:
            run_case(case, params, options, results_dir=args.results, data_home=args.data_home,
                     work_root=args.work_root, dry_run=args.dry_run, force=args.force, out=args.out)
        except FileExistsError as exc:
            print(f"[{case.name}] skipped: {exc}", file=sys.stderr)
            status = 1
    return status


def _tables(args):
    from . import make_tables

    return make_tables.main(write=args.write, check=args.check)


def _index(args):
    from . import migrate

    return migrate.main(write=args.write, check=args.check)


def main(argv=None):
    from .harness.results import RESULTS

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="the registered cases")
    p.add_argument("pattern", nargs="?", help="shell pattern of case names (default: all)")
    p.add_argument("-v", "--verbose", action="store_true", help="also parameters and presets")
    p.set_defaults(func=_list)
    p = sub.add_parser("run", help="run the cases matching a pattern")
    p.add_argument("pattern", help="case name, group (e.g. 'ckn') or shell pattern")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter, as on the command line (ckn__n_filters=64,256; flip=true)")
    p.add_argument("--grid", action="append", default=[], metavar="NAME=V1|V2",
                   help="one run per value (several --grid: their product), e.g. dataset=mnist|cifar10")
    p.add_argument("--preset", default=None, help="a named parameter set of the case")
    p.add_argument("--data-home", default="../shared/datasets", help="folder of the real data sets")
    p.add_argument("--results", default=RESULTS, help="results folder (default: benchmarks/results)")
    p.add_argument("--work-root", default=None,
                   help="where resumable stages are saved (default: ~/.cache/sklearn-ckn-benchmarks)")
    p.add_argument("--out", default=None, help="write the record here instead (one case only)")
    p.add_argument("--dry-run", action="store_true", help="print the parameters and the record path only")
    p.add_argument("--force", action="store_true", help="overwrite a record of the same case, params, commit")
    p.set_defaults(func=_run)
    for name, func, what in [("tables", _tables, "the README and docs tables"),
                             ("index", _index, "the index of the pre-harness results")]:
        p = sub.add_parser(name, help=what)
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--write", action="store_true", help="write the files")
        mode.add_argument("--check", action="store_true", help="exit 1 if the files are out of date")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
