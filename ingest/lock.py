"""One writer at a time per KB, and files replaced whole (never written in place)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .sources import SourceError


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def writer_lock(db_path: Path) -> Iterator[None]:
    """One writer at a time per KB (build, refresh, history import): two would each carry the
    change log over and one would lose the other's rows. The writer that takes the lock first
    removes what killed writers left (ingest/cleanup.py)."""
    from .cleanup import remove_stale_temporaries

    lock_path = Path(str(db_path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SourceError(f"another `ingest` command is writing {db_path}; try again when it ends") from None
        _HELD.add(f.fileno())
        try:
            remove_stale_temporaries(Path(db_path))
            yield
        finally:
            _HELD.discard(f.fileno())
            fcntl.flock(f, fcntl.LOCK_UN)


# The descriptors of the locks this process holds. A process forked from it (a build's worker)
# shares them, and the lock with them: it closes its copies (let_go_of_inherited_locks), so the
# lock ends with the writer, even one killed while its workers still run.
_HELD: set[int] = set()


def let_go_of_inherited_locks() -> None:
    """In a forked child: close the writer's lock descriptors (closing a copy leaves the lock with
    the parent's; unlocking would take it from the parent too)."""
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    os.replace(tmp, path)
