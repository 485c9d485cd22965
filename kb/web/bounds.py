"""Bounded answers to `?sql=` (and every other query Datasette runs on the KB).

Datasette's 1 s time limit does not bound memory: `select zeroblob(200000000)` is one fast step
that makes a 200 MB value, and a thousand rows of 1 MB each are fetched before any check. So:

- every connection gets SQLite limits (`prepare_connection`): no string or blob over MAX_VALUE
  bytes ("string or blob too big"), no result over MAX_COLUMNS columns;
- the KB's connections (kb/web/live.py) fetch through a cursor that stops at MAX_RESULT bytes
  of rows with an error, before Datasette has them all in memory.

The KB's largest value is ~10 KB and its widest table 19 columns: nothing real comes near.
"""

from __future__ import annotations

import sqlite3

MAX_VALUE = 256 << 10  # bytes in one string or blob
MAX_COLUMNS = 64
MAX_RESULT = 8 << 20  # bytes of rows one query may return
MAX_SQL = 100_000  # characters of SQL text


def limit(conn: sqlite3.Connection) -> None:
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL)


def _size(row) -> int:
    return sum(len(v) if isinstance(v, str | bytes) else 16 for v in row) + 16


class ResultTooLarge(sqlite3.DataError):
    pass


class BoundedCursor(sqlite3.Cursor):
    """A cursor whose fetches add up the bytes they return and stop past MAX_RESULT."""

    returned = 0

    def _count(self, rows: list) -> list:
        self.returned += sum(_size(r) for r in rows)
        if self.returned > MAX_RESULT:
            raise ResultTooLarge(f"result larger than {MAX_RESULT // (1 << 20)} MB: select fewer rows or columns")
        return rows

    def fetchmany(self, size: int | None = None) -> list:
        wanted = self.arraysize if size is None else size
        out: list = []
        while len(out) < wanted:
            rows = self._count(super().fetchmany(min(8, wanted - len(out))))
            if not rows:
                break
            out += rows
        return out

    def fetchall(self) -> list:
        out: list = []
        while rows := self.fetchmany(8):
            out += rows
        return out

    def fetchone(self):
        rows = self.fetchmany(1)
        return rows[0] if rows else None


class BoundedConnection(sqlite3.Connection):
    def cursor(self, factory=BoundedCursor):
        return super().cursor(factory)
