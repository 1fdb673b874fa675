"""Dask and out-of-core features: ``CKNTransformer.transform`` on dask arrays,
``transform_dask``, ``transform_to`` (np.memmap, zarr), and a grid search through
joblib's dask backend on an in-process ``LocalCluster``."""

import pickle

import numpy as np
import pytest
import torch

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sklearn_ckn import CKNClassifier, CKNTransformer, transform_dask, transform_to  # noqa: E402

ATOL = 1e-5


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((30, 8, 8, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def ckn(images):
    return CKNTransformer(n_filters=(4, 8), n_patches=500, kmeans_max_iter=5,
                          random_state=0).fit(images)


@pytest.fixture(scope="module")
def expected(ckn, images):
    return ckn.transform(images)


@pytest.fixture(scope="module")
def client():
    """An in-process LocalCluster (processes=False: starts in a fraction of a second)
    of two single-threaded workers: with one, joblib's dask backend sees one core and
    runs a search's fits sequentially in the caller."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None, silence_logs=40) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture
def spy(monkeypatch):
    """Record the shape of every in-memory (non-dask) ``CKNTransformer.transform`` call
    and torch's thread count during it."""
    calls = []
    original = CKNTransformer.transform

    def transform(self, X):
        if not isinstance(X, da.Array):
            calls.append((tuple(np.shape(X)), torch.get_num_threads()))
        return original(self, X)

    monkeypatch.setattr(CKNTransformer, "transform", transform)
    return calls


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_lazy_transform_matches_in_memory(ckn, images, expected, scheduler):
    lazy = ckn.transform(da.from_array(images, chunks=(7, 8, 8, 3)))
    assert isinstance(lazy, da.Array)
    assert lazy.shape == (30, ckn.n_features_out_)
    assert lazy.chunks == ((7, 7, 7, 7, 2), (ckn.n_features_out_,))
    assert lazy.dtype == np.float32
    assert type(lazy._meta) is np.ndarray and lazy._meta.dtype == np.float32
    assert lazy._meta.shape == (0, 0) or lazy._meta.ndim == 2
    result = lazy.compute(scheduler=scheduler)
    assert result.dtype == np.float32 and result.shape == expected.shape
    np.testing.assert_allclose(result, expected, atol=ATOL)


def test_other_axes_rechunked_and_layouts(ckn, images, expected):
    # chunks that split the image axes are merged: features are per whole image
    lazy = ckn.transform(da.from_array(images, chunks=(10, 4, 3, 2)))
    assert lazy.chunks == ((10, 10, 10), (ckn.n_features_out_,))
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), expected, atol=ATOL)
    # flattened channels-last rows (2-D), split along the columns too
    flat = da.from_array(images.reshape(30, -1), chunks=(16, 50))
    lazy = ckn.transform(flat)
    assert lazy.chunks == ((16, 14), (ckn.n_features_out_,))
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), expected, atol=ATOL)


def test_no_call_on_a_dummy_and_one_thread_per_task(ckn, images, spy):
    before = torch.get_num_threads()
    lazy = ckn.transform(da.from_array(images, chunks=12))
    lazy = lazy[:, :5] + 0  # dask array operations on top do not call transform either
    assert spy == []
    lazy.compute(scheduler="threads")
    assert sorted(shape[0] for shape, _ in spy) == [6, 12, 12]
    assert all(shape[1:] == (8, 8, 3) for shape, _ in spy)
    assert all(threads == 1 for _, threads in spy)  # n_jobs=None: one thread per task
    assert torch.get_num_threads() == before  # the caller's setting is back


def test_n_jobs_sets_the_threads_of_a_task(ckn, images, spy):
    two = pickle.loads(pickle.dumps(ckn)).set_params(n_jobs=2)
    before = torch.get_num_threads()
    two.transform(da.from_array(images, chunks=15)).compute(scheduler="sync")
    assert [threads for _, threads in spy] == [2, 2]
    assert torch.get_num_threads() == before


def test_the_graph_survives_serialisation(ckn, images, expected):
    # what the processes scheduler and a cluster of worker processes do to the graph
    # (the processes scheduler itself starts interpreters: too slow for this suite)
    import cloudpickle

    lazy = ckn.transform(da.from_array(images, chunks=10))
    copy = pickle.loads(cloudpickle.dumps(lazy))
    np.testing.assert_allclose(copy.compute(scheduler="sync"), expected, atol=ATOL)


def test_the_model_is_one_key_of_the_graph(ckn, images):
    lazy = ckn.transform(da.from_array(images, chunks=5))
    graph = dict(lazy.__dask_graph__())
    model_keys = [k for k in graph if isinstance(k, str) and k.startswith("ckntransformer-")]
    assert len(model_keys) == 1
    assert len([k for k in graph if isinstance(k, tuple) and k[0] == lazy.name]) == 6


def test_the_model_is_pickled_once_whatever_the_chunks(ckn, images, expected, client,
                                                        monkeypatch):
    model = pickle.loads(pickle.dumps(ckn))
    counts = []
    original = CKNTransformer.__getstate__

    def getstate(self):
        counts[-1] += 1
        return original(self)

    monkeypatch.setattr(CKNTransformer, "__getstate__", getstate)
    for chunks in (15, 3):
        counts.append(0)
        result = model.transform(da.from_array(images, chunks=chunks)).compute()
        np.testing.assert_allclose(result, expected, atol=ATOL)
    # 2 chunks or 10 chunks: the model is serialised the same number of times (once
    # here, with the graph sent to the scheduler), not once per chunk
    assert counts[0] == counts[1] <= 1


def test_distributed_local_cluster(ckn, images, expected, client):
    lazy = ckn.transform(da.from_array(images, chunks=8))
    result = client.compute(lazy).result()
    np.testing.assert_allclose(result, expected, atol=ATOL)
    np.testing.assert_allclose(lazy.compute(), expected, atol=ATOL)  # default: the client


def test_dask_input_errors(ckn, images):
    with pytest.raises(ValueError, match="fitted on images of shape"):
        ckn.transform(da.from_array(images[:, :6], chunks=10))
    with pytest.raises(ValueError, match="features"):
        ckn.transform(da.from_array(images.reshape(30, -1)[:, :100], chunks=10))
    with pytest.raises(ValueError, match="dimension"):
        ckn.transform(da.from_array(images[..., None], chunks=10))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CKNTransformer().transform(da.from_array(images, chunks=10))
    with pytest.raises(TypeError, match="dask.array.Array"):
        transform_dask(ckn, images)


def test_transformers_without_n_features_out_are_refused_naming_the_helper():
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.zeros((4, 3)))  # fitted, no n_features_out_
    with pytest.raises(ValueError, match="no n_features_out_: transform_dask needs"):
        transform_dask(scaler, da.from_array(np.zeros((4, 3)), chunks=2))
    with pytest.raises(ValueError, match="no n_features_out_: transform_to needs"):
        transform_to(scaler, np.zeros((4, 3)), np.zeros((4, 3)))


def test_dask_is_not_imported_at_module_level():
    """dask is optional: the modules using it import it inside their functions."""
    import ast
    import inspect

    import sklearn_ckn._dask
    import sklearn_ckn._out_of_core

    for module in (sklearn_ckn._dask, sklearn_ckn._out_of_core):
        tree = ast.parse(inspect.getsource(module))
        for node in tree.body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("dask", "distributed", "zarr") for n in names)


# -- out of core --------------------------------------------------------------------------
def test_transform_to_memmap_batch_by_batch(ckn, images, expected, tmp_path, spy):
    path = tmp_path / "features.f32"
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=(30, ckn.n_features_out_))
    assert transform_to(ckn, images, out, batch_size=7) is out
    # memory bound: the transform never sees more than one batch of images
    assert [shape[0] for shape, _ in spy] == [7, 7, 7, 7, 2]
    del out
    on_disk = np.memmap(path, dtype=np.float32, mode="r", shape=(30, ckn.n_features_out_))
    np.testing.assert_allclose(on_disk, expected, atol=ATOL)


def test_transform_to_from_a_memmap_of_images(ckn, images, expected, tmp_path):
    src = np.memmap(tmp_path / "images.f32", dtype=np.float32, mode="w+", shape=images.shape)
    src[:] = images
    src.flush()
    src = np.memmap(tmp_path / "images.f32", dtype=np.float32, mode="r", shape=images.shape)
    out = np.zeros((30, ckn.n_features_out_), dtype=np.float64)  # any float dtype
    transform_to(ckn, src, out)  # batch_size: the estimator's (256)
    np.testing.assert_allclose(out, expected, atol=ATOL)


def test_transform_to_from_dask_chunks_in_flight(ckn, images, expected, spy):
    out = np.zeros((30, ckn.n_features_out_), dtype=np.float32)
    transform_to(ckn, da.from_array(images, chunks=4), out, chunks_in_flight=3)
    np.testing.assert_allclose(out, expected, atol=ATOL)
    assert len(spy) == 8 and max(shape[0] for shape, _ in spy) == 4


def test_transform_to_zarr(ckn, images, expected):
    zarr = pytest.importorskip("zarr")
    out = zarr.zeros(shape=(30, ckn.n_features_out_), chunks=(8, ckn.n_features_out_),
                     dtype="f4")
    transform_to(ckn, images, out, batch_size=8)
    np.testing.assert_allclose(out[:], expected, atol=ATOL)


def test_transform_to_errors(ckn, images, tmp_path):
    nf = ckn.n_features_out_
    with pytest.raises(ValueError, match=r"out has shape \(29, "):
        transform_to(ckn, images, np.zeros((29, nf), np.float32))
    with pytest.raises(ValueError, match="floating dtype"):
        transform_to(ckn, images, np.zeros((30, nf), np.int32))
    read_only = np.zeros((30, nf), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        transform_to(ckn, images, read_only)
    with pytest.raises(TypeError, match="writable array"):
        transform_to(ckn, images, [[0.0] * nf] * 30)
    with pytest.raises(ValueError, match="batch_size"):
        transform_to(ckn, images, np.zeros((30, nf), np.float32), batch_size=0)
    with pytest.raises(ValueError, match="n_features_out_"):
        from sklearn.preprocessing import StandardScaler

        transform_to(StandardScaler().fit(images.reshape(30, -1)), images,
                     np.zeros((30, nf), np.float32))


def test_supervised_ckn_classifier(bars):
    X, y = bars(16, size=8)
    ckn = CKNTransformer(n_filters=(4, 8), n_patches=200, kmeans_max_iter=2)
    clf = CKNClassifier(ckn=ckn, epochs=1, batch_size=8, random_state=0).fit(X, y)
    expected = clf.transform(X)
    lazy = clf.transform(da.from_array(X, chunks=10))  # as transform_dask(clf, ...)
    assert lazy.chunks == ((10, 6), (clf.n_features_out_,))
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), expected, atol=ATOL)
    out = np.zeros_like(expected)
    transform_to(clf, X, out, batch_size=5)
    np.testing.assert_allclose(out, expected, atol=ATOL)


# -- model selection on the cluster ------------------------------------------------------
def test_grid_search_through_joblib_dask_backend(client, bars, monkeypatch):
    import distributed
    import joblib
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    X, y = bars(32, size=8)
    pipe = make_pipeline(
        CKNTransformer(n_filters=(4, 8), n_patches=300, kmeans_max_iter=3, random_state=0),
        LogisticRegression(max_iter=200),
    )
    grid = {"ckntransformer__sigmas": [0.6, 0.8], "logisticregression__C": [0.1, 1.0]}
    local = GridSearchCV(pipe, grid, cv=2).fit(X, y)

    fits = []
    original = CKNTransformer.fit_transform

    def fit_transform(self, X, y=None):
        try:
            distributed.get_worker()
            where = "worker"
        except ValueError:
            where = "client"
        fits.append(where)
        return original(self, X, y)

    # Pipeline.fit calls fit_transform; the in-process worker sees the patched class
    monkeypatch.setattr(CKNTransformer, "fit_transform", fit_transform)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(pipe, grid, cv=2, n_jobs=-1, refit=False).fit(X, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])
    # the fits ran in the cluster's workers (4 candidates x 2 folds), not in the caller
    assert fits == ["worker"] * 8


def test_fit_transform_of_a_dask_array_is_lazy(images, expected):
    # fit_transform of a dask array fits on the images, then returns transform's lazy
    # array (it returned an in-memory array before).
    X = da.from_array(images, chunks=10)
    out = CKNTransformer(n_filters=(4, 8), n_patches=500, kmeans_max_iter=5,
                         random_state=0).fit_transform(X)
    assert isinstance(out, da.Array) and out.chunks[0] == (10, 10, 10)
    np.testing.assert_allclose(out.compute(scheduler="sync"), expected, rtol=1e-5, atol=1e-6)
