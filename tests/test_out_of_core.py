"""transform_to into files: progress records, resuming, reserved disk blocks, overflow.

A cheap transformer (the pixels times a factor) stands in for a CKN, so that every
case, and the property-based ones, run in milliseconds; one test checks that a real
fitted CKNTransformer keeps its fingerprint through a pickle (a resumed run loads it
from disk).
"""

import errno
import json
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, TransformerMixin

from sklearn_ckn import CKNTransformer, transform_to
from sklearn_ckn._out_of_core import (
    PROGRESS_SUFFIX,
    IncompleteFeaturesError,
    fingerprint,
    load_features,
)


class Scale(TransformerMixin, BaseEstimator):
    """Features: the flattened pixels times ``factor``.

    ``interrupt(k)`` makes ``transform`` raise KeyboardInterrupt (Ctrl-C) once ``k``
    rows have been transformed; ``rows_seen`` counts them. Both are private state,
    outside the fingerprint, like a process that is stopped and started again.
    """

    def __init__(self, factor=2.0):
        self.factor = factor

    def fit(self, X, y=None):
        self.n_features_out_ = int(np.prod(np.shape(X)[1:]))
        return self.interrupt(None)

    def interrupt(self, at):
        self._interrupt_at, self._seen = at, []
        return self

    @property
    def rows_seen(self):
        return sum(len(rows) for rows in self._seen)

    def transform(self, X):
        X = np.asarray(X)
        if self._interrupt_at is not None and self.rows_seen >= self._interrupt_at:
            raise KeyboardInterrupt
        self._seen.append(X[:, 0, 0].tolist())
        return (X.reshape(len(X), -1) * self.factor).astype(np.float32)


def _images(n, seed=0):
    return np.random.default_rng(seed).random((n, 3, 2), dtype=np.float32)


def _record(path):
    with open(str(path) + PROGRESS_SUFFIX) as f:
        return json.load(f)


def test_interrupted_run_is_incomplete_and_resumes_after_the_last_batch(tmp_path):
    X = _images(10)
    path = tmp_path / "features.npy"
    est = Scale().fit(X).interrupt(4)
    with pytest.raises(KeyboardInterrupt):
        transform_to(est, X, path, batch_size=2)
    # Before: a full-size file of mostly zeros that reopened without complaint.
    assert _record(path)["rows_done"] == 4 and not _record(path)["complete"]
    with pytest.raises(IncompleteFeaturesError, match="4 of 10 rows") as info:
        load_features(path)
    assert (info.value.rows_done, info.value.n_rows) == (4, 10)
    est.interrupt(None)
    out = transform_to(est, X, path, batch_size=2, resume=True)
    assert est.rows_seen == 6  # only the rows not yet written
    np.testing.assert_array_equal(out, X.reshape(10, -1) * 2)
    np.testing.assert_array_equal(load_features(path), X.reshape(10, -1) * 2)
    assert _record(path)["complete"]
    est.interrupt(None)
    transform_to(est, X, path, resume=True)  # complete: nothing to do
    assert est.rows_seen == 0


def test_a_reused_file_is_marked_incomplete_before_its_first_row(tmp_path):
    X = _images(6)
    path = tmp_path / "features.npy"
    transform_to(Scale(factor=1.0).fit(X), X, path, batch_size=2)
    assert load_features(path) is not None
    with pytest.raises(KeyboardInterrupt):
        transform_to(Scale(factor=5.0).fit(X).interrupt(0), X, path, batch_size=2)
    # Before: the first run's features, returned as if they were the second run's.
    with pytest.raises(IncompleteFeaturesError, match="0 of 6 rows"):
        load_features(path)


def test_resume_refuses_the_record_of_another_estimator(tmp_path):
    X = _images(6)
    path = tmp_path / "features.npy"
    with pytest.raises(KeyboardInterrupt):
        transform_to(Scale().fit(X).interrupt(2), X, path, batch_size=2)
    with pytest.raises(ValueError, match="another estimator or other images"):
        transform_to(Scale(factor=3.0).fit(X), X, path, batch_size=2, resume=True)
    with pytest.raises(ValueError, match="another estimator or other images"):
        transform_to(Scale().fit(X).interrupt(2), _images(6, seed=1), path, resume=True)
    out = transform_to(Scale(factor=3.0).fit(X), X, path, batch_size=2)  # resume=False: anew
    np.testing.assert_array_equal(out, X.reshape(6, -1) * 3)


def test_a_whole_file_memmap_gets_a_record_and_a_slice_does_not(tmp_path):
    X = _images(6)
    est = Scale().fit(X)
    whole = np.memmap(tmp_path / "whole.f32", dtype=np.float32, mode="w+", shape=(6, 6))
    transform_to(est, X, whole, batch_size=4)
    assert _record(tmp_path / "whole.f32")["complete"]
    part = np.memmap(tmp_path / "part.f32", dtype=np.float32, mode="w+", shape=(12, 6))
    transform_to(est, X, part[6:])
    assert not os.path.exists(str(tmp_path / "part.f32") + PROGRESS_SUFFIX)
    np.testing.assert_array_equal(part[6:], whole)


def test_load_features_refuses_a_file_without_record(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.ones((2, 2)))
    with pytest.raises(IncompleteFeaturesError, match="no progress record"):
        load_features(path)


@pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="no posix_fallocate")
def test_disk_blocks_are_reserved_before_the_first_batch(tmp_path):
    X = _images(64)
    path = tmp_path / "features.npy"
    with pytest.raises(KeyboardInterrupt):
        transform_to(Scale().fit(X).interrupt(0), X, path, batch_size=8, dtype=np.float64)
    # Before: a sparse file, whose pages got disk blocks only when written (SIGBUS
    # when the disk was full by then).
    assert os.stat(path).st_blocks * 512 >= 64 * 6 * 8


@pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="no posix_fallocate")
def test_a_full_disk_is_an_oserror_before_any_feature_is_computed(tmp_path, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    X = _images(6)
    est = Scale().fit(X)
    with pytest.raises(OSError, match="Cannot reserve 144 bytes .*No space left") as info:
        transform_to(est, X, tmp_path / "features.npy")
    assert info.value.errno == errno.ENOSPC
    assert est.rows_seen == 0 and not _record(tmp_path / "features.npy")["complete"]


def test_dask_chunks_resume_after_the_last_written_chunk(tmp_path):
    da = pytest.importorskip("dask.array")
    X = _images(12)
    path = tmp_path / "features.npy"
    est = Scale().fit(X).interrupt(6)
    with pytest.raises(KeyboardInterrupt):
        transform_to(est, da.from_array(X, chunks=3), path, chunks_in_flight=1)
    assert _record(path)["rows_done"] == 6
    est.interrupt(None)
    out = transform_to(est, da.from_array(X, chunks=3), path, chunks_in_flight=2, resume=True)
    assert sorted(v for rows in est._seen for v in rows) == sorted(X[6:, 0, 0].tolist())
    np.testing.assert_array_equal(out, X.reshape(12, -1) * 2)


def test_float16_overflow_is_an_error_not_inf(tmp_path):
    X = _images(4) * 1e5  # beyond float16's 65504
    est = Scale(factor=1.0).fit(X)
    # Before: thousands of values silently written as inf.
    with pytest.raises(ValueError, match=r"rows 0 to 4 reach 1e\+05|beyond the largest float16"):
        transform_to(est, X, np.zeros((4, 6), np.float16))
    with pytest.raises(ValueError, match="float16"):
        transform_to(est, X, tmp_path / "f16.npy", dtype=np.float16)
    out = transform_to(est, X / 1e5, np.zeros((4, 6), np.float16))  # in range: written
    np.testing.assert_array_equal(out, (X / 1e5).reshape(4, -1).astype(np.float16))


def test_fingerprint_survives_a_pickle_and_neutral_parameters():
    images = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    ckn = CKNTransformer(n_filters=(4, 8), n_patches=300, kmeans_max_iter=2, random_state=0).fit(images)
    key = fingerprint(ckn, images)
    assert fingerprint(pickle.loads(pickle.dumps(ckn)), images) == key
    assert fingerprint(ckn.set_params(verbose=1, batch_size=7), images) == key
    assert fingerprint(ckn, images[::-1]) != key
    other = CKNTransformer(n_filters=(4, 8), n_patches=300, kmeans_max_iter=2, random_state=1).fit(images)
    assert fingerprint(other, images) != key


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), batch_size=st.integers(1, 8), stop=st.integers(0, 40),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]))
def test_property_an_interrupted_then_resumed_run_equals_one_run(tmp_path_factory, n, batch_size,
                                                                 stop, dtype):
    path = tmp_path_factory.mktemp("run") / "features.npy"
    X = _images(n)
    expected = (X.reshape(n, -1) * 2).astype(dtype)
    est = Scale().fit(X).interrupt(stop)
    try:
        transform_to(est, X, path, batch_size=batch_size, dtype=dtype)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
    record = _record(path)
    assert record["complete"] == (not interrupted)
    assert record["rows_done"] % batch_size == 0 or record["rows_done"] == n
    assert record["rows_done"] <= n and (not interrupted or record["rows_done"] <= stop + batch_size)
    if interrupted:
        with pytest.raises(IncompleteFeaturesError):
            load_features(path)
    done = record["rows_done"]
    est.interrupt(None)
    transform_to(est, X, path, batch_size=batch_size, dtype=dtype, resume=True)
    assert est.rows_seen == n - done  # nothing written twice
    np.testing.assert_array_equal(load_features(path), expected)


@settings(max_examples=25, deadline=None)
@given(exponent=st.floats(-3, 8), sign=st.sampled_from([-1.0, 1.0]))
def test_property_float16_out_is_finite_or_refused(exponent, sign):
    X = np.full((2, 3, 2), sign * 10.0**exponent, dtype=np.float32)
    est = Scale(factor=1.0).fit(X)
    out = np.zeros((2, 6), np.float16)
    try:
        transform_to(est, X, out)
    except ValueError as exc:
        assert "float16" in str(exc) and abs(X).max() > np.finfo(np.float16).max
    else:
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out, X.reshape(2, -1).astype(np.float16))
