"""A live swap of the KB file when `ingest build` or `ingest refresh` replaces it: requests keep the
database they started with; the next one sees the new file, checked before it is served."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import sys
import threading
import weakref

from datasette.database import Database

from .. import DB_NAME
from ..query import connect
from .bounds import BoundedConnection


def file_signature(path) -> tuple:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


_threads = threading.local()


class LiveDatabase(Database):
    """A file database whose connections belong to this object, not to its name.

    Datasette keeps one connection per executor thread per database *name*; a database swapped
    in under the same name would go on reading the replaced file through them. Here each
    generation has its own, and a thread closes its older ones when it opens a newer one.
    """

    _generations = itertools.count(1)

    def __init__(self, ds, path, is_mutable: bool = False):
        super().__init__(ds, path=str(path), is_mutable=is_mutable)
        self.generation = next(self._generations)
        self.signature = file_signature(path)

    def connect(self, write=False):
        """Datasette's connection, fetching through a bounded cursor (kb/web/bounds.py)."""
        if write or self.is_memory or getattr(self, "memory_name", None):
            return super().connect(write)
        qs = "?mode=ro" if self.is_mutable else "?immutable=1"
        conn = sqlite3.connect(f"file:{self.path}{qs}", uri=True, check_same_thread=False, factory=BoundedConnection)
        self._all_file_connections.append(conn)
        return conn

    async def execute_fn(self, fn):
        if self.ds.executor is None:
            return await super().execute_fn(fn)

        def in_thread():
            conns = _threads.__dict__.setdefault("by_name", {}).setdefault(self.name, {})
            conn = conns.get(self.generation)
            if conn is None:
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                if conns and self.generation < max(conns):
                    # a request that began before a swap, running late: no handle kept on the old file
                    try:
                        return fn(conn)
                    finally:
                        conn.close()
                for old in list(conns):
                    conns.pop(old).close()  # this thread's own and idle: nobody else uses it
                conns[self.generation] = conn
            return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)


class Reloader:
    """Notices that the `kb` file was replaced (ingest writes a new file and os.replace()s it)
    and swaps in a database on the new file. A request keeps the database it started with; the
    new one is opened and checked before it is added, and the databases dict is replaced without
    an await in between, so no request ever finds no `kb`."""

    def __init__(self, datasette):
        self.ds_ref = weakref.ref(datasette)  # kept in a WeakKeyDictionary keyed by that Datasette
        self.swapping = False

    async def check(self) -> None:
        ds = self.ds_ref()
        db = ds.databases.get(DB_NAME) if ds is not None else None
        if self.swapping or db is None or db.is_memory or not db.path:
            return
        try:
            now = file_signature(db.path)
        except OSError:
            return  # gone, for now or for good: keep serving what is open
        if getattr(db, "signature", None) is None:
            db.signature = now  # a plain Database (`datasette kb.db`): its file as first seen
        if now == db.signature:
            return
        self.swapping = True
        try:
            # proved on a connection of its own: the new database's are opened once it serves
            await asyncio.get_running_loop().run_in_executor(None, lambda: connect(db.path).close())
            new = LiveDatabase(ds, db.path, is_mutable=db.is_mutable)
        except Exception as exc:  # not a KB: keep the old one, try again at the next replace
            db.signature = now
            print(f"kb: {db.path} was replaced by a file that is not a KB ({exc}); still serving the old one",
                  file=sys.stderr, flush=True)
            return
        finally:
            self.swapping = False
        if ds is None:
            return
        ds.remove_database(DB_NAME)
        ds.add_database(new, name=DB_NAME)
        print(f"kb: {db.path} was replaced; now serving the new file", file=sys.stderr, flush=True)


_reloaders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reloader_of(datasette) -> Reloader:
    """One per Datasette: its in-process client and the server each wrap their own app."""
    return _reloaders.setdefault(datasette, Reloader(datasette))
