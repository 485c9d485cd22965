"""`ingest history DIR`: a directory of dated revisions (YYYY-MM-DD_<commit>.md) becomes older
versions of one page, registered in the source list so later builds keep them."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

from kb.query import has_table

from . import source_list
from .build import build
from .lock import now_iso, writer_lock
from .sources import history_sources, load_sources, page_key, read_file, read_page
from .store import connect_scratch
from .versions import carry_log, open_kb_readonly, record_changes, stamp_versions


def ingest_history(directory: Path, lang: str, db_path: Path, sources_file: Path, *, key: str | None = None,
                   url: str | None = None, register: bool = True) -> dict:
    """Rebuild the KB with `directory`'s dated revisions as versions of one page. With `register`,
    the directory joins the source list (so later builds keep them) unless it adds no revision the
    list does not already hold."""
    started = now_iso()
    config = tomllib.loads(sources_file.read_text(encoding="utf-8"))
    base = sources_file.parent.resolve()
    registered = next((h for h in config.get("history", []) if (base / h["dir"]).resolve() == directory.resolve()
                       and h.get("lang") == lang), None)
    if key is None:
        key = (registered or {}).get("key")
    if key is None:
        newest = history_sources(directory, lang)[-1]
        key = page_key(newest, read_page(newest, read_file(newest.location)))
    page: dict = next((p for p in config.get("page", []) if p.get("key") == key and p.get("lang") == lang), {})
    url = url or (registered or {}).get("url") or page.get("url")
    revisions = history_sources(directory, lang, url=url, key=key)
    listed = load_sources(sources_file)
    mine = {str(Path(r.location).resolve()) for r in revisions}
    if registered is None:
        listed += revisions
    with writer_lock(db_path):
        known = _version_labels(db_path, key, lang)  # what the KB being replaced already holds
        run: dict = {}

        def finish(previous: Path, new: Path) -> None:
            conn = connect_scratch(new)
            try:
                carry_log(conn, previous)
                run["id"] = conn.execute(
                    """insert into refresh_run (command, started_at, finished_at, status, facts_rebuilt)
                       values ('history', ?, ?, 'ok', 1)""", [started, now_iso()]).lastrowid
                stamp_versions(conn)
                run["changes"] = record_changes(conn, previous, origin="history", run_id=run["id"])
                conn.commit()
            finally:
                conn.close()

        report = build(listed, db_path, finish=finish)
        skipped = [(s, same) for s, same in report.skipped if str(Path(s.location).resolve()) in mine]
        repeated = {s.location for s, _ in skipped}
        versions = [r for r in revisions if r.location not in repeated]  # what only this directory gives
        new_versions = sum(1 for r in versions if r.revision not in known)
        # Registered once the KB holds the versions, and only when the directory gives one.
        added = register and registered is None and bool(versions) and source_list.register_history(
            sources_file, directory, key, lang, url)
    conn = sqlite3.connect(db_path)
    try:
        vers = conn.execute("select label, version_date, is_current from page_version where page_key = ? and lang = ? "
                            "order by ord", [key, lang]).fetchall()
        transitions = conn.execute(
            """select t.from_label, t.to_label, t.to_date, count(c.id) from page_transition t
               left join page_change c on c.transition_id = t.id where t.run_id = ? group by t.id order by t.id""",
            [run["id"]]).fetchall()
    finally:
        conn.close()
    return {
        "db": str(db_path), "page_key": key, "lang": lang, "dir": str(directory),
        "registered": bool(added), "in_source_list": registered is not None or bool(added),
        "revisions": len(revisions), "versions_from_dir": len(versions), "new_versions": new_versions,
        "skipped_identical": [{"revision": s.revision, "same_as": same.revision,
                               **({"same_as_file": same.location} if Path(same.location).parent.resolve()
                                  != directory.resolve() else {})} for s, same in skipped],
        "versions": [{"label": label, "date": date, "is_current": bool(cur)} for label, date, cur in vers],
        "new_transitions": [{"from": a, "to": b, "date": d, "changes": n} for a, b, d, n in transitions],
    }


def _version_labels(db_path: Path, key: str, lang: str) -> set[str]:
    old = open_kb_readonly(db_path)
    if old is None:
        return set()
    try:
        if not has_table(old, "page_version"):
            return set()
        return {r[0] for r in old.execute("select label from page_version where page_key = ? and lang = ?",
                                          [key, lang])}
    finally:
        old.close()
