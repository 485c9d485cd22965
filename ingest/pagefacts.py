"""The facts extracted from one page, each with its provenance (section, block, line): the
extractor's output, what the validator checks, the cache keeps and the store writes."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import snippets as sn
from .catalog import ApiMatch
from .contexts import Attribution, RoleContext
from .model import Block, Page, Section


@dataclass
class Finding:
    kind: str
    subject: str  # the offending text exactly as printed
    detail: str
    section: Section | None = None
    line: int | None = None
    severity: str = "error"
    page: Page | None = None  # None: the page whose facts carry the finding


@dataclass
class Snippet:
    index: int  # page-wide ordinal of code blocks: the provenance "snippet index"
    section: Section
    block: Block
    lead: str  # the paragraph that introduces it
    role: str  # its part of a context's policy: baseline, scoped, condition, … (see ingest/extract.py)
    parsed: sn.Parsed
    statements: list[sn.Statement]
    condition: str | None = None
    kind: str | None = None  # execution_role, caller, trust, key, bucket, vpc_endpoint, other; None: no policy
    kind_reason: str = ""
    attributions: list[Attribution] = field(default_factory=list)  # whose execution role (execution_role only)


@dataclass
class Requirement:
    api: str | None  # the API whose request carries the role; None: a feature's role
    section: Section
    snippet: Snippet
    condition: str | None  # None: the context's main policy
    variant: str | None  # "default", "scoped", or None (applies to both)
    context: RoleContext | None = None  # None only while extraction runs: set for every stored requirement
    how: str = "section_heading"  # what attributed it (ingest/contexts.py)
    subject: str | None = None  # the API the page is about, when that API carries no role of its own


@dataclass
class CallerPermission:
    """A row of a table of what the caller of an API needs (api-permissions-reference)."""
    api: ApiMatch
    action: str
    when: str | None  # the page's "required only if …" words; None: always required
    request_field: str | None  # the request member that note names, as the API model spells its path
    section: Section
    line: int
    text: str  # the cell as printed


@dataclass
class ManagedPolicyRef:
    """A page saying a managed policy grants what a context needs, with its exceptions."""
    policy: str
    sentence: str
    exceptions: list[str]
    section: Section
    line: int
    contexts: list[RoleContext] = field(default_factory=list)


@dataclass
class ScopingRule:
    section: Section
    actions: list[str]
    field: str | None
    request_api: str | None
    request_api_spelling: str | None
    text: str
    line: int
    in_api_model: bool | None = None  # set by validation
    suggested_path: str | None = None


@dataclass
class FieldRef:
    """A request field the prose names with its API (`CreateModel.PrimaryContainer.Image`)."""
    section: Section
    api: ApiMatch
    path: str
    line: int


@dataclass
class ConditionFact:
    key: str
    label: str
    classified: bool
    phrase: str  # the page's own sentence


@dataclass
class PageFacts:
    page: Page
    service: str | None
    api_sections: dict[int, list[ApiMatch]] = field(default_factory=dict)  # id(section) → APIs
    passrole: list[ApiMatch] = field(default_factory=list)
    passrole_section: Section | None = None
    passrole_line: int | None = None
    snippets: list[Snippet] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    conditions: dict[str, ConditionFact] = field(default_factory=dict)
    scoping: list[ScopingRule] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    field_refs: list[FieldRef] = field(default_factory=list)
    callers: list[CallerPermission] = field(default_factory=list)
    managed: list[ManagedPolicyRef] = field(default_factory=list)
    page_key: str = ""

    def apis_of(self, section: Section) -> list[ApiMatch]:
        return self.api_sections.get(id(section), [])

    # Sections are keyed by identity in memory; a pickled copy (ingest/cache.py) keys them by position.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        position = {id(s): i for i, s in enumerate(self.page.sections)}
        state["api_sections"] = {position[k]: v for k, v in self.api_sections.items()}
        return state

    def __setstate__(self, state: dict) -> None:
        sections = state["page"].sections
        state["api_sections"] = {id(sections[i]): v for i, v in state["api_sections"].items()}
        self.__dict__.update(state)
