"""Per-language lexicons: the only place where page wording and interface words are written down.

A lexicon is `<lang>.toml` in this directory, or in a directory listed in $KB_LEXICONS
(`:`-separated; a test or a translator adds a language there without touching the package).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.linear import Pattern, PatternError, compile_linear

from .. import cache

HERE = Path(__file__).resolve().parent
_LANG_FILE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\.toml$")
PHRASE_GROUPS = ("api_section_heading", "scoped_variant", "key_policy", "scoping_intro", "condition_lead",
                 "prose_requirement", "bucket_policy", "vpc_endpoint_policy", "execution_role_lead", "caller_lead",
                 "role_lead", "managed_policy", "managed_policy_except", "required_only_if", "managed_policy_document",
                 "example_mention", "other_service_role", "managed_policy_grants", "role_of_resource",
                 "execution_role_recipient")


def squash(text: str) -> str:
    """Text as the lexicon patterns see it: no white space at all."""
    return "".join(text.split())  # str.split's white space is re's \s, in a third of the time


class LexiconError(ValueError):
    """A lexicon file that cannot be used (a pattern that is not a linear-time regular expression)."""


# What a request member's description may say SageMaker does with the location it names, in the
# order they are tried (the lexicon's [request_members]).
MEMBER_ACCESS = ("object", "reads_and_writes", "writes", "reads")


def _finditer(pattern: Pattern, text: str):
    pos = 0
    while pos <= len(text):
        m = pattern.search(text, pos)
        if m is None:
            return
        yield m
        pos = max(m.end(), pos + 1)


def _compile(patterns: list[str], where: str, capture: bool = False) -> list[Pattern]:
    # RE2 (kb/linear.py): a phrase is data anyone may edit, and must never make a page take
    # exponential (or quadratic) time, whatever quantifiers it nests.
    if not isinstance(patterns, list):
        raise LexiconError(f"{where}: expected a list of patterns, got {patterns!r}")
    try:
        return [compile_linear(squash(p) if isinstance(p, str) else p, ignore_case=True, capture=capture,
                               where=where)
                for p in patterns]
    except PatternError as exc:
        raise LexiconError(str(exc)) from None


def _either(patterns: list[Pattern] | tuple[Pattern, ...]) -> Pattern | _AnyOf | None:
    """One RE2 pattern that matches where any of `patterns` does (a yes/no test): a text is searched
    once, not once per phrase. None when there is none to search for."""
    if not patterns:
        return None
    try:
        return compile_linear("|".join(f"(?:{p.pattern})" for p in patterns), ignore_case=True, capture=False)
    except PatternError:  # phrases RE2 accepts one by one but not together (named groups met twice)
        return _AnyOf(tuple(patterns))


@dataclass(frozen=True)
class _AnyOf:
    patterns: tuple[Pattern, ...]

    def search(self, text: str):
        return next((m for p in self.patterns if (m := p.search(text))), None)


@dataclass(frozen=True)
class ConditionPhrase:
    key: str
    label: str
    patterns: tuple[Pattern, ...]
    request_fields: tuple[str, ...] = ()  # request members that show the condition (English lexicon)
    set_by_option: str | None = None  # the `kb policy` option standing for it when no member shows it
    heading_patterns: tuple[Pattern, ...] = ()  # a title or heading that states it for what is under it


class Lexicon:
    def __init__(self, data: dict[str, Any], path: Path):
        self.path = path
        self.lang: str = data["lang"]
        self.name: str = data.get("name", self.lang)
        self.prevails: bool = bool(data.get("prevails", False))
        self.ui: dict[str, str] = dict(data.get("ui", {}))
        self.note_labels: dict[str, str] = data["note_labels"]
        self.disclaimer_markers: list[str] = data["disclaimer_markers"]
        self.passrole_action: str = data["passrole_action"]
        self._groups = {name: _compile(data.get(name, []), f"{path}: {name}") for name in PHRASE_GROUPS}
        self._group_any = {name: _either(patterns) for name, patterns in self._groups.items()}
        members = data.get("request_members", {})
        where = f"{path}: [request_members]"
        self._member_access = {
            access: list(zip(members.get(access, []), _compile(members.get(access, []), f"{where} {access}")))
            for access in MEMBER_ACCESS}
        self._member_about = _compile(members.get("about", []), f"{where} about")
        self._object_when = _compile(members.get("object_when", []), f"{where} object_when", capture=True)
        self.conditions = [
            ConditionPhrase(key, spec["label"], tuple(_compile(spec.get("patterns", []),
                                                               f"{path}: [conditions.{key}] patterns")),
                            tuple(spec.get("request_fields", ())), spec.get("set_by_option"),
                            tuple(_compile(spec.get("heading_patterns", []),
                                           f"{path}: [conditions.{key}] heading_patterns")))
            for key, spec in data.get("conditions", {}).items()
        ]
        self._any_condition = _either([p for cond in self.conditions for p in cond.patterns])

    def member_access(self, doc: str) -> tuple[str, str] | None:
        """(access, the phrase) a request member's API reference description states for the S3
        location it names: object, reads_and_writes, writes or reads; None when it says none."""
        flat = squash(doc)
        if not any(p.search(flat) for p in self._member_about):
            return None
        for access in MEMBER_ACCESS:
            for raw, pattern in self._member_access[access]:
                if pattern.search(flat):
                    return access, raw
        return None

    def access_when(self, doc: str) -> list[tuple[str, str]]:
        """(value, sibling member) pairs a type member's description gives: with that value, the
        sibling names one object ("If you choose ManifestFile , S3Uri identifies an object")."""
        flat = squash(doc)
        out = []
        for pattern in self._object_when:
            for m in _finditer(pattern, flat):
                out.append((m.group("value"), m.group("member")))
        return out

    def says(self, group: str, text: str) -> bool:
        pattern = self._group_any[group]
        return pattern is not None and pattern.search(squash(text)) is not None

    def condition_in(self, text: str) -> ConditionPhrase | None:
        flat = squash(text)
        if self._any_condition is None or self._any_condition.search(flat) is None:
            return None  # most sentences name no condition: one search tells
        for cond in self.conditions:
            if any(p.search(flat) for p in cond.patterns):
                return cond
        return None

    def condition_in_heading(self, text: str) -> ConditionPhrase | None:
        """A condition a title or heading states for everything under it."""
        flat = squash(text)
        for cond in self.conditions:
            if any(p.search(flat) for p in cond.heading_patterns):
                return cond
        return None


class UnknownLanguage(ValueError):
    pass


def _files() -> dict[str, Path]:
    """language → its lexicon file (a later directory of $KB_LEXICONS adds, never replaces)."""
    return _files_in(os.environ.get("KB_LEXICONS", ""))


@functools.cache  # a page asks for its lexicon at every step: the directories are listed once per $KB_LEXICONS
def _files_in(extra: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for directory in [HERE, *(Path(d) for d in extra.split(os.pathsep) if d)]:
        if directory.is_dir():
            for f in sorted(directory.iterdir()):
                if _LANG_FILE.match(f.name):
                    out.setdefault(f.name[:-5], f)
    return out


def known_languages() -> list[str]:
    return sorted(_files())


@functools.cache
def _load(path: Path) -> Lexicon:
    return Lexicon(_parsed(path.read_bytes(), path), path)


def _parsed(raw: bytes, path: Path) -> dict[str, Any]:
    """The lexicon's TOML parsed, or the parse a build on this machine saved for the same bytes
    (ingest/cache.py): the two shipped lexicons take 17 ms to parse, a saved parse 1 ms to load."""
    key = f"lexicon-{sys.version_info[0]}.{sys.version_info[1]}-{hashlib.sha256(raw).hexdigest()}"
    data = cache.load_dict(key)
    if data is None:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except tomllib.TOMLDecodeError as exc:  # a lexicon is data anyone may edit: say where it is wrong
            raise LexiconError(f"{path}: not valid TOML: {exc}") from None
        cache.store_data(key, data)
    return data


def lexicon(lang: str) -> Lexicon:
    """The lexicon of a language. A page in a language without one is refused: English rules would
    find nothing in it, or, for a mislabelled English page, file English facts under that language."""
    files = _files()
    if lang not in files:
        raise UnknownLanguage(f"no lexicon for language {lang!r}: known are {', '.join(sorted(files))} "
                              f"(a new language is a new ingest/lexicon/{lang}.toml)")
    return _load(files[lang])


def all_lexicons() -> list[Lexicon]:
    return [lexicon(lang) for lang in known_languages()]


def prevailing_lexicon() -> Lexicon:
    """The lexicon of the language whose pages prevail (English): the one that reads botocore's
    English documentation strings too."""
    found = [lex for lex in all_lexicons() if lex.prevails]
    if len(found) != 1:
        raise LexiconError(f"exactly one lexicon must say prevails = true, found {len(found)}")
    return found[0]
