import hashlib
import io
import os
import pickle
import struct
import tarfile
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_ckn.datasets import load_cifar10
from sklearn_ckn.datasets import _cifar10 as cifar_module

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
         b"dog", b"frog", b"horse", b"ship", b"truck"]  # fmt: skip


def make_batches(n=3, seed=0, label_names=NAMES):
    """{file name: pickled bytes} of a tiny CIFAR-10 in the official layout."""
    rng = np.random.default_rng(seed)
    files = {}
    for name in BATCHES:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, size=n).tolist(),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }
        files[name] = pickle.dumps(batch, protocol=2)
    files["batches.meta"] = pickle.dumps(
        {b"num_cases_per_batch": n, b"label_names": list(label_names), b"num_vis": 3072}
    )
    return files


def write_folder(data_home, files):
    folder = data_home / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, payload in files.items():
        (folder / name).write_bytes(payload)


def write_archive(path, files, skip=()):
    """Write a .tar.gz of ``files``; return its MD5."""
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in files.items():
            if name in skip:
                continue
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def official(monkeypatch):
    """``official(md5)``: make the loader take an archive of that MD5 (of any size) as
    the official one."""
    def make_official(md5):
        monkeypatch.setattr(cifar_module, "MD5", md5)
        monkeypatch.setattr(cifar_module, "SIZE", None)

    return make_official


def expected(files, names):
    batches = [pickle.loads(files[n], encoding="bytes") for n in names]
    return (np.concatenate([b[b"data"] for b in batches]),
            np.concatenate([b[b"labels"] for b in batches]))


@pytest.fixture
def files():
    return make_batches()


@pytest.mark.parametrize("subset", ["train", "test"])
def test_folder_round_trip_channels_last(tmp_path, files, subset):
    write_folder(tmp_path, files)
    bunch = load_cifar10(tmp_path, subset=subset, download_if_missing=False)
    data, labels = expected(files, BATCHES[:5] if subset == "train" else ["test_batch"])
    assert bunch.images.shape == (len(data), 32, 32, 3) and bunch.images.dtype == np.uint8
    assert bunch.target.dtype == np.int64
    for i in range(len(data)):  # R, G, B planes of each row become the last axis
        for c in range(3):
            np.testing.assert_array_equal(
                bunch.images[i, :, :, c], data[i, 1024 * c:1024 * (c + 1)].reshape(32, 32)
            )
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target_names[:2] == ["airplane", "automobile"] and len(bunch.target_names) == 10
    assert "Krizhevsky" in bunch.DESCR


def test_target_names_from_meta_and_fallback(tmp_path):
    files = make_batches(label_names=[f"c{i}".encode() for i in range(10)])
    write_folder(tmp_path, files)
    assert load_cifar10(tmp_path, subset="test").target_names[0] == "c0"
    os.remove(tmp_path / "cifar-10-batches-py" / "batches.meta")
    assert load_cifar10(tmp_path, subset="test").target_names[0] == "airplane"


def test_archive_read_in_place(tmp_path, files, official):
    official(write_archive(tmp_path / "cifar-10-python.tar.gz", files))
    X, y = load_cifar10(tmp_path, return_X_y=True, download_if_missing=False)
    data, labels = expected(files, BATCHES[:5])
    np.testing.assert_array_equal(X.transpose(0, 3, 1, 2).reshape(len(X), -1), data)
    np.testing.assert_array_equal(y, labels)
    assert sorted(os.listdir(tmp_path)) == ["cifar-10-python.tar.gz"]  # nothing extracted


def test_n_samples_and_shuffle(tmp_path, files):
    write_folder(tmp_path, files)
    full = load_cifar10(tmp_path)
    first = load_cifar10(tmp_path, n_samples=4)
    np.testing.assert_array_equal(first.images, full.images[:4])
    a = load_cifar10(tmp_path, n_samples=4, shuffle=True, random_state=0)
    b = load_cifar10(tmp_path, n_samples=4, shuffle=True, random_state=0)
    np.testing.assert_array_equal(a.target, b.target)


def test_invalid_subset(tmp_path):
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(tmp_path, subset="all")


def test_missing_message(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, download_if_missing=False)
    msg = str(info.value)
    assert "data_batch_1" in msg and "cifar-10-python.tar.gz" in msg
    assert str(tmp_path / "cifar-10-batches-py") in msg


def test_download(tmp_path, files, monkeypatch):
    server = tmp_path / "server"
    server.mkdir()
    write_archive(server / "cifar-10-python.tar.gz", files)
    payload = (server / "cifar-10-python.tar.gz").read_bytes()
    monkeypatch.setattr(cifar_module, "URL", (server / "cifar-10-python.tar.gz").as_uri())
    monkeypatch.setattr(cifar_module, "MD5", hashlib.md5(payload).hexdigest())
    bunch = load_cifar10(tmp_path / "home", subset="test")
    np.testing.assert_array_equal(bunch.target, expected(files, ["test_batch"])[1])
    assert (tmp_path / "home" / "cifar-10-python.tar.gz").read_bytes() == payload

    monkeypatch.setattr(cifar_module, "MD5", "0" * 32)
    with pytest.raises(OSError, match="checksum mismatch"):
        load_cifar10(tmp_path / "home2")
    assert not (tmp_path / "home2").exists()


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"not a pickle", "cannot unpickle"),
        (pickle.dumps({b"labels": [0]}), "b'data'"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "3072"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "1 labels"),
    ],
)
def test_corrupt_batch(tmp_path, files, payload, match):
    write_folder(tmp_path, {**files, "test_batch": payload})
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, subset="test")
    assert "test_batch" in str(info.value)


def test_corrupt_archive(tmp_path, files, official):
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_archive(archive, files)
    archive.write_bytes(archive.read_bytes()[:-200])
    official(hashlib.md5(archive.read_bytes()).hexdigest())
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz"):
        load_cifar10(tmp_path, subset="test", download_if_missing=False)


def test_archive_missing_member(tmp_path, files, official):
    official(write_archive(tmp_path / "cifar-10-python.tar.gz", files, skip=("data_batch_3",)))
    with pytest.raises(ValueError, match="data_batch_3"):
        load_cifar10(tmp_path, download_if_missing=False)


# -- issue 17: no code run from a data file, invalid content refused --------------------
class WritesMarker:
    """Unpickling it calls ``open(marker, "w")``: the marker file appears if it runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class RunsShell(WritesMarker):
    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def crafted(marker, where, payload_class=WritesMarker):
    """A CIFAR-10 file set where ``where`` ("test_batch", "batches.meta" or
    "labels") carries a payload that creates ``marker`` when unpickled."""
    files = make_batches()
    evil = payload_class(marker)
    if where == "labels":  # nested inside an otherwise valid batch
        batch = pickle.loads(files["test_batch"], encoding="bytes")
        batch[b"labels"] = [evil] + batch[b"labels"][1:]
        files["test_batch"] = pickle.dumps(batch, protocol=2)
    else:
        files[where] = pickle.dumps(evil, protocol=2)
    return files


@pytest.mark.parametrize("payload_class", [WritesMarker, RunsShell])
@pytest.mark.parametrize("where", ["test_batch", "batches.meta", "labels"])
def test_crafted_pickle_in_folder_runs_nothing(tmp_path, where, payload_class):
    marker = tmp_path / "marker"
    write_folder(tmp_path, crafted(marker, where, payload_class))
    with pytest.raises(ValueError, match="refused to unpickle") as info:
        load_cifar10(tmp_path, subset="test", download_if_missing=False)
    assert where.replace("labels", "test_batch") in str(info.value)
    assert (".open" if payload_class is WritesMarker else ".system") in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("where", ["test_batch", "batches.meta"])
def test_crafted_pickle_in_archive_runs_nothing(tmp_path, where, official):
    marker = tmp_path / "marker"
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5 = write_archive(archive, crafted(marker, where))
    # Not the official archive: refused before anything in it is unpacked.
    with pytest.raises(ValueError, match=r"official cifar-10-python.tar.gz: \d+ bytes, expected"):
        load_cifar10(tmp_path, subset="test", download_if_missing=False)
    assert not marker.exists()
    # Even with a matching checksum, the unpickler refuses the payload.
    official(md5)
    with pytest.raises(ValueError, match=f"refused to unpickle.*{where}"):
        load_cifar10(tmp_path, subset="test", download_if_missing=False)
    assert not marker.exists()


def test_numpy_pickles_of_every_protocol_load(tmp_path):
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    files = make_batches()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        files["test_batch"] = pickle.dumps(
            {b"data": data, b"labels": [3, 9], b"batch_label": "x", b"filenames": [b"a", b"b"]},
            protocol=protocol,
        )
        folder = tmp_path / str(protocol)
        write_folder(folder, files)
        X, y = load_cifar10(folder, subset="test", return_X_y=True)
        np.testing.assert_array_equal(X.transpose(0, 3, 1, 2).reshape(2, -1), data)
        np.testing.assert_array_equal(y, [3, 9])


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0, 99], "labels span 0..99, expected 0..9"),
        ([-5, 1], "labels span -5..1, expected 0..9"),
        ([0.0, 2.5], "holds a float, expected integers"),
        (["a", "b"], "expected integers"),
    ],
)
def test_invalid_labels_name_the_file(tmp_path, labels, match):
    files = make_batches(n=2)
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}
    files["data_batch_4"] = pickle.dumps(batch, protocol=2)
    write_folder(tmp_path, files)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, subset="train")
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_4") in str(info.value)


@pytest.mark.parametrize(
    "names, match",
    [
        ([b"cat", b"dog"], "has 2 names, expected the 10 class names"),
        ([b"cat"] * 10, "1 distinct names for the 10 classes"),
        ([1, 2], "not a list of names"),
        (b"cat", "not a list of names"),
    ],
)
def test_invalid_meta_names_the_file(tmp_path, names, match):
    files = make_batches()
    files["batches.meta"] = pickle.dumps({b"label_names": names}, protocol=2)
    write_folder(tmp_path, files)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, subset="test")
    assert "batches.meta" in str(info.value)


def test_codecs_encode_only_for_latin1(tmp_path):
    # Protocol-2 pickles spell bytes as _codecs.encode(text, "latin1"); any other
    # codec is refused, so no codec module is imported on a file's say-so.
    import pickletools

    payload = pickle.dumps({b"data": b"x"}, protocol=2)
    assert b"latin1" in payload
    files = make_batches()
    files["test_batch"] = pickletools.optimize(payload).replace(b"latin1", b"rot_13")
    write_folder(tmp_path, files)
    with pytest.raises(ValueError, match="refused to unpickle.*'rot_13'"):
        load_cifar10(tmp_path, subset="test")


# -- issue 28: small files that would build a lot ------------------------------------
def _shared_nest(width, depth, leaf=0):
    """A list of lists... ``depth`` deep and ``width`` wide whose lists are one shared
    list per level: tiny once pickled (the memo), ``width ** depth`` leaves expanded."""
    nest = leaf
    for _ in range(depth):
        nest = [nest] * width
    return nest


def test_memo_shared_labels_are_refused_cheaply(tmp_path, traced_memory):
    # Before: a 6 KB data_batch_1 whose labels expand to 10^9 integers through the
    # pickle memo cost over a gigabyte and seconds before being refused (here 9M).
    files = make_batches(n=1)
    labels = [[[0] * 100] * 300] * 300
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": labels}
    files["data_batch_1"] = pickle.dumps(batch, protocol=2)
    assert len(files["data_batch_1"]) < 10_000
    write_folder(tmp_path, files)
    start = time.perf_counter()
    with traced_memory() as trace, pytest.raises(ValueError) as info:
        load_cifar10(tmp_path)
    assert time.perf_counter() - start < 1 and trace.peak < 5 << 20
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in str(info.value)
    assert "counted as copies" in str(info.value)


@pytest.mark.parametrize("labels, match", [
    ([[0]] * 2, "b'labels' holds a list, expected integers"),  # right length, shared rows
    (_shared_nest(30, 3), "27000 labels for 30 images|holds a list"),
    ({b"a": 1}, "b'labels' is a dict, expected a list of integers"),
    ([2**70, 1], "beyond 64 bits"),
    (np.zeros((2, 2), np.int64), r"array of shape \(2, 2\), expected integers"),
    (np.array([1, 2], np.uint8), None),  # a 1-D integer array is fine
])
def test_labels_are_checked_before_any_conversion(tmp_path, labels, match):
    files = make_batches()
    n = 30 if isinstance(labels, list) and len(labels) == 30 else 2
    files["test_batch"] = pickle.dumps(
        {b"data": np.zeros((n, 3072), np.uint8), b"labels": labels}, protocol=2
    )
    write_folder(tmp_path, files)
    if match is None:
        assert load_cifar10(tmp_path, subset="test").target.tolist() == [1, 2]
        return
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, subset="test")
    assert "test_batch" in str(info.value)


def test_data_as_bytes_and_other_types(tmp_path):
    files = make_batches()
    files["test_batch"] = pickle.dumps(
        {b"data": bytes(range(256)) * 24, b"labels": [1, 2]}, protocol=4
    )
    write_folder(tmp_path, files)
    X = load_cifar10(tmp_path, subset="test").images
    assert X.shape == (2, 32, 32, 3) and X[0, 0, 0].tolist() == [0, 0, 0]
    for data, match in ((b"x" * 3073, "not a whole number of 3072-byte images"),
                        ([[0] * 3072], "b'data' is a list, expected a uint8 array")):
        files["test_batch"] = pickle.dumps({b"data": data, b"labels": [1]}, protocol=2)
        (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(files["test_batch"])
        with pytest.raises(ValueError, match=match):
            load_cifar10(tmp_path, subset="test")


def _handmade_pickle(*parts):
    return b"\x80\x02" + b"".join(parts) + b"."


def _binunicode(text):
    data = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data


def test_memoised_string_encoded_again_and_again(tmp_path, traced_memory):
    # _codecs.encode of one memoised 50 KB str, 2000 times: 18 KB of opcodes built
    # 100 MB before the fix.
    again = b"h\x00h\x01h\x02\x86Ra"  # encode(text, "latin1"), appended to the list
    payload = _handmade_pickle(
        b"]c_codecs\nencode\nq\x000", _binunicode("x" * 50_000), b"q\x010",
        _binunicode("latin1"), b"q\x020", again * 2000,
    )
    files = make_batches()
    files["test_batch"] = payload
    write_folder(tmp_path, files)
    with traced_memory() as trace, pytest.raises(ValueError, match="build more bytes") as info:
        load_cifar10(tmp_path, subset="test")
    assert "test_batch" in str(info.value) and trace.peak < 10 << 20


def test_numpy_reconstruct_only_of_empty_arrays(tmp_path, traced_memory):
    # _reconstruct(ndarray, (10**7,), "O"): an array of 10^7 Nones from a 100-byte file.
    payload = _handmade_pickle(
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x80\x96\x98\x00\x85U\x01O\x87R"
    )
    files = make_batches()
    files["test_batch"] = payload
    write_folder(tmp_path, files)
    with traced_memory() as trace, pytest.raises(ValueError) as info:
        load_cifar10(tmp_path, subset="test")
    assert "numpy pickles an empty ndarray" in str(info.value) and trace.peak < 5 << 20


def test_numpy_ndarray_is_never_called(tmp_path, traced_memory):
    # ndarray((10**7,), "O"): 10^7 Nones from a 40-byte file.
    payload = _handmade_pickle(b"cnumpy\nndarray\nJ\x80\x96\x98\x00\x85U\x01O\x86R")
    files = make_batches()
    files["test_batch"] = payload
    write_folder(tmp_path, files)
    with traced_memory() as trace, pytest.raises(ValueError) as info:
        load_cifar10(tmp_path, subset="test")
    assert "a call of numpy.ndarray" in str(info.value) and trace.peak < 5 << 20


def test_object_arrays_are_refused(tmp_path):
    files = make_batches()
    files["test_batch"] = pickle.dumps(
        {b"data": np.zeros((2, 3072), np.uint8), b"labels": np.array([1, [2]], dtype=object)},
        protocol=2,
    )
    write_folder(tmp_path, files)
    with pytest.raises(ValueError, match=r"refused to unpickle .*test_batch.*numpy.dtype\('O"):
        load_cifar10(tmp_path, subset="test")


@pytest.mark.parametrize("what", ["opcodes", "bytes", "depth", "cycle"])
def test_pickle_bounds(tmp_path, monkeypatch, what):
    files = make_batches()
    if what == "opcodes":
        monkeypatch.setattr(cifar_module, "MAX_PICKLE_OBJECTS", 5000)
        files["test_batch"] = pickle.dumps(list(range(3000)) * 2, protocol=2)
        match = "runs more than 5000 pickle opcodes"
    elif what == "bytes":
        monkeypatch.setattr(cifar_module, "MAX_PICKLE_BYTES", 1000)
        match = r"\d+ bytes, more than the 1000 a CIFAR-10 file may have"
    elif what == "depth":
        files["test_batch"] = pickle.dumps(_shared_nest(1, 9), protocol=2)
        match = "nested more than 8 deep"
    else:
        loop = []
        loop.append(loop)
        files["test_batch"] = pickle.dumps({b"data": loop, b"labels": []}, protocol=2)
        match = "holds itself"
    write_folder(tmp_path, files)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, subset="test")
    assert "test_batch" in str(info.value)


def test_archive_bomb_stops_at_the_bound(tmp_path, files, monkeypatch):
    # With verify_checksums=False, a member unpacking to more than MAX_ARCHIVE_BYTES
    # stops the read before it is unpacked.
    monkeypatch.setattr(cifar_module, "MAX_ARCHIVE_BYTES", 1 << 20)
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_archive(archive, {"readme.html": bytes(2 << 20), **files})
    with pytest.raises(ValueError, match="unpacks to more than 1048576 bytes") as info:
        load_cifar10(tmp_path, subset="test", verify_checksums=False)
    assert "cifar-10-python.tar.gz" in str(info.value)


LEAVES = st.one_of(st.integers(-2, 12), st.binary(max_size=4), st.booleans(), st.none(),
                   st.floats(allow_nan=False, width=16))
STRUCTURES = st.recursive(
    LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=4), st.tuples(children, children),
                               st.dictionaries(st.binary(max_size=2), children, max_size=3)),
    max_leaves=12,
)
SHARED = st.builds(_shared_nest, st.integers(1, 40), st.integers(1, 4),
                   st.one_of(st.integers(0, 9), st.just([1, 2])))


@settings(settings.get_profile("loaders"))
@given(
    data=st.one_of(st.just(np.zeros((2, 3072), np.uint8)), st.binary(max_size=8),
                   STRUCTURES, SHARED),
    labels=st.one_of(st.just([3, 4]), st.lists(st.integers(-1, 11), max_size=3),
                     STRUCTURES, SHARED),
    protocol=st.integers(0, pickle.HIGHEST_PROTOCOL),
)
def test_any_pickled_batch_loads_or_raises_a_value_error_naming_it(
    tmp_path_factory, traced_memory, data, labels, protocol
):
    # The property that would have found the memo expansion: whatever a batch holds,
    # a ValueError naming the file or a consistent result, at a small cost.
    home = tmp_path_factory.mktemp("fuzz")
    files = make_batches(n=1)
    files["test_batch"] = pickle.dumps({b"data": data, b"labels": labels}, protocol=protocol)
    write_folder(home, files)
    with traced_memory() as trace:
        try:
            bunch = load_cifar10(home, subset="test")
        except ValueError as exc:
            assert "test_batch" in str(exc)
        else:
            assert bunch.images.shape == (len(bunch.target), 32, 32, 3)
    assert trace.peak < 8 << 20
