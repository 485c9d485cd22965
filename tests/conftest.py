"""Shared fixtures: one KB built from the shipped sources (data/sources.toml) per session, and
real `kb serve` processes on free loopback ports."""

import fcntl
import hashlib
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

from ingest import cache as ingest_cache
from ingest.build import build
from ingest.sources import load_sources

ROOT = Path(__file__).resolve().parent.parent
_SHIPPED: list[Path] = []
# The extraction cache (ingest/cache.py) is content-addressed (page text, code, catalogue versions),
# so the tests share the machine's: the first build of a page fills it, every later one reuses it.
_CACHE = Path(os.environ.get("KB_CACHE_DIR") or ingest_cache.directory())
os.environ["KB_CACHE_DIR"] = str(_CACHE)


def _shipped_key() -> str:
    """What the shipped KB is built from: the code of ingest/ and kb/schema.py, and every source file."""
    h = hashlib.sha256()
    for path in sorted([*(ROOT / "ingest").rglob("*.py"), *(ROOT / "ingest").rglob("*.toml"), ROOT / "kb" / "schema.py",
                        ROOT / "kb" / "__init__.py"]):
        h.update(path.read_bytes())
    for source in load_sources():
        h.update(source.location.encode())
        h.update(Path(source.location).read_bytes())
    h.update((ROOT / "data" / "sources.toml").read_bytes())
    return h.hexdigest()[:20]


def shipped_kb_path() -> Path:
    """The KB of the shipped sources (the whole guide and the history), built once for this code and
    these sources on this machine, whichever test process asks first (parametrized tests read it
    while they are collected); the others wait for it. Tests that write a KB copy it or build their own."""
    if not _SHIPPED:
        folder = _CACHE.parent / "tests"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"shipped-{_shipped_key()}" / "kb.db"  # named kb.db: Datasette calls it `kb`
        with open(folder / "shipped.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                # other checkouts of the project share the folder: only KBs no run used for a day go
                for old in folder.glob("shipped-*"):
                    if time.time() - old.stat().st_mtime > 86_400:
                        shutil.rmtree(old, ignore_errors=True)
                tmp = Path(tempfile.mkdtemp(dir=folder)) / "kb.db"
                build(load_sources(), tmp)
                tmp.chmod(0o444)  # shared by every test: nobody writes it
                path.parent.mkdir()
                os.replace(tmp, path)
                shutil.rmtree(tmp.parent, ignore_errors=True)
            os.utime(path.parent)  # used: kept
        _SHIPPED.append(path)
    return _SHIPPED[0]


@pytest.fixture(scope="session")
def kb_db():
    return shipped_kb_path()


@pytest.fixture(scope="session")
def shipped_kb(kb_db):
    return kb_db


@pytest.fixture(scope="module")
def conn(kb_db):
    """A read connection to the shipped KB, as `kb` opens it."""
    from kb import query

    return query.connect(kb_db)


@pytest.fixture(scope="module")
def client(kb_db):
    """Datasette with this project's plugin on the shipped KB, driven in process."""
    from kb.serve import make_datasette
    from tests.helpers import Client

    c = Client(make_datasette(kb_db))
    yield c
    c.close()


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

    def __init__(self, db_path: Path, log_path: Path, extra: tuple[str, ...] = (), env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop(), when the server ends)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kb", "--db", str(db_path), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             *extra],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})

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
