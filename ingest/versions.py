"""The change log every build keeps: page versions, dated, and what changed between them.

Every build ends here (`finish_build`, called on the new file before its sanity check):
- the change log of the KB being replaced is carried into the new file: it is the one part of a KB
  that cannot be rebuilt from the sources, since old facts are gone once a page changed;
- every version of every page gets a date (`page_version`): a revision its date, the current page
  the time it was first fetched with this content, else the source list's `retrieved` date;
- what changed between two versions the log has not seen yet is recorded, once: consecutive dated
  revisions, the last revision to the current page, and a current page whose text differs from the
  one in the KB being replaced.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from kb.query import has_table

from . import changelog
from .lock import now_iso
from .store import connect_scratch

CARRIED = ("refresh_run", "refresh_page", "page_transition", "page_change")  # parents first: foreign keys


def finish_build(previous: Path, new: Path) -> None:
    """The default last step of `ingest build` (see the module docstring)."""
    conn = connect_scratch(new)
    try:
        carry_log(conn, previous)
        stamp_versions(conn)
        record_changes(conn, previous, origin="build")
        conn.commit()
    finally:
        conn.close()


def carry_log(conn: sqlite3.Connection, previous: Path) -> bool:
    """Copy the change log of the KB at `previous` into `conn`'s file, ids kept. False when there is
    none to carry (no file, or a file without a log)."""
    if not Path(previous).is_file():
        return False
    try:
        conn.execute("attach database ? as old", [str(previous)])
    except sqlite3.DatabaseError:
        return False
    try:
        for table in CARRIED:
            try:
                old_cols = [r[1] for r in conn.execute(f"pragma old.table_info({table})")]
            except sqlite3.DatabaseError:  # not a SQLite file: nothing can be carried
                return False
            if not old_cols:
                continue
            new_cols = {r[1] for r in conn.execute(f"pragma main.table_info({table})")}
            cols = ", ".join(c for c in old_cols if c in new_cols)  # columns both schemas know
            conn.execute(f"insert into main.{table} ({cols}) select {cols} from old.{table} order by id")
        return True
    finally:
        conn.commit()
        conn.execute("detach database old")


def stamp_versions(conn: sqlite3.Connection) -> None:
    """Give each current page its fetch metadata from the log (ETag, Last-Modified, since when its
    text is live), then one dated `page_version` row per page, oldest first per page."""
    conn.execute("delete from page_version")
    built_at = (conn.execute("select built_at from build order by id desc limit 1").fetchone() or [now_iso()])[0]
    pages = conn.execute("""select id, page_key, lang, revision, revision_date, is_current, content_sha256, source,
                                   retrieved_at from page""").fetchall()
    fetched = set(conn.execute("select distinct page_key, lang from refresh_page").fetchall())
    by_page: dict[tuple, list] = {}
    for pid, key, lang, revision, rev_date, current, sha, source, declared in pages:
        if current:
            rev_date, how = _current_date(conn, pid, key, lang, sha, source, built_at, declared,
                                          (key, lang) in fetched)
            label = f"{rev_date[:10]}_{sha[:7]}"
        else:
            how, label = "revision", revision or f"{rev_date}_{sha[:7]}"
        by_page.setdefault((key, lang), []).append((bool(current), rev_date or "", label, pid, how, sha))
    rows = []
    for (key, lang), items in by_page.items():
        # Revisions by date, the current page last whatever its date says.
        items.sort(key=lambda i: (i[0], i[1], i[2]))
        rows += [(pid, key, lang, n, label, date, how, current, sha)
                 for n, (current, date, label, pid, how, sha) in enumerate(items)]
    conn.executemany(
        """insert into page_version (page_id, page_key, lang, ord, label, version_date, date_source,
                                     is_current, content_sha256) values (?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)


def _current_date(conn, page_id, key, lang, sha, source, built_at, declared, was_fetched) -> tuple[str, str]:
    """The earliest evidence of this content: its first fetch (the log), the day the source list
    says its snapshot was retrieved, else its snapshot file's date (a clone's checkout date, the
    weakest evidence). A fetched page also gets the validators of its latest fetch, for the next
    conditional request."""
    dates = []
    if declared:
        dates.append((declared, "snapshot_retrieved"))
    # Since when this text has been the live page: the first fetch of its latest unbroken run (a
    # page that flips back to an older text starts a new run).
    fetched = was_fetched and conn.execute(
        """select min(retrieved_at) from refresh_page
           where page_key = ? and lang = ? and new_sha256 = ? and status != 'failed'
             and id > coalesce((select max(id) from refresh_page where page_key = ? and lang = ?
                                and status != 'failed' and new_sha256 != ?), 0)""",
        [key, lang, sha, key, lang, sha]).fetchone()[0]
    if fetched:
        meta = conn.execute(
            """select etag, last_modified from refresh_page where page_key = ? and lang = ? and new_sha256 = ?
               and status != 'failed' and (etag is not null or last_modified is not null) order by id desc limit 1""",
            [key, lang, sha]).fetchone() or (None, None)
        conn.execute("update page set retrieved_at = ?, etag = ?, last_modified = ? where id = ?",
                     [fetched, *meta, page_id])
        dates.append((fetched, "retrieved"))
    path = Path(source) if not dates and source and "://" not in source else None
    if path is not None and path.is_file():
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        dates.append((mtime.date().isoformat(), "snapshot_file"))
    return min(dates) if dates else (built_at[:10], "build")


def record_changes(conn: sqlite3.Connection, previous: Path | None, *, origin: str, run_id: int | None = None,
                   fetched: dict | None = None) -> dict[tuple, list[dict]]:
    """Log every transition between versions that the log does not hold yet. Returns the changes of
    each current page against the current page of the KB at `previous`, by (page_key, lang);
    `fetched` maps (page_key, lang) of a refreshed page to (the URL it was read from, when)."""
    recorded: dict[tuple, list[dict]] = {}
    now = now_iso()
    logged = conn.execute("select page_key, lang, from_sha256, to_sha256, to_current from page_transition").fetchall()
    known = {(k, lang, a, b) for k, lang, a, b, _ in logged}
    continued = {(k, lang, a) for k, lang, a, _, to_current in logged if to_current}
    old = open_kb_readonly(previous) if previous is not None else None
    try:
        old_currents = _old_currents(old) if old is not None else {}
        # Only a page with several versions here, or whose current text is not the replaced KB's,
        # has a step to log: the versions of the other thousand are not read.
        wanted = set(conn.execute("select page_key, lang from page_version group by page_key, lang "
                                  "having count(*) > 1").fetchall())
        wanted |= {(k, lang) for k, lang, sha in conn.execute(
            "select page_key, lang, content_sha256 from page_version where is_current")
            if (k, lang) in old_currents and old_currents[(k, lang)]["sha"] != sha}
        cur = conn.cursor()
        cur.row_factory = sqlite3.Row
        chains: dict[tuple, list[dict]] = {}
        for v in cur.execute("""select v.*, p.source from page_version v join page p on p.id = v.page_id
                                order by v.page_key, v.lang, v.ord"""):
            if (v["page_key"], v["lang"]) in wanted:
                chains.setdefault((v["page_key"], v["lang"]), []).append(dict(v))

        # A current page whose text differs from the current page of the KB being replaced.
        for (key, lang), chain in chains.items():
            current = chain[-1]
            if old is None or not current["is_current"]:
                continue
            before = old_currents.get((key, lang))
            # Every such change is an event, logged each time: a page that flips back and forth did.
            if before is None or before["sha"] == current["content_sha256"]:
                continue
            before = _as_logged(old, before)
            diffs = changelog.diff(changelog.page_facts(old, before["id"]), changelog.page_facts(conn, current["page_id"]))
            url, when = (fetched or {}).get((key, lang), (None, None))
            # In a refresh, a page that was not fetched but whose snapshot changed is a rebuild's change.
            how = origin if url or origin != "refresh" else "build"
            after = {**current, "version_date": when or current["version_date"]}  # dated when it was seen
            _insert(conn, key, lang, how, run_id, before, after, url or current["source"], diffs, now)
            recorded[(key, lang)] = diffs
            continued.add((key, lang, before["sha"]))
    finally:
        if old is not None:
            old.close()
    # Consecutive versions inside this KB (dated revisions, then the current page), each logged once.
    # The step from the last revision to the current page is skipped once the log continues that
    # revision elsewhere: a refresh has since replaced the version it led to.
    for (key, lang), chain in chains.items():
        for a, b in itertools.pairwise(chain):
            if (key, lang, a["content_sha256"], b["content_sha256"]) in known:
                continue
            if b["is_current"] and (key, lang, a["content_sha256"]) in continued:
                continue
            diffs = changelog.diff(changelog.page_facts(conn, a["page_id"]), changelog.page_facts(conn, b["page_id"]))
            before = {"label": a["label"], "date": a["version_date"], "sha": a["content_sha256"], "source": a["source"]}
            _insert(conn, key, lang, "revision", run_id if origin == "history" else None, before, b, b["source"],
                    diffs, now)
            known.add((key, lang, a["content_sha256"], b["content_sha256"]))
    return recorded


def open_kb_readonly(path: Path) -> sqlite3.Connection | None:
    if not Path(path).is_file():
        return None
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("select 1 from page limit 1")
        return conn
    except sqlite3.DatabaseError:
        return None


def _old_currents(old: sqlite3.Connection) -> dict[tuple[str, str], dict]:
    """The current page of each (page key, language) in the KB being replaced (its first, if several)."""
    out: dict[tuple[str, str], dict] = {}
    for key, lang, pid, sha, source, retrieved in old.execute(
            "select page_key, lang, id, content_sha256, source, retrieved_at from page where is_current order by id"):
        if (key, lang) not in out:
            out[(key, lang)] = {"id": pid, "sha": sha, "source": source, "retrieved": retrieved}
    return out


def _as_logged(old: sqlite3.Connection, before: dict) -> dict:
    """A current page of the KB being replaced with the label and date its log gave it."""
    row = old.execute("select label, version_date from page_version where page_id = ? limit 1",
                      [before["id"]]).fetchone() if has_table(old, "page_version") else None
    label, date = row or (None, None)
    return {**before, "label": label or f"current_{before['sha'][:7]}", "date": date if label else before["retrieved"]}


def _insert(conn, key, lang, origin, run_id, before: dict, after: dict, to_source, diffs, now) -> None:
    tid = conn.execute(
        """insert into page_transition (page_key, lang, origin, run_id, from_label, to_label, from_date, to_date,
                                        to_current, from_sha256, to_sha256, from_source, to_source, recorded_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [key, lang, origin, run_id, before["label"], after["label"], before["date"], after["version_date"],
         bool(after["is_current"]), before["sha"], after["content_sha256"], before["source"], to_source,
         now]).lastrowid

    def j(v):
        return None if v is None else json.dumps(v, ensure_ascii=False)

    conn.executemany(
        """insert into page_change (transition_id, kind, api_name, condition_key, variant, action, field,
                                    before_json, after_json, before_source_json, after_source_json)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [(tid, d["kind"], d["api"], d["condition"], d["variant"], d["action"], d["field"], j(d["before"]),
          j(d["after"]), j(d["before_source"]), j(d["after_source"])) for d in diffs])
