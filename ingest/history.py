"""A page's history in the KB: dated versions, the change log, and `ingest history DIR`.

Every build ends here (`finish_build`, called on the new file before its sanity check):
- the change log of the KB being replaced is carried into the new file: it is the one part of a KB
  that cannot be rebuilt from the sources, since old facts are gone once a page changed;
- every version of every page gets a date (`page_version`): a revision its date, the current page
  the time it was first fetched with this content, else its snapshot file's date;
- what changed between two versions the log has not seen yet is recorded, once: consecutive dated
  revisions, the last revision to the current page, and a current page whose text differs from the
  one in the KB being replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import click

from kb import changes as changelog

from .sources import REVISION_FILE, Source, SourceError, history_sources, read_file

CARRIED = ("refresh_run", "refresh_page", "page_transition", "page_change")  # parents first: foreign keys


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- identical content ----------------------------------------------------------------------------


def fingerprint(text: str, fmt: str | None) -> str:
    """sha256 of a page's content, normalized so that a re-served page with the same words hashes
    equal: HTML without site-build noise (ids, comments, asset versions), text without trailing
    blanks and line-ending differences."""
    if fmt == "html":
        from .readers.html import page_fingerprint

        return page_fingerprint(text)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return hashlib.sha256("\n".join(lines).strip("\n").encode("utf-8")).hexdigest()


def skip_repeated_revisions(sources: list[Source]) -> tuple[list[Source], list[tuple[Source, Source]]]:
    """Drop the dated revisions that add no version: a second copy of a revision already listed
    (same file name and content, e.g. the corpus directory imported beside data/'s copy), and a
    revision whose content equals the previous kept revision of the same page (a commit that changed
    nothing the page shows). Only consecutive repeats count: a revision that returns to an older text
    (2022-03-11 undoes 2022-03-04) is a real version. Revisions of a page from several directories
    are merged by date. Returns (kept, [(skipped, same as)])."""
    others = [s for s in sources if s.is_current or s.is_url]
    revisions = sorted((s for s in sources if not (s.is_current or s.is_url)),
                       key=lambda s: (s.key or "", s.lang, s.revision_date or "", Path(s.location).name))
    kept, skipped = [], []
    seen: dict[tuple, tuple[str, Source]] = {}  # (page, revision label) → (digest, source)
    last: dict[tuple, tuple[str, Source]] = {}  # page → the last kept revision
    for source in revisions:
        page = (source.key, source.lang)
        digest = fingerprint(read_file(source.location), source.format)
        copy = seen.get((*page, source.revision))
        if copy is not None:
            if copy[0] != digest:
                raise SourceError(f"revision {source.revision} of {source.key or 'the page'} ({source.lang}) has two "
                                  f"different texts: {copy[1].location} and {source.location}")
            skipped.append((source, copy[1]))
            continue
        previous = last.get(page)
        if previous is not None and previous[0] == digest:
            skipped.append((source, previous[1]))
            continue
        seen[(*page, source.revision)] = last[page] = (digest, source)
        kept.append(source)
    return others + kept, skipped


# --- every build ----------------------------------------------------------------------------------


def finish_build(previous: Path, new: Path) -> None:
    """The default last step of `ingest build` (see the module docstring)."""
    conn = sqlite3.connect(new)
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
    pages = conn.execute("""select id, page_key, lang, revision, revision_date, is_current, content_sha256, source
                            from page""").fetchall()
    by_page: dict[tuple, list] = {}
    for pid, key, lang, revision, rev_date, current, sha, source in pages:
        if current:
            rev_date, how = _current_date(conn, pid, key, lang, sha, source, built_at)
            label = f"{rev_date[:10]}_{sha[:7]}"
        else:
            how, label = "revision", revision or f"{rev_date}_{sha[:7]}"
        by_page.setdefault((key, lang), []).append((bool(current), rev_date or "", label, pid, how, sha))
    for (key, lang), items in by_page.items():
        # Revisions by date, the current page last whatever its date says.
        items.sort(key=lambda i: (i[0], i[1], i[2]))
        conn.executemany(
            """insert into page_version (page_id, page_key, lang, ord, label, version_date, date_source,
                                         is_current, content_sha256) values (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(pid, key, lang, n, label, date, how, current, sha)
             for n, (current, date, label, pid, how, sha) in enumerate(items)])


def _current_date(conn, page_id, key, lang, sha, source, built_at) -> tuple[str, str]:
    """The earliest evidence of this content: its first fetch (the log), the day the source list
    says its snapshot was retrieved, else its snapshot file's date (a clone's checkout date, the
    weakest evidence). A fetched page also gets the validators of its latest fetch, for the next
    conditional request."""
    dates = []
    declared = conn.execute("select retrieved_at from page where id = ?", [page_id]).fetchone()[0]
    if declared:
        dates.append((declared, "snapshot_retrieved"))
    # Since when this text has been the live page: the first fetch of its latest unbroken run (a
    # page that flips back to an older text starts a new run).
    fetched = conn.execute(
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
    path = Path(source) if source and "://" not in source else None
    if not dates and path is not None and path.is_file():
        mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
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
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    chains: dict[tuple, list[dict]] = {}
    for v in cur.execute("""select v.*, p.source from page_version v join page p on p.id = v.page_id
                            order by v.page_key, v.lang, v.ord"""):
        chains.setdefault((v["page_key"], v["lang"]), []).append(dict(v))

    # A current page whose text differs from the current page of the KB being replaced.
    old = open_kb_readonly(previous) if previous is not None else None
    try:
        for (key, lang), chain in chains.items():
            current = chain[-1]
            if old is None or not current["is_current"]:
                continue
            before = _old_current(old, key, lang)
            # Every such change is an event, logged each time: a page that flips back and forth did.
            if before is None or before["sha"] == current["content_sha256"]:
                continue
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
        for a, b in zip(chain, chain[1:]):
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


def _old_current(old: sqlite3.Connection, key: str, lang: str) -> dict | None:
    r = old.execute("""select id, content_sha256, source, retrieved_at from page
                       where is_current and page_key = ? and lang = ? order by id limit 1""", [key, lang]).fetchone()
    if r is None:
        return None
    label, date = f"current_{r[1][:7]}", r[3]
    if changelog.has_table(old, "page_version"):
        v = old.execute("select label, version_date from page_version where page_id = ?", [r[0]]).fetchone()
        if v:
            label, date = v
    return {"id": r[0], "sha": r[1], "source": r[2], "label": label, "date": date}


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


@contextlib.contextmanager
def writer_lock(db_path: Path):
    """One writer at a time per KB (build, refresh, history import): two would each carry the
    change log over and one would lose the other's rows."""
    lock_path = Path(str(db_path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SourceError(f"another `ingest` command is writing {db_path}; try again when it ends") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- `ingest history DIR` -------------------------------------------------------------------------


def register_history(sources_file: Path, directory: Path, key: str, lang: str, url: str | None) -> bool:
    """Add a [[history]] entry for `directory` to the source list unless one is there (so a later
    `ingest build` keeps these versions). Returns True when the file was changed."""
    config = tomllib.loads(sources_file.read_text(encoding="utf-8"))
    base = sources_file.parent.resolve()
    wanted = directory.resolve()
    for h in config.get("history", []):
        if (base / h["dir"]).resolve() == wanted and h.get("lang") == lang:
            return False
    try:
        shown = str(wanted.relative_to(base))
    except ValueError:
        shown = str(wanted)
    entry = [f"key = {json.dumps(key, ensure_ascii=False)}", f"lang = {json.dumps(lang)}"]
    if url:
        entry.append(f"url = {json.dumps(url, ensure_ascii=False)}")
    entry += [f"dir = {json.dumps(shown, ensure_ascii=False)}", 'format = "md"']
    text = sources_file.read_text(encoding="utf-8")
    block = "\n[[history]]\n" + "\n".join(entry) + "\n"
    write_atomically(sources_file, text.rstrip("\n") + "\n" + block)
    return True


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    os.replace(tmp, path)


def ingest_history(directory: Path, lang: str, db_path: Path, sources_file: Path, *, key: str | None = None,
                   url: str | None = None, register: bool = True) -> dict:
    """Rebuild the KB with `directory`'s dated revisions as versions of one page. With `register`,
    the directory joins the source list (so later builds keep them) unless it adds no revision the
    list does not already hold."""
    from .build import build
    from .sources import load_sources, page_key, read_page

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
    page = next((p for p in config.get("page", []) if p.get("key") == key and p.get("lang") == lang), {})
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
            conn = sqlite3.connect(new)
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
        added = register and registered is None and bool(versions) and register_history(
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
        if not changelog.has_table(old, "page_version"):
            return set()
        return {r[0] for r in old.execute("select label from page_version where page_key = ? and lang = ?",
                                          [key, lang])}
    finally:
        old.close()


@click.command("history")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lang", default="en", show_default=True, help="Language of the revisions.")
@click.option("--key", default=None, help="Page key (default: the source list's, else the page title's anchor).")
@click.option("--url", default=None, help="The page's URL, for citations (default: the source list's).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="KB file to rebuild (default: data/kb.db or $KB_DB).")
@click.option("--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Source list the directory is registered in (default: data/sources.toml).")
@click.option("--register/--no-register", default=None,
              help="Add DIR to the source list so later builds keep its versions (default: only when the KB "
                   "is data/kb.db or --sources-file is given).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def history_command(directory, lang, key, url, db_path, sources_file, register, as_json):
    """Ingest DIR's dated revisions (YYYY-MM-DD_<commit>.md) as versions of one page.

    The directory is registered in the source list, so every later build keeps them; a revision
    identical to the one before it, or to a revision the KB already holds, is skipped. The versions
    answer `kb timeline` and `kb changes`, never `kb requirements`."""
    from kb.store import BuildError

    from .cli import DEFAULT_DB, _fail, check_languages
    from .model import ReaderError
    from .sources import DEFAULT_SOURCES

    check_languages([lang])
    if register is None:  # a scratch KB elsewhere must not change the shipped source list
        register = sources_file is not None or db_path is None or db_path.resolve() == DEFAULT_DB.resolve()
    db_path = db_path or DEFAULT_DB
    sources_file = sources_file or DEFAULT_SOURCES
    if not any(REVISION_FILE.match(p.name) for p in directory.iterdir()):
        _fail(f"{directory}: no revision files named YYYY-MM-DD_<commit>.md")
    try:
        report = ingest_history(directory, lang, db_path, sources_file, key=key, url=url, register=register)
    except (SourceError, ReaderError, BuildError) as exc:
        _fail(f"history not ingested, {db_path} left unchanged: {exc}")
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    say = lambda msg: click.echo(msg, err=True)  # noqa: E731
    say(f"{report['page_key']} ({lang}): {report['revisions']} revisions in {directory}, "
        f"{report['new_versions']} of them new" + (", registered in the source list" if report["registered"] else ""))
    for s in report["skipped_identical"]:
        say(f"  skipped {s['revision']}: identical to {s.get('same_as_file') or s['same_as']}")
    say(f"  {len(report['versions'])} versions: {report['versions'][0]['label']} … {report['versions'][-1]['label']}")
    for t in report["new_transitions"]:
        say(f"  logged {t['from']} → {t['to']}: {t['changes']} changes")
    say(f"wrote {db_path}")
    if not report["in_source_list"] and report["versions_from_dir"]:
        say(f"note: {directory} is not in {sources_file}; a later `ingest build` of {db_path} leaves these "
            f"versions out (run again with --register to keep them)")
