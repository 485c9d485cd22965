"""What kind of policy a snippet is: an execution role's policy, a caller's (identity) policy, a
trust policy, or a resource policy (KMS key, S3 bucket, VPC endpoint, other), or no policy at all.

A statement with a Principal is never a role requirement: it is a trust policy when it lets a
service assume the role (ingest/facts/iam.toml trust_actions), else a resource policy, named by
its sentence or by the one service its actions belong to. An identity policy is the execution
role's or the caller's as the page's sentences say (lexicon groups execution_role_lead,
caller_lead, role_lead), nearest first: the lead sentence, then the headings up to the title.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import snippets as sn
from .lexicon import Lexicon

EXECUTION_ROLE, CALLER, TRUST, KEY, BUCKET, VPC_ENDPOINT, OTHER = (
    "execution_role", "caller", "trust", "key", "bucket", "vpc_endpoint", "other")
KINDS = (EXECUTION_ROLE, CALLER, TRUST, KEY, BUCKET, VPC_ENDPOINT, OTHER)


@dataclass(frozen=True)
class Kind:
    kind: str | None  # None: the code block is not a policy
    reason: str  # what decided it, for `kb coverage` and the snippet table


def looks_like_policy(raw: str) -> bool:
    """A code block that carries a policy: it prints an Effect or a Statement (even broken, even
    inside Python or shell code)."""
    return '"Effect"' in raw or '"Statement"' in raw


def is_policy(parsed: sn.Parsed, statements: list[sn.Statement]) -> bool:
    return bool(statements) and any(s.actions or s.not_actions or s.effect for s in statements)


def kind_of(raw: str, statements: list[sn.Statement], lead: str, headings: list[str], lex: Lexicon,
            trust_actions: set[str], in_api_section: bool, context: list[str] | None = None,
            previous: str | None = None) -> Kind:
    """`context`: the section's other sentences since the previous snippet, nearest first;
    `previous`: the kind of the section's previous snippet, which a policy no sentence places
    continues when it is an identity policy ("Repeat the same steps … to add Amazon SNS permissions")."""
    if not looks_like_policy(raw) and not statements:
        return Kind(None, "not a policy")
    if any(s.principal is not None for s in statements):
        return _resource_policy(statements, lead, headings, lex, trust_actions)
    if not statements:  # a policy the page printed that parses to nothing (broken JSON, code around it)
        if '"Principal"' in raw:
            found = _resource_policy([], lead, headings, lex, trust_actions)
            return Kind(found.kind, "unreadable: " + found.reason)
        return _identity(lead, context or [], headings, lex, in_api_section, "unreadable: ", previous)
    return _identity(lead, context or [], headings, lex, in_api_section, "", previous)


def _resource_policy(statements: list[sn.Statement], lead: str, headings: list[str], lex: Lexicon,
                     trust_actions: set[str]) -> Kind:
    actions = [a.lower() for s in statements for a in s.actions]
    if any(a in trust_actions for a in actions) and any(_principal_kinds(s) for s in statements):
        return Kind(TRUST, "a principal may assume the role")
    for text in (lead, *headings[:1]):
        if lex.says("vpc_endpoint_policy", text):
            return Kind(VPC_ENDPOINT, "the sentence calls it an endpoint policy")
        if lex.says("key_policy", text):
            return Kind(KEY, "the sentence calls it a key policy")
        if lex.says("bucket_policy", text):
            return Kind(BUCKET, "the sentence calls it a bucket policy")
    services = {a.partition(":")[0] for a in actions if ":" in a}
    if services == {"kms"}:
        return Kind(KEY, "a Principal and only KMS actions")
    if services == {"s3"}:
        return Kind(BUCKET, "a Principal and only S3 actions")
    return Kind(OTHER, "a resource policy (a Principal) of " + (", ".join(sorted(services)) or "no action"))


def _principal_kinds(statement: sn.Statement) -> list[str]:
    p = statement.principal
    return [k for k in ("Service", "Federated", "AWS") if isinstance(p, dict) and k in p]


def _identity(lead: str, context: list[str], headings: list[str], lex: Lexicon, in_api_section: bool,
              prefix: str, previous: str | None = None) -> Kind:
    if any(lex.says("managed_policy_document", h) for h in headings[:1]):
        return Kind(OTHER, prefix + "a managed policy's own document")
    if lex.says("managed_policy_grants", lead):
        return Kind(OTHER, prefix + "its sentence says what a managed policy already grants")
    if lex.says("vpc_endpoint_policy", lead):  # an endpoint policy printed without its Principal
        return Kind(VPC_ENDPOINT, prefix + "the sentence calls it an endpoint policy")
    found = _whose(lex, prefix, (("sentence", [lead]), ("section's sentences", context), ("heading", headings)),
                   [lead, *context])
    if found is not None:
        return found
    if in_api_section:
        return Kind(EXECUTION_ROLE, prefix + "an API's execution-role section")
    if previous in (EXECUTION_ROLE, CALLER):
        return Kind(previous, prefix + "no sentence says whose policy it is: it continues the section's previous one")
    return Kind(OTHER, prefix + "no sentence says whose policy it is")


def _whose(lex: Lexicon, prefix: str, places: tuple[tuple[str, list[str]], ...], weak: list[str]) -> Kind | None:
    """Whose policy the texts say it is: strong words first, place by place (nearest first), then a
    role named in weaker words in `weak`; None when they say nothing."""
    for where, texts in places:
        for text in texts:
            if lex.says("other_service_role", text):
                return Kind(OTHER, f"{prefix}its {where} gives it to another service's role")
            if lex.says("execution_role_recipient", text):
                return Kind(EXECUTION_ROLE, f"{prefix}its {where} gives it to the execution role")
            # "To use the console, … permission to create execution roles": a user's policy that
            # mentions roles. Where a text names both, the user is whom it is for.
            if lex.says("caller_lead", text):
                return Kind(CALLER, f"{prefix}its {where} names a user or caller")
            if lex.says("execution_role_lead", text):
                return Kind(EXECUTION_ROLE, f"{prefix}its {where} names the execution role")
    for text in weak:
        if lex.says("role_lead", text):
            return Kind(EXECUTION_ROLE, prefix + "its sentence gives it to a role")
    return None
