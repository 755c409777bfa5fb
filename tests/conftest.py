"""Shared test settings: tests import helpers from this folder and never reach the internet."""
import http.server
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from hpe_utils.weights import load_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """Any connection to a non-loopback address fails the test: CI must never reach the internet."""
    real = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
            raise RuntimeError(f"test tried to reach {address}: tests must stay on 127.0.0.1")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _plain_backend_by_default(monkeypatch):
    """Tests build many predictors of throwaway models: plain PyTorch unless a test asks for another engine
    (auto is tested in test_auto.py; the notebooks run the real default, auto)."""
    monkeypatch.setenv("HPE_BACKEND", "torch")


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a small shared CPU, two OpenMP threads contending with other work run ~50x slower."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def default():
    """The embedded default weights, loaded once (engine and auto tests build many predictors of them)."""
    return load_weights("default")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty engine cache of this test's own: nothing compiled or decided by another test is reused."""
    monkeypatch.setenv("HPE_CACHE_DIR", str(tmp_path))
    return tmp_path / "engines"


def shared_or_skip(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with a reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs {p} (../shared/data is not available here)")
    return p


class _FileHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def file_server(tmp_path):
    """A static file server on 127.0.0.1 for download tests: (folder it serves, its URL, handler class with .requests)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = type("H", (_FileHandler,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(root), **k))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()
