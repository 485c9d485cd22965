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

from ingest import pages
from ingest.build import build
from ingest.sources import Source, load_sources
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
        return conn.execute("""select p.page_key, s.ord from section_fts f join section s on s.id = f.rowid
                               join page p on p.id = s.page_id where section_fts match ? order by 1, 2""",
                            [f'"{word}"']).fetchall()
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
def kbs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("patch")
    sources = _sources()
    first = tmp / "kb.db"
    report = build(sources, first)
    assert report.patched is None  # nothing to patch yet
    return sources, first


def test_an_unchanged_rebuild_patches_nothing_and_keeps_every_row(kbs, tmp_path):
    sources, first = kbs
    again = tmp_path / "kb.db"
    shutil.copyfile(first, again)
    report = build(sources, again)
    assert report.patched == 0
    _same(again, first)


def test_a_patched_kb_holds_the_rows_of_a_whole_build(kbs, tmp_path):
    sources, first = kbs
    edits = {
        # an unknown action in the English roles page: a new action row, new findings, its translation aligned again
        "sagemaker-roles.en.md": lambda t: t.replace('"ecr:BatchGetImage"', '"ecr:BatchGetImagez"', 1),
        # a page emptied but for its title: its requirements, contexts and conditions go
        "sms-security-permission-execution-role.md": lambda t: "\n".join(t.splitlines()[:3]) + "\n",
        # a new API section: a new API, whose request shapes join the KB's
        "ei-setup.md": lambda t: t + NEW_SECTION,
    }
    edited = _edited(sources, tmp_path, edits)
    patched, whole = tmp_path / "patched.db", tmp_path / "whole.db"
    shutil.copyfile(first, patched)
    shutil.copyfile(first, whole)  # the same previous KB: the same change log carried and recorded
    report = build(edited, patched)
    assert report.patched == 4  # the three pages and the Japanese roles page aligned to its English one
    assert build(edited, whole, use_cache=False).patched is None
    _same(patched, whole)
    for question in QUESTIONS:  # and so the answers, in the same order
        assert _answer(patched, question) == _answer(whole, question), question
    assert _fts_ok(patched, "zyxwvut") == _fts_ok(whole, "zyxwvut") != []
    assert _fts_ok(patched, "role") == _fts_ok(whole, "role")
    before, after = canonical(first), canonical(patched)
    assert after["action"] - before["action"], "the unknown action is a new row"
    assert after["api"] - before["api"] and after["request_shape"] - before["request_shape"], "a new API"
    assert before["role_context"] - after["role_context"], "a role context only the emptied page had is gone"
    assert before["page_transition"] != after["page_transition"], "the change log records the changed pages"

    restored = tmp_path / "restored.db"
    shutil.copyfile(patched, restored)
    assert build(sources, restored).patched == 4
    a, b = canonical(restored), canonical(first)
    for table in set(a) - LOG:  # the log remembers the round trip; every fact is back
        assert a[table] == b[table], table


def test_another_list_of_pages_or_no_cache_writes_the_whole_kb(kbs, tmp_path):
    sources, first = kbs
    fewer = tmp_path / "fewer.db"
    shutil.copyfile(first, fewer)
    assert build(sources[:-1], fewer).patched is None
    nocache = tmp_path / "nocache.db"
    shutil.copyfile(first, nocache)
    assert build(sources, nocache, use_cache=False).patched is None


@pytest.mark.parametrize("keep", [0.02, 0.6])
def test_a_damaged_previous_kb_is_replaced_by_a_whole_build(kbs, tmp_path, keep):
    """A previous KB cut short (a full disk, a torn copy): the header or the first tables read, the
    rest not. The build neither fails nor patches it: it writes the whole KB, as from nothing."""
    sources, first = kbs
    damaged = tmp_path / "kb.db"
    data = first.read_bytes()
    damaged.write_bytes(data[: int(len(data) * keep)])
    assert build(sources, damaged).patched is None
    a, b = canonical(damaged), canonical(first)
    for table in set(a) - LOG:
        assert a[table] == b[table], table


def test_a_previous_kb_that_will_not_take_the_patch_is_built_whole(kbs, tmp_path):
    """Its pages read as the plan needs, but its full-text index is gone (dropped by hand): patching
    fails inside the copy, and the build starts again from the sources, leaving nothing behind."""
    sources, first = kbs
    broken = tmp_path / "kb.db"
    shutil.copyfile(first, broken)
    conn = sqlite3.connect(broken)
    conn.execute("drop table section_fts")
    conn.commit()
    conn.close()
    edited = _edited(sources, tmp_path, {"ei-setup.md": lambda t: t + NEW_SECTION})
    assert build(edited, broken).patched is None
    assert _fts_ok(broken, "zyxwvut")
    assert not list(tmp_path.glob("kb.db.*.tmp"))
