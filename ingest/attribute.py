"""Snippets outside an API's permissions section (the feature pages of the guide): what kind of
policy each is, whose execution role it is about, and under which condition it applies.

The condition is the one the snippet's own sentence states, else the one its heading or an
enclosing heading states (a page titled "… Access to Resources in Your Amazon VPC" states `vpc`
for everything under it); else the first execution-role snippet of a context on a page is that
context's main policy there, and a later one an addition whose condition is the page's own
sentence (an unclassified condition and a finding, never dropped).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from . import classify
from .contexts import ContextFinder
from .lexicon import Lexicon
from .model import CODE, LIST_ITEM, NOTE, PARAGRAPH, Block, Page, Section
from .pagefacts import ConditionFact, Finding, PageFacts, Requirement, Snippet

# Attributions that say the page (or its section) is about that API's role: what it prints first is
# the API's main policy there ("section_after": right after the policy the section says its role is the
# API's, "In the `RenderUiTemplate` operation, use the role's ARN in the `RoleArn` parameter"). Any other
# page documents an addition for some feature of the request.
ABOUT_THE_API = ("section_heading", "heading_noun", "page_title", "section_after")


@dataclass
class PageState:
    """What attribution needs to know of the whole page, computed once per page."""
    page: Page
    headings: dict[int, list[str]]  # id(section) → its heading, then the enclosing ones, up to the title
    finder: ContextFinder
    trust_actions: set[str]
    baselines: set[str] = field(default_factory=set)  # contexts whose main policy this page has given


def page_state(page: Page, finder: ContextFinder, trust_actions: set[str]) -> PageState:
    headings: dict[int, list[str]] = {}
    stack: list[Section] = []
    for section in page.sections:
        while stack and stack[-1].level >= section.level:
            stack.pop()
        stack.append(section)
        headings[id(section)] = [s.heading for s in reversed(stack)]
    return PageState(page, headings, finder, trust_actions)


def classify_snippet(snippet: Snippet, state: PageState, lex: Lexicon, in_api_section: bool,
                     before: list[Block], facts_snippets: list[Snippet]) -> None:
    since = []  # the section's sentences since the previous code block, nearest first
    for block in reversed(before):
        if block.kind == "code":
            break
        if block.text != snippet.lead:
            since.append(block.text)
    previous = None  # the kind of the section's previous policy (the section's snippets are the last ones)
    for other in reversed(facts_snippets):
        if other.section is not snippet.section:
            break
        if other is not snippet and other.index >= 0 and other.kind is not None:
            previous = other.kind
            break
    found = classify.kind_of(snippet.block.text, snippet.statements, snippet.lead,
                             state.headings.get(id(snippet.section), []), lex, state.trust_actions, in_api_section,
                             since, previous)
    snippet.kind, snippet.kind_reason = found.kind, found.reason


def says_role(lex: Lexicon) -> Callable[[str], bool]:
    """Whether a sentence says whose role it speaks of, not an API it names in passing ("for example …")."""
    return lambda text: ((lex.says("execution_role_lead", text) or lex.says("role_lead", text))
                         and not lex.says("example_mention", text))


def feature_snippet(facts: PageFacts, snippet: Snippet, before: list[Block], state: PageState, lex: Lexicon,
                    finder: ContextFinder, after: list[Block] | None = None) -> None:
    """An execution-role snippet outside an API section: its contexts, condition and requirements."""
    section = snippet.section
    headings = state.headings.get(id(section), [section.heading])
    snippet.attributions = finder.attribute(
        state.page, facts.page_key, section, before, snippet.lead, [], headings, says_role(lex), after,
        lambda text: lex.says("role_of_resource", text))
    # the APIs a heading of the snippet is about ("… for a Ground Truth Labeling Job")
    headline = {a for h in headings for a in finder.apis_named_in(h)}
    headline |= {a for h in headings for a in finder.apis_in_block(Block("paragraph", h, section.line))}
    for attribution in snippet.attributions:
        context = attribution.context
        condition = _condition_of(facts, snippet, _list_intro(before, snippet.lead), headings, lex)
        about = attribution.how in ABOUT_THE_API or context.api in headline
        if condition is None and context.api and not about:
            # a page about something else that the API's role also needs for it ("Use a Docker registry
            # that requires authentication for training"): an addition, under the page's own title
            condition = _unclassified(facts, snippet, headings[-1], facts.page_key)
        elif condition is None and context.key in state.baselines:
            condition = _unclassified(facts, snippet, snippet.lead or section.heading, section.anchor)
        if condition is None:
            state.baselines.add(context.key)
        snippet.condition = condition
        snippet.role = "condition" if condition else "baseline"
        facts.requirements.append(Requirement(context.api, section, snippet, condition, None, context,
                                              attribution.how, attribution.subject))


def _list_intro(before: list[Block], lead: str) -> str:
    """The paragraph that introduces the list whose item is the snippet's lead ("If you specify a
    `VolumeKmsKeyId` …, you must do the following:"); "" when the lead is no list item."""
    seen_lead = False
    for block in reversed(before):
        if block.text == lead and block.kind == LIST_ITEM:
            seen_lead = True
        elif seen_lead and block.kind in (PARAGRAPH, NOTE) and not block.in_item:
            return block.text
        elif seen_lead and block.kind == CODE:
            break
    return ""


def _condition_of(facts: PageFacts, snippet: Snippet, intro: str, headings: list[str], lex: Lexicon) -> str | None:
    for text in (snippet.lead, intro):
        cond = lex.condition_in(text) if text else None
        if cond is not None:
            return _known(facts, cond.key, cond.label, text)
    for heading in headings:
        cond = lex.condition_in_heading(heading) or lex.condition_in(heading)
        if cond is not None:
            return _known(facts, cond.key, cond.label, heading)
    return None


def _known(facts: PageFacts, key: str, label: str, phrase: str) -> str:
    facts.conditions.setdefault(key, ConditionFact(key, label, True, phrase))
    return key


def _unclassified(facts: PageFacts, snippet: Snippet, text: str, name: str | None) -> str:
    """An addition no sentence gives a known condition for: the page's own words label it; its key
    comes from `name` (the page's key or the section's anchor, the same in every language) when
    there is one."""
    key = base = "unclassified_" + slug(name or text)
    n = 1
    while key in facts.conditions and facts.conditions[key].phrase != text:  # another addition of that section
        n += 1
        key = f"{base}_{n}"
    facts.conditions.setdefault(key, ConditionFact(key, text, False, text))
    facts.findings.append(Finding(
        "unclassified_condition", text,
        f"no lexicon entry for {facts.page.lang!r} recognises this condition; stored as {key!r}",
        snippet.section, snippet.block.line, "warning"))
    return key


def slug(text: str) -> str:
    """A key from a text's first words, whole words only (a user types it: `--condition KEY`)."""
    out = ""
    for word in re.findall(r"\w+", text.lower())[:8]:
        if out and len(out) + 1 + len(word) > 60:
            break
        out = f"{out}_{word}" if out else word[:60]
    return out or "condition"
