"""Documents people hand the policy writer: request bodies and role policies, JSON or YAML.
Any parse error is one KBError line naming the file, its line and column."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from ..query import KBError


def parse_document(text: str, name: str, what: str = "file") -> Any:
    """A JSON (or YAML) document."""
    suffix = PurePath(name).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(text, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if suffix != ".json" and text.lstrip()[:1] not in ("{", "["):
            try:
                return _parse_yaml(text, name)
            except KBError:
                pass
        raise KBError(f"{name}: {what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def _parse_yaml(text: str, name: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise KBError(f"{name}: not valid YAML: {getattr(exc, 'problem', None) or exc}{where}") from None
