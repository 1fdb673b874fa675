import hashlib
import io
import os
import urllib.request

import numpy as np
import pytest

from sklearn_ckn.datasets import DownloadError, get_data_home
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
