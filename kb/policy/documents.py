"""Documents people hand the policy writer: request bodies and role policies, JSON or YAML.
Any parse error is one KBError line naming the file, its line and column; a document nested
deeper, or larger, than kb/limits.py allows is one too, never a RecursionError."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from ..limits import MAX_DEPTH, LimitError, check_json_text, check_value
from ..query import KBError

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024  # a request body or a policy is kilobytes; IAM caps policies at 10 KB


def parse_document(text: str, name: str, what: str = "file") -> Any:
    """A JSON (or YAML) document."""
    try:
        check_json_text(text, max_depth=MAX_DEPTH, max_bytes=MAX_DOCUMENT_BYTES)
        value = _parse(text, name, what)
        check_value(value)
    except LimitError as exc:
        raise KBError(f"{name}: {what} refused: {exc}") from None
    return value


def _parse(text: str, name: str, what: str) -> Any:
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

    class BoundedLoader(yaml.SafeLoader):
        """SafeLoader that refuses block nesting past MAX_DEPTH before its recursion gets there."""

        depth = 0

        def compose_node(self, parent, index):
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise LimitError("too_deep", f"nested deeper than the limit of {MAX_DEPTH} "
                                                 f"(line {mark.line + 1})", mark.line + 1)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    try:
        return yaml.load(text, Loader=BoundedLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise KBError(f"{name}: not valid YAML: {getattr(exc, 'problem', None) or exc}{where}") from None
