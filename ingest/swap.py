"""A new KB file is made aside, checked, and only then swapped in for the old one: the old file
stays until the new one passes its check, and a refused or unfinished file is removed. A patched
build (ingest/patch.py) copies the previous KB into its new file on the side while the changed pages
are extracted; the file is synced while it is checked; a killed writer's leftovers carry its
process number, for the next writer to remove (ingest/cleanup.py)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .store import BuildError


def sanity_check(path: Path, expected_pages: int, *, patched: bool = False) -> None:
    """Refuse a KB that is broken or lost what every good build has: every page read, at least one
    permission fact, foreign keys and integrity. A page without permission facts is a normal page
    (searchable, counted by `kb coverage`); the refresh gate judges each refreshed page itself.
    A `patched` copy (ingest/patch.py) passed the whole integrity check when it was built and has
    since changed only through SQLite: the quick check (every page of the file well formed, without
    matching each index to its table again) is what is left to catch. (Its foreign keys are checked
    here, not as the patch writes: deleting a page's rows would search its children's tables, unindexed,
    for every row, five times the patch's time.) The foreign keys are checked on the other core
    while the integrity check reads the file: SQLite lets go of Python while it works."""
    keys = _InBackground(_broken_keys, path)
    conn = sqlite3.connect(path)
    try:
        pages = conn.execute("select count(*) from page").fetchone()[0]
        facts = conn.execute("select 1 from requirement limit 1").fetchone()
        intact = conn.execute(f"pragma {'quick_check' if patched else 'integrity_check'}").fetchone()[0] == "ok"
    finally:
        conn.close()
        broken = keys.result()
    problems = []
    if pages != expected_pages:
        problems.append(f"{pages} pages written, {expected_pages} read")
    if not facts:
        problems.append("no page yields any execution-role permission: not a knowledge base of them")
    if broken:
        problems.append(f"foreign keys broken ({len(broken)} rows, e.g. table {broken[0][0]})")
    if not intact:
        problems.append("integrity check failed")
    if problems:
        raise BuildError("; ".join(problems))


def _broken_keys(path: Path) -> list:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("pragma foreign_key_check").fetchall()
    finally:
        conn.close()


class Scratch:
    """The file a build writes before it replaces `target`, named for ingest/cleanup.py (the
    writer's process number in the name: the next writer knows a killed one's leftovers), and
    removed on leaving unless it was swapped in. `start_copy(source)` copies a file into it and syncs
    it, in the background: a patched build (ingest/patch.py) copies the previous KB while its pages
    are extracted."""

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        self.path = Path(tmp)
        self.path.unlink()
        self._copy: _InBackground | None = None

    def start_copy(self, source: Path) -> None:
        self._copy = _InBackground(_copy_synced, source, self.path)

    def copied(self) -> None:
        """Wait for the copy start_copy began; raises what it raised."""
        if self._copy is not None:
            self._copy.result()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._copy is not None:
            self._copy.thread.join()  # a copy still writing would leave its file behind
        for leftover in (self.path, Path(str(self.path) + "-journal")):
            if leftover.exists():
                leftover.unlink()


def _copy_synced(source: Path, dest: Path) -> None:
    shutil.copyfile(source, dest)
    _fsync(dest)


def replace_atomically(build: Callable[[Path], None], target: Path, expected_pages: int, *,
                       patched: bool = False, scratch: Scratch | None = None) -> None:
    """Run `build(tmp_path)`, check the result, and only then move it over `target`. `scratch`: the
    file to build in, which the caller made (and removes); else one made and removed here."""
    target = Path(target)
    if scratch is None:
        with Scratch(target) as own:
            replace_atomically(build, target, expected_pages, patched=patched, scratch=own)
        return
    tmp_path = scratch.path
    build(tmp_path)
    # The file goes to the disk while it is checked: both wait on something else than Python
    # (the disk, SQLite), and a file that fails its check is deleted, synced or not.
    synced = _InBackground(_fsync, tmp_path)
    try:
        sanity_check(tmp_path, expected_pages, patched=patched)
    except BaseException:
        synced.thread.join()  # a refused file is deleted by the scratch's owner, synced or not: its check's error tells
        raise
    synced.result()
    if target.is_file():  # the new file as readable as the one it replaces, no more, no less
        os.chmod(tmp_path, stat.S_IMODE(target.stat().st_mode))
    os.replace(tmp_path, target)


class _InBackground:
    """fn(*args) in a thread; `result()` waits for it, and returns what it returned or raises what it raised."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # handed to the waiting thread by result()
            self._error = exc

    def result(self) -> Any:
        self.thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
