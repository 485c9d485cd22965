"""Per-language lexicons: the only place where page wording is written down."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


def squash(text: str) -> str:
    """Text as the lexicon patterns see it: no white space at all."""
    return re.sub(r"\s+", "", text)


def _compile(patterns: list[str]) -> list[re.Pattern]:
    return [re.compile(squash(p), re.IGNORECASE) for p in patterns]


@dataclass(frozen=True)
class ConditionPhrase:
    key: str
    label: str
    patterns: tuple[re.Pattern, ...]
    request_fields: tuple[str, ...] = ()  # request members that show the condition (English lexicon)


class Lexicon:
    def __init__(self, data: dict):
        self.lang: str = data["lang"]
        self.note_labels: dict[str, str] = data["note_labels"]
        self.disclaimer_markers: list[str] = data["disclaimer_markers"]
        self.passrole_action: str = data["passrole_action"]
        self._groups = {
            name: _compile(data[name])
            for name in ("api_section_heading", "scoped_variant", "key_policy", "scoping_intro",
                         "condition_lead", "prose_requirement")
        }
        self.conditions = [
            ConditionPhrase(key, spec["label"], tuple(_compile(spec["patterns"])),
                            tuple(spec.get("request_fields", ())))
            for key, spec in data["conditions"].items()
        ]

    def says(self, group: str, text: str) -> bool:
        flat = squash(text)
        return any(p.search(flat) for p in self._groups[group])

    def condition_in(self, text: str) -> ConditionPhrase | None:
        flat = squash(text)
        for cond in self.conditions:
            if any(p.search(flat) for p in cond.patterns):
                return cond
        return None


@lru_cache(maxsize=None)
def lexicon(lang: str) -> Lexicon:
    """The lexicon of a language. A page in a language without one is refused: English rules would
    find nothing in it, or, for a mislabelled English page, file English facts under that language."""
    files = resources.files(__package__)
    name = f"{lang}.toml"
    if not files.joinpath(name).is_file():
        raise UnknownLanguage(f"no lexicon for language {lang!r}: known are {', '.join(known_languages())} "
                              f"(a new language is a new ingest/lexicon/{lang}.toml)")
    return Lexicon(tomllib.loads(files.joinpath(name).read_text(encoding="utf-8")))


class UnknownLanguage(ValueError):
    pass


def known_languages() -> list[str]:
    files = resources.files(__package__)
    return sorted(f.name[:-5] for f in files.iterdir() if f.name.endswith(".toml"))


def all_lexicons() -> list[Lexicon]:
    return [lexicon(lang) for lang in known_languages()]
