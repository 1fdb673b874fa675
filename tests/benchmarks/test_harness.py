"""The benchmark harness: parameters, hashing, the runner, records, stages, registry.

Fast and hermetic: a toy case registered here, results in ``tmp_path``.
"""

import json

import pytest

from benchmarks.harness import Case, arg, find_cases, ints, param_hash, registry, run_case
from benchmarks.harness import results as results_mod
from benchmarks.harness.data import subset_indices, synthetic_images, validation_splits


def _toy_run(ctx):
    p = ctx.params
    value = ctx.stage("square", lambda: p.size ** 2)
    return {"value": value, "sizes": list(p.ckn__sizes), "nested": {"half": p.size / 2}}


TOY = Case(
    name="toy.case", run=_toy_run, description="a toy",
    params=(arg("--size", type=int, default=3), arg("--sizes", dest="ckn__sizes", type=ints, default=(1, 2)),
            arg("--flag", action="store_true"), arg("--where", default="x", hashed=False)),
    metrics=("value", "nested.half", "missing.key"),
    presets={"big": {"size": "10"}},
)


def test_resolve_defaults_presets_and_overrides():
    params, options = TOY.resolve()
    assert params == {"size": 3, "ckn__sizes": (1, 2), "flag": False}
    assert options == {"where": "x"}
    params, _ = TOY.resolve(["ckn__sizes=64,256", "flag=true"], preset="big")
    assert params == {"size": 10, "ckn__sizes": (64, 256), "flag": True}
    # the old command-line spelling of a name is accepted too
    assert TOY.resolve(["--size=4"])[0]["size"] == 4
    assert TOY.resolve({"size": 5, "ckn__sizes": (7, 8)})[0] == {"size": 5, "ckn__sizes": (7, 8), "flag": False}
    with pytest.raises(KeyError, match="no parameter 'nope'"):
        TOY.resolve(["nope=1"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        TOY.resolve(["size"])
    with pytest.raises(KeyError, match="no preset"):
        TOY.resolve(preset="huge")


def test_param_hash_is_stable_and_ignores_unhashed_options():
    a, _ = TOY.resolve()
    b, _ = TOY.resolve(["where=elsewhere"])
    assert param_hash(a) == param_hash(b)
    assert param_hash(a) == param_hash(dict(reversed(list(a.items()))))  # key order
    assert param_hash({"x": (1, 2)}) == param_hash({"x": [1, 2]})  # tuples as lists
    assert param_hash(a) != param_hash(TOY.resolve(["size=4"])[0])
    assert len(param_hash(a)) == 10
    # the legacy commands' parser reads old flags into the same names
    ns, _ = TOY.parser().parse_known_args(["--sizes", "3,4", "--out", "x.json"])
    assert ns.ckn__sizes == (3, 4)


def test_a_parameter_added_later_keeps_the_older_hashes_at_its_default():
    before = Case(name="toy.before", run=lambda ctx: {}, params=(arg("--size", type=int, default=2),))
    after = Case(name="toy.after", run=lambda ctx: {}, params=(
        arg("--size", type=int, default=2),
        arg("--mode", default="plain", hashed="unless_default")))
    old, _ = before.resolve(["size=3"])
    same, options = after.resolve(["size=3"])
    assert param_hash(same) == param_hash(old) and options == {}
    other, options = after.resolve(["size=3", "mode=fancy"])
    assert other == {"size": 3, "mode": "fancy"} and options == {}
    assert param_hash(other) != param_hash(old)
    # the run still sees every parameter
    assert after.namespace(same, options).mode == "plain"


def test_run_case_writes_a_schema_record_and_resumes_stages(tmp_path):
    params, options = TOY.resolve(["size=6"])
    record = run_case(TOY, params, options, results_dir=tmp_path / "results",
                      work_root=tmp_path / "work", command="test")
    path = record["path"]
    commit, dirty = results_mod.git_commit()
    assert path == results_mod.record_path(tmp_path / "results", "toy.case", param_hash(params), commit, dirty)
    with open(path) as f:
        saved = json.load(f)
    for key in ("schema", "case", "params", "param_hash", "options", "commit", "commit_dirty", "date",
                "command", "machine", "versions", "load_average", "seconds", "stages", "metrics",
                "complete", "result"):
        assert key in saved, key
    assert saved["schema"] == results_mod.SCHEMA
    assert saved["result"] == {"value": 36, "sizes": [1, 2], "nested": {"half": 3.0}}
    assert saved["metrics"] == {"value": 36, "nested.half": 3.0, "missing.key": None}
    assert set(saved["load_average"]) == {"before", "after"}
    assert saved["stages"]["square"]["resumed"] is False
    assert saved["complete"] is True
    # same case, parameters and commit: kept unless forced; the stage is read back
    with pytest.raises(FileExistsError):
        run_case(TOY, params, options, results_dir=tmp_path / "results", work_root=tmp_path / "work")
    again = run_case(TOY, params, options, results_dir=tmp_path / "results", work_root=tmp_path / "work",
                     force=True)
    assert again["stages"]["square"]["resumed"] is True
    assert again["result"]["value"] == 36
    # dry run: nothing written
    assert run_case(TOY, TOY.resolve(["size=7"])[0], options, results_dir=tmp_path / "r2",
                    dry_run=True) is None
    assert not (tmp_path / "r2").exists()
    # read back through the loader
    records = results_mod.iter_records(tmp_path / "results", legacy=False)
    assert [r["case"] for r in records] == ["toy.case"]
    assert records[0]["path"].startswith("results/runs/toy.case/")


def test_checkpoint_writes_a_partial_record(tmp_path):
    seen = {}

    def run(ctx):
        ctx.checkpoint({"part": 1})
        path, = (tmp_path / "res" / "runs" / "partial.case").glob("*.json")
        seen.update(json.loads(path.read_text()))  # the partial record, mid-run
        return {"part": 2}

    case = Case(name="partial.case", run=run, description="partial")
    params, options = case.resolve()
    record = run_case(case, params, options, results_dir=tmp_path / "res", work_root=tmp_path / "w")
    assert seen["complete"] is False and seen["result"] == {"part": 1}
    assert record["complete"] is True and record["result"] == {"part": 2}


def test_registry_has_the_ported_cases_and_they_resolve():
    cases = registry()
    assert "ckn.linear" in cases
    for name, case in cases.items():
        assert "." in name, name  # <group>.<what>: never clashes with an old results folder
        assert case.description
        params, options = case.resolve()  # every default parses
        for preset in case.presets:
            case.resolve(preset=preset)
        for metric in case.metrics:
            assert isinstance(metric, str)
    assert [c.name for c in find_cases("ckn")] == [n for n in cases if n.startswith("ckn.")]
    with pytest.raises(KeyError, match="no case matches"):
        find_cases("no.such.case")


def test_ckn_linear_routes_parameters_as_make_model_does():
    case = registry()["ckn.linear"]
    params, options = case.resolve(["ckn__n_filters=8,16", "clf__C=0.5", "classifier=torch-linearsvc"])
    from benchmarks.cases.ckn import build_model

    model = build_model(case.namespace(params, options))
    assert model.get_params()["ckn__n_filters"] == (8, 16)
    assert model.named_steps["clf"].C == 0.5
    assert [name for name, _ in model.steps] == ["ckn", "scaler", "clf"]
    # the legacy script's flags land on the routed names
    ns, _ = case.parser().parse_known_args(["--n-filters", "64,512", "--C", "0.01", "--whitening", "local"])
    assert (ns.ckn__n_filters, ns.clf__C, ns.ckn__whitening) == ((64, 512), 0.01, "local")


def test_shared_split_code():
    y = [0, 1] * 50
    assert list(subset_indices(y, 5, "first")) == [0, 1, 2, 3, 4]
    strat = subset_indices(y, 10, "stratified", seed=0)
    assert len(strat) == 10 and sorted(strat) == list(strat)
    assert sorted(subset_indices(y, None, "shuffle", seed=0)) == list(range(100))
    assert len(subset_indices(y, None, "random")) == 100
    with pytest.raises(ValueError):
        subset_indices(y, 5, "nope")
    import numpy as np

    y = np.array(y)
    (fit, val), = validation_splits(y, 1, 0)
    assert len(val) == 20 and not set(fit) & set(val)
    mirrored = validation_splits(np.tile(y, 2), 3, 0, n_images=100)
    for fit, val in mirrored:  # an image and its mirror on the same side
        assert set(val % 100).isdisjoint(set(fit % 100))
    X, labels = synthetic_images(4, shape=(8, 8))
    assert X.shape == (4, 8, 8) and X.dtype == np.uint8 and len(labels) == 4


def test_benchmarks_import_public_names_of_sklearn_ckn_only():
    """tests/test_public_api.py checks benchmarks/*.py; this checks every module below too."""
    import ast
    from pathlib import Path

    import benchmarks

    def private(part):
        return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))

    found = []
    for path in sorted(Path(benchmarks.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("sklearn_ckn"):
                parts = node.module.split(".") + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                parts = [p for a in node.names if a.name.startswith("sklearn_ckn") for p in a.name.split(".")]
            else:
                continue
            if any(map(private, parts)):
                found.append(f"{path.name}: {ast.unparse(node)}")
    assert found == []


def test_command_line_list_run_dry_run_and_grid(tmp_path, capsys):
    from benchmarks.__main__ import grid_points, main

    assert grid_points([]) == [[]]
    assert grid_points(["a=1|2", "b=x"]) == [["a=1", "b=x"], ["a=2", "b=x"]]
    with pytest.raises(ValueError, match="--grid"):
        grid_points(["a"])
    assert main(["list", "ckn.*", "-v"]) == 0
    assert "--param ckn__n_filters=(64, 256)" in capsys.readouterr().out
    assert main(["run", "ckn.linear", "--preset", "smoke_digits", "--grid", "clf__C=0.1|1",
                 "--dry-run", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("-> ") == 2 and "'clf__C': 0.1" in out and "'clf__C': 1.0" in out
    assert not any(tmp_path.iterdir())  # a dry run writes nothing
    with pytest.raises(SystemExit, match="has no parameter 'dataset'"):
        main(["run", "defaults.*", "--param", "dataset=cifar10", "--dry-run"])
