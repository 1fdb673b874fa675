"""The generated tables: the README and docs/benchmarks.md are in sync with the results,
and a new record of the harness shows up beside the older files."""

import json
import os

import pytest

from benchmarks import make_tables
from benchmarks.harness import iter_records
from benchmarks.harness.results import LEGACY_INDEX, RESULTS


def test_readme_and_docs_tables_are_up_to_date():
    assert make_tables.main(check=True) == 0, "run: python -m benchmarks tables --write"


def test_every_table_has_its_markers():
    names = set()
    for rel in make_tables.FILES:
        with open(os.path.join(make_tables.ROOT, rel)) as f:
            names |= {m.group("name") for m in make_tables._MARKER.finditer(f.read())}
    assert names == set(make_tables.TABLES)


def test_render_file_replaces_marked_regions_only():
    text = "a\n<!-- benchmarks:table t -->\nold\n<!-- /benchmarks:table t -->\nb\n"
    assert make_tables.render_file(text, {"t": "| new |"}) == (
        "a\n<!-- benchmarks:table t -->\n| new |\n<!-- /benchmarks:table t -->\nb\n")
    with pytest.raises(KeyError, match="no table named"):
        make_tables.render_file(text, {})


def test_a_new_record_joins_the_older_files(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    # the index and one of its files, then a harness record of the same case
    with open(os.path.join(RESULTS, LEGACY_INDEX)) as f:
        index = json.load(f)
    name = "ckn_mnist_64_512_svc.json"
    index["files"] = {name: index["files"][name]}
    (results / LEGACY_INDEX).write_text(json.dumps(index))
    payload = json.loads(open(os.path.join(RESULTS, name)).read())
    (results / name).write_text(json.dumps(payload))
    record = {"schema": "sklearn-ckn-benchmark/1", "case": "ckn.linear", "params": {}, "param_hash": "0" * 10,
              "commit": "f" * 40, "date": "2030-01-01T00:00:00+00:00", "machine": payload["machine"],
              "result": dict(payload, test_accuracy=0.5)}
    run_dir = results / "runs" / "ckn.linear"
    run_dir.mkdir(parents=True)
    (run_dir / "0000000000-ffffffffffff.json").write_text(json.dumps(record))
    records = iter_records(results)
    assert [r.get("legacy", False) for r in records] == [True, False]
    table = make_tables.ckn_table(records)
    assert "`results/ckn_mnist_64_512_svc.json`" in table
    assert "`results/runs/ckn.linear/0000000000-ffffffffffff.json`" in table
    assert "| 50.00% |" in table and "| 99.44% |" in table


def test_linear_stage_rows_show_each_solvers_ratio():
    result = {"dataset": "digits", "n_train": 10, "n_test": 5, "n_features": 4, "C": 0.01,
              "ours_over_fastest_other": 0.5, "ours_streamed_over_fastest_other": 0.75,
              "runs": [{"solver": s, "fit_seconds": t, "test_accuracy": 1.0, "objective": 1.0}
                       for s, t in (("ours", 1.0), ("ours_streamed", 1.5), ("cyanure", 2.0))]}
    record = {"case": "linear.stage", "path": "results/runs/linear.stage/x.json", "result": result}
    rows = make_tables.linear_stage_table([record]).splitlines()[2:]
    marks = {row.split(" | ")[3]: row.split(" | ")[7] for row in rows}
    assert marks == {"ours": "0.50x", "ours_streamed": "0.75x", "cyanure": ""}


def test_linear_stage_rows_say_why_a_solver_was_skipped():
    result = {"dataset": "cifar10", "n_train": 10, "n_test": 5, "n_features": 4, "C": 0.01,
              "runs": [{"solver": "liblinear", "skipped": "its float64 copy exceeds memory"}]}
    record = {"case": "linear.stage", "path": "results/runs/linear.stage/x.json", "result": result}
    (row,) = make_tables.linear_stage_table([record]).splitlines()[2:]
    assert "| skipped: its float64 copy exceeds memory | - | - |" in row


def test_compare_table_keeps_the_latest_run_of_each_data_set():
    def record(dataset, date, accuracy):
        result = {"dataset": dataset, "n_train": 10, "n_test": 5, "image_shape": [8, 8],
                  "results": [{"model": "ckn", "accuracy": accuracy, "balanced_accuracy": accuracy,
                               "fit_seconds": 1.0, "predict_seconds": 0.1, "n_train": 10,
                               "n_train_used": 10}]}
        return {"case": "compare.models", "date": date, "result": result,
                "path": f"results/runs/compare.models/{dataset}-{date[:4]}.json"}

    records = [record("mnist", "2026-01-01", 0.9), record("cifar10", "2026-01-01", 0.5),
               record("mnist", "2026-06-01", 0.95)]
    table = make_tables.compare_table(records)
    assert "| 95.00% |" in table and "| 90.00% |" not in table  # the later MNIST run only
    assert "| 50.00% |" in table
    rows = table.splitlines()[2:]
    assert [row.split(" ")[1] for row in rows] == ["mnist", "cifar10"]  # first-seen order
