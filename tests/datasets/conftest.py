"""Keep the dataset tests hermetic: no network, no real data home.

``no_hang``: ``with no_hang(seconds):`` fails the test with ``TimeoutError`` instead
of hanging (SIGALRM; a blocked ``open`` of a FIFO is interrupted too).
"""

import contextlib
import signal
import urllib.request

import pytest

_real_urlopen = urllib.request.urlopen
_LOCAL = ("file:",)


def _local_only_urlopen(url, *args, **kwargs):
    full_url = getattr(url, "full_url", url)
    if not str(full_url).startswith(_LOCAL):
        raise AssertionError(f"a test tried to reach the network: {full_url}")
    return _real_urlopen(url, *args, **kwargs)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch, tmp_path):
    monkeypatch.setattr(urllib.request, "urlopen", _local_only_urlopen)
    # A default data home that is empty, whatever the developer's machine has.
    monkeypatch.setenv("SKLEARN_CKN_DATA", str(tmp_path / "default_home"))


@pytest.fixture
def no_hang():
    """``no_hang(seconds=5)``: a context manager failing the test after ``seconds``."""

    @contextlib.contextmanager
    def guard(seconds=5):
        def fail(signum, frame):
            raise TimeoutError(f"hung for more than {seconds} s")

        previous = signal.signal(signal.SIGALRM, fail)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return guard
