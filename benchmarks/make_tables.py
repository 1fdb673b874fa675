"""The README's and the docs' benchmark tables, generated from the results.

Each table is written between two markers in its file::

    <!-- benchmarks:table NAME -->
    ...generated...
    <!-- /benchmarks:table NAME -->

and built from the records of one case (:func:`benchmarks.harness.iter_records`: the
runs of the harness and the indexed older files). Where a table showed a selection of
the older files, it keeps that selection (``legacy``, a shell pattern of their paths)
and adds every run of the harness.

    python -m benchmarks tables            # print every table
    python -m benchmarks tables --write    # write them into README.md and docs/benchmarks.md
    python -m benchmarks tables --check    # exit 1 if a file is out of date (a test runs it)
"""

import fnmatch
import os
import re
import sys

from .harness.results import RESULTS, ROOT, iter_records

__all__ = ["TABLES", "FILES", "build_tables", "render_file", "main"]


def _header(*columns):
    """A markdown table's first two lines."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _select(records, case, legacy=None, where=None):
    """Records of ``case``: harness runs, and indexed older files matching ``legacy``."""
    out = []
    for r in records:
        if r["case"] != case:
            continue
        if r.get("legacy") and legacy is not None and not (
                fnmatch.fnmatchcase(r["path"], legacy) and r["path"].count("/") == legacy.count("/")):
            continue  # ("*" stays within a folder)
        if where is not None and not where(r):
            continue
        out.append(r)
    return out


def machine(r):
    """Short machine description: CPU model (+ matrix units) or the GPU."""
    m = r.get("machine") or {}
    if (m.get("device") or "cpu").startswith("cuda") and m.get("cuda"):
        return m["cuda"]
    flags = m.get("cpu_flags_of_note", [])
    extra = ", AMX" if "amx_bf16" in flags else ""
    return f"{m.get('cpu_count', '?')}-core {m.get('cpu_model', '?')}{extra}"


def ckn_table(records):
    rows = _header(
        "dataset", "CKN config", "features", "classifier", "test acc.", "CKN fit",
        "transform (train+test)", "classifier fit", "total", "transform img/s",
        "GFLOP/s (x matmul)", "machine", "result"
    )
    for rec in _select(records, "ckn.linear", legacy="results/ckn_*.json"):
        r, path = rec["result"], rec["path"]
        p, s, t = r["ckn_params"], r["seconds"], r["throughput"]
        config = f"{'/'.join(map(str, p['n_filters']))} filters, patches {p['patch_sizes']}, subsampling {p['subsamplings']}"
        if p.get("whitening") == "local":
            config += ", local whitening"
        if p.get("mixed_precision"):
            config += ", **bfloat16 patch products** (`mixed_precision=True`)"
        C = r.get("C")
        if C is None:  # results written before "C" was recorded: read it from the repr
            found = re.search(r"\(C=([0-9.e-]+)", r.get("classifier_repr", ""))
            C = float(found.group(1)) if found else None
        classifier = r["classifier"] if C is None else f"{r['classifier']} (C={C:g})"
        if r.get("C_validation_accuracy"):
            classifier += f", C picked on {r.get('C_validation', 'stratified 20% hold-out')}"
        if s.get("C_selection_included"):
            classifier += " along a warm-started path (in the classifier's time)"
        if r.get("flip"):
            classifier += "; **mirrored images added to training, test decision averaged with the mirror's**"
        elif r.get("test_flip"):
            classifier += "; **test decision averaged with the mirror image's**"
        rows.append(
            f"| {r['dataset']} ({r['n_train']}/{r['n_test']}) | {config} | {r['n_features']} | {classifier} "
            f"| {100 * r['test_accuracy']:.2f}% | {s['ckn_fit']:.0f} s | {s['transform_train'] + s['transform_test'] + s.get('transform_mirrored', 0):.0f} s "
            f"| {s['classifier_fit']:.0f} s | {s['total_fit_and_predict'] / 60:.1f} min "
            f"| {t['transform_images_per_second']:.0f} | {t['transform_gflops']:.0f} ({t['ratio_to_matmul']:.2f}) | {machine(rec)} | `{path}` |"
        )
    return "\n".join(rows)


def _stopped(run):
    """The fit-time cell of a fit that ``run_with_timeout`` stopped, or that was skipped."""
    if "skipped" in run:
        return f"skipped: {run['skipped']}"
    return f"> {run['timed_out_after_seconds']:.0f} s (stopped)"


def linear_table(records):
    rows = _header("features", "classifier", "C", "test acc.", "fit time", "result")
    for rec in _select(records, "linear.features", legacy="results/linear_*.json"):
        r, path = rec["result"], rec["path"]
        for run in r["runs"]:
            if "timed_out_after_seconds" in run:
                acc, fit = "-", _stopped(run)
            else:
                acc, fit = f"{100 * run['test_accuracy']:.2f}%", f"{run['fit_seconds']:.0f} s"
            rows.append(
                f"| {r['n_train']} x {r['n_features']} ({r['features']}) | {run['classifier']} | {run['C']} "
                f"| {acc} | {fit} | `{path}` |"
            )
    return "\n".join(rows)


def solver_table(records):
    rows = _header(
        "features", "C", "solver", "iterations", "objective / (C n)", "test acc.", "time",
        "result"
    )
    for rec in _select(records, "svm.solver", legacy="results/svm_solver_*.json",
                       where=lambda r: r["result"].get("benchmark") == "svm_solver"):
        r, path = rec["result"], rec["path"]
        for run in r["runs"]:
            rows.append(
                f"| {r['n_train']} x {r['n_features']} ({r['features']}) | {r['C']:g} | {run['solver']} L-BFGS "
                f"| {run['n_iter']} | {run['objective_over_C_n']:.5f} | {100 * run['test_accuracy']:.2f}% "
                f"| {run['seconds']:.0f} s | `{path}` |"
            )
    return "\n".join(rows)


def linear_stage_table(records):
    """The comparisons' linear stage against liblinear and cyanure: one row per fit."""
    rows = _header(
        "data (train/test)", "features", "C", "solver", "fit time", "test acc.",
        "objective", "ours / fastest other", "machine", "result"
    )
    for rec in _select(records, "linear.stage"):
        r, path = rec["result"], rec["path"]
        data = f"{r['dataset']} ({r['n_train']}/{r['n_test']})"
        for run in r["runs"]:
            ratio = r.get(f"{run['solver']}_over_fastest_other")
            if "fit_seconds" in run:
                fit, acc = f"{run['fit_seconds']:.2f} s", f"{100 * run['test_accuracy']:.2f}%"
                objective = f"{run['objective']:.5g}"
            else:
                fit, acc, objective = _stopped(run), "-", "-"
            mark = f"{ratio:.2f}x" if ratio is not None else ""
            rows.append(f"| {data} | {r['n_features']} | {r['C']:g} | {run['solver']} | {fit} "
                        f"| {acc} | {objective} | {mark} | {machine(rec)} | `{path}` |")
    return "\n".join(rows)


def cnn_table(records):
    rows = _header(
        "dataset", "network", "epochs", "precision", "test acc.", "training", "s/epoch",
        "machine", "result"
    )
    for rec in _select(records, "cnn.train", legacy="results/cnn_*.json"):
        r, path = rec["result"], rec["path"]
        s = r["settings"]
        net = f"{s['architecture']} {tuple(s['widths'])}, {r['n_parameters'] / 1e6:.2f} M params"
        per_epoch = sum(r["seconds_per_epoch"]) / max(len(r["seconds_per_epoch"]), 1)
        rows.append(
            f"| {r['dataset']} ({r['n_train']}/{r['n_test']}) | {net} | {r['epochs_run']} "
            f"| {'bfloat16 autocast' if s.get('mixed_precision') else 'float32'} "
            f"| {100 * r['test_accuracy']:.2f}% | {r['train_seconds'] / 60:.1f} min | {per_epoch:.0f} s "
            f"| {machine(rec)} | `{path}` |"
        )
    return "\n".join(rows)


def cost_per_flop_table(records):
    """Training time per forward FLOP, CKN against CNN: every setting of every record."""
    rows = _header(
        "package", "setting", "CKN epoch", "CNN epoch", "forward MFLOP (CKN / CNN)",
        "CKN per FLOP / CNN's", "machine", "result"
    )
    for rec in _select(records, "supervised.cost_per_flop"):
        r, path = rec["result"], rec["path"]
        package = (r.get("package_commit") or "?")[:7]
        for s in r["settings"]:
            med, flops = s["median_seconds"], s["forward_flops_per_image"]
            rows.append(
                f"| {package} | {s['load']}, {s['precision']} | {med['ckn']:.2f} s "
                f"| {med['cnn']:.2f} s | {flops['ckn'] / 1e6:.1f} / {flops['cnn'] / 1e6:.1f} "
                f"| {s['ratio_per_flop']:.2f}x | {machine(rec)} | `{path}` |"
            )
    return "\n".join(rows)


def supervised_table(records):
    """The supervised CKN's harness runs: start, end, best epoch, epochs and time."""
    rows = _header(
        "dataset (train/test)", "network", "training", "epochs", "start", "test acc.",
        "best (epoch)", "time (start incl.)", "s/epoch", "machine", "result"
    )
    for rec in _select(records, "ckn.supervised", legacy="results/ckn_sup_*.json"):
        r, path = rec["result"], rec["path"]
        p = rec.get("params") or {}
        stages = r.get("stages") or []
        if not stages:
            continue
        net = p.get("architecture") or "x".join(map(str, p.get("n_filters") or [])) or "?"
        schedule = p.get("schedule", "stages")
        training = (f"{p.get('loss', '?')}, {p.get('optimizer', '?')} "
                    f"{p.get('learning_rate', '?')}, {schedule}"
                    + (", alternate" if p.get("alternate") else "")
                    + (", augmented" if p.get("augment") else ""))
        epochs = [s for s in stages if s["epochs"] > 0]
        per_epoch = (sum(s["seconds"] for s in epochs) / max(stages[-1]["epochs"], 1)
                     if epochs else 0.0)
        done = "" if r.get("complete", rec.get("complete", True)) else " (running)"
        # The highest test accuracy of any epoch, as the reference CKN reports it (a
        # choice made on the test set: optimistic, unlike the last epoch's).
        best = max(stages, key=lambda s: s["test_accuracy"])
        rows.append(
            f"| {r['dataset']} ({r['n_train']}/{r['n_test']}) | {net} | {training} "
            f"| {r['epochs_done']}{done} | {100 * stages[0]['test_accuracy']:.2f}% "
            f"| {100 * r['test_accuracy']:.2f}% "
            f"| {100 * best['test_accuracy']:.2f}% ({best['epochs']}) "
            f"| {r['training_seconds'] / 60:.1f} min "
            f"| {per_epoch:.0f} s | {machine(rec)} | `{path}` |"
        )
    return "\n".join(rows)


def compare_table(records):
    rows = _header(
        "dataset (train/test, image size)", "model", "accuracy", "balanced acc.", "fit",
        "predict", "training images used", "result"
    )
    # One run per data set, the latest: a rerun (new recipe, new machine) replaces the
    # rows of the one before, whose files stay where docs/benchmarks.md lists them.
    latest = {}
    for rec in _select(records, "compare.models"):
        dataset = rec["result"]["dataset"]
        if (rec.get("date") or "") >= (latest.get(dataset, {}).get("date") or ""):
            latest[dataset] = rec
    for rec in latest.values():
        r, path = rec["result"], rec["path"]
        size = "x".join(map(str, r["image_shape"]))
        for m in r["results"]:
            used = m["n_train_used"]
            used = f"{used} (subset)" if used < m["n_train"] else f"{used} (all)"
            rows.append(
                f"| {r['dataset']} ({r['n_train']}/{r['n_test']}, {size}) | {m['model']} "
                f"| {100 * m['accuracy']:.2f}% | {100 * m['balanced_accuracy']:.2f}% "
                f"| {m['fit_seconds']:.1f} s | {m['predict_seconds']:.1f} s | {used} | `{path}` |"
            )
    return "\n".join(rows)


#: How the defaults table names the data sets of ``defaults.holdout``, in its row order.
DEFAULTS_ROWS = {"mnist": "MNIST", "cifar10": "CIFAR-10", "fruits360": "Fruits-360 (6 classes, 100x100x3)",
                 "svhn": "SVHN"}


def _latest(records):
    """The most recent record (by date) or None."""
    return max(records, key=lambda r: r.get("date") or "", default=None)


def defaults_table(records):
    """Every default, no scaler: the latest record with no ``ckn_param`` of each data set."""
    def plain(r):
        return not r["params"].get("ckn_params")

    rows, files = [], []
    digits = _latest(_select(records, "defaults.digits", where=plain))
    if digits is not None:
        r = digits["result"]
        files.append([digits["path"]])
        rows.append(f"| digits (1,797 8x8), 3-fold `cross_val_score` mean | {r['ckn_linearsvc']['cv_mean']:.5f} "
                    f"| {r['ckn_logistic_regression']['cv_mean']:.5f} | `SVC()` on pixels: "
                    f"{r['svc_pixels']['cv_mean']:.5f} |")
    for dataset, label in DEFAULTS_ROWS.items():
        holdout = _latest(_select(records, "defaults.holdout",
                                  where=lambda r: plain(r) and r["params"]["dataset"] == dataset))
        if holdout is None:
            continue
        r, paths = holdout["result"], [holdout["path"]]
        kernel = r.get("kernel_svm")
        if kernel is None:
            baseline = _latest(_select(records, "defaults.kernel_svm", where=lambda b: (
                b["params"]["dataset"] == dataset and b["params"]["n"] == holdout["params"]["n"])))
            if baseline is not None:
                kernel, paths = baseline["result"], paths + [baseline["path"]]
        n, n_train, n_test = holdout["params"]["n"], r["n_train"], r["n_test"]
        if n_train == n or n_test == n:
            label += f", first {n_train // 1000}k train / {n_test // 1000}k test"
        else:
            label += f", {n_train:,} / {n_test:,}"
        base = "" if kernel is None else f"`make_model(\"kernel_svm\")`: {kernel['accuracy']:.4f}"
        files.append(paths)
        rows.append(f"| {label} | {r['ckn_linearsvc']['accuracy']:.4f} | | {base} |")
    folder = os.path.commonpath([os.path.dirname(p) for ps in files for p in ps]) if files else "results"
    out = _header("data", "CKN + `LinearSVC()`", "CKN + `LogisticRegression()`", "baseline",
                  f"`benchmarks/{folder}/`")
    for row, paths in zip(rows, files):
        out.append(row + " " + ", ".join(f"`{os.path.relpath(p, folder)}`" for p in paths) + " |")
    return "\n".join(out)


def legacy_table(records):
    """docs/benchmarks.md: every indexed older file, its case, key and rerun command."""
    rows = _header("result", "case", "param hash", "commit", "rerun with")
    for rec in records:
        if rec.get("legacy"):
            rows.append(f"| `{rec['path']}` | `{rec['case']}` | `{rec['param_hash']}` "
                        f"| `{rec['commit'][:7]}` | `{rec['rerun']}` |")
    return "\n".join(rows)


def cases_table(records):
    """docs/benchmarks.md: the registered cases."""
    from .harness import registry

    rows = _header("case", "what it measures", "replaces", "records")
    counts = {}
    for r in records:
        counts[r["case"]] = counts.get(r["case"], 0) + 1
    for name, case in registry().items():
        replaces = f"`{case.legacy_script}`" if case.legacy_script else ""
        rows.append(f"| `{name}` | {case.description} | {replaces} | {counts.get(name, 0)} |")
    return "\n".join(rows)


TABLES = {
    "defaults": defaults_table,
    "ckn": ckn_table,
    "linear": linear_table,
    "solver": solver_table,
    "linear-stage": linear_stage_table,
    "cnn": cnn_table,
    "cost-per-flop": cost_per_flop_table,
    "supervised": supervised_table,
    "compare": compare_table,
    "cases": cases_table,
    "legacy-index": legacy_table,
}

#: The files the tables are written into (relative to the project root).
FILES = ("README.md", "docs/benchmarks.md")

_MARKER = re.compile(r"(<!-- benchmarks:table (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /benchmarks:table (?P=name) -->)",
                     re.S)


def build_tables(results_dir=RESULTS):
    records = iter_records(results_dir)
    return {name: fn(records) for name, fn in TABLES.items()}


def render_file(text, tables):
    """``text`` with every marked region replaced by its table (unknown names: an error)."""
    def replace(match):
        name = match.group("name")
        if name not in tables:
            raise KeyError(f"no table named {name!r}; tables: {', '.join(tables)}")
        return match.group(1) + tables[name] + "\n" + match.group(4)

    return _MARKER.sub(replace, text)


def main(write=False, check=False, results_dir=RESULTS, root=ROOT):
    tables = build_tables(results_dir)
    if not write and not check:
        for name, table in tables.items():
            print(f"<!-- benchmarks:table {name} -->\n{table}\n")
        return 0
    stale = []
    for rel in FILES:
        path = os.path.join(root, rel)
        with open(path) as f:
            text = f.read()
        new = render_file(text, tables)
        if new != text:
            stale.append(rel)
            if write:
                with open(path, "w") as f:
                    f.write(new)
                print(f"wrote {rel}")
    if check and stale:
        print(f"out of date: {', '.join(stale)}: run 'python -m benchmarks tables --write'", file=sys.stderr)
        return 1
    if check:
        print("tables up to date: " + ", ".join(FILES))
    return 0

