"""Temporary files a killed writer left beside a KB, removed by the next writer.

`ingest build` writes `kb.db.<pid>.<random>.tmp` (and SQLite its `-journal`), `ingest refresh`
`.kb.db.<pid>.refresh`; a writer killed with -9 leaves them for ever. The next writer, once it
holds the KB's lock (ingest/lock.py), removes those whose writer is gone: the process named in the
file is not alive, or — a name without a process (an older version's) — the file was last written
before the lock was taken and at least STALE_AFTER seconds ago. A live writer's files (one that
writes without the lock, such as a build run from Python) are never touched.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

STALE_AFTER = 600.0


def _pattern(db_name: str) -> re.Pattern:
    name = re.escape(db_name)
    return re.compile(rf"^(?:{name}\.(?:(?P<pid>\d+)\.)?[^/]*\.tmp|\.{name}\.(?P<rpid>\d+)\.refresh)"
                      rf"(?:-journal|-wal|-shm)?$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process holds the lock now: a file with its number is an earlier one's
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temporaries(db_path: Path, locked_at: float | None = None) -> list[Path]:
    """The leftovers of dead writers of `db_path` (see the module docstring)."""
    db_path = Path(db_path)
    locked_at = time.time() if locked_at is None else locked_at
    pattern = _pattern(db_path.name)
    out = []
    try:
        entries = list(db_path.parent.iterdir())
    except OSError:
        return []
    for path in entries:
        m = pattern.match(path.name)
        if not m or not path.is_file():
            continue
        pid = m.group("pid") or m.group("rpid")
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        if mtime >= locked_at:
            continue  # written since this writer took the lock: not a leftover
        dead = not _alive(int(pid)) if pid is not None else locked_at - mtime >= STALE_AFTER
        if dead:
            out.append(path)
    return sorted(out)


def remove_stale_temporaries(db_path: Path, locked_at: float | None = None) -> list[Path]:
    removed = []
    for path in stale_temporaries(db_path, locked_at):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed
