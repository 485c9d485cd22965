"""Documents people hand the policy writer: request bodies and role policies, JSON or YAML.
Any parse error is one KBError line naming the file, its line and column, in the question's
language (its Words); a document nested deeper, or larger, than kb/limits.py allows is one too,
never a RecursionError."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from ..limits import MAX_DEPTH, LimitError, check_json_text, check_value
from ..query import KBError
from .words import Words

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024  # a request body or a policy is kilobytes; IAM caps policies at 10 KB


def parse_document(text: str, name: str, what: str = "request", w: Words | None = None) -> Any:
    """A JSON (or YAML) document; `what` names it in w's words (`what_<what>`: request, policy,
    manifest). Without words (a caller with no KB at hand) its problems are said plainly."""
    w = w or Words.plain()
    try:
        check_json_text(text, max_depth=MAX_DEPTH, max_bytes=MAX_DOCUMENT_BYTES)
        value = _parse(text, name, what, w)
        check_value(value)
    except LimitError as exc:
        at = w("at_line", line=exc.line) if exc.line else ""
        raise KBError(w(f"doc_{exc.kind}_{exc.unit}", name=name, what=w(f"what_{what}"), limit=exc.limit,
                        at_line=at)) from None
    return value


def _parse(text: str, name: str, what: str, w: Words) -> Any:
    suffix = PurePath(name).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(text, name, w)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if suffix != ".json" and text.lstrip()[:1] not in ("{", "["):
            try:
                return _parse_yaml(text, name, w)
            except KBError:
                pass
        raise KBError(w("doc_not_json", name=name, what=w(f"what_{what}"), reason=exc.msg, line=exc.lineno,
                        column=exc.colno)) from None


def _parse_yaml(text: str, name: str, w: Words) -> Any:
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
                                                 f"(line {mark.line + 1})", mark.line + 1, limit=MAX_DEPTH)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    try:
        return yaml.load(text, Loader=BoundedLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = w("at_line_column", line=mark.line + 1, column=mark.column + 1) if mark else ""
        raise KBError(w("doc_not_yaml", name=name, reason=getattr(exc, "problem", None) or exc, at=where)) from None
