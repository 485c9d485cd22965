"""Whose execution role a snippet is about: its role context.

A role context is the API whose request carries the role ARN (with that request member, from
botocore's shapes: CreateLabelingJob.RoleArn, CreateModel.ExecutionRoleArn), or, when the page
names no such API, the feature or task the page documents (its title). It is recognised, nearest
first, from the section's own API heading, the APIs the lead sentence names or links to, the
resource a heading names in words ("… for a Ground Truth Labeling Job": the noun of
CreateLabelingJob), the APIs the section's sentences about a role name before the snippet (by name,
then by resource), or right after it, and the page as a whole. No API
name is written here: every name comes from botocore, every phrase from the lexicons and
ingest/facts/iam.toml.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .catalog import ApiModel
from .model import Block, Page, Section

_WORD = re.compile(r"[A-Za-z][a-z0-9]*|[A-Z]+(?![a-z])")
MAX_NAMED = 3  # APIs a section may name and still be about each of them
_NAME = re.compile(r"(?<![\w:])[A-Z][A-Za-z0-9]{2,80}")  # a word that may be an operation's name (not sagemaker:X)
# the words of an operation's name: "Auto", "ML", "Job", "V2" (a capital run ends before a capitalised
# word; possessive, each capital looked at once)
_CAMEL = re.compile(r"[A-Z][a-z0-9]++|[A-Z](?:[A-Z](?![a-z]))*+")


@dataclass(frozen=True)
class RoleContext:
    key: str  # the API's name, or "feature:<page key>"
    api: str | None  # the API whose request carries the role
    role_member: str | None  # that request member (RoleArn, ExecutionRoleArn, DefaultUserSettings.ExecutionRole)
    feature: str | None  # what the page documents when it names no such API (its title)
    service: str | None = None


@dataclass(frozen=True)
class Attribution:
    context: RoleContext
    how: str  # section_heading, lead, heading_noun, section, section_noun, section_after, page_title, page, feature
    subject: str | None = None  # the API the page is about when that API carries no role (CreateTransformJob)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> list[str]:
    """Lower-case singular words: "Batch Transform Jobs" → ["batch", "transform", "job"]."""
    return [_singular(w.lower()) for w in _WORD.findall(text)]


class ContextFinder:
    """Role contexts for one build: botocore's operations, the IAM naming rules, the pages' words."""

    def __init__(self, api_model: ApiModel, rules: dict[str, Any]):
        self.api_model = api_model
        self.suffix = rules["role_shape_suffix"]
        self.verbs = tuple(rules["creating_verbs"])
        self.link = re.compile(rules["api_reference_link"])

    def role_member(self, api: str) -> str | None:
        """The request member(s) that carry the role, the shallowest ones ("DefaultSpaceSettings.ExecutionRole,
        DefaultUserSettings.ExecutionRole" for CreateDomain)."""
        members = self.api_model.role_members(api, self.suffix)
        if not members:
            return None
        depth = members[0].count(".")
        return ", ".join(m for m in members if m.count(".") == depth)

    def carries_role(self, api: str) -> bool:
        return self.role_member(api) is not None

    def context_of(self, api: str) -> RoleContext:
        return RoleContext(api, api, self.role_member(api), None, self.api_model.operations.get(api))

    @cached_property
    def _nouns(self) -> list[tuple[str, str]]:
        """(squashed noun, operation) for the operations that create something named in two words or
        more ("labeling job", "flow definition"): one-word nouns (model, image) are every page's words."""
        out = []
        for op in self.api_model.operations:
            verb = next((v for v in self.verbs if op.startswith(v)), None)
            if verb is None:
                continue
            noun = [_singular(w.lower()) for w in _CAMEL.findall(op[len(verb):])]
            if len(noun) >= 2:
                out.append(("".join(noun), op))
        return sorted(out, key=lambda n: -len(n[0]))  # the longest noun first: tuning job before job

    def apis_named_in(self, text: str) -> list[str]:
        """Operations a heading or sentence names by their resource, longest first
        ("Hyperparameter Tuning Jobs" is CreateHyperParameterTuningJob, not a training job)."""
        ws = words(text)
        flat = ["".join(ws[i:j]) for i in range(len(ws)) for j in range(i + 1, min(i + 7, len(ws)) + 1)]
        spans = set(flat)
        found: list[str] = []
        taken: list[str] = []
        for noun, op in self._nouns:
            if noun in spans and not any(noun in t for t in taken):
                found.append(op)
                taken.append(noun)
        return found

    def apis_in_block(self, block: Block) -> list[str]:
        """Operations a block names exactly: in links to the API reference, or as words of its text
        (code spans and link texts included). Attribution wants names as printed: a typo is the
        validator's business."""
        out: list[str] = []
        for link in block.links:
            m = self.link.search(link.href)
            if m and m["operation"] in self.api_model.operations:
                out.append(m["operation"])
        operations = self.api_model.operations
        out += [w for w in _NAME.findall(block.text) if w in operations]
        return list(dict.fromkeys(out))

    def intro_apis(self, page: Page) -> list[str]:
        """The APIs a page names in its introduction: its title's own text and its first section
        ("use the VpcConfig request parameter of the CreateModel API"), what the page is about."""
        intro = page.sections[:2]
        return list(dict.fromkeys(a for s in intro for b in s.blocks for a in self.apis_in_block(b)))

    def attribute(self, page: Page, page_key: str, section: Section, before: list[Block], lead: str,
                  section_apis: list[str], headings: list[str],
                  names_role: Callable[[str], bool] = lambda text: True,
                  after: list[Block] | None = None,
                  of_resource: Callable[[str], bool] = lambda text: False) -> list[Attribution]:
        """The role contexts of an execution-role snippet, nearest evidence first (see the module
        docstring). `before`: the section's blocks before the snippet; `after`: those after it, up to
        the next code block; `headings`: its section's heading, then the enclosing ones up to the page
        title; `of_resource`: whether a sentence says which resource's role it is (then the resource it
        names in words is the context)."""
        if section_apis:
            return [Attribution(self.context_of(a), "section_heading") for a in section_apis]
        lead_blocks = [b for b in before if b.text == lead] if lead else []
        named = [a for b in lead_blocks for a in self.apis_in_block(b) if self.carries_role(a)]
        named = named or [a for a in self.apis_named_in(lead) if self.carries_role(a)]  # "create your notebook instance"
        if named:
            return [Attribution(self.context_of(a), "lead") for a in dict.fromkeys(named)]
        subject = None
        for how, heading in (("heading_noun", h) for h in headings[:-1]):
            nouns = self.apis_named_in(heading)
            roles = [a for a in nouns if self.carries_role(a)]
            if roles:
                return [Attribution(self.context_of(a), how) for a in roles]
            subject = subject or (nouns[0] if nouns else None)
        # the section's earlier sentences, where they say whose role ("the IAM execution role that you use to create
        # your model"), not where they name an API in passing ("for example CreateTrainingJob")
        saying = [b for b in reversed(before) if names_role(b.text)]  # nearest first
        named = list(dict.fromkeys(a for b in saying for a in self.apis_in_block(b) if self.carries_role(a)))
        if 0 < len(named) <= MAX_NAMED:  # more is a list of APIs (the PassRole list), not what the section is about
            return [Attribution(self.context_of(a), "section", subject) for a in named]
        if not named:
            # "the IAM execution role used to create the labeling job": the nearest such sentence that names
            # a resource; then "In the `RenderUiTemplate` operation, use the role's ARN in the `RoleArn` parameter"
            for block in saying:
                nouns = [a for a in self.apis_named_in(block.text) if self.carries_role(a)] \
                    if of_resource(block.text) else []
                if nouns:
                    return [Attribution(self.context_of(a), "section_noun", subject) for a in nouns]
            named = list(dict.fromkeys(a for b in after or [] if names_role(b.text) for a in self.apis_in_block(b)
                                       if self.carries_role(a)))
            if 0 < len(named) <= MAX_NAMED:
                return [Attribution(self.context_of(a), "section_after", subject) for a in named]
        nouns = self.apis_named_in(headings[-1]) if headings else []
        roles = [a for a in nouns if self.carries_role(a)]
        if roles:
            return [Attribution(self.context_of(a), "page_title") for a in roles]
        subject = subject or (nouns[0] if nouns else None)
        carried = [a for a in self.intro_apis(page) if self.carries_role(a)]
        if len(carried) == 1:
            return [Attribution(self.context_of(carried[0]), "page", subject)]
        title = headings[-1] if headings else page.title
        return [Attribution(RoleContext(f"feature:{page_key}", None, None, title), "feature", subject)]
