"""Temporary files of killed builds and refreshes are removed by the next writer, and only those
(issue 13): a real `ingest build` killed with SIGKILL, then another build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingest.cleanup import STALE_AFTER, stale_temporaries
from ingest.lock import writer_lock

ROOT = Path(__file__).resolve().parent.parent


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".tmp", "-journal", ".refresh")))


def test_a_killed_builds_files_are_removed_by_the_next_build(tmp_path):
    db = tmp_path / "kb.db"
    env = {**os.environ, "KB_CACHE_DIR": str(tmp_path / "cache")}  # no cache: the build takes long enough
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "build", "--db", str(db), "--no-cache"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(n.endswith(".tmp") for n in _leftovers(tmp_path)) and time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before it could be killed"
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = _leftovers(tmp_path)
    assert any(n.startswith(f"kb.db.{proc.pid}.") and n.endswith(".tmp") for n in left), left
    # a killed refresh's copy too, and a file of this KB's name that is not a leftover
    (tmp_path / f".kb.db.{proc.pid}.refresh").write_bytes(b"x")
    (tmp_path / "kb.db.notes.txt").write_text("mine")
    old = time.time() - 5
    for name in _leftovers(tmp_path):
        os.utime(tmp_path / name, (old, old))
    run = subprocess.run([sys.executable, "-m", "ingest", "build", "--db", str(db)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert _leftovers(tmp_path) == []
    assert (tmp_path / "kb.db.notes.txt").exists() and db.is_file()


def test_a_live_writers_files_and_new_files_are_kept(tmp_path):
    db = tmp_path / "kb.db"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f"kb.db.{sleeper.pid}.abc123.tmp"  # a lock-less writer still at work
        live.write_bytes(b"x")
        nameless_recent = tmp_path / "kb.db.q1w2e3r4.tmp"  # an older version's name, written a minute ago
        nameless_recent.write_bytes(b"x")
        minute_ago = time.time() - 60
        os.utime(nameless_recent, (minute_ago, minute_ago))
        nameless_old = tmp_path / "kb.db.z9x8c7v6.tmp-journal"
        nameless_old.write_bytes(b"x")
        long_ago = time.time() - STALE_AFTER - 60
        os.utime(nameless_old, (long_ago, long_ago))
        os.utime(live, (long_ago, long_ago))
        other_kb = tmp_path / f"other.db.{sleeper.pid + 100000}.abc.tmp"
        other_kb.write_bytes(b"x")
        assert stale_temporaries(db) == [nameless_old]
        with writer_lock(db):
            pass
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == sorted(
            [live.name, nameless_recent.name, other_kb.name])
    finally:
        sleeper.kill()
        sleeper.wait()


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (read from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_build_killed_while_its_workers_read_pages_takes_neither_lock_nor_workers_along(tmp_path):
    """`kill -9` of a whole build while its worker processes extract pages: the KB's lock is free at
    once (the workers hold no copy of it) and the workers end within seconds (they watch their
    parent), so the next build runs."""
    import fcntl

    db = tmp_path / "kb.db"
    env = {**os.environ, "KB_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "build", "--db", str(db), "--no-cache"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before its workers started"
        time.sleep(0.01)
    time.sleep(0.5)  # the workers past their start, reading pages
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open(str(db) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if a worker kept the writer's lock
        fcntl.flock(lock, fcntl.LOCK_UN)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)], "workers outlived their build"
