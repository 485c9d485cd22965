"""A request body bound to its API's request shape (botocore's, as the KB stores it): every member
present, with the structure it belongs to, or one KBError line naming what does not fit."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..query import KBError, closest
from .words import Words


@dataclass(frozen=True)
class Shape:
    service: str
    name: str
    type: str  # structure, list, map, string, …
    members: dict[str, dict]  # structure: member name → {shape, required, doc, access}
    member: str | None = None  # list: the element shape
    value: str | None = None  # map: the value shape
    access_when: tuple[dict, ...] = ()  # structure: {member, by, value, access} (request_shape.access_when_json)

    def access_of(self, member: str, node: dict) -> str | None:
        """What SageMaker does with the S3 location `member` names in this structure `node` (its
        description; a type member's value may make it one object)."""
        for rule in self.access_when:
            if rule["member"] == member and node.get(rule["by"]) == rule["value"]:
                return rule["access"]
        return self.members.get(member, {}).get("access")

    @property
    def required_members(self) -> list[str]:
        return [n for n, m in self.members.items() if m.get("required")]


class Shapes:
    """The request shapes of one KB, each read once."""

    def __init__(self, conn: sqlite3.Connection, w: Words | None = None):
        self.conn = conn
        self.w = w or Words(conn, "")
        self._cache: dict[tuple[str, str], Shape] = {}

    def get(self, service: str, name: str) -> Shape:
        key = (service, name)
        if key not in self._cache:
            row = self.conn.execute("select type, members_json, access_when_json from request_shape "
                                    "where service = ? and name = ?", key).fetchone()
            if row is None:
                raise KBError(self.w("no_request_shape", name=repr(name), service=service))
            data = json.loads(row[1]) if row[1] else None
            if row[0] == "structure":
                members = {m["name"]: m for m in data or []}
                self._cache[key] = Shape(service, name, row[0], members,
                                         access_when=tuple(json.loads(row[2]) if row[2] else ()))
            else:
                self._cache[key] = Shape(service, name, row[0], {}, (data or {}).get("member"),
                                         (data or {}).get("value"))
        return self._cache[key]

    def input(self, api: str) -> Shape:
        row = self.conn.execute("select service, input_shape from api where name = ?", [api]).fetchone()
        if row is None or row[1] is None:
            raise KBError(self.w("no_request_of", api=repr(api)))
        return self.get(row[0], row[1])

    def child(self, shape: Shape, member: str) -> Shape:
        return self.get(shape.service, shape.members[member]["shape"])

    def element(self, shape: Shape) -> Shape:
        """Through lists and maps to the structure (or scalar) they hold."""
        while shape.type in ("list", "map"):
            nxt = shape.member if shape.type == "list" else shape.value
            if nxt is None:
                break
            shape = self.get(shape.service, nxt)
        return shape

    def member_of(self, api: str, path: str | None) -> tuple[str, str] | None:
        """(structure shape name, member name) that a dotted request path ends at, or None."""
        if not path:
            return None
        shape, owner = self.input(api), None
        for part in path.split("."):
            shape = self.element(shape)
            if shape.type != "structure" or part not in shape.members:
                return None
            owner, shape = shape.name, self.child(shape, part)
        return (owner, path.split(".")[-1]) if owner else None

    def doc(self, owner: str, member: str, service: str = "sagemaker") -> str:
        shape = self.get(service, owner)
        return str(shape.members.get(member, {}).get("doc") or "")


@dataclass
class Request:
    api: str
    body: dict
    source: str
    # every member present: (path with indices, owner shape, member name, value)
    members: list[tuple[str, str, str, object]] = field(default_factory=list)
    # path → what SageMaker does with the S3 location there (reads, writes, object, …)
    access: dict[str, str] = field(default_factory=dict)


def json_type(value: object, w: Words) -> str:
    """What a JSON value is, in the words of JSON (never a Python type name), in w's language."""
    if value is None:
        kind = "null"
    elif isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, (int, float)):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list):
        kind = "list"
    else:
        kind = "object" if isinstance(value, dict) else "value"
    return w(f"json_{kind}")


def strings_in(node: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, text) of every non-empty string leaf under a request value."""
    if isinstance(node, str):
        if node.strip():
            yield path, node.strip()
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings_in(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings_in(v, f"{path}[{i}]")


def bare(path: str) -> str:
    """A member path without list indices: `Containers[1].Image` → `Containers.Image`."""
    return re.sub(r"\[\d+\]", "", path)


def _walk(shapes: Shapes, shape: Shape, node, path: str, out: list, unknown: list, source: str,
          access: dict[str, str], w: Words) -> None:
    if shape.type == "structure":
        if not isinstance(node, dict):
            raise KBError(w("request_not_object", source=source, path=path or w("the_request"),
                            type=json_type(node, w)))
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if key not in shape.members:
                unknown.append((sub, list(shape.members)))
                continue
            out.append((sub, shape.name, key, value))
            how = shape.access_of(key, node)
            if how:
                access[sub] = how
            _walk(shapes, shapes.child(shape, key), value, sub, out, unknown, source, access, w)
    elif shape.type == "list" and node is not None and shape.member:
        if not isinstance(node, list):
            raise KBError(w("request_not_list", source=source, path=path, type=json_type(node, w)))
        for i, item in enumerate(node):
            _walk(shapes, shapes.get(shape.service, shape.member), item, f"{path}[{i}]", out, unknown, source, access,
                  w)


def _try_request(shapes: Shapes, api: str, body: dict, source: str, w: Words) -> tuple[Request, list]:
    members: list = []
    unknown: list = []
    access: dict[str, str] = {}
    _walk(shapes, shapes.input(api), body, "", members, unknown, source, access, w)
    return Request(api, body, source, members, access), unknown


def bind_request(shapes: Shapes, body: object, source: str, api: str | None, candidates: list[str],
                 w: Words) -> Request:
    """A request body checked against its API's request model. Without an explicit API, the
    one candidate whose model accepts every member is taken. Refusals are in w's language."""
    if not isinstance(body, dict):
        raise KBError(w("request_not_members", source=source, type=json_type(body, w)))
    if api:
        req, unknown = _try_request(shapes, api, body, source, w)
        if unknown:
            path, members = unknown[0]
            near = closest(path.rsplit(".", 1)[-1], members)
            raise KBError(w("request_no_member", source=source, api=api, member=bare(path),
                            hint=w("member_did_you_mean", name=near) if near else "",
                            more=w("and_more", count=len(unknown) - 1) if len(unknown) > 1 else ""))
        return req
    fits, nearest = [], []
    for cand in dict.fromkeys(candidates):
        req, unknown = _try_request(shapes, cand, body, source, w)
        nearest.append((len(unknown), cand))
        if not unknown:
            required = shapes.input(cand).required_members
            fits.append((all(k in body for k in required), req))
    complete = [r for ok, r in fits if ok] or [r for _, r in fits]
    if len(complete) == 1:
        return complete[0]
    if not complete:
        best = min(nearest)[1]
        try:
            return bind_request(shapes, body, source, best, candidates, w)
        except KBError as exc:
            if len(nearest) == 1:
                raise
            raise KBError(w("request_or_name_api", refused=str(exc), api=best, source=source)) from None
    raise KBError(w("request_ambiguous", source=source, apis=", ".join(r.api for r in complete)))
