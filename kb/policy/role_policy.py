"""A role's identity policies as statements, and IAM's wildcard matching of actions and ARNs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath

from ..query import KBError
from .documents import parse_document
from .words import Words


def _wildcards(pattern: str, one: str) -> str:
    """A policy's wildcards as a regex that never backtracks into them: `.*a.*a.*b` would take
    exponential time against a long name; each `*…` segment is found at its earliest place in an
    atomic group instead (fnmatch's construction), which is linear in the name per segment."""
    conv = lambda s: "".join(one if c == "?" else re.escape(c) for c in s)
    parts = pattern.split("*")
    if len(parts) == 1:
        return conv(pattern)
    head, *middle, tail = parts
    return conv(head) + "".join(f"(?>.*?{conv(m)})" for m in middle if m) + ".*" + conv(tail)


@lru_cache(maxsize=4096)
def glob(pattern: str, ignore_case: bool) -> re.Pattern:
    return re.compile(_wildcards(pattern, "."), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


@lru_cache(maxsize=4096)
def _covering(pattern: str) -> re.Pattern:
    return re.compile(_wildcards(pattern, "[^*]"), re.DOTALL)


def glob_covers(pattern: str, target: str) -> bool:
    """Whether IAM pattern `pattern` matches every string the (possibly wildcard) `target`
    matches: a '*' of the pattern absorbs the target's wildcards, a '?' does not."""
    return _covering(pattern).fullmatch(target) is not None


class Covering:
    """Which of many IAM patterns cover a target, without trying each: an exact pattern covers only
    itself, `prefix*` (the shape of nearly every S3 grant) every target starting with the prefix,
    looked up per prefix of the target; other wildcard patterns are tried one by one. Linear in the
    target's length where glob_covers over every pattern is linear in their number."""

    def __init__(self, patterns):
        self.exact: set[str] = set()
        self.prefixes: set[str] = set()
        self.others: list[str] = []
        for p in patterns:
            if "*" not in p and "?" not in p:
                self.exact.add(p)
            elif p.endswith("*") and "*" not in p[:-1] and "?" not in p:
                self.prefixes.add(p[:-1])
            else:
                self.others.append(p)
        self.lengths = sorted({len(p) for p in self.prefixes})

    def covers(self, target: str, *, other_than_itself: bool = False) -> bool:
        if target in self.exact and not other_than_itself:
            return True
        if any(target[:n] in self.prefixes and not (other_than_itself and target == target[:n] + "*")
               for n in self.lengths if n <= len(target)):
            return True
        return any(glob_covers(p, target) for p in self.others if not (other_than_itself and p == target))


def narrowest(resources) -> list[str]:
    """The resources no other one of them covers, sorted."""
    index = Covering(resources)
    return sorted(r for r in resources if not index.covers(r, other_than_itself=True))


@dataclass
class RoleStatement:
    label: str
    effect: str
    actions: list[str] | None
    not_actions: list[str] | None
    resources: list[str] | None
    not_resources: list[str] | None
    condition: dict | None
    _index: Covering | None = field(default=None, repr=False, compare=False)

    def matches(self, action: str) -> bool:
        hit = any(glob(p, True).fullmatch(action) for p in (self.actions or self.not_actions or []))
        return hit if self.actions is not None else not hit

    def covers(self, resource: str) -> bool:
        if self.resources is not None:
            if len(self.resources) < 8:
                return any(glob_covers(p, resource) for p in self.resources)
            if self._index is None:
                self._index = Covering(self.resources)
            return self._index.covers(resource)
        return not any(glob(p, False).fullmatch(resource) or glob_covers(p, resource) for p in self.not_resources or [])

    @property
    def unrestricted(self) -> bool:
        return self.condition is None and self.resources is not None and "*" in self.resources

    def describe(self) -> str:
        what = f"Action {self.actions}" if self.actions is not None else f"NotAction {self.not_actions}"
        where = f"Resource {self.resources}" if self.resources is not None else f"NotResource {self.not_resources}"
        return f"{self.label} ({self.effect} {what} on {where}{' with a Condition' if self.condition else ''})"


def parse_role_policy(doc, name: str, w: Words) -> list[RoleStatement]:
    """Statements of an identity policy (a bare document, or the output of `aws iam
    get-role-policy` / `get-policy-version`); a malformed one is one KBError line, in w's language."""
    if isinstance(doc, dict) and "PolicyDocument" in doc:
        doc = doc["PolicyDocument"]
    elif isinstance(doc, dict) and "PolicyVersion" in doc:
        doc = doc["PolicyVersion"].get("Document") if isinstance(doc["PolicyVersion"], dict) else None
    if isinstance(doc, str):
        from urllib.parse import unquote

        doc = parse_document(unquote(doc), name, "policy", w)
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise KBError(w("doc_not_policy", name=name))
    version = doc.get("Version")
    if version not in (None, "2012-10-17", "2008-10-17"):
        raise KBError(w("doc_bad_version", name=name, version=repr(version)))
    raw = doc["Statement"]
    raw = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw, list) or not raw:
        raise KBError(w("doc_bad_statement", name=name))
    out = []
    for i, st in enumerate(raw):
        where = f"{name}: Statement[{i}]"
        if not isinstance(st, dict):
            raise KBError(w("doc_statement_not_object", where=where))
        label = f"{PurePath(name).name}#{st.get('Sid') or i}"
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise KBError(w("doc_bad_effect", where=where, effect=repr(effect)))
        if "Principal" in st or "NotPrincipal" in st:
            raise KBError(w("doc_has_principal", where=where))
        acts = _strings(st, "Action", where, w)
        not_acts = _strings(st, "NotAction", where, w)
        if (acts is None) == (not_acts is None):
            raise KBError(w("doc_one_of", where=where, a="Action", b="NotAction"))
        for a in acts or not_acts or []:
            if a != "*" and not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", a):
                raise KBError(w("doc_not_action", where=where, action=repr(a)))
        res, not_res = _strings(st, "Resource", where, w), _strings(st, "NotResource", where, w)
        if (res is None) == (not_res is None):
            raise KBError(w("doc_one_of", where=where, a="Resource", b="NotResource"))
        cond = st.get("Condition")
        if cond is not None and not isinstance(cond, dict):
            raise KBError(w("doc_bad_condition", where=where))
        out.append(RoleStatement(label, effect, acts, not_acts, res, not_res, cond or None))
    return out


def _strings(st: dict, key: str, where: str, w: Words) -> list[str] | None:
    if key not in st:
        return None
    value = st[key]
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise KBError(w("doc_bad_strings", where=where, member=key))
    return value
