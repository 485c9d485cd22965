"""Depth and size limits for every JSON or YAML document the project parses (doc snippets,
request bodies, role policies): a document nested deeper or larger than its limit is refused
with a `LimitError` (kind "too_deep" / "too_large", the line where it went over) before a
recursive parser can raise RecursionError or a walk over it can take minutes.

The limits are far above anything real: IAM policies nest 5 deep, boto3 request bodies about 10.
"""

from __future__ import annotations

import re
from typing import Any

MAX_DEPTH = 64
MAX_NODES = 200_000  # values in one document (an alias-expanded YAML counts each expansion)


class LimitError(ValueError):
    def __init__(self, kind: str, message: str, line: int | None = None, *, limit: int | None = None,
                 unit: str = "levels"):
        super().__init__(message)
        self.kind = kind  # "too_deep" or "too_large"
        self.line = line
        self.limit = limit  # the limit passed, in `unit`: "levels", "bytes" or "values"
        self.unit = unit


# A JSON string (escapes included, or running to the end when unterminated) or a bracket; whatever
# else the text holds is skipped by the regex engine, so a large document costs one scan in C.
_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"?|[\[\]{}]', re.DOTALL)


def json_depth(text: str, limit: int = MAX_DEPTH) -> tuple[int, int | None]:
    """(deepest bracket nesting outside strings, 1-based line where it first passes `limit`).
    One pass, no recursion: safe on any text."""
    depth = deepest = 0
    over_at = None
    for m in _TOKEN.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if depth > limit and over_at is None:
                    over_at = m.start()
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest, (text.count("\n", 0, over_at) + 1 if over_at is not None else None)


def check_json_text(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None) -> None:
    """LimitError when `text` is larger than max_bytes or nests deeper than max_depth."""
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if max_bytes is not None and size > max_bytes:
        raise LimitError("too_large", f"{size} bytes, more than the limit of {max_bytes}", limit=max_bytes,
                         unit="bytes")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    deepest, line = json_depth(text, max_depth)
    if deepest > max_depth:
        raise LimitError("too_deep", f"nested {deepest} deep, deeper than the limit of {max_depth}"
                         + (f" (from line {line})" if line else ""), line, limit=max_depth)


def check_value(value: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> None:
    """LimitError when a parsed value nests deeper than max_depth or holds more than max_nodes
    values. Iterative, and stops at the limit: a YAML alias bomb costs max_nodes steps."""
    stack = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > max_nodes:
            raise LimitError("too_large", f"more than {max_nodes} values", limit=max_nodes, unit="values")
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise LimitError("too_deep", f"nested deeper than the limit of {max_depth}", limit=max_depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            if isinstance(item, dict):
                seen += len(item)  # the keys
