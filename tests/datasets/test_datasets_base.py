import hashlib
import io
import os
import signal
import time
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_ckn.datasets import DownloadError, _base, get_data_home
from sklearn_ckn.datasets._base import download, fetch_file, select_indices


def _md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def source(tmp_path):
    """A local file served through a file:// URL."""
    path = tmp_path / "src" / "blob.bin"
    path.parent.mkdir()
    data = os.urandom(3 * 1024 * 1024 + 17)  # several download chunks
    path.write_bytes(data)
    return path.as_uri(), data


def test_get_data_home_explicit_and_user_expansion(tmp_path, monkeypatch):
    assert get_data_home(tmp_path) == str(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/data") == os.path.join(str(tmp_path), "data")


def test_get_data_home_env_override_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_CKN_DATA", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    monkeypatch.delenv("SKLEARN_CKN_DATA")
    assert get_data_home() == os.path.expanduser(os.path.join("~", "sklearn_ckn_data"))
    assert not (tmp_path / "env").exists()  # never created just by asking


def test_download_success_writes_exact_file(tmp_path, source):
    url, data = source
    dest = tmp_path / "home" / "sub" / "blob.bin"
    assert download(url, str(dest), _md5(data)) == str(dest)
    assert dest.read_bytes() == data
    assert os.listdir(dest.parent) == ["blob.bin"]  # no temporary file left


def test_download_checksum_mismatch_leaves_nothing(tmp_path, source):
    url, _ = source
    dest = tmp_path / "home" / "blob.bin"
    with pytest.raises(OSError, match="checksum mismatch for blob.bin"):
        download(url, str(dest), "0" * 32)
    assert not (tmp_path / "home").exists()  # nor the folder created for it


def test_download_interrupted_leaves_nothing(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection lost")
            return super().read(5)

        read1 = read

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Broken(b"0123456789"))
    dest = tmp_path / "home" / "blob.bin"
    with pytest.raises(ConnectionResetError):
        download("https://example.invalid/blob.bin", str(dest))
    assert not (tmp_path / "home").exists()  # nor the folder created for it


def test_fetch_file_existing_file_is_not_downloaded(tmp_path, monkeypatch):
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"already here")
    monkeypatch.setattr(urllib.request, "urlopen", pytest.fail)
    got = fetch_file(str(dest), ["https://x/blob.bin"], None, dataset="X", download_if_missing=True)
    assert got == str(dest)


def test_fetch_file_missing_without_download(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        fetch_file(str(tmp_path / "d" / "blob.bin"), ["file:///nope"], None,
                   dataset="Blob", download_if_missing=False)
    msg = str(info.value)
    assert "blob.bin" in msg and str(tmp_path / "d") in msg and "download_if_missing=False" in msg
    assert not (tmp_path / "d").exists()


def test_fetch_file_falls_back_to_next_mirror(tmp_path, source):
    url, data = source
    dest = tmp_path / "home" / "blob.bin"
    bad = (tmp_path / "missing.bin").as_uri()
    fetch_file(str(dest), [bad, url], _md5(data), dataset="Blob", download_if_missing=True)
    assert dest.read_bytes() == data


def test_fetch_file_all_mirrors_fail(tmp_path, source):
    url, _ = source
    dest = tmp_path / "home" / "blob.bin"
    bad = (tmp_path / "missing.bin").as_uri()
    with pytest.raises(DownloadError) as info:
        fetch_file(str(dest), [bad, url], "0" * 32, dataset="Blob", download_if_missing=True)
    assert isinstance(info.value, OSError)
    msg = str(info.value)
    assert bad in msg and "checksum mismatch" in msg and str(tmp_path / "home") in msg
    assert not (tmp_path / "home").exists()  # nor the folder created for it


def test_select_indices():
    assert select_indices(5) == slice(0, None)
    assert np.arange(5)[select_indices(5, 3)].tolist() == [0, 1, 2]
    a = select_indices(50, 10, shuffle=True, random_state=0)
    b = select_indices(50, 10, shuffle=True, random_state=0)
    assert len(set(a.tolist())) == 10 and np.array_equal(a, b)
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="n_samples"):
            select_indices(5, bad)
    with pytest.raises(ValueError, match="larger than the 5"):
        select_indices(5, 6)


def test_failed_download_keeps_existing_folders(tmp_path, source):
    url, _ = source
    home = tmp_path / "home"
    (home / "mnist").mkdir(parents=True)
    (home / "other.txt").write_text("kept")
    dest = home / "mnist" / "deeper" / "blob.bin"
    with pytest.raises(OSError, match="checksum mismatch"):
        download(url, str(dest), "0" * 32)
    assert sorted(os.listdir(home)) == ["mnist", "other.txt"]
    assert os.listdir(home / "mnist") == []  # only the created "deeper" was removed


# -- issue 28: servers that misbehave, interrupted downloads ----------------------------
def _ok(payload):
    def answer(wfile):
        wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
    return answer


def _raw(data):
    return lambda wfile: wfile.write(data)


def _trickle(n_bytes, every, content_length=True):
    """A body of ``n_bytes`` bytes sent one at a time, ``every`` seconds apart."""
    def answer(wfile):
        length = b"Content-Length: %d\r\n" % n_bytes if content_length else b""
        wfile.write(b"HTTP/1.0 200 OK\r\n" + length + b"\r\n")
        wfile.flush()
        for _ in range(n_bytes):
            time.sleep(every)
            wfile.write(b"x")
            wfile.flush()
    return answer


PAYLOAD = b"the official bytes " * 100


@pytest.mark.parametrize("broken", [
    _raw(b"garbage\r\n\r\n"),  # BadStatusLine
    _raw(b"HTTP/1.0 200 " + b"O" * 70000 + b"\r\n\r\n"),  # LineTooLong
    _raw(b"HTTP/1.0 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 10),  # IncompleteRead
    _raw(b""),  # RemoteDisconnected
], ids=["BadStatusLine", "LineTooLong", "IncompleteRead", "RemoteDisconnected"])
def test_http_errors_fall_back_to_the_next_mirror(tmp_path, http_server, broken):
    # Before: http.client.HTTPException stopped the download at the first mirror.
    base = http_server({"/broken/blob.bin": broken, "/good/blob.bin": _ok(PAYLOAD)})
    dest = tmp_path / "home" / "blob.bin"
    urls = [f"{base}/broken/blob.bin", f"{base}/good/blob.bin"]
    fetch_file(str(dest), urls, _md5(PAYLOAD), dataset="Blob", download_if_missing=True)
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(DownloadError) as info:
        fetch_file(str(tmp_path / "b" / "blob.bin"), urls[:1], None, dataset="Blob",
                   download_if_missing=True)
    assert urls[0] in str(info.value)
    assert not (tmp_path / "b").exists()


def test_trickling_server_hits_the_deadline(tmp_path, http_server, no_hang):
    # Before: a server sending a byte at a time kept the download going for as long as
    # it liked (here 100 bytes over 4 s; the reference mirror: one byte a second).
    base = http_server({"/slow": _trickle(100, 0.04)})
    dest = tmp_path / "home" / "blob.bin"
    start = time.monotonic()
    with no_hang(10), pytest.raises(TimeoutError, match=r"blob.bin from .*/slow gave up after"):
        download(f"{base}/slow", str(dest), deadline=0.3)
    assert time.monotonic() - start < 2
    assert not (tmp_path / "home").exists()


def test_fetch_file_deadline_from_the_official_size(tmp_path, http_server, monkeypatch):
    monkeypatch.setattr(_base, "DOWNLOAD_DEADLINE", 0.3)
    assert _base.download_limits(len(PAYLOAD))[1] < 0.4
    base = http_server({"/slow/blob.bin": _trickle(100, 0.04),
                        "/good/blob.bin": _ok(PAYLOAD)})
    dest = tmp_path / "home" / "blob.bin"
    start = time.monotonic()
    fetch_file(str(dest), [f"{base}/slow/blob.bin", f"{base}/good/blob.bin"], _md5(PAYLOAD),
               dataset="Blob", download_if_missing=True, size=len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and time.monotonic() - start < 2


@pytest.mark.parametrize("content_length", [True, False])
def test_size_cap(tmp_path, http_server, content_length):
    body = b"y" * 5000
    length = b"Content-Length: 5000\r\n" if content_length else b""
    base = http_server({"/big": _raw(b"HTTP/1.0 200 OK\r\n" + length + b"\r\n" + body)})
    dest = tmp_path / "home" / "blob.bin"
    match = "announces 5000 bytes" if content_length else "sent more than the 1000 bytes"
    with pytest.raises(OSError, match=match):
        download(f"{base}/big", str(dest), max_bytes=1000)
    assert not (tmp_path / "home").exists()


def test_download_limits_of_the_official_files():
    from sklearn_ckn.datasets import _cifar10, _mnist, _svhn

    names = [name for files in _mnist.FILES.values() for name, _ in files]
    assert sorted(_mnist.SIZES) == sorted(names)
    assert sorted(_svhn.SIZES) == sorted(name for name, _ in _svhn.FILES.values())
    max_bytes, deadline = _base.download_limits(_mnist.SIZES["train-images-idx3-ubyte.gz"])
    assert 9912422 < max_bytes < 1.02 * 9912422 and 120 < deadline < 600
    assert _base.download_limits(_cifar10.SIZE)[0] < 1.02 * _cifar10.SIZE


def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    class Interrupted(io.BytesIO):
        def read1(self, n=-1):
            if self.tell() > 0:
                raise KeyboardInterrupt
            return super().read1(5)

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Interrupted(b"0123456789"))
    (tmp_path / "home").mkdir()
    with pytest.raises(KeyboardInterrupt):
        download("https://example.invalid/blob.bin", str(tmp_path / "home" / "blob.bin"))
    assert os.listdir(tmp_path / "home") == []


def test_stale_part_files_are_removed_live_ones_kept(tmp_path, source):
    # Before: a download killed by a signal left its .part file there forever.
    url, data = source
    home = tmp_path / "home"
    home.mkdir()
    stale = home / ".blob.bin.k1ll3d.part"
    stale.write_bytes(b"half a file")
    live = home / ".blob.bin.l1v3.part"
    live.write_bytes(b"being written")
    other = home / ".other.bin.abc.part"
    other.write_bytes(b"another file's")
    with open(live, "rb") as held:
        fcntl = pytest.importorskip("fcntl")
        fcntl.flock(held, fcntl.LOCK_EX)  # as a download in progress holds it
        download(url, str(home / "blob.bin"), _md5(data))
    assert sorted(os.listdir(home)) == [".blob.bin.l1v3.part", ".other.bin.abc.part",
                                        "blob.bin"]


def test_killed_download_is_cleaned_by_the_next_one(tmp_path, source, monkeypatch):
    # A real process (forked), killed with SIGKILL while its download runs.
    url, data = source
    home = tmp_path / "home"

    class Slow:
        def __enter__(self):
            return self

        def __exit__(self, *args):
            pass

        def read1(self, n):
            time.sleep(0.05)
            return b"x"

        read = read1

    pid = os.fork()
    if pid == 0:  # the child downloads until it is killed
        try:
            monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Slow())
            download("https://example.invalid/blob.bin", str(home / "blob.bin"))
        finally:
            os._exit(1)
    try:
        for _ in range(200):
            if home.exists() and any(n.endswith(".part") for n in os.listdir(home)):
                break
            time.sleep(0.01)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert [n for n in os.listdir(home) if n.endswith(".part")]  # left by the kill
    download(url, str(home / "blob.bin"), _md5(data))
    assert os.listdir(home) == ["blob.bin"]


STATUS_LINES = {
    "ok": b"HTTP/1.0 200 OK", "ok-1.1": b"HTTP/1.1 200 OK", "404": b"HTTP/1.0 404 Not Found",
    "500": b"HTTP/1.0 500 Oops", "garbage": b"garbage", "nothing": b"",
    "too-long": b"HTTP/1.0 200 " + b"O" * 70_000, "bad-version": b"HTTP/9 x y",
    "redirect": b"HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:1/nowhere",
}


@settings(settings.get_profile("loaders"))
@given(
    status=st.sampled_from(sorted(STATUS_LINES)),
    length=st.sampled_from([None, "right", "less", "more", "huge", "abc", "-5"]),
    chunked=st.sampled_from([False, False, "right", "bad"]),
    body=st.sampled_from(["payload", "short", "long", "empty"]),
)
def test_any_server_answer_gives_the_file_or_a_download_error(
    tmp_path_factory, http_server, status, length, chunked, body
):
    # The property that would have found the HTTPException class: whatever a server
    # answers, the verified file or a DownloadError, and nothing left behind.
    payload = {"payload": PAYLOAD, "short": PAYLOAD[:100], "long": PAYLOAD * 3,
               "empty": b""}[body]
    headers = b""
    if length is not None:
        value = {"right": len(payload), "less": max(len(payload) - 10, 0),
                 "more": len(payload) + 10, "huge": 10**12}.get(length, length)
        headers += b"Content-Length: %s\r\n" % str(value).encode()
    if chunked:
        headers += b"Transfer-Encoding: chunked\r\n"
        size = b"%x" % len(payload) if chunked == "right" else b"zz"
        payload = size + b"\r\n" + payload + b"\r\n0\r\n\r\n"
    answer = STATUS_LINES[status] + b"\r\n" + headers + b"\r\n" + payload
    if not hasattr(http_server, "answers"):  # one server for all the examples
        http_server.answers = {}
        http_server.base = http_server(http_server.answers)
    http_server.answers["/blob.bin"] = lambda wfile: wfile.write(answer)
    base = http_server.base
    home = tmp_path_factory.mktemp("fuzz")
    dest = home / "data" / "blob.bin"
    try:
        fetch_file(str(dest), [f"{base}/blob.bin"], _md5(PAYLOAD), dataset="Blob",
                   download_if_missing=True, size=len(PAYLOAD))
    except DownloadError as exc:
        assert f"{base}/blob.bin" in str(exc)
        assert not (home / "data").exists()
    else:
        assert dest.read_bytes() == PAYLOAD and os.listdir(home / "data") == ["blob.bin"]
