"""Each source's text and sha256, reading a file only when something wants its text: git's index in
small. A file whose stat (size, mtime, ctime, inode) equals the one recorded when this user's last
build read it has the sha256 recorded then; its text is read only if its page is extracted again.

Any write to a file changes its ctime, which no program can set back; a record is kept only for a
file whose ctime was at least SETTLED_S old when it was read, so a write in the same clock tick
as that read (timestamps are coarse) cannot leave the record looking current. The record lives in
the extraction cache (ingest/cache.py: a directory only this user can write)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeGuard

from . import cache, store
from .sources import Source, SourceError, read_file

RECORD_KEY = "source-file-shas"
SETTLED_S = 2.0

Signature = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


class SourceTexts:
    """`shas[i]` for every source; `text(i)` reads (once) what the record let the build skip.
    Without `remembered` (`ingest build --no-cache`) every file is read and the record made anew:
    the way out of a record that is wrong (a file system that keeps no ctime)."""

    def __init__(self, sources: list[Source], fetch_text: Callable[[Source], str] | None = None, *,
                 remembered: bool = True) -> None:
        self.sources = sources
        self._texts: dict[int, str] = {}
        record: dict[str, tuple] = (cache.load_dict(RECORD_KEY) or {}) if remembered else {}
        fresh: dict[str, tuple] = {}
        settled_before = time.time_ns() - int(SETTLED_S * 1e9)
        self.shas: list[str] = []
        for i, source in enumerate(sources):
            if source.is_url and fetch_text:
                self._texts[i] = fetch_text(source)
                self.shas.append(store.sha256_text(self._texts[i]))
                continue
            path = os.path.abspath(source.location)
            signature = _signature(source.location)
            known = record.get(path)
            if _entry(known) and known[:4] == signature:
                sha = known[4]
            else:
                self._texts[i] = read_file(source.location)
                sha = store.sha256_text(self._texts[i])
            self.shas.append(sha)
            if signature[2] < settled_before:
                fresh[path] = (*signature, sha)
        if fresh != record:  # without `remembered` (--no-cache), every file was read: a record made anew
            cache.store_data(RECORD_KEY, fresh)

    def text(self, i: int) -> str:
        if i not in self._texts:
            text = read_file(self.sources[i].location)
            if store.sha256_text(text) != self.shas[i]:  # written since it was stat'ed (or a file system
                cache.store_data(RECORD_KEY, {})  # that keeps no ctime): the next build reads every file
                raise SourceError(f"{self.sources[i].location}: its text is not the one the record of the last "
                                  "build's files gives (it changed while the build read it, or the record is "
                                  "stale); the record is cleared: build again")
            self._texts[i] = text
        return self._texts[i]


def _entry(value: object) -> TypeGuard[tuple[int, int, int, int, str]]:
    """A record entry as this module writes it (another version of it, or a damaged file, may have
    left something else under the same key: that is no record of the file)."""
    return (isinstance(value, tuple) and len(value) == 5 and all(isinstance(v, int) for v in value[:4])
            and isinstance(value[4], str) and len(value[4]) == 64)


def _signature(location: str) -> Signature:
    try:
        st = os.stat(location)
    except OSError as exc:
        raise SourceError(f"{location}: cannot read ({exc.strerror or exc})") from exc
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino
