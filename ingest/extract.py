"""Document model → facts with provenance.

Language-neutral: every phrase comes from the page's lexicon, every API name from botocore's
service model, every action from the page's own text. What the extractor cannot place becomes
a finding or an unclassified condition; nothing is dropped silently.
"""

from __future__ import annotations

import re

from . import classify, managed, tables
from . import snippets as sn
from .attribute import PageState, classify_snippet, feature_snippet, page_state, says_role, slug
from .catalog import ApiMatch, ApiModel
from .contexts import Attribution, ContextFinder
from .facts import iam_rules
from .lexicon import Lexicon, lexicon
from .model import CODE, LIST_ITEM, NOTE, PARAGRAPH, Block, Page, Section
from .pagefacts import (
    CallerPermission,
    ConditionFact,
    FieldRef,
    Finding,
    ManagedPolicyRef,
    PageFacts,
    Requirement,
    ScopingRule,
    Snippet,
)

__all__ = ["CallerPermission", "ConditionFact", "FieldRef", "Finding", "ManagedPolicyRef", "PageFacts", "Requirement",
           "ScopingRule", "Snippet", "extract"]

# Linear time on any text (tests/test_hostile_regex.py): each character can be matched one way only
# (possessive quantifiers, no quantifier nested over an overlapping class).
ACTION_TOKEN = re.compile(r"(?<![\w/.-])([a-z][a-z0-9-]*+:[A-Z*][A-Za-z0-9*]*+)")
DOTTED_FIELD = re.compile(r"(?<![\w.])([A-Z][A-Za-z0-9]*+(?:\.[A-Z][A-Za-z0-9]*+)++)")
CAMEL_WORD = re.compile(r"(?<![\w.:])([A-Z][a-z0-9]++[A-Z][A-Za-z0-9]*+)(?![\w.:])")

# Snippet roles (design.md).
BASELINE, SCOPED, CONDITION = "baseline", "scoped", "condition"
TRUST, KEY_POLICY, EXAMPLE, ACTION_LIST, PROSE, OTHER_CODE = (
    "trust_policy", "key_policy", "example", "action_list", "prose", "code")


def extract(page: Page, api_model: ApiModel, page_key: str = "", finder: ContextFinder | None = None) -> PageFacts:
    lex = lexicon(page.lang)
    rules = iam_rules()
    finder = finder or ContextFinder(api_model, rules)
    facts = PageFacts(page, service=None, page_key=page_key or page.title)
    for section in page.sections:
        apis = _section_apis(section, lex, api_model)
        if apis:
            facts.api_sections[id(section)] = apis
    facts.service = _page_service(facts)
    state = page_state(page, finder, {a.lower() for a in rules["trust_actions"]})
    index = 0
    for section in page.sections:
        index = _extract_section(facts, section, lex, api_model, index, state, finder)
    _record_spelling_findings(facts)
    return facts


def _section_apis(section: Section, lex: Lexicon, api_model: ApiModel) -> list[ApiMatch]:
    if section.level < 2 or not lex.says("api_section_heading", section.heading):
        return []
    return api_model.find_in_text(section.heading)


def _page_service(facts: PageFacts) -> str | None:
    services = [m.service for apis in facts.api_sections.values() for m in apis]
    return max(set(services), key=services.count) if services else None


def _extract_section(facts: PageFacts, section: Section, lex: Lexicon, api_model: ApiModel, index: int,
                     state: PageState, finder: ContextFinder) -> int:
    apis = facts.apis_of(section)
    section_condition = None
    main_seen = False
    lead_block: Block | None = None
    blocks = section.blocks
    for pos, block in enumerate(blocks):
        if block.kind != CODE:
            if block.kind in (PARAGRAPH, NOTE, LIST_ITEM):  # a list item's own paragraph too ("If your …, attach")
                lead_block = block
            _prose_facts(facts, section, block, pos, lex, api_model, apis, finder)
            if block.cells is not None and not apis:
                facts.callers += tables.caller_permissions(block, section, lex, api_model, finder)
            if not apis and lex.says("managed_policy", block.text):
                ref = managed.reference(section, blocks, pos, lex, finder)
                if ref is not None:
                    facts.managed.append(ref)
            if apis and not main_seen and block.kind == PARAGRAPH:
                cond = lex.condition_in(block.text)
                if cond and not _next_is_code(blocks, pos):
                    section_condition = _condition(facts, cond.key, cond.label, True, block.text).key
            continue
        lead = lead_block.text if lead_block else ""
        parsed = sn.parse(block.text)
        stmts = sn.statements(parsed.value) if parsed.value is not None else []
        snippet = Snippet(index, section, block, lead, OTHER_CODE, parsed, stmts)
        index += 1
        facts.snippets.append(snippet)
        _json_findings(facts, snippet)
        snippet.role = _role(snippet, lex, bool(apis), main_seen)
        classify_snippet(snippet, state, lex, bool(apis), blocks[:pos], facts.snippets)
        after = _until_code(blocks, pos + 1)
        if snippet.kind == classify.TRUST:  # for which role a trust policy is, as for a role's policy
            snippet.attributions = finder.attribute(
                state.page, facts.page_key, section, blocks[:pos], lead, [a.name for a in apis],
                state.headings.get(id(section), [section.heading]), says_role(lex), after,
                lambda text: lex.says("role_of_resource", text))
            snippet.attributions = _page_apis_trust(facts, snippet.attributions, finder)
        if not apis and snippet.kind == classify.EXECUTION_ROLE:
            feature_snippet(facts, snippet, blocks[:pos], state, lex, finder, after)
            lead_block = None
            continue
        if snippet.role == CONDITION:
            snippet.condition = _lead_condition(facts, snippet, lex)
        if apis and snippet.role in (BASELINE, SCOPED):
            main_seen = main_seen or snippet.role == BASELINE
            snippet.condition = section_condition
        if apis and snippet.role in (BASELINE, SCOPED, CONDITION):
            variant = {BASELINE: "default", SCOPED: "scoped"}.get(snippet.role)
            for api in apis:
                facts.requirements.append(Requirement(api.name, section, snippet, snippet.condition, variant,
                                                      finder.context_of(api.name)))
        lead_block = None  # a lead sentence introduces one snippet only
    return index


def _page_apis_trust(facts: PageFacts, found: list[Attribution], finder: ContextFinder) -> list[Attribution]:
    """A trust policy that nothing ties to one API, on a page of API permission sections ("… and is the
    same for all of the execution roles"): the trust policy of the roles of those APIs."""
    if any(a.how != "feature" for a in found):
        return found
    apis = list(dict.fromkeys(m.name for ms in facts.api_sections.values() for m in ms))
    return [Attribution(finder.context_of(a), "page_sections") for a in apis] or found


def _until_code(blocks: list[Block], start: int) -> list[Block]:
    """The blocks from `start` up to the next code block."""
    out = []
    for block in blocks[start:]:
        if block.kind == CODE:
            break
        out.append(block)
    return out


def _next_is_code(blocks: list[Block], pos: int) -> bool:
    return pos + 1 < len(blocks) and blocks[pos + 1].kind == CODE


def _role(snippet: Snippet, lex: Lexicon, in_api_section: bool, main_seen: bool) -> str:
    parsed, stmts = snippet.parsed, snippet.statements
    if parsed.status in ("not_json", "invalid") or not stmts:
        return OTHER_CODE
    if isinstance(parsed.value, list) and all(isinstance(v, str) for v in parsed.value):
        return ACTION_LIST
    if any(s.principal is not None for s in stmts):
        # A statement with a Principal grants someone else access to the role or a key:
        # it is never a requirement of the role itself.
        services = _principal_services(stmts)
        assume = {a.lower() for a in iam_rules()["trust_actions"]}
        return TRUST if services and any(a.lower() in assume for s in stmts for a in s.actions) else KEY_POLICY
    if not in_api_section:
        return EXAMPLE
    if lex.says("key_policy", snippet.lead):
        return KEY_POLICY
    if not main_seen:
        return BASELINE
    if lex.says("scoped_variant", snippet.lead):
        return SCOPED
    if lex.condition_in(snippet.lead) or lex.says("condition_lead", snippet.lead):
        return CONDITION
    return EXAMPLE


def _principal_services(stmts: list[sn.Statement]) -> list[str]:
    out = []
    for s in stmts:
        if isinstance(s.principal, dict) and "Service" in s.principal:
            value = s.principal["Service"]
            out.extend(value if isinstance(value, list) else [value])
    return out


def _lead_condition(facts: PageFacts, snippet: Snippet, lex: Lexicon) -> str:
    cond = lex.condition_in(snippet.lead)
    if cond:
        return _condition(facts, cond.key, cond.label, True, snippet.lead).key
    # A condition the lexicon does not know yet: keep it, under a key made from its words.
    key = "unclassified_" + slug(snippet.lead)
    fact = _condition(facts, key, snippet.lead, False, snippet.lead)
    facts.findings.append(Finding(
        "unclassified_condition", snippet.lead,
        f"no lexicon entry for {facts.page.lang!r} recognises this condition; stored as {key!r}",
        snippet.section, snippet.block.line, "warning"))
    return fact.key


def _condition(facts: PageFacts, key: str, label: str, classified: bool, phrase: str) -> ConditionFact:
    if key not in facts.conditions:
        facts.conditions[key] = ConditionFact(key, label, classified, phrase)
    return facts.conditions[key]


def _prose_facts(facts, section, block, pos, lex, api_model, apis, finder) -> None:
    """PassRole list, prose-only requirements, field references and scoping bullets."""
    for dotted in DOTTED_FIELD.findall(block.text):
        head, _, path = dotted.partition(".")
        api = api_model.match(head)
        if api and path:
            facts.field_refs.append(FieldRef(section, api, path, block.line))
            continue
        # `Member.Sub` with no API in front: a field of the request of the section's API
        # (`AlgorithmSpecification.AlgorithmArn` under CreateTrainingJob).
        for owner in apis:
            if api_model.field_exists(owner.name, head):
                facts.field_refs.append(FieldRef(section, owner, dotted, block.line))
    if (block.kind in (PARAGRAPH, NOTE) and block.cells is None and not apis and not facts.passrole
            and lex.passrole_action in _actions_in(block)):
        listed = api_model.find_in_text(" ".join([block.text] + [link.href for link in block.links]))
        if len(listed) >= 2:
            facts.passrole = listed
            facts.passrole_section = section
            facts.passrole_line = block.line
    if apis and block.kind in (PARAGRAPH, NOTE):
        actions = _actions_in(block)
        cond = lex.condition_in(block.text)
        states_need = lex.says("prose_requirement", block.text)
        if actions and (cond or states_need) and not _next_is_code(section.blocks, pos):
            key = cond.key if cond else "unclassified_" + slug(block.text)
            _condition(facts, key, cond.label if cond else block.text, bool(cond), block.text)
            stmt = sn.Statement("Allow", actions)
            snippet = Snippet(-1, section, block, block.text, PROSE,
                              sn.Parsed("ok", stmt.as_policy_statement()), [stmt], key)
            facts.snippets.append(snippet)
            snippet.kind, snippet.kind_reason = classify.EXECUTION_ROLE, "a sentence of an API's execution-role section"
            for api in apis:
                facts.requirements.append(Requirement(api.name, section, snippet, key, None, finder.context_of(api.name)))
    if apis and block.kind == PARAGRAPH and lex.says("scoping_intro", block.text):
        facts.scoping.extend(_scoping_rules(facts, section, pos, api_model))


def _actions_in(block: Block) -> list[str]:
    found = [c for c in block.codes if sn.ACTION.match(c)] or ACTION_TOKEN.findall(block.text)
    return list(dict.fromkeys(sn.normalize_action(a) for a in found))


def _scoping_rules(facts: PageFacts, section: Section, intro_pos: int, api_model: ApiModel) -> list[ScopingRule]:
    """The "scope the policy as follows" bullets: action(s) → request field → request API."""
    items: list[list[Block]] = []
    for block in section.blocks[intro_pos + 1:]:
        if block.kind == LIST_ITEM:
            items.append([block])
        elif block.in_item and items:
            items[-1].append(block)
        else:
            break
    scoped_actions = _scoped_actions(facts, section)
    rules: list[ScopingRule] = []
    context: dict[int, tuple[list[str], ApiMatch | None]] = {}
    for n, item in enumerate(items):
        head = item[0]
        text = " ".join(b.text for b in item)
        parent_actions, parent_api = context.get(head.depth - 1, ([], None))
        apis = [m for m in api_model.find_in_text(text) if not _is_field_prefix(m, text)]
        request_api = apis[0] if apis else parent_api
        actions = _actions_in(head) or _service_actions(head.text, scoped_actions) or parent_actions
        fields = _fields(text, request_api, api_model)
        context[head.depth] = (actions, request_api)
        named: list[str | None] = list(fields) or ([None] if actions and not _has_children(items, n) else [])
        for f in named:
            rules.append(ScopingRule(section, actions, f, request_api.name if request_api else None,
                                     request_api.spelling if request_api else None, text, head.line))
    return rules


def _has_children(items: list[list[Block]], i: int) -> bool:
    return i + 1 < len(items) and items[i + 1][0].depth > items[i][0].depth


def _is_field_prefix(match: ApiMatch, text: str) -> bool:
    return f"{match.spelling}." in text


def _fields(text: str, request_api: ApiMatch | None, api_model: ApiModel) -> list[str]:
    """Request field paths a bullet names: dotted paths always (so errata surface), single
    CamelCase words only when the request API's model has that member."""
    found = [f for f in DOTTED_FIELD.findall(text) if not _starts_with_api(f, api_model)]
    if request_api:
        for word in CAMEL_WORD.findall(text):
            if word not in found and api_model.match(word) is None and api_model.field_exists(request_api.name, word):
                found.append(word)
    return list(dict.fromkeys(found))


def _starts_with_api(path: str, api_model: ApiModel) -> bool:
    return path.split(".")[0] in api_model.operations


def _scoped_actions(facts: PageFacts, section: Section) -> list[str]:
    """Actions the section's scoped variant puts on a specific resource (not "*")."""
    out = []
    for snippet in facts.snippets:
        if snippet.section is section and snippet.role == SCOPED:
            for s in snippet.statements:
                if s.resources and s.resources != ["*"]:
                    out.extend(s.actions)
    return list(dict.fromkeys(out))


def _service_actions(text: str, scoped_actions: list[str]) -> list[str]:
    """"Scope Amazon ECR permissions …": the bullet names a service, not actions."""
    words = {w.lower() for w in re.findall(r"[A-Za-z0-9]+", text)}
    services = {a.split(":")[0] for a in scoped_actions}
    named = {s for s in services if s in words}
    return [a for a in scoped_actions if a.split(":")[0] in named]


def _json_findings(facts: PageFacts, snippet: Snippet) -> None:
    parsed, block = snippet.parsed, snippet.block
    # A data sample, a request body or JSON Lines that does not parse is no defect of a policy.
    policy = classify.looks_like_policy(block.text) or bool(snippet.statements)
    if parsed.status == "invalid" and policy:
        facts.findings.append(Finding(
            "invalid_json", block.text.strip().splitlines()[0][:200] if block.text.strip() else "",
            f"snippet {snippet.index} is not valid JSON ({parsed.error}) and no safe repair exists",
            snippet.section, snippet_line(block, parsed.error_line)))
    elif parsed.status in ("too_deep", "too_large"):  # kb/limits.py: the snippet is not parsed at all
        facts.findings.append(Finding(
            f"snippet_{parsed.status}", block.text.strip()[:200].splitlines()[0] if block.text.strip() else "",
            f"snippet {snippet.index} is {parsed.error}: not read as a policy",
            snippet.section, snippet_line(block, parsed.error_line)))
    elif parsed.status == "repaired" and policy:
        facts.findings.append(Finding(
            "repaired_json", _error_line_text(block, parsed.error_line),
            f"snippet {snippet.index} was not valid JSON ({parsed.error}); repaired: " + "; ".join(parsed.repairs),
            snippet.section, snippet_line(block, parsed.error_line), "warning"))
    for stmt in snippet.statements:
        if stmt.resources and len(set(stmt.resources)) < len(stmt.resources):
            dups = sorted({r for r in stmt.resources if stmt.resources.count(r) > 1})
            facts.findings.append(Finding(
                "duplicate_resource", ", ".join(dups),
                f"snippet {snippet.index} lists the same resource more than once in one statement",
                snippet.section, block.line, "warning"))


def snippet_line(block: Block, inner: int | None) -> int:
    # Fenced code starts one line below its fence; plain-text code is on its own line.
    offset = 1 if block.line and block.text.count("\n") else 0
    return block.line + offset + (inner or 1) - 1


def _error_line_text(block: Block, inner: int | None) -> str:
    lines = block.text.splitlines()
    if inner and 0 < inner <= len(lines):
        return lines[inner - 1].strip()
    return lines[0].strip() if lines else ""


def _record_spelling_findings(facts: PageFacts) -> None:
    places = [(facts.passrole, facts.passrole_section, facts.passrole_line)]
    places += [(facts.apis_of(s), s, s.line) for s in facts.page.sections if facts.apis_of(s)]
    seen = set()
    for matches, section, line in places:
        for m in matches:
            if m.misspelled and m.spelling not in seen:
                seen.add(m.spelling)
                facts.findings.append(Finding(
                    "api_name_typo", m.spelling,
                    f"no operation {m.spelling!r} in botocore's {m.service} model; closest is {m.name!r}",
                    section, line))
