"""The index of the pre-harness results (``benchmarks/results/legacy_index.json``).

Reads only files of the repository; no git, no data sets.
"""

import json
import os
import shlex

import pytest

from benchmarks import migrate
from benchmarks.harness import iter_records, param_hash, registry
from benchmarks.harness.results import LEGACY_INDEX, RESULTS

with open(os.path.join(RESULTS, LEGACY_INDEX)) as f:
    INDEX = json.load(f)["files"]


def test_every_old_result_file_is_indexed():
    assert sorted(INDEX) == migrate.legacy_files()
    assert len(INDEX) >= 60


@pytest.mark.parametrize("name", sorted(INDEX))
def test_entry_matches_its_file_and_its_case(name):
    entry = INDEX[name]
    with open(os.path.join(RESULTS, name)) as f:
        payload = json.load(f)
    rebuilt = migrate.build_entry(name, payload, git=False)
    assert {k: v for k, v in entry.items() if k not in ("commit", "added_in")} == rebuilt
    assert len(entry["commit"]) == 40 and len(entry["added_in"]) == 40
    case = registry()[entry["case"]]
    assert entry["param_hash"] == param_hash(entry["params"])
    # the rerun command gives the same parameters, hence the same key
    argv = shlex.split(entry["rerun"])
    assert argv[:5] == ["python", "-m", "benchmarks", "run", case.name]
    texts = [argv[i + 1] for i, a in enumerate(argv) if a == "--param"]
    params, _ = case.resolve(texts)
    assert param_hash(params) == entry["param_hash"]


def test_records_read_the_old_files_through_the_index():
    records = [r for r in iter_records() if r.get("legacy")]
    assert len(records) == len(INDEX)
    by_path = {r["path"]: r for r in records}
    r = by_path["results/ckn_mnist_64_512_svc.json"]
    assert r["case"] == "ckn.linear"
    assert r["params"]["ckn__n_filters"] == [64, 512] and r["params"]["clf__C"] == 0.01
    assert r["result"]["test_accuracy"] == r["metrics"]["test_accuracy"]
    assert r["machine"]["cpu_count"] >= 1 and r["command"].startswith("python benchmarks/bench_ckn.py")
    r = by_path["results/defaults/digits_power_0.5.json"]
    assert r["case"] == "defaults.digits" and r["params"]["ckn_params"] == [["power", 0.5]]
