"""Datasette routes for `kb policy` and `kb audit`: the same functions, JSON in, JSON out.

    GET  /-/policy?api=A&api=B&conditions=vpc,kms_output&lang=en&scoped=1[&region=&account=&explain=1]
    POST /-/policy   {"apis": [...], "conditions": [...], "request": {...} | "requests": [{"api", "body"}],
                      "input_kms_keys": [...], "region", "account", "lang", "scoped"}
    POST /-/audit    {"policy": {...} | [{...}, ...], "apis": [...], "conditions": [...], "request": {...}, ...}
    GET  /-/policy/options?lang=en   APIs and their conditions, for forms

POST bodies must be application/json (so a cross-site form cannot send one: that is why these
routes skip Datasette's CSRF token), at most MAX_BODY bytes and MAX_DEPTH deep; an audit checks
at most MAX_STATEMENTS statements (IAM's own size limits allow far fewer). Bad input is a 4xx
with {"error": "..."} naming the field; the database is the one Datasette calls `kb`.

/-/policy and /-/audit run in a child process under a time budget (kb/web/budget.py): over it,
503 {"error": …}; a client that leaves stops its work.
"""

from __future__ import annotations

import json

from datasette.utils.asgi import Response

from .. import DB_NAME, query, roles
from .. import policy as P
from ..limits import MAX_DEPTH, LimitError, check_value
from ..policy.formats import FORMATS, render
from ..policy.role import whole_role
from ..policy.words import Words
from ..query import Invalid, KBError
from . import budget

MAX_BODY = 256 * 1024
MAX_STATEMENTS = 200
JSON_POST_PATHS = ("/-/policy", "/-/audit")


class HTTPError(Exception):
    """A request refused before the KB is asked: its sentence is the lexicons' policy_<word>, said
    in the language the request asks (`_refused`)."""

    def __init__(self, status: int, word: str, **params):
        super().__init__(word)
        self.status, self.word, self.params = status, word, params


def _error(status: int, message: str) -> Response:
    return Response.json({"ok": False, "error": message, "status": status}, status=status)


def _refusal(exc: KBError) -> Response:
    """A KBError as a door answers it: an Invalid with its problems one by one, else its sentence."""
    if isinstance(exc, Invalid):
        return Response.json(exc.to_json(), status=400)
    if isinstance(exc, budget.ChildError):
        return Response.json(exc.body, status=exc.status)
    return _error(getattr(exc, "status", 400), str(exc))


async def _refused(datasette, request, exc: HTTPError, data: dict | None = None) -> Response:
    """An HTTPError in the language the request asks: ?lang=, else the body's "lang", else the
    prevailing language (a language the KB does not know gets the prevailing one's words too)."""
    asked = request.args.get("lang") or (data or {}).get("lang")
    try:
        db = datasette.get_database(DB_NAME)
    except KeyError:
        return _error(exc.status, Words.plain()(exc.word, **exc.params))
    lang = asked if isinstance(asked, str) else ""
    return _error(exc.status, await db.execute_fn(lambda conn: Words(conn, lang)(exc.word, **exc.params)))


async def _run(datasette, fn) -> Response:
    """Run fn(conn) on the KB's connection; KBError (the user's mistake) → 400."""
    try:
        db = datasette.get_database(DB_NAME)
    except KeyError:
        return _error(503, f"no database named {DB_NAME!r} is being served")
    try:
        return Response.json(await db.execute_fn(fn))
    except KBError as exc:
        return _refusal(exc)


async def _json_body(request) -> dict:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise HTTPError(415, "http_not_json_type")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise HTTPError(413, "http_body_too_large_bytes", limit=MAX_BODY)
    body, more = b"", True
    while more:  # read in chunks and stop at the limit, whatever Content-Length claimed
        message = await request.receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_BODY:
            raise HTTPError(413, "http_body_too_large_bytes", limit=MAX_BODY)
    try:
        data = json.loads(body)
        check_value(data, max_depth=MAX_DEPTH)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPError(400, "http_body_not_json", reason=exc) from None
    except RecursionError:
        raise HTTPError(400, "http_body_too_deep_levels", limit=MAX_DEPTH) from None
    except LimitError as exc:  # its kind and unit name the word, as for a document (kb/policy/documents.py)
        raise HTTPError(400 if exc.kind == "too_deep" else 413, f"http_body_{exc.kind}_{exc.unit}",
                        limit=exc.limit) from None
    if not isinstance(data, dict):
        raise HTTPError(400, "http_body_not_object")
    return data


def _list(value, name: str) -> list[str]:
    """A list of strings from a JSON list, or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise HTTPError(400, "http_list_of_strings", name=name)


def _args(data: dict) -> dict:
    """The shared arguments of both functions, checked."""
    apis = _list(data.get("apis"), "apis") + _list(data.get("api"), "api")
    if not apis:
        raise HTTPError(400, "http_need_api")
    lang = data.get("lang") or None
    if lang is not None and not isinstance(lang, str):
        raise HTTPError(400, "http_lang_code")
    requests = []
    if data.get("request") is not None:
        requests.append((_api_name(data.get("request_api"), "request_api"), _body(data["request"], "request"),
                         "request"))
    extra = data.get("requests") or []
    if not isinstance(extra, list):
        raise HTTPError(400, "http_requests_list")
    for i, item in enumerate(extra):
        if not isinstance(item, dict) or "body" not in item:
            raise HTTPError(400, "http_requests_item", i=i)
        requests.append((_api_name(item.get("api"), f"requests[{i}].api"), _body(item["body"], f"requests[{i}].body"),
                         f"requests[{i}]"))
    for key in ("region", "account"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise HTTPError(400, "http_must_be_string", name=key)
    return {"apis": apis, "conditions": _list(data.get("conditions"), "conditions")
            + _list(data.get("condition"), "condition"), "lang": lang, "requests": requests,
            "input_kms_keys": _list(data.get("input_kms_keys"), "input_kms_keys"),
            "region": data.get("region"), "account": data.get("account")}


def _api_name(value, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise HTTPError(400, "http_api_name_type", name=name, value=f"{value!r:.40}")
    return value


def _body(value, name: str):
    if not isinstance(value, dict | str):
        raise HTTPError(400, "http_request_body_type", name=name)
    return value


def _truthy(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"))


def compose_job(conn, args: dict) -> dict:
    """What a /-/policy request asks, run in its worker (kb/web/budget.py): the policy, and the
    whole role in each of `kb policy --format`'s forms (the panel's downloads)."""
    data = P.compose(conn, args["apis"], args["conditions"], scoped=args["scoped"], lang=args["lang"],
                     requests=args["requests"], input_kms_keys=args["input_kms_keys"],
                     region=args["region"], account=args["account"])
    try:
        role = whole_role(conn, data, data["lang"])
    except KBError as exc:  # a KB without the guide's trust or caller pages: the policy alone
        data["formats"], data["role_notes"] = {}, [str(exc)]
        return data
    data["formats"] = {fmt: render(fmt, role) for fmt in FORMATS if fmt != "json"}
    data["role_notes"] = role["notes"]  # the notes of the policy stay the library's (one answer)
    return data


def audit_job(conn, args: dict) -> dict:
    docs = args["docs"]
    named = [(d, f"policy[{i}]" if len(docs) > 1 else "policy") for i, d in enumerate(docs)]
    return P.audit(conn, named, args["apis"], args["conditions"], lang=args["lang"], requests=args["requests"],
                   input_kms_keys=args["input_kms_keys"], region=args["region"], account=args["account"])


async def _bounded(datasette, request, job, args: dict) -> Response:
    """job(conn, args) in a worker within the server's budget; every failure is JSON."""
    try:
        db = datasette.get_database(DB_NAME)
    except KeyError:
        return _error(503, f"no database named {DB_NAME!r} is being served")
    try:
        result = await budget.run(job, args, str(db.path), budget=getattr(datasette, "kb_budget", budget.DEFAULT_BUDGET_S),
                                  receive=getattr(request, "receive", None))
    except budget.OverBudget as exc:
        return _error(exc.status, str(exc))
    except KBError as exc:
        return _refusal(exc)
    return Response.json(result)


def _statements(doc) -> int:
    """How many statements a policy document (or get-role-policy output) holds, as audit reads it."""
    if isinstance(doc, dict):
        version = doc.get("PolicyVersion")
        inner = doc.get("PolicyDocument") or (version.get("Document") if isinstance(version, dict) else None)
        if inner is not None:
            return _statements(inner)
        st = doc.get("Statement")
        return len(st) if isinstance(st, list) else 1
    if isinstance(doc, str):
        from urllib.parse import unquote

        try:
            return _statements(json.loads(unquote(doc)))
        except (ValueError, RecursionError):
            return 1  # not JSON: audit says so
    return 1


async def policy_route(request, datasette):
    data: dict | None = None
    try:
        if request.method == "GET":
            q = request.args
            data = {"apis": [a for v in q.getlist("api") for a in _list(v, "api")],
                    "conditions": [c for v in q.getlist("conditions") + q.getlist("condition") for c in _list(v, "c")],
                    "lang": q.get("lang"), "region": q.get("region"), "account": q.get("account"),
                    "input_kms_keys": q.getlist("input_kms_key")}
            scoped = _truthy(q.get("scoped"))
        elif request.method == "POST":
            data = await _json_body(request)
            scoped = _truthy(data.get("scoped"))
        else:
            raise HTTPError(405, "http_method_policy")
        args = {**_args(data), "scoped": scoped}
    except HTTPError as exc:
        return await _refused(datasette, request, exc, data)
    return await _bounded(datasette, request, compose_job, args)


async def audit_route(request, datasette):
    data: dict | None = None
    try:
        if request.method != "POST":
            raise HTTPError(405, "http_method_audit")
        data = await _json_body(request)
        args = _args(data)
        docs = data.get("policy", data.get("policies"))
        if docs is None:
            raise HTTPError(400, "http_audit_needs_policy")
        docs = docs if isinstance(docs, list) else [docs]
        count = sum(_statements(d) for d in docs)
        if count > MAX_STATEMENTS:
            raise HTTPError(413, "http_audit_too_many", count=count, limit=MAX_STATEMENTS)
    except HTTPError as exc:
        return await _refused(datasette, request, exc, data)
    return await _bounded(datasette, request, audit_job, {**args, "docs": docs})


async def options_route(request, datasette):
    """Every role context the home page offers (kb.roles.choices: the APIs, then the features guide
    pages document), each with the language whose pages answer it and its conditions, labelled in
    the language asked where the lexicon has a label."""
    asked = request.args.get("lang") or None

    def fn(conn):
        lang = query.check_lang(conn, asked)
        out, headings = [], {}
        for c in roles.choices(conn, lang):
            if c["lang"] not in headings:
                headings[c["lang"]] = {a["name"]: a["heading"] for a in query.apis(conn, c["lang"])}
            conds = query.conditions(conn, c["name"], c["lang"])
            out.append({**c, "heading": headings[c["lang"]].get(c["name"]),
                        "conditions": [{"key": x["key"], "label": x["labels"].get(lang) or x["label"]} for x in conds]})
        return {"lang": lang, "prevailing": query.prevailing_language(conn), "apis": out}

    return await _run(datasette, fn)


ROUTES = [
    (r"^/-/policy$", policy_route),
    (r"^/-/audit$", audit_route),
    (r"^/-/policy/options$", options_route),
]
