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
    """The lexicon of a language; a page in a language without one is read with English rules."""
    name = f"{lang}.toml"
    files = resources.files(__package__)
    if not files.joinpath(name).is_file():
        name = "en.toml"
    return Lexicon(tomllib.loads(files.joinpath(name).read_text(encoding="utf-8")))


def all_lexicons() -> list[Lexicon]:
    files = resources.files(__package__)
    return [lexicon(f.name[:-5]) for f in sorted(files.iterdir(), key=lambda f: f.name) if f.name.endswith(".toml")]
