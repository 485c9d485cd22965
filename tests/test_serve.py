"""`kb serve` as a real process on 127.0.0.1: it answers, it refuses a missing KB, and it picks
up a KB file replaced under it (as `ingest build` does) without a restart or a failed request."""

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ingest.build import build
from ingest.sources import load_sources
from kb.query import KBError
from kb.serve import serve

REQUIREMENTS_JA = "/kb/requirements.json?api=CreateModel&conditions=vpc&lang=ja&_shape=array"
PAGES = "/kb.json?sql=select+count(*)+from+page&_shape=arrayfirst"


def test_serve_refuses_a_missing_kb_with_a_clear_message(tmp_path):
    with pytest.raises(KBError, match=r"no knowledge base at .*nothing\.db: run `ingest build`"):
        serve(tmp_path / "nothing.db", "127.0.0.1", 0)
    run = subprocess.run([sys.executable, "-m", "kb", "--db", str(tmp_path / "nothing.db"), "serve"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "ingest build" in run.stderr and "Traceback" not in run.stderr


def test_kb_serve_answers_on_loopback(kb_db, kb_server):
    server = kb_server(kb_db)
    rows = httpx.get(server.url + REQUIREMENTS_JA, timeout=10).json()
    assert len({r["action"] for r in rows}) == 20
    assert {r["heading"] for r in rows} == {"CreateModel API: 実行ロールのアクセス許可"}
    home = httpx.get(server.url + "/?lang=ja&api=CreateModel&conditions=vpc", timeout=10)
    assert home.status_code == 200 and 'id="policy-panel"' in home.text
    assert httpx.get(server.url + "/-/databases.json", timeout=10).json()[0]["name"] == "kb"


def _pages(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from page").fetchone()[0]


def test_a_port_in_use_is_one_line_naming_it(kb_db, kb_server):
    server = kb_server(kb_db)
    run = subprocess.run([sys.executable, "-m", "kb", "--db", str(kb_db), "serve", "--port", str(server.port)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr == f"kb: 127.0.0.1:{server.port} is in use (another `kb serve`? pick another with --port)\n"
    assert httpx.get(server.url + PAGES, timeout=10).json() == [_pages(kb_db)]  # the first server is untouched


def test_the_listening_socket_is_tcp_so_responses_are_not_delayed():
    """asyncio turns Nagle off (TCP_NODELAY) on accepted connections only when the listening socket
    says IPPROTO_TCP; with proto 0 every answer waited ~40 ms (make bench caught it)."""
    import socket

    from kb.serve import listen

    sock = listen("127.0.0.1", 0)
    try:
        assert (sock.family, sock.type, sock.proto) == (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    finally:
        sock.close()


def _open_files(pid: int, path: Path) -> list[str]:
    """What the server process holds open on `path` (a replaced file shows as "(deleted)")."""
    fds = Path(f"/proc/{pid}/fd")
    out = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(path)) and not target.endswith(("-journal", "-wal", "-shm")):
            out.append(target)
    return out


def test_a_replaced_kb_is_served_without_restart_or_failed_request(kb_db, kb_server, tmp_path):
    served = tmp_path / "kb.db"
    shutil.copy(kb_db, served)
    server = kb_server(served)
    # The new KB: the English roles page alone (no guide, no history, no Japanese page).
    roles = [s for s in load_sources(with_history=False) if s.key == "sagemaker-roles" and s.is_current]
    sources = [s for s in roles if s.lang == "en"]

    # Which file answered each request, per client, in order: the old one has every page (guide and
    # history included) and 20 CreateModel+vpc rows in Japanese; the new one 1 page and no Japanese page
    # (a question in Japanese is refused: 400).
    OLD, NEW = {REQUIREMENTS_JA: 20, PAGES: _pages(kb_db)}, {REQUIREMENTS_JA: 0, PAGES: 1}
    files_seen: dict[int, list[str]] = {}
    errors: list[str] = []
    stop = threading.Event()

    def hammer(n: int):
        seen = files_seen.setdefault(n, [])
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                for path in (REQUIREMENTS_JA, PAGES):
                    try:
                        r = client.get(path)
                    except Exception as exc:  # a refused or broken connection is a failed request too
                        errors.append(f"{path}: {exc!r}")
                        continue
                    if path == REQUIREMENTS_JA and r.status_code == 400 and r.json()["problems"][0]["param"] == "lang":
                        seen.append("new")  # the new file has no Japanese page: the question is refused, as by the CLI
                        continue
                    if r.status_code != 200:
                        errors.append(f"{path}: {r.status_code} {r.text[:200]}")
                        continue
                    size = len(r.json()) if path == REQUIREMENTS_JA else r.json()[0]
                    seen.append("old" if size == OLD[path] else "new" if size == NEW[path] else f"neither: {size}")

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        build(sources, tmp_path / "new" / "kb.db")  # built beside, then swapped in as ingest does
        os.replace(tmp_path / "new" / "kb.db", served)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all("new" in seen for seen in files_seen.values()):
            time.sleep(0.05)
        time.sleep(0.5)  # and keep going on the new file for a while
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert not errors, errors[:5]
    for seen in files_seen.values():
        # each client: the old file, then the new one, never back, never a mix
        switch = seen.index("new")
        assert switch > 0 and set(seen[:switch]) == {"old"} and set(seen[switch:]) == {"new"}, seen
        assert len(seen) - switch > 10
    # after the swap the Japanese answer is the new file's: it has no Japanese page, and says so
    ja = httpx.get(server.url + REQUIREMENTS_JA, timeout=10)
    assert ja.status_code == 400 and ja.json()["error"].startswith("言語 'ja' のページはありません")
    assert httpx.get(server.url + "/kb/requirements.json?api=CreateModel&lang=en&_shape=array",
                     timeout=10).json()[0]["lang"] == "en"
    assert "was replaced; now serving the new file" in server.log()

    # Each executor thread lets go of the replaced file once it has served the new one.
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(60):
            assert client.get(PAGES).json() == [1]
    held = _open_files(server.proc.pid, served)
    assert held and all("(deleted)" not in f for f in held), held

    # and again: a second replace is picked up the same way
    build(roles, tmp_path / "again" / "kb.db")
    os.replace(tmp_path / "again" / "kb.db", served)
    assert httpx.get(server.url + PAGES, timeout=10).json() == [2]
    assert len(httpx.get(server.url + REQUIREMENTS_JA, timeout=10).json()) == 20


def test_a_server_stopped_with_sigterm_leaves_no_temporary_directory(kb_db, tmp_path):
    """`kill` (SIGTERM) stops the server gracefully and through Python's own exit, which removes the
    policy workers' temporary directory (it stayed behind, one per stopped server, in /tmp)."""
    import tempfile

    from tests.conftest import KBServer

    scratch = Path(tempfile.mkdtemp(prefix="kbt-", dir="/tmp"))  # short: a Unix socket's path lives in it
    server = KBServer(kb_db, tmp_path / "serve.log", env={"TMPDIR": str(scratch)}).wait_ready()
    try:
        assert httpx.get(server.url + "/-/policy?api=CreateModel", timeout=30).status_code == 200
        assert list(scratch.glob("pymp-*")), "the policy route ran in a worker with a temporary directory"
    finally:
        server.stop()
    try:
        assert server.proc.returncode == 0, server.log_path.read_text(errors="replace")
        assert list(scratch.glob("pymp-*")) == []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
