"""The ``linear.stage`` case on the files of a ``ckn.large`` run (``ckn_params=large``).

Hermetic: a fake ``ckn.large`` work folder with small float16 features in ``tmp_path``;
every fit runs in this process (no spawned solver process).
"""

import json
import os
import queue

import numpy as np
import pytest

from benchmarks.cases import ckn_large, linear_stage
from benchmarks.harness import param_hash, registry, run_case


def _fake_large_run(work_root, n_train=60, n_test=30, d=12, complete=True):
    """A ``ckn.large`` folder (its default parameters' hash) with separable features."""
    params, _ = registry()["ckn.large"].resolve()
    folder = os.path.join(work_root, "ckn.large", param_hash(params))
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 3, n_train), rng.integers(0, 3, n_test)
    centers = rng.normal(size=(3, d))
    for split, y in (("train", y_train), ("test", y_test)):
        F = centers[y] + 0.1 * rng.normal(size=(len(y), d))
        np.save(os.path.join(folder, f"features_{split}.npy"), F.astype(np.float16))
    ckn_large.save_labels(folder, y_train, y_test)
    state = {s: {"seconds": 1.0, "complete": complete} for s in ("fit", "transform_train", "transform_test")}
    with open(os.path.join(folder, "state.json"), "w") as f:
        json.dump(state, f)
    return folder, y_train, y_test


def test_objective_by_chunks_equals_the_dense_objective():
    rng = np.random.default_rng(1)
    F, y = rng.normal(size=(50, 4)).astype(np.float32), rng.integers(0, 3, 50)
    W, b, C = rng.normal(size=(4, 3)), rng.normal(size=3), 0.5
    Y = np.where(y[:, None] == np.arange(3)[None, :], 1.0, -1.0)
    dense = 0.5 * (W**2).sum() + C * (np.maximum(0, 1 - Y * (F.astype(np.float64) @ W + b))**2).sum()
    assert linear_stage._objective(F, y, W, b, C, chunk=7) == pytest.approx(dense, rel=1e-12)


def test_large_features_give_the_files_rows_streamed_or_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(linear_stage, "CHUNK_BYTES", 7 * 12 * 8)  # chunks of 7 rows
    folder, y_train, y_test = _fake_large_run(str(tmp_path))
    path = str(tmp_path / "features.npz")
    info = linear_stage._large_features(str(tmp_path), path)
    assert (info["dataset"], info["n_train"], info["n_test"], info["n_features"]) == ("cifar10", 60, 30, 12)
    F16 = np.load(os.path.join(folder, "features_train.npy"))
    streamed, y, F_test, _ = linear_stage._load(path, "ours_streamed")
    assert isinstance(streamed, ckn_large.NpyRows) and isinstance(F_test, ckn_large.NpyRows)
    np.testing.assert_array_equal(y, y_train)
    in_memory, _, F_test, y = linear_stage._load(path, "cyanure")
    assert in_memory.dtype == np.float32 and isinstance(in_memory, np.ndarray)
    np.testing.assert_array_equal(in_memory, F16.astype(np.float32))
    np.testing.assert_array_equal(streamed[10:20], in_memory[10:20])
    np.testing.assert_array_equal(y, y_test)


def test_large_features_need_a_finished_run(tmp_path):
    _fake_large_run(str(tmp_path), complete=False)
    with pytest.raises(RuntimeError, match="run python -m benchmarks run ckn.large first"):
        linear_stage._large_features(str(tmp_path), str(tmp_path / "features.npz"))


@pytest.mark.parametrize("solver", ["ours", "ours_streamed"])
def test_fit_one_on_large_features(tmp_path, solver):
    torch = pytest.importorskip("torch")
    _fake_large_run(str(tmp_path))
    path = str(tmp_path / "features.npz")
    linear_stage._large_features(str(tmp_path), path)
    out = queue.Queue()
    threads = torch.get_num_threads()
    linear_stage._fit_one(path, solver, 1.0, threads, out)
    record = out.get_nowait()
    assert record["test_accuracy"] == 1.0  # well-separated classes
    assert np.isfinite(record["objective"]) and record["objective"] > 0
    assert torch.get_num_threads() == threads


def test_liblinear_is_skipped_when_its_float64_copy_exceeds_memory(tmp_path, monkeypatch):
    _fake_large_run(str(tmp_path))
    monkeypatch.setattr(linear_stage, "_memory_bytes", lambda: 1000)
    case = registry()["linear.stage"]
    params, options = case.resolve(["ckn_params=large", "solvers=liblinear"])
    record = run_case(case, params, options, results_dir=str(tmp_path / "results"),
                      work_root=str(tmp_path), command="test")
    (run,) = record["result"]["runs"]
    assert run["solver"] == "liblinear" and "exceeds memory" in run["skipped"]
    assert record["result"]["n_features"] == 12 and record["result"]["dataset"] == "cifar10"
