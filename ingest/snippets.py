"""Code snippets → JSON → normalized IAM statements.

The pages print policies with `{{placeholders}}`, bare statements without a wrapper, and, in
older revisions, JSON that is not valid at all. A snippet is parsed strictly first; if that
fails, a ladder of safe repairs is tried, each one named, so a repaired snippet is flagged and
never passes as if the page had been right.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kb.limits import LimitError, check_json_text

# A snippet past these is not a policy (real ones: < 3 KB, 5 deep): a finding, never parsed.
MAX_SNIPPET_BYTES = 256 * 1024
MAX_SNIPPET_DEPTH = 64
PLACEHOLDER = re.compile(r"\{\{([^{}\s\"]+)\}\}")
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
# An action printed in running text (no code span): `sagemaker:CreateLabelingJob iam:PassRole`.
ACTION_TOKEN_TEXT = re.compile(r"(?<![\w/.:-])([a-z][a-z0-9-]{1,40}:[A-Z][A-Za-z0-9*]{1,100})(?![\w:])")


def is_action(text: str) -> bool:
    return bool(ACTION.match(text.strip()))


@dataclass
class Statement:
    effect: str
    actions: list[str]
    not_actions: list[str] = field(default_factory=list)
    resources: list[str] | None = None  # None: the page gave no Resource
    condition: dict | None = None
    principal: dict | str | None = None
    sid: str | None = None

    def as_policy_statement(self) -> dict:
        out: dict = {"Effect": self.effect}
        if self.sid:
            out["Sid"] = self.sid
        if self.principal is not None:
            out["Principal"] = self.principal
        if self.actions:
            out["Action"] = self.actions
        if self.not_actions:
            out["NotAction"] = self.not_actions
        if self.resources is not None:
            out["Resource"] = self.resources
        if self.condition:
            out["Condition"] = self.condition
        return out


@dataclass
class Parsed:
    status: str  # "ok", "repaired", "invalid", "not_json", "too_deep", "too_large"
    value: object = None
    repairs: list[str] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None  # 1-based line inside the snippet
    placeholders: list[str] = field(default_factory=list)


def parse(raw: str) -> Parsed:
    """Parse a code block as JSON, repairing it where a safe repair exists."""
    # `{{name}}` placeholders sit inside JSON strings, so they parse as they are and stay in
    # the resources, marking what the reader must fill in.
    placeholders = list(dict.fromkeys(PLACEHOLDER.findall(raw)))
    text = raw.strip()
    if not text.startswith(("{", "[", '"')):
        return Parsed("not_json", placeholders=placeholders)
    if text.startswith('"'):
        text = f"[{text}]"  # a bare list of quoted actions
    try:
        check_json_text(text, max_depth=MAX_SNIPPET_DEPTH, max_bytes=MAX_SNIPPET_BYTES)
    except LimitError as exc:  # before json.loads, which recurses
        return Parsed(exc.kind, None, [], str(exc), exc.line, placeholders)
    try:
        return Parsed("ok", json.loads(text), placeholders=placeholders)
    except json.JSONDecodeError as first:
        error = first
    repaired, applied = text, list[str]()
    for name, repair in _REPAIRS:
        candidate = repair(repaired)
        if candidate == repaired:
            continue
        repaired, applied = candidate, [*applied, name]
        try:
            value = json.loads(repaired)
        except json.JSONDecodeError:
            continue
        return Parsed("repaired", value, applied, f"{error.msg}", error.lineno, placeholders)
    return Parsed("invalid", None, [], error.msg, error.lineno, placeholders)


def _strip_extra_braces(text: str) -> str:
    # `{ { "Version": … } }`: one pair of braces too many around the whole policy.
    inner = text[1:-1].strip() if text.startswith("{") and text.endswith("}") else ""
    if inner.startswith("{") and inner.endswith("}"):
        try:
            json.loads(inner)
            return inner
        except json.JSONDecodeError:
            pass
    return text


def _close_strings(text: str) -> str:
    # `"arn:aws:s3:::bucket/*,` — a string whose closing quote was lost at the end of its line.
    out = []
    for line in text.split("\n"):
        if _unescaped_quotes(line) % 2 == 1:
            body = line.rstrip()
            line = body[:-1] + '",' if body.endswith(",") else body + '"'
        out.append(line)
    return "\n".join(out)


def _drop_trailing_commas(text: str) -> str:
    return re.sub(r",(\s*[}\]])", r"\1", text)


def _close_brackets(text: str) -> str:
    # A block cut off before its closing brackets: close what is still open, in order.
    stack, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack and stack[-1] == ch:
            stack.pop()
    return text + "".join(reversed(stack)) if stack and not in_string else text


def _drop_comments(text: str) -> str:
    # `# Specify an action …` or `// …` lines inside a policy: notes for the reader, not JSON.
    kept = [line for line in text.split("\n") if not line.lstrip().startswith(("#", "//"))]
    return "\n".join(kept)


def _bracket_statements(text: str) -> str:
    # `{ "Sid": "A", … }, { "Sid": "B", … }`: statements listed without the brackets of their list.
    return f"[{text}]" if text.startswith("{") and text.endswith("}") else text


def _split_documents(text: str) -> str:
    # `{ "Statement": … }` then `{ "Statement": … }`: two policies printed one after the other in
    # one block, read as a list of them (each kept as printed). One pass: each document is decoded once.
    decoder, pos, parts = json.JSONDecoder(), 0, []
    while pos < len(text):
        try:
            _, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return text
        parts.append(text[pos:end])
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return f"[{', '.join(parts)}]" if len(parts) > 1 else text


def _unescaped_quotes(line: str) -> int:
    return len(re.findall(r'(?<!\\)"', line))


_REPAIRS = [
    ("removed comment lines (# or //)", _drop_comments),
    ("removed an extra pair of braces around the policy", _strip_extra_braces),
    ("closed a string left open at the end of its line", _close_strings),
    ("removed trailing commas", _drop_trailing_commas),
    ("closed brackets left open at the end (the snippet looks truncated)", _close_brackets),
    ("read policies printed one after another as a list of them", _split_documents),
    ("read statements listed without their brackets as a list", _bracket_statements),
]


def statements(value: object) -> list[Statement]:
    """Normalize a parsed snippet into statements: a policy, a bare statement, or a list."""
    if isinstance(value, dict) and "Statement" in value:
        items = value["Statement"]
        items = items if isinstance(items, list) else [items]
    elif isinstance(value, dict) and ("Action" in value or "NotAction" in value or "Effect" in value):
        items = [value]
    elif isinstance(value, list) and value and all(isinstance(v, dict) and _statement_like(v) for v in value):
        items = value
    elif isinstance(value, list) and value and all(isinstance(v, dict) and "Statement" in v for v in value):
        return [s for v in value for s in statements(v)]  # several policies in one block
    elif isinstance(value, list) and value and all(isinstance(v, str) and ACTION.match(v.strip()) for v in value):
        return [Statement("Allow", [normalize_action(a) for a in value])]  # a plain action list
    else:
        return []  # not a policy (a CORS configuration, a request body, a list of words)
    return [_statement(item) for item in items if isinstance(item, dict)]


def _statement_like(item: dict) -> bool:
    return any(k in item for k in ("Effect", "Action", "NotAction", "Principal"))


def _statement(item: dict) -> Statement:
    resources = item.get("Resource")
    return Statement(
        effect=str(item.get("Effect", "Allow")),
        actions=[normalize_action(a) for a in _as_list(item.get("Action"))],
        not_actions=[normalize_action(a) for a in _as_list(item.get("NotAction"))],
        resources=None if resources is None else [str(r) for r in _as_list(resources)],
        condition=item.get("Condition"),
        principal=item.get("Principal"),
        sid=item.get("Sid"),
    )


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def normalize_action(action) -> str:
    """`service:Name` with the service lower-cased, as IAM compares it."""
    text = str(action).strip()
    service, sep, name = text.partition(":")
    return f"{service.lower()}:{name.strip()}" if sep else text
