"""Shared fixtures: one KB built from the shipped sources (data/sources.toml) per session, and
real `kb serve` processes on free loopback ports."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from ingest.build import build
from ingest.sources import load_sources

ROOT = Path(__file__).resolve().parent.parent
_SHIPPED: list[Path] = []
# The extraction cache of this test session only (ingest/cache.py), shared by the builds the tests
# run in-process and in subprocesses: the first build of a page fills it, later ones reuse it.
_CACHE = Path(tempfile.mkdtemp(prefix="kb-tests-cache-"))
os.environ["KB_CACHE_DIR"] = str(_CACHE)


def shipped_kb_path() -> Path:
    """The KB of the shipped sources, history included, built once per test session (parametrized
    tests read it while they are collected). Tests that write a KB copy it or build their own."""
    if not _SHIPPED:
        path = Path(tempfile.mkdtemp(prefix="kb-tests-")) / "kb.db"
        build(load_sources(), path)
        path.chmod(0o444)  # shared by every test: nobody writes it
        _SHIPPED.append(path)
    return _SHIPPED[0]


def pytest_sessionfinish(session, exitstatus):
    for path in _SHIPPED:
        shutil.rmtree(path.parent, ignore_errors=True)
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def kb_db():
    return shipped_kb_path()


@pytest.fixture(scope="session")
def shipped_kb(kb_db):
    return kb_db


@pytest.fixture
def kb_copy(tmp_path):
    """A writable copy of the shipped KB, for a test that refreshes or rebuilds it."""
    path = tmp_path / "kb.db"
    shutil.copy(shipped_kb_path(), path)
    path.chmod(0o644)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KBServer:
    """A `kb serve` subprocess on 127.0.0.1; `url` is its base URL, `log()` what it printed."""

    def __init__(self, db_path: Path, log_path: Path, extra: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop(), when the server ends)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kb", "--db", str(db_path), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             *extra],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_ready(self, timeout: float = 30.0) -> "KBServer":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kb serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/-/versions.json", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"kb serve did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def kb_server(tmp_path):
    """Start `kb serve` over a KB file: `kb_server(db_path, *serve_options)` returns a ready
    KBServer; every server started is stopped when the test ends."""
    servers = []

    def start(db_path, *extra: str) -> KBServer:
        server = KBServer(Path(db_path), tmp_path / f"serve-{len(servers)}.log", extra)
        servers.append(server)
        return server.wait_ready()

    yield start
    for server in servers:
        server.stop()
