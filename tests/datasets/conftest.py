"""Keep the dataset tests hermetic: no network, no real data home."""

import urllib.request

import pytest

_real_urlopen = urllib.request.urlopen


def _local_only_urlopen(url, *args, **kwargs):
    full_url = getattr(url, "full_url", url)
    if not str(full_url).startswith("file:"):
        raise AssertionError(f"a test tried to reach the network: {full_url}")
    return _real_urlopen(url, *args, **kwargs)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch, tmp_path):
    monkeypatch.setattr(urllib.request, "urlopen", _local_only_urlopen)
    # A default data home that is empty, whatever the developer's machine has.
    monkeypatch.setenv("SKLEARN_CKN_DATA", str(tmp_path / "default_home"))
