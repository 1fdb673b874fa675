"""TorchLinearSVC on features read by row chunks: np.memmap, zarr, dask, array-likes."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification

from sklearn_ckn.core.linear_svm import (
    RowChunks,
    build_preconditioner,
    fit_squared_hinge_ovr,
    squared_hinge_objective,
    squared_hinge_value_and_grad,
)
from sklearn_ckn.svm import TorchLinearSVC, TorchLinearSVCCV, _streaming

# float64 and a tight tolerance: every path converges to the (unique) optimum, so the
# solutions agree to far below what the rounding of chunked sums could move them.
_EXACT = {"C": 0.1, "dtype": "float64", "tol": 1e-10, "device": "cpu"}


def _data(n=300, d=12, k=3, seed=0):
    X, y = make_classification(n, d, n_informative=6, n_classes=k, random_state=seed)
    return X, y


def _memmap(tmp_path, X, dtype=np.float64, mode="r"):
    path = tmp_path / "features.f64"
    out = np.memmap(path, dtype=dtype, mode="w+", shape=X.shape)
    out[:] = X
    out.flush()
    del out
    return np.memmap(path, dtype=dtype, mode=mode, shape=X.shape)


class RecordingArray:
    """An on-disk-like array: ``shape``, ``dtype`` and row slicing, recording every request."""

    def __init__(self, X):
        self._X = X
        self.shape, self.dtype = X.shape, X.dtype
        self.requests = []  # rows read per request
        self.fancy = 0  # requests by lists of rows rather than slices

    def __getitem__(self, key):
        if not isinstance(key, slice):
            key = np.asarray(key)
            assert key.ndim == 1 and key.dtype.kind == "i", f"rows only, got {key!r}"
            self.fancy += 1
        rows = self._X[key]
        self.requests.append(len(rows))
        return rows.copy()


def test_chunked_objective_gradient_and_preconditioner_equal_the_in_memory_ones():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(70, 6, generator=gen, dtype=torch.float64)
    Y = torch.where(torch.rand(70, 3, generator=gen) > 0.5, 1.0, -1.0).double()
    W, b = 0.3 * torch.randn(6, 3, generator=gen, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    chunks = RowChunks.from_tensor(X, 16)
    assert chunks.bounds == [0, 16, 32, 48, 64, 70]
    for ours, ref in zip(squared_hinge_value_and_grad(chunks, Y, W, b, 0.7),
                         squared_hinge_value_and_grad(X, Y, W, b, 0.7)):
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(squared_hinge_objective(chunks, Y, W, b, 0.7),
                               squared_hinge_objective(X, Y, W, b, 0.7))
    # dense (25 of 70 rows sampled: chunks without a sampled row are skipped) and low rank
    for kwargs in [{"n_hessian_samples": 25}, {"n_hessian_samples": 25, "max_dense_features": 4}]:
        ours, ref = build_preconditioner(chunks, **kwargs), build_preconditioner(X, **kwargs)
        ours.set(C=0.7, active_fraction=0.4)
        ref.set(C=0.7, active_fraction=0.4)
        P = torch.randn(7, 3, generator=gen, dtype=torch.float64)
        torch.testing.assert_close(ours.to_v(P), ref.to_v(P), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("max_dense_features", [16_384, 5])  # dense, low-rank preconditioner
def test_solver_on_row_chunks_reaches_the_in_memory_optimum(max_dense_features):
    X, y = _data(d=12)
    Xt = torch.as_tensor(X)
    Y = torch.as_tensor(np.where(y[:, None] == np.arange(3), 1.0, -1.0))
    kwargs = {"C": 0.1, "tol": 1e-10, "n_hessian_samples": 50, "max_dense_features": max_dense_features}
    W, b, _ = fit_squared_hinge_ovr(Xt, Y, **kwargs)
    Wc, bc, _ = fit_squared_hinge_ovr(RowChunks.from_tensor(Xt, 37), Y, **kwargs)
    torch.testing.assert_close(Wc, W, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(bc, b, rtol=1e-6, atol=1e-8)


def test_row_chunks_reject_bad_bounds_and_chunks_of_the_wrong_shape():
    with pytest.raises(ValueError, match="bounds must increase"):
        RowChunks(lambda i: None, [0, 5, 5, 9], 3, dtype=torch.float32)
    chunks = RowChunks(lambda i: np.zeros((4, 3)), [0, 5], 3, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"Chunk 0 has shape \(4, 3\), expected \(5, 3\)"):
        chunks.chunk(0)


@pytest.mark.parametrize("k", [2, 3])
def test_memmap_fit_equals_the_in_memory_fit(tmp_path, k):
    X, y = _data(k=k)
    ref = TorchLinearSVC(**_EXACT).fit(X, y)
    mm = _memmap(tmp_path, X)  # read-only: torch cannot wrap it, chunks are copied
    clf = TorchLinearSVC(**_EXACT, chunk_size=64).fit(mm, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
    assert clf.n_features_in_ == X.shape[1]
    scores = clf.decision_function(mm)
    assert type(scores) is np.ndarray and scores.shape == ref.decision_function(X).shape
    np.testing.assert_allclose(scores, ref.decision_function(X), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(clf.predict(mm), ref.predict(X))
    assert clf.score(mm, y) == pytest.approx(ref.score(X, y))


def test_float32_memmap_fit_and_float64_memmap_in_float32(tmp_path):
    X, y = _data()
    ref = TorchLinearSVC(C=0.1, device="cpu").fit(X.astype(np.float32), y)
    mm = _memmap(tmp_path, X.astype(np.float32), dtype=np.float32, mode="r+")  # wrapped, not copied
    clf = TorchLinearSVC(C=0.1, device="cpu", chunk_size=100).fit(mm, y)
    assert (clf.predict(mm) == ref.predict(X)).mean() > 0.97
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-2, atol=1e-3)


def test_dask_fit_equals_the_in_memory_fit_and_never_computes_the_whole_array(monkeypatch):
    da = pytest.importorskip("dask.array")
    X, y = _data()
    ref = TorchLinearSVC(**_EXACT).fit(X, y)
    computed = []

    def record(block):
        computed.append(block.shape[0])
        return block

    # column chunks too: they are merged, rows never
    dX = da.from_array(X, chunks=(70, 5)).map_blocks(record, dtype=X.dtype)
    whole = AssertionError("the whole dask array was computed")
    monkeypatch.setattr(da.Array, "compute", lambda *a, **k: (_ for _ in ()).throw(whole))
    monkeypatch.setattr(da.Array, "__array__", lambda *a, **k: (_ for _ in ()).throw(whole))
    clf = TorchLinearSVC(**_EXACT).fit(dX, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
    assert computed and max(computed) <= 70  # blocks of 70 rows, one column block at a time
    assert clf.n_iter_ > 1 and len(computed) > 5 * 3 * clf.n_iter_  # every pass read every block
    monkeypatch.undo()
    scores, labels = clf.decision_function(dX), clf.predict(dX)
    assert isinstance(scores, da.Array) and scores.chunks == ((70, 70, 70, 70, 20), (3,))
    assert isinstance(labels, da.Array) and labels.chunks == ((70, 70, 70, 70, 20),)
    np.testing.assert_allclose(scores.compute(), ref.decision_function(X), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(labels.compute(), ref.predict(X))


def test_dask_binary_scores_are_one_column_and_chunk_size_rechunks_rows():
    da = pytest.importorskip("dask.array")
    X, y = _data(k=2)
    ref = TorchLinearSVC(**_EXACT).fit(X, y)
    dX = da.from_array(X, chunks=150)
    clf = TorchLinearSVC(**_EXACT, chunk_size=40).fit(dX, da.from_array(y, chunks=150))
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    scores = clf.decision_function(dX)
    assert scores.shape == (300,)
    np.testing.assert_allclose(scores.compute(), ref.decision_function(X), rtol=1e-6, atol=1e-8)
    rows = _streaming.streamed_rows(dX, dtype=torch.float64, device="cpu", chunk_size=40)
    assert rows.bounds == list(range(0, 300, 40)) + [300]


def test_zarr_fit_equals_the_in_memory_fit(tmp_path):
    zarr = pytest.importorskip("zarr")
    X, y = _data()
    ref = TorchLinearSVC(**_EXACT).fit(X, y)
    z = zarr.open(str(tmp_path / "features.zarr"), mode="w", shape=X.shape, chunks=(50, 12), dtype="f8")
    z[:] = X
    clf = TorchLinearSVC(**_EXACT).fit(z, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(clf.decision_function(z), ref.decision_function(X), rtol=1e-6, atol=1e-8)
    options = {"Cs": [0.01, 0.1], "cv": 2, "dtype": "float64", "tol": 1e-10, "device": "cpu"}
    cv, cv_ref = TorchLinearSVCCV(**options).fit(z, y), TorchLinearSVCCV(**options).fit(X, y)
    np.testing.assert_array_equal(cv.scores_, cv_ref.scores_)  # validation rows read by oindex
    np.testing.assert_allclose(cv.coef_, cv_ref.coef_, rtol=1e-6, atol=1e-9)


def test_the_solver_reads_one_chunk_of_rows_at_a_time():
    X, y = _data()
    ref = TorchLinearSVC(**_EXACT).fit(X, y)
    arr = RecordingArray(X)
    clf = TorchLinearSVC(**_EXACT, chunk_size=32).fit(arr, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert max(arr.requests) == 32 and min(arr.requests) == 300 % 32 and arr.fancy == 0
    assert sum(arr.requests) >= 300 * clf.n_iter_  # streamed at every evaluation, never kept
    arr.requests.clear()
    np.testing.assert_array_equal(clf.predict(arr), ref.predict(X))
    assert max(arr.requests) == 32 and sum(arr.requests) == 300


def test_default_chunk_size_is_bounded_in_bytes_and_follows_the_arrays_own_chunks(monkeypatch):
    X, _ = _data(d=12)
    monkeypatch.setattr(_streaming, "DEFAULT_CHUNK_BYTES", 12 * 8 * 50)  # 50 float64 rows
    rows = _streaming.streamed_rows(RecordingArray(X), dtype=torch.float64, device="cpu")
    assert rows.bounds == list(range(0, 300, 50)) + [300]
    rows = _streaming.streamed_rows(RecordingArray(X), dtype=torch.float32, device="cpu")  # 100 rows
    assert rows.bounds == [0, 100, 200, 300]
    stored = RecordingArray(X)
    stored.chunks = (30, 12)  # as zarr and h5py arrays state them: 100 rows -> 90
    rows = _streaming.streamed_rows(stored, dtype=torch.float32, device="cpu")
    assert rows.bounds == [0, 90, 180, 270, 300]


def test_non_finite_values_in_a_chunk_are_a_clear_error(tmp_path):
    X, y = _data()
    X[205, 3] = np.nan
    with pytest.raises(ValueError, match=r"Input X contains NaN or infinity \(in rows 200 to 250\)"):
        TorchLinearSVC(device="cpu", chunk_size=50).fit(_memmap(tmp_path, X), y)


def test_streamed_inputs_are_validated(tmp_path):
    X, y = _data()
    mm = _memmap(tmp_path, X)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[300, 299\]"):
        TorchLinearSVC(device="cpu").fit(mm, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        TorchLinearSVC(device="cpu").fit(mm, np.zeros(300))
    with pytest.raises(ValueError, match="2-D features"):
        TorchLinearSVC(device="cpu").fit(RecordingArray(X.reshape(300, 3, 4)), y)
    with pytest.raises(ValueError, match="real numeric dtype"):
        TorchLinearSVC(device="cpu").fit(RecordingArray(X.astype(complex)), y)
    clf = TorchLinearSVC(device="cpu").fit(mm, y)
    with pytest.raises(ValueError, match="X has 11 features, but TorchLinearSVC is expecting 12"):
        clf.decision_function(RecordingArray(X[:, :11]))
    with pytest.raises(ValueError, match="chunk_size"):
        TorchLinearSVC(device="cpu", chunk_size=0).fit(mm, y)


def test_dask_of_unknown_chunk_sizes_is_a_clear_error():
    da = pytest.importorskip("dask.array")
    X, y = _data()
    dX = da.from_array(X, chunks=100)
    dX = dX[dX[:, 0] > -np.inf]  # unknown row counts
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        TorchLinearSVC(device="cpu").fit(dX, y)


def test_streamed_decision_of_the_cv_estimator_and_of_a_pickled_model(tmp_path):
    import pickle

    X, y = _data()
    mm = _memmap(tmp_path, X)
    clf = TorchLinearSVCCV(Cs=[0.01, 0.1], cv=2, device="cpu").fit(X, y)
    np.testing.assert_allclose(clf.decision_function(mm), clf.decision_function(X), rtol=1e-10)
    clone = pickle.loads(pickle.dumps(TorchLinearSVC(device="cpu", chunk_size=16).fit(mm, y)))
    np.testing.assert_array_equal(clone.predict(mm), clone.predict(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_streamed_fit_on_cuda_equals_the_cpu_fit(tmp_path):
    X, y = _data()
    mm = _memmap(tmp_path, X)
    cpu = TorchLinearSVC(**_EXACT).fit(X, y)
    gpu = TorchLinearSVC(**{**_EXACT, "device": "cuda"}, chunk_size=64).fit(mm, y)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["memmap", "dask"])
def test_cv_on_streamed_features_equals_the_in_memory_cv(tmp_path, kind):
    X, y = _data()
    if kind == "memmap":
        Xs = _memmap(tmp_path, X)
    else:
        Xs = pytest.importorskip("dask.array").from_array(X, chunks=64)
    options = {"Cs": [0.003, 0.03, 0.3], "cv": 3, "dtype": "float64", "tol": 1e-10, "device": "cpu"}
    ref = TorchLinearSVCCV(**options).fit(X, y)
    arr = RecordingArray(X)
    clf = TorchLinearSVCCV(**options, chunk_size=50).fit(Xs if kind == "dask" else arr, y)
    if kind == "memmap":
        assert max(arr.requests) == 50  # folds by masks, validation rows by chunks: no copy of X
        clf = TorchLinearSVCCV(**options, chunk_size=50).fit(Xs, y)
    assert clf.C_ == ref.C_
    np.testing.assert_array_equal(clf.scores_, ref.scores_)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)


def test_wide_streamed_fit_and_cv_run_in_the_rows_span_and_equal_the_in_memory_ones(tmp_path):
    # Fewer rows than features: the span is built from row chunks (one chunk at a
    # time read), and every fit equals the in-memory one.
    X, y = _data(n=60, d=150)
    options = {"Cs": [0.003, 0.03, 0.3], "cv": 3, "dtype": "float64", "tol": 1e-10, "device": "cpu"}
    arr = RecordingArray(X)
    for est in [TorchLinearSVC(**_EXACT), TorchLinearSVCCV(**options)]:
        ref = clone(est).fit(X, y)
        clf = clone(est).set_params(chunk_size=25).fit(arr, y)
        assert max(arr.requests) == 25
        np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)
    assert clf.C_ == ref.C_
    np.testing.assert_array_equal(clf.scores_, ref.scores_)


def test_row_subset_reads_rows_in_increasing_order_and_returns_them_in_the_given_one():
    X = np.arange(20.0).reshape(10, 2)
    seen = []

    class Sorted(RecordingArray):
        def __getitem__(self, key):
            seen.append(np.asarray(key).tolist())
            return super().__getitem__(key)

    subset = _streaming.RowSubset(Sorted(X), [7, 2, 9, 0])
    np.testing.assert_array_equal(subset[0:3], X[[7, 2, 9]])
    assert seen == [[2, 7, 9]]
    with pytest.raises(TypeError, match="slices"):
        subset[0]
