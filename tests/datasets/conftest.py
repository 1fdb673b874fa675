"""Keep the dataset tests hermetic: no network, no real data home.

Fixtures for the tests of untrusted files and servers:

* ``no_hang``: ``with no_hang(seconds):`` fails the test with ``TimeoutError`` instead
  of hanging (SIGALRM; a blocked ``open`` of a FIFO is interrupted too);
* ``http_server``: a local HTTP server in a thread whose answers the test writes
  byte by byte (bad status lines, trickled bodies, oversized bodies...);
* ``traced_memory``: ``with traced_memory() as trace:``, then ``trace.peak`` is the
  peak of the memory allocated in the block (Python objects and numpy arrays);
* the hypothesis settings profile ``"loaders"`` of the property-based tests: small,
  derandomized, no deadline (``@settings(settings.get_profile("loaders"))``).
"""

import contextlib
import signal
import socketserver
import threading
import tracemalloc
import types
import urllib.request

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "loaders", max_examples=40, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

_real_urlopen = urllib.request.urlopen
_LOCAL = ("file:", "http://127.0.0.1:")


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


@pytest.fixture
def traced_memory():
    """``traced_memory()``: a context manager tracing the memory allocated in its block;
    the object it yields has the peak, in bytes, as ``peak`` once the block is left."""

    @contextlib.contextmanager
    def trace():
        record = types.SimpleNamespace(peak=None)
        tracemalloc.start()
        try:
            yield record
        finally:
            record.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

    return trace


@pytest.fixture
def http_server():
    """``http_server(answers) -> base URL``: serve ``answers``, a dict from a path
    ("/name") to a function ``answer(wfile)`` that writes the raw response (status
    line, headers and body, as the test wants them) to the socket file."""
    servers = []

    def start(answers):
        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                request_line = self.rfile.readline().decode("latin1")
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # the request headers
                parts = request_line.split()
                answer = answers.get(parts[1] if len(parts) > 1 else "")
                try:
                    if answer is None:
                        self.wfile.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    else:
                        answer(self.wfile)
                except OSError:  # the client gave up: fine
                    pass

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
