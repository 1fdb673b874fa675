"""Print the README's benchmark tables (markdown) from the JSON files in results/.

    python benchmarks/make_tables.py
"""

import glob
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(pattern):
    for path in sorted(glob.glob(os.path.join(HERE, "results", pattern))):
        with open(path) as f:
            yield os.path.relpath(path, HERE), json.load(f)


def _header(*columns):
    """A markdown table's first two lines."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def ckn_table():
    rows = _header(
        "dataset", "CKN config", "features", "classifier", "test acc.", "CKN fit",
        "transform (train+test)", "classifier fit", "total", "transform img/s",
        "GFLOP/s (x matmul)", "machine", "result"
    )
    for path, r in _load("ckn_*.json"):
        if r.get("benchmark") != "ckn":  # the supervised and out-of-core runs have their own tables
            continue
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
            f"| {t['transform_images_per_second']:.0f} | {t['transform_gflops']:.0f} ({t['ratio_to_matmul']:.2f}) | {machine(r)} | `{path}` |"
        )
    return "\n".join(rows)


def linear_table():
    rows = _header("features", "classifier", "C", "test acc.", "fit time", "result")
    for path, r in _load("linear_*.json"):
        for run in r["runs"]:
            if "timed_out_after_seconds" in run:
                acc, fit = "-", f"> {run['timed_out_after_seconds']:.0f} s (stopped)"
            else:
                acc, fit = f"{100 * run['test_accuracy']:.2f}%", f"{run['fit_seconds']:.0f} s"
            rows.append(
                f"| {r['n_train']} x {r['n_features']} ({r['features']}) | {run['classifier']} | {run['C']} "
                f"| {acc} | {fit} | `{path}` |"
            )
    return "\n".join(rows)


def solver_table():
    rows = _header(
        "features", "C", "solver", "iterations", "objective / (C n)", "test acc.", "time",
        "result"
    )
    for path, r in _load("svm_solver_*.json"):
        for run in r["runs"]:
            rows.append(
                f"| {r['n_train']} x {r['n_features']} ({r['features']}) | {r['C']:g} | {run['solver']} L-BFGS "
                f"| {run['n_iter']} | {run['objective_over_C_n']:.5f} | {100 * run['test_accuracy']:.2f}% "
                f"| {run['seconds']:.0f} s | `{path}` |"
            )
    return "\n".join(rows)


def machine(r):
    """Short machine description: CPU model (+ matrix units) or the GPU."""
    m = r.get("machine", {})
    if m.get("device", "cpu").startswith("cuda") and m.get("cuda"):
        return m["cuda"]
    flags = m.get("cpu_flags_of_note", [])
    extra = ", AMX" if "amx_bf16" in flags else ""
    return f"{m.get('cpu_count', '?')}-core {m.get('cpu_model', '?')}{extra}"


def cnn_table():
    rows = _header(
        "dataset", "network", "epochs", "precision", "test acc.", "training", "s/epoch",
        "machine", "result"
    )
    for path, r in _load("cnn_*.json"):
        s = r["settings"]
        net = f"{s['architecture']} {tuple(s['widths'])}, {r['n_parameters'] / 1e6:.2f} M params"
        per_epoch = sum(r["seconds_per_epoch"]) / max(len(r["seconds_per_epoch"]), 1)
        rows.append(
            f"| {r['dataset']} ({r['n_train']}/{r['n_test']}) | {net} | {r['epochs_run']} "
            f"| {'bfloat16 autocast' if s.get('mixed_precision') else 'float32'} "
            f"| {100 * r['test_accuracy']:.2f}% | {r['train_seconds'] / 60:.1f} min | {per_epoch:.0f} s "
            f"| {machine(r)} | `{path}` |"
        )
    return "\n".join(rows)


def compare_table():
    rows = _header(
        "dataset (train/test, image size)", "model", "accuracy", "balanced acc.", "fit",
        "predict", "training images used", "result"
    )
    for path, r in _load("compare_*/results.json"):
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


if __name__ == "__main__":
    print("### CKN + linear classifier\n")
    print(ckn_table())
    print("\n### Linear classifiers on CKN features\n")
    print(linear_table())
    print("\n### TorchLinearSVC: plain against preconditioned L-BFGS\n")
    print(solver_table())
    print("\n### CNNClassifier\n")
    print(cnn_table())
    print("\n### Model comparison (`sklearn-ckn compare`)\n")
    print(compare_table())
