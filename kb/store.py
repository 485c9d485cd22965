"""Write extracted facts into a fresh SQLite file, finish its shape, swap it in atomically.

Tables come from kb/schema.py (SQLModel); rows go in through sqlite-utils; `ensure_db_shape`
is the one place that adds indexes, full-text search and views, so the database is always
finished the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from ingest.extract import Finding, PageFacts


class BuildError(RuntimeError):
    """The new knowledge base failed its sanity check; the old one was left in place."""


@dataclass
class PageRecord:
    """A page's facts plus what the store needs to know about where it came from."""
    facts: PageFacts
    page_key: str
    content_sha256: str
    is_current: bool = True
    revision_date: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retrieved_at: str | None = None


def create_tables(path: Path) -> None:
    from sqlmodel import SQLModel, create_engine

    from . import schema  # noqa: F401  (registers the tables)

    engine = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    engine.dispose()


def write(path: Path, records: list[PageRecord], findings: list[Finding], build_info: dict,
          actions_catalog, known_conditions: dict[str, dict]) -> None:
    create_tables(path)
    db = sqlite_utils.Database(path)
    db.conn.execute("PRAGMA foreign_keys = ON")
    # A scratch file until the sanity check passes: no journal, no fsync per row; the whole
    # file is fsynced once before it replaces the KB.
    db.conn.execute("PRAGMA journal_mode = OFF")
    db.conn.execute("PRAGMA synchronous = OFF")
    db["build"].insert(build_info)
    writer = _Writer(db, actions_catalog, known_conditions)
    page_ids = {}
    for record in records:
        page_ids[id(record.facts.page)] = writer.page(record)
    for finding in [f for r in records for f in r.facts.findings] + findings:
        writer.finding(finding, page_ids)
    ensure_db_shape(db)
    db.conn.commit()
    db.close()


class _Writer:
    def __init__(self, db: sqlite_utils.Database, actions_catalog, known_conditions):
        self.db = db
        self.actions = actions_catalog
        self.known_conditions = known_conditions
        self.section_ids: dict[int, int] = {}
        self.action_names: dict[str, str] = {}  # as printed → canonical, each looked up once
        self.pending: dict[str, list[dict]] = {"statement_action": [], "statement_resource": []}

    def page(self, record: PageRecord) -> int:
        facts, page = record.facts, record.facts.page
        page_id = self.db["page"].insert({
            "page_key": record.page_key, "url": page.url or page.source or "", "lang": page.lang,
            "format": page.format, "title": page.title, "disclaimer": page.disclaimer,
            "source": page.source or "", "revision": page.revision, "revision_date": record.revision_date,
            "is_current": record.is_current, "service": facts.service, "content_sha256": record.content_sha256,
            "etag": record.etag, "last_modified": record.last_modified, "retrieved_at": record.retrieved_at,
        }).last_pk
        parents: dict[int, int] = {}
        for ord_, section in enumerate(page.sections):
            parent = next((parents[lvl] for lvl in range(section.level - 1, 0, -1) if lvl in parents), None)
            sid = self.db["section"].insert({
                "page_id": page_id, "ord": ord_, "parent_id": parent, "level": section.level,
                "heading": section.heading, "anchor": section.anchor,
                "anchor_source": getattr(section, "anchor_source", None) or ("page" if section.anchor else None),
                "line": section.line, "is_api_section": bool(facts.apis_of(section)),
                "body": "\n".join(b.text for b in section.blocks),
            }).last_pk
            parents = {lvl: i for lvl, i in parents.items() if lvl < section.level}
            parents[section.level] = sid
            self.section_ids[id(section)] = sid
            for m in facts.apis_of(section):
                self._api(m.name, m.service)
                self.db["api_mention"].insert({"page_id": page_id, "api_name": m.name, "doc_spelling": m.spelling,
                                               "context": "section", "section_id": sid})
        for m in facts.passrole:
            self._api(m.name, m.service)
            self.db["api_mention"].insert({"page_id": page_id, "api_name": m.name, "doc_spelling": m.spelling,
                                           "context": "passrole",
                                           "section_id": self.section_ids.get(id(facts.passrole_section))})
        for cond in facts.conditions.values():
            self._condition(cond.key, page.lang, cond.label, cond.classified)
        snippet_ids = {id(s): self._snippet(page_id, s) for s in facts.snippets}
        self.flush()
        self.db["requirement"].insert_all([{
            "page_id": page_id, "api_name": r.api, "condition_key": r.condition, "variant": r.variant,
            "snippet_id": snippet_ids[id(r.snippet)], "section_id": self.section_ids[id(r.section)],
        } for r in facts.requirements])
        for rule in facts.scoping:
            for api in facts.apis_of(rule.section):
                self.db["scoping_rule"].insert({
                    "page_id": page_id, "section_id": self.section_ids[id(rule.section)], "api_name": api.name,
                    "actions_json": json.dumps(rule.actions), "field_path": rule.field,
                    "request_api": rule.request_api, "request_api_spelling": rule.request_api_spelling,
                    "in_api_model": rule.in_api_model, "suggested_path": rule.suggested_path,
                    "source_text": rule.text, "line": rule.line,
                })
        for finding in facts.findings:
            finding.page = finding.page or page
        return page_id

    def _api(self, name: str, service: str) -> None:
        self.db["api"].insert({"name": name, "service": service}, pk="name", ignore=True)

    def _condition(self, key: str, lang: str, label: str, classified: bool) -> None:
        known = self.known_conditions.get(key, {})
        labels = dict(known.get("labels", {}))
        labels.setdefault(lang, label)
        row = {"key": key, "label_en": labels.get("en"), "label_ja": labels.get("ja"), "classified": classified,
               "request_fields": json.dumps(known["request_fields"]) if known.get("request_fields") else None}
        existing = self.db.execute("select 1 from condition where key = ?", [key]).fetchone()
        if existing:
            self.db["condition"].update(key, {k: v for k, v in row.items() if v is not None and k != "key"})
        else:
            self.db["condition"].insert(row, pk="key")

    def _snippet(self, page_id: int, s) -> int:
        parsed = s.parsed
        snippet_id = self.db["snippet"].insert({
            "page_id": page_id, "section_id": self.section_ids[id(s.section)],
            "snippet_index": s.index if s.index >= 0 else None, "line": s.block.line, "role": s.role,
            "condition_key": s.condition, "lead_text": s.lead, "raw": s.block.text,
            "parsed_json": json.dumps(parsed.value, ensure_ascii=False) if parsed.value is not None else None,
            "parse_status": parsed.status, "repairs": json.dumps(parsed.repairs) if parsed.repairs else None,
            "placeholders": json.dumps(parsed.placeholders) if parsed.placeholders else None,
        }).last_pk
        for ord_, stmt in enumerate(s.statements):
            st_id = self.db["statement"].insert({
                "snippet_id": snippet_id, "ord": ord_, "sid": stmt.sid, "effect": stmt.effect,
                "resource_given": stmt.resources is not None,
                "condition_json": json.dumps(stmt.condition) if stmt.condition else None,
                "principal_json": json.dumps(stmt.principal) if stmt.principal is not None else None,
            }).last_pk
            rows = [(a, False) for a in stmt.actions] + [(a, True) for a in stmt.not_actions]
            self.pending["statement_action"] += [
                {"statement_id": st_id, "action": self._action(a), "printed": a, "negated": neg} for a, neg in rows]
            self.pending["statement_resource"] += [
                {"statement_id": st_id, "ord": i, "resource": r} for i, r in enumerate(stmt.resources or [])]
        return snippet_id

    def flush(self) -> None:
        """Many small rows go in as one batch per table."""
        for table, rows in self.pending.items():
            self.db[table].insert_all(rows, batch_size=500)
            rows.clear()

    def _action(self, printed: str) -> str:
        if printed in self.action_names:
            return self.action_names[printed]
        info = None if "*" in printed or "?" in printed else self.actions.lookup(printed)
        name = info.name if info else printed
        self.db["action"].insert({
            "name": name, "service": name.partition(":")[0], "access_level": info.access_level if info else None,
            "known": info is not None,
        }, pk="name", ignore=True)
        self.action_names[printed] = name
        return name

    def finding(self, f: Finding, page_ids: dict[int, int]) -> None:
        self.db["finding"].insert({
            "page_id": page_ids.get(id(f.page)) if f.page is not None else None, "kind": f.kind,
            "severity": f.severity, "subject": f.subject, "detail": f.detail,
            "section_id": self.section_ids.get(id(f.section)) if f.section is not None else None, "line": f.line,
        })


VIEWS = {
    # One row per (requirement, statement, action, resource): the answer table.
    "requirement_rows": """
        select r.id as requirement_id, p.page_key, p.lang, p.url as page_url, p.is_current,
               r.api_name as api, r.condition_key as condition, r.variant,
               sn.role as snippet_role, sn.snippet_index, sn.id as snippet_id,
               st.id as statement_id, st.effect, sa.action, sa.negated,
               coalesce(sr.resource, case when st.resource_given then null else '*' end) as resource,
               st.resource_given, st.condition_json as condition_block,
               s.anchor as section_anchor, s.heading, sn.lead_text as source_text
        from requirement r
        join page p on p.id = r.page_id
        join section s on s.id = r.section_id
        join snippet sn on sn.id = r.snippet_id
        join statement st on st.snippet_id = sn.id
        join statement_action sa on sa.statement_id = st.id
        left join statement_resource sr on sr.statement_id = st.id
    """,
    "finding_rows": """
        select f.id, f.kind, f.severity, f.subject, f.detail, p.page_key, p.lang, p.url as page_url,
               p.revision, p.is_current, s.anchor as section_anchor, s.heading as section_heading, f.line
        from finding f
        left join page p on p.id = f.page_id
        left join section s on s.id = f.section_id
    """,
}


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Indexes, full-text search and views: the finishing of every build, in one place."""
    db["requirement"].create_index(["api_name", "condition_key", "variant"], if_not_exists=True)
    db["snippet"].create_index(["role"], if_not_exists=True)
    # trigram: Japanese has no spaces between words, so search must match any substring.
    db.execute("""create virtual table if not exists section_fts using fts5(
        heading, body, content='section', content_rowid='id', tokenize='trigram')""")
    db.execute("insert into section_fts(section_fts) values('rebuild')")
    for name, sql in VIEWS.items():
        db.create_view(name, sql, replace=True)


def sanity_check(path: Path, expected_pages: int) -> None:
    """Refuse a KB that lost what every good build has: pages, API sections, requirements."""
    conn = sqlite3.connect(path)
    try:
        problems = []
        pages = conn.execute("select id, lang, source from page").fetchall()
        if len(pages) != expected_pages:
            problems.append(f"{len(pages)} pages written, {expected_pages} read")
        for page_id, lang, source in pages:
            n = conn.execute("select count(*) from section where page_id = ? and is_api_section", [page_id]).fetchone()[0]
            if n == 0:
                problems.append(f"{source} ({lang}): no API permission section found")
        if conn.execute("pragma foreign_key_check").fetchall():
            problems.append("foreign keys broken")
        if conn.execute("pragma integrity_check").fetchone()[0] != "ok":
            problems.append("integrity check failed")
    finally:
        conn.close()
    if problems:
        raise BuildError("; ".join(problems))


def replace_atomically(build, target: Path, expected_pages: int) -> None:
    """Run `build(tmp_path)`, check the result, and only then move it over `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()
    try:
        build(tmp_path)
        sanity_check(tmp_path, expected_pages)
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        for leftover in (tmp_path, Path(str(tmp_path) + "-journal")):
            if leftover.exists():
                leftover.unlink()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
