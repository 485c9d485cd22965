"""A rebuild after pages changed patches the previous KB (ingest/patch.py): the patched file holds
the rows a whole build of the same sources writes, and its full-text index agrees with its sections.
Rows are compared by what they say, every row id replaced by the row it points at (a patched page
keeps its id, its new rows take new ones)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import pages, patch
from ingest.build import build
from ingest.sources import Source, SourceError, load_sources
from kb.cli import main as kb_main
from tests.helpers import without_ids

LOG = {"refresh_run", "refresh_page", "page_transition", "page_change"}  # carried with their ids
WHEN = {"recorded_at"}  # the time a build ran


def _sources() -> list[Source]:
    """Both roles pages, two revisions and enough guide pages for the worker processes to start."""
    everything = load_sources()
    roles = [s for s in everything if s.is_current and "guide" not in Path(s.location).parts]
    guide = [s for s in everything if s.is_current and "guide" in Path(s.location).parts]
    history = [s for s in everything if not s.is_current][-2:]
    wanted = {"sms-security-permission-execution-role.md", "ei-setup.md", "a2i-permissions-security.md",
              "sagemaker-roles.md"}
    picked = [s for s in guide if Path(s.location).name in wanted]
    return roles + picked + guide[:: max(1, len(guide) // (pages.PARALLEL_FROM + 8))] + history


def _edited(sources: list[Source], tmp: Path, edits: dict[str, callable]) -> list[Source]:
    """The sources with each file named in `edits` read from a copy its function rewrote."""
    out = []
    for s in sources:
        name = Path(s.location).name
        if name in edits and s.is_current:
            copy = tmp / name
            copy.write_text(edits[name](Path(s.location).read_text(encoding="utf-8")), encoding="utf-8")
            s = Source(str(copy), s.lang, s.format, s.url, s.key, s.is_current, s.revision, s.revision_date,
                       s.retrieved)
        out.append(s)
    return out


def canonical(path: Path) -> dict[str, Counter]:
    """Every table's rows as multisets of what they say: ids dropped, each foreign key replaced by
    the canonical form of the row it points at. The build row and the full-text index's shadow
    tables are left out (the index is checked on its own)."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' and name not "
                                             "like 'section_fts%' and name not like 'sqlite_%' and name != 'build'")]
        keys = {t: {fk[3]: fk[2] for fk in conn.execute(f"pragma foreign_key_list({t})") if fk[4] == "id"}
                for t in tables}
        cols = {t: [c[1] for c in conn.execute(f"pragma table_info({t})")] for t in tables}
        rows = {t: {r[0]: r for r in conn.execute(f"select rowid, * from {t}")} for t in tables}
        memo: dict[tuple[str, int], tuple] = {}

        def form(table: str, rowid: int) -> tuple:
            if (table, rowid) not in memo:
                row = rows[table][rowid][1:]
                memo[(table, rowid)] = ()  # a self-reference cycle ends here
                memo[(table, rowid)] = tuple(
                    (form(keys[table][c], v) if c in keys[table] and v is not None else v)
                    for c, v in zip(cols[table], row) if (c != "id" or table in LOG) and c not in WHEN)
            return memo[(table, rowid)]

        return {t: Counter(form(t, rowid) for rowid in rows[t]) for t in tables}
    finally:
        conn.close()


def _fts_ok(path: Path, word: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        conn.execute("insert into section_fts (section_fts) values ('integrity-check')")
        # the rebuild merged only when it had to; what writes the index next merges as it goes
        assert conn.execute("select v from section_fts_config where k = 'automerge'").fetchone() == (4,)
        return conn.execute("""select p.page_key, s.ord from section_fts f join section s on s.id = f.rowid
                               join page p on p.id = s.page_id where section_fts match ? order by 1, 2""",
                            [f'"{word}"']).fetchall()
    finally:
        conn.close()


def _free_pages(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("pragma auto_vacuum").fetchone() == (1,)  # full: freed pages leave the file
        return conn.execute("pragma freelist_count").fetchone()[0]
    finally:
        conn.close()


QUESTIONS = [["check", "--json"], ["check", "--json", "--lang", "ja"], ["requirements", "CreateModel", "--json"],
             ["requirements", "CreateOptimizationJob", "--json"], ["scoping", "CreateTrainingJob", "--json"],
             ["roles", "--json"], ["apis", "--json"], ["coverage", "--json"], ["conditions", "CreateTrainingJob", "--json"]]


def _answer(db: Path, question: list[str]):
    """The JSON answer with its row ids left out (they link to the KB's rows, which patching renumbers)."""
    result = CliRunner().invoke(kb_main, ["--db", str(db), *question])
    assert result.exit_code in (0, 1), result.output  # `kb check` exits 1 when the docs have errors
    return without_ids(json.loads(result.output))


def _same(patched: Path, whole: Path) -> None:
    a, b = canonical(patched), canonical(whole)
    assert a.keys() == b.keys()
    for table in a:
        assert a[table] == b[table], f"{table}: patched {sum((a[table] - b[table]).values())} rows more, " \
                                     f"{sum((b[table] - a[table]).values())} fewer, e.g. {list(a[table] - b[table])[:1]}"


NEW_SECTION = """
## CreateOptimizationJob API: Execution Role Permissions

The words zyxwvut patched in. For an execution role that you can pass in a CreateOptimizationJob API request,
attach the following permission policy to the role:

```
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
```
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[list[Source], Path]:
    """A KB built whole from the sources (nothing to patch yet), kept as the original of every test's copy."""
    sources = _sources()
    original = tmp_path_factory.mktemp("patch") / "kb.db"
    assert build(sources, original).patched is None
    return sources, original


@pytest.fixture
def kb(built, tmp_path) -> tuple[list[Source], Path]:
    """This test's KB: a whole build of the sources into a fresh file (the extraction cache makes it
    quick), which the next build at the same path may patch."""
    sources, _ = built
    db = tmp_path / "kb.db"
    assert build(sources, db, use_cache=True).patched is None  # a new file: nothing vouched for there
    return sources, db


def _whole_beside(db: Path) -> Path:
    """A copy of the KB before its patch, for the whole build to compare with (the same change log
    carried and recorded; a copy is never patched)."""
    whole = db.with_name("whole.db")
    shutil.copyfile(db, whole)
    return whole


def test_an_unchanged_rebuild_patches_nothing_and_keeps_every_row(kb):
    sources, db = kb
    before = canonical(db)
    assert build(sources, db).patched == 0
    assert canonical(db) == before


def test_a_patched_kb_holds_the_rows_of_a_whole_build(kb, tmp_path):
    sources, db = kb
    original = canonical(db)
    edits = {
        # an unknown action in the English roles page: a new action row, new findings, its translation aligned again
        "sagemaker-roles.en.md": lambda t: t.replace('"ecr:BatchGetImage"', '"ecr:BatchGetImagez"', 1),
        # a page emptied but for its title: its requirements, contexts and conditions go
        "sms-security-permission-execution-role.md": lambda t: "\n".join(t.splitlines()[:3]) + "\n",
        # a new API section: a new API, whose request shapes join the KB's
        "ei-setup.md": lambda t: t + NEW_SECTION,
    }
    edited = _edited(sources, tmp_path, edits)
    whole = _whole_beside(db)
    assert build(edited, db).patched == 3  # the three pages: the Japanese roles page, aligned alike, keeps its rows
    assert build(edited, whole, use_cache=False).patched is None
    _same(db, whole)
    for question in QUESTIONS:  # and so the answers, in the same order
        assert _answer(db, question) == _answer(whole, question), question
    assert _fts_ok(db, "zyxwvut") == _fts_ok(whole, "zyxwvut") != []
    assert _fts_ok(db, "role") == _fts_ok(whole, "role")
    assert _free_pages(db) == _free_pages(whole) == 0  # what the index merged away and the patch deleted
    after = canonical(db)
    assert after["action"] - original["action"], "the unknown action is a new row"
    assert after["api"] - original["api"] and after["request_shape"] - original["request_shape"], "a new API"
    assert original["role_context"] - after["role_context"], "a role context only the emptied page had is gone"
    assert original["page_transition"] != after["page_transition"], "the change log records the changed pages"

    assert build(sources, db).patched == 3  # and back
    back = canonical(db)
    for table in set(back) - LOG:  # the log remembers the round trip; every fact is back
        assert back[table] == original[table], table


def test_a_translation_whose_aligned_anchors_change_is_patched_with_its_english_page(kb, tmp_path):
    """The Japanese roles page takes its anchors from the English one: when an English anchor
    changes, the translation's rows change with it (and hold what a whole build writes); when the
    English page changes elsewhere, the translation keeps its rows (patch.keep_aligned_alike)."""
    sources, db = kb
    moved = _edited(sources, tmp_path, {"sagemaker-roles.en.md": lambda t: t.replace(
        '<a name="sagemaker-roles-createdomain-perms">', '<a name="sagemaker-roles-createdomain-moved">', 1)})
    whole = _whole_beside(db)
    assert build(moved, db).patched == 2
    build(moved, whole, use_cache=False)
    _same(db, whole)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("""select s.anchor_source from section s join page p on p.id = s.page_id
                               where p.lang = 'ja' and p.is_current and s.anchor = 'sagemaker-roles-createdomain-moved'
                            """).fetchall() == [("aligned",)]
    finally:
        conn.close()
    reworded = _edited(moved, tmp_path, {"sagemaker-roles.en.md": lambda t: t.replace(
        "Create execution role", "Create an execution role", 1)})
    assert build(reworded, db).patched == 1


@pytest.mark.parametrize("edit", ["title", "format"])
def test_what_a_page_names_first_is_patched_too(kb, tmp_path, edit):
    """A page's new title is the feature its role context names (the context's row is the first
    page's); a page read in another format is read again."""
    sources, db = kb
    if edit == "title":
        edited = _edited(sources, tmp_path, {"ei-setup.md": lambda t: t.replace("# ", "# Retitled: ", 1)})
    else:
        edited = [Source(s.location, s.lang, "text", s.url, s.key, s.is_current, s.revision, s.revision_date,
                         s.retrieved) if s.location.endswith("sagemaker-roles.en.md") else s for s in sources]
    whole = _whole_beside(db)
    assert build(edited, db).patched >= 1
    build(edited, whole, use_cache=False)
    _same(db, whole)
    if edit == "title":
        assert ("feature:ei-setup", None, None, "Retitled: Set Up to Use EI") in canonical(db)["role_context"]


def test_another_list_of_pages_or_no_cache_writes_the_whole_kb(kb):
    sources, db = kb
    assert build(sources[:-1], db).patched is None
    assert build(sources, db, use_cache=False).patched is None


@pytest.mark.parametrize("tamper", [
    "delete from requirement where api_name = 'CreateModel'",
    "create trigger evil after insert on statement_action begin "
    "update statement_action set action = 'iam:PassRole' where id = new.id; end",
    "drop view finding_rows",
    "insert into section_fts (section_fts) values ('delete-all')",
])
def test_a_kb_changed_since_its_build_gets_a_whole_build(kb, tmp_path, tamper):
    """Edited by hand (or by anyone): the next build does not carry the edit forward by patching it."""
    sources, db = kb
    conn = sqlite3.connect(db)
    conn.execute(tamper)
    conn.commit()
    conn.close()
    edited = _edited(sources, tmp_path, {"ei-setup.md": lambda t: t + NEW_SECTION})
    assert build(edited, db).patched is None
    whole = tmp_path / "fresh.db"
    build(edited, whole, use_cache=False)
    a, b = canonical(db), canonical(whole)
    for table in set(a) - LOG:
        assert a[table] == b[table], table
    conn = sqlite3.connect(db)
    assert not conn.execute("select 1 from sqlite_master where name = 'evil'").fetchone()
    conn.close()


@pytest.mark.parametrize("keep", [0.02, 0.6])
def test_a_damaged_previous_kb_is_replaced_by_a_whole_build(built, tmp_path, keep):
    """A previous KB cut short (a full disk, a torn copy): the header or the first tables read, the
    rest not. The build neither fails nor patches it: it writes the whole KB, as from nothing."""
    sources, original = built
    damaged = tmp_path / "kb.db"
    data = original.read_bytes()
    damaged.write_bytes(data[: int(len(data) * keep)])
    assert build(sources, damaged).patched is None
    a, b = canonical(damaged), canonical(original)
    for table in set(a) - LOG:
        assert a[table] == b[table], table


def test_a_patch_that_fails_inside_the_copy_gives_way_to_a_whole_build(kb, tmp_path, monkeypatch):
    """Whatever SQLite refuses while the copy is patched (here: the full-text index, made to fail),
    the build starts again from the sources and leaves nothing behind."""
    sources, db = kb

    def refuse(conn, page_ids):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(patch, "_index_sections", refuse)
    edited = _edited(sources, tmp_path, {"ei-setup.md": lambda t: t + NEW_SECTION})
    assert build(edited, db).patched is None
    assert _fts_ok(db, "zyxwvut")
    assert not list(tmp_path.glob("kb.db.*.tmp"))


def test_a_page_refused_while_the_previous_kb_is_copied_leaves_it_as_it_was(kb, tmp_path):
    """The previous KB is copied on the side while the changed pages are extracted (ingest/swap.py's
    Scratch): a changed page the reader refuses stops the build with its reason, the copy is waited
    for and removed, and the KB stays byte for byte what it was."""
    sources, db = kb
    before = db.read_bytes()
    edited = _edited(sources, tmp_path, {"ei-setup.md": lambda t: ""})
    with pytest.raises(SourceError, match=r"ei-setup\.md.*empty document"):
        build(edited, db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("kb.db*")) == ["kb.db"]


def test_a_patch_that_leaves_a_row_pointing_nowhere_gives_way_to_a_whole_build(kb, tmp_path, monkeypatch):
    """A patched copy whose rows point nowhere (here a section of the changed page, at a page never
    written) fails its check: the build starts again from the sources."""
    sources, db = kb
    index = patch._index_sections

    def orphan(conn, page_ids):
        conn.execute("update section set page_id = (select max(id) + 1000 from page) "
                     "where id = (select max(id) from section)")
        index(conn, page_ids)

    monkeypatch.setattr(patch, "_index_sections", orphan)
    edited = _edited(sources, tmp_path, {"ei-setup.md": lambda t: t + NEW_SECTION})
    assert build(edited, db).patched is None
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("pragma foreign_key_check").fetchall() == []
    finally:
        conn.close()
    assert _fts_ok(db, "zyxwvut")
    assert not list(tmp_path.glob("kb.db.*.tmp"))


def _keyless(sources: list[Source], lang: str, url: str) -> list[Source]:
    """The sources with the current roles page of `lang` listed without a key, at `url`: its key is
    made from the URL's file name."""
    return [Source(s.location, s.lang, s.format, url, None, s.is_current, s.revision, s.revision_date, s.retrieved)
            if s.is_current and s.lang == lang and s.key == "sagemaker-roles" else s for s in sources]


def test_a_key_made_from_the_url_follows_the_url_through_cache_and_patch(kb):
    """A page listed without a key takes its key from its URL: a new URL is a new key, whether the
    page's extraction comes from the cache or a patch would have kept it."""
    sources, db = kb
    moved = _keyless(sources, "ja", "https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles-moved.html")
    build(moved, db)  # another page key: a whole build
    renamed = _keyless(sources, "ja", "https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles-ja.html")
    whole = _whole_beside(db)
    build(renamed, db)
    build(renamed, whole, use_cache=False)
    _same(db, whole)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("select count(*) from page where page_key = 'sagemaker-roles-ja'").fetchone()[0] == 1
        assert not conn.execute("""select 1 from role_context where "key" like '%moved%'""").fetchone()
    finally:
        conn.close()


def test_a_kb_built_without_the_cache_is_patched_next(kb):
    sources, db = kb
    assert build(sources, db, use_cache=False).patched is None
    assert build(sources, db).patched == 0


def test_a_rebuilt_kb_keeps_the_mode_of_the_file_it_replaces(kb):
    sources, db = kb
    db.chmod(0o600)  # also a change to the file since its build: a whole build
    assert build(sources, db).patched is None
    assert db.stat().st_mode & 0o777 == 0o600


def test_the_record_of_a_kb_outlives_hundreds_of_kbs_written_and_deleted_since(tmp_path, monkeypatch):
    """A test run writes and deletes hundreds of KBs: the record of one still as its build left it
    (data/kb.db) stays, so the next build there patches; a record of a changed or deleted file goes."""
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    shipped = tmp_path / "kb.db"
    shipped.write_bytes(b"the shipped KB")
    patch.vouch(shipped)
    for n in range(patch.VOUCHED_KEPT + 40):
        scratch = tmp_path / f"scratch-{n}.db"
        scratch.write_bytes(b"a test's KB")
        patch.vouch(scratch)
        scratch.unlink()
    assert patch.vouched(shipped)
    assert len(list((tmp_path / "cache" / "vouched").iterdir())) <= 2  # the shipped KB's, the last scratch's
    shipped.write_bytes(b"edited by hand")
    other = tmp_path / "other.db"
    other.write_bytes(b"another KB")
    patch.vouch(other)
    assert not patch.vouched(shipped)
    assert len(list((tmp_path / "cache" / "vouched").iterdir())) == 1
