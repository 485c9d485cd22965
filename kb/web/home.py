"""The home page: pick an API, its conditions, scoped or not, and read what the role needs.

Every answer comes from the functions the CLI calls (kb.query.requirements, kb.policy.compose),
run on Datasette's connection to the KB; every word from the KB's ui_text table (the lexicons).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from datasette.utils.asgi import Response

from .. import DB_NAME, canned, history, query, roles
from ..policy import compose
from ..query import KBError
from . import panel, tables

STATIC = Path(__file__).resolve().parent / "static"


def static_url(datasette, path: str) -> str:
    """Where Datasette serves this package's static/ (its plugin name is the distribution's when
    installed, the module's when registered by hand)."""
    from datasette.plugins import get_plugins

    name = next((p["name"] for p in get_plugins() if p.get("static_path") and Path(p["static_path"]) == STATIC),
                __package__)
    return datasette.urls.static_plugins(name, path)


def chosen_lang(request, codes: list[str], default: str) -> str:
    """The page's language: the one asked (?lang=) if a page of the KB is in it, else the browser's
    first that is, else the prevailing one."""
    asked = request.args.get("lang")
    if asked in codes:
        return asked
    accepted = [part.split(";")[0].strip().lower() for part in request.headers.get("accept-language", "").split(",")]
    return next((a[:2] for a in accepted if a[:2] in codes), default)


def _web_url(url: str | None) -> str | None:
    """A link only to a web page: a URL from a downloaded page never becomes javascript:."""
    return url if url and url.startswith(("https://", "http://")) else None


def rows_of(answer: dict) -> list[dict]:
    """The requirements answer as table rows: statement × action × resource, in the page's order
    (what the `requirements` canned query returns, row for row)."""
    rows, previous = [], None
    for st in answer["statements"]:
        for action, negated in [(a, False) for a in st["actions"]] + [(a, True) for a in st["not_actions"]]:
            for resource in dict.fromkeys(st["resources"]) if st["resources"] is not None else [None]:
                rows.append({
                    "statement_id": st["statement_id"], "effect": st["effect"], "action": action, "negated": negated,
                    "resource": resource, "resource_given": st["resources"] is not None,
                    "condition": st["requirement"]["condition"], "variant": st["requirement"]["variant"],
                    "heading": st["source"]["heading"], "href": _web_url(st["source"]["url"]),
                    "lang": st["source"]["lang"], "source_text": st["source"]["text"],
                    "first_of_statement": st["statement_id"] != previous,
                })
                previous = st["statement_id"]
    return rows


def _answer(conn, asked_lang: str | None, lang: str, asked: str, picked: list[str], scoped: bool) -> dict:
    """The choice (every role context of `lang`, roles.choices) and, when the question is one the KB
    can answer, its answer: kb requirements' and kb policy's. A question it cannot answer is refused
    with the CLI's sentence (kb.checks), in the page's language."""
    choices = roles.choices(conn, lang)
    out: dict = {"choices": choices, "api": None, "conditions": [], "chosen": [], "error": None, "fixed": None,
                 "rows": [], "notes": [], "policy_json": None, "answered": False, "answer_lang": lang}
    checker = query.Checker(conn, asked_lang, words=lang)
    by_name = {c["name"].lower(): c for c in choices}
    choice = by_name.get(asked.lower()) if asked else None
    if asked and choice is None:  # a page's own misspelling is accepted, as by the CLI; else its refusal
        name = checker.context(asked)
        choice = by_name.get(name.lower()) if name else None
    answer_lang = choice["lang"] if choice else lang
    inner = checker if answer_lang == checker.lang else query.Checker(conn, answer_lang, words=lang)
    inner.conditions(picked, choice["name"] if choice else None)
    if inner is not checker:
        checker.problems += inner.problems
    conditions = query.conditions(conn, choice["name"], answer_lang) if choice else []
    valid = [c["key"] for c in conditions]
    out.update(api=choice, conditions=conditions, chosen=[k for k in valid if k in picked], answer_lang=answer_lang)
    try:
        checker.done()
    except query.Invalid as exc:
        # the form's own parameters with the values the KB knows nearest to those asked
        fixed = {p.param: p.suggestion for p in exc.problems if p.param in ("api", "conditions") and p.suggestion}
        out.update(error=str(exc), fixed=fixed or None)
        return out
    if choice is None:
        return out
    name = choice["name"]
    answer = query.requirements(conn, name, out["chosen"], scoped, answer_lang)
    labels = {c["key"]: c["label"] for c in conditions}
    out["rows"] = [dict(r, condition_label=labels.get(r["condition"])) for r in rows_of(answer)]
    words = query.ui(conn, lang)
    shown = [{"kind": "prevailing_only", "text": words.get("note_prevailing_only", "").format(
        name=choice["label"], language=_language_name(conn, lang))}] if answer_lang != lang else []
    out.update(notes=shown + answer["notes"], variant=answer["variant"], answered=True,
               section=_section(conn, name, answer_lang, answer))
    try:
        policy = compose(conn, [name], out["chosen"], scoped=scoped, lang=answer_lang)["policy"]
        out["policy_json"] = json.dumps(policy, indent=2, ensure_ascii=False)
    except KBError:
        out["policy_json"] = None  # the page gives no statement to compose (a condition-only API)
    return out


def _language_name(conn, code: str) -> str:
    return next((x["name"] for x in query.languages(conn) if x["code"] == code), code)


def _section(conn, name: str, lang: str, answer: dict) -> dict:
    """The section that documents the context: an API's own permissions section, else the first
    section that answers (or that introduces one of its conditions)."""
    api = next((a for a in query.apis(conn, lang) if a["name"] == name and a["section_url"]), None)
    if api:
        return {"heading": api["heading"], "url": _web_url(api["section_url"])}
    sources = [s["source"] for s in answer["statements"]] or [c["source"] for c in query.conditions(conn, name, lang)]
    return {"heading": sources[0]["heading"], "url": _web_url(sources[0]["url"])} if sources else {}


def _page(conn, lang: str) -> dict:
    counts = {r[0]: r[1] for r in conn.execute("select lang, count(*) from page where is_current group by lang")}
    followed, others = history.last_changes(conn)
    return {"languages": query.languages(conn), "ui": query.ui(conn, lang), "page_counts": counts,
            "page_changes": followed, "pages_unchanged": others}


async def home(datasette, request, send):
    """The form (a role context, its conditions, scoped) and its answer: the requirements table,
    the policy JSON and the notes, from the same functions as `kb requirements` and `kb policy`;
    or the refusal `kb requirements` would give (a 400)."""
    if DB_NAME not in datasette.databases:
        # not a KB (`datasette other.db` where this package is installed): Datasette's own index
        from datasette.views.index import IndexView

        request.scope["url_route"] = {"kwargs": {"format": None}}  # what Datasette's own route captures
        return await IndexView.as_view(datasette)(request, send)
    db = datasette.get_database(DB_NAME)
    meta = await db.execute_fn(lambda conn: {"codes": query.page_languages(conn),
                                             "default": query.prevailing_language(conn)})
    lang = chosen_lang(request, meta["codes"], meta["default"])
    asked_lang = request.args.get("lang") or None
    asked = request.args.get("api", "").strip()
    picked = list(dict.fromkeys(k.strip() for v in request.args.getlist("conditions") for k in v.split(",")
                                if k.strip()))
    scoped = request.args.get("scoped") == "1"
    answer = await db.execute_fn(lambda conn: {**_answer(conn, asked_lang, lang, asked, picked, scoped),
                                               **_page(conn, lang)})
    api = answer["api"]
    selection = {"api": api["name"] if api else asked, "conditions": ",".join(answer["chosen"]),
                 "scoped": "1" if scoped else ""}
    queries = canned.load_queries()
    fixed = answer["fixed"]
    context = {
        **answer, "lang": lang, "t": answer["ui"], "asked_api": asked, "scoped": scoped,
        "apis": [c for c in answer["choices"] if c["kind"] == "api"],
        "features": [c for c in answer["choices"] if c["kind"] == "feature"],
        "fixed_url": fixed and "/?" + urlencode({k: v for k, v in {**selection, "lang": lang, **fixed}.items() if v}),
        "fixed_text": fixed and ", ".join(fixed.values()),
        "json_url": _query_url(datasette, "requirements", dict(selection, lang=answer["answer_lang"],
                                                               scoped="1" if scoped else "0"),
                               json_api=True) if answer["answered"] else None,
        "switch": [{"code": x["code"], "name": x["name"],
                    "url": "/?" + urlencode({k: v for k, v in dict(selection, lang=x["code"]).items() if v})}
                   for x in answer["languages"] if x["code"] in meta["codes"]],
        "queries": [{"name": name, "title": q["title"].get(lang) or q["title"]["en"],
                     "description": q["description"].get(lang) or q["description"]["en"],
                     "url": _query_url(datasette, name, q["example"])} for name, q in queries.items()],
        "search_url": datasette.urls.database(DB_NAME) + "/search",
        "pages_url": datasette.urls.table(DB_NAME, "page") + "?is_current=1",
        "browse_url": datasette.urls.database(DB_NAME),
        "css_url": static_url(datasette, "kb.css"), "js_url": static_url(datasette, "kb.js"),
        "panel_js_url": static_url(datasette, "policy-panel.js"),
        # the requirements as one table per section; the panel's words; the change log's feed
        "sections": tables.sections(answer["rows"]), **panel.context(answer["ui"]), "feed_url": "/-/changes.atom",
    }
    html = await datasette.render_template("kb_home.html", context, request=request)
    return Response.html(html, status=400 if answer["error"] else 200)


def _query_url(datasette, name: str, params: dict, json_api: bool = False) -> str:
    base = datasette.urls.database(DB_NAME) + f"/{name}" + (".json" if json_api else "")
    args = dict(params, _shape="array") if json_api else params
    return base + ("?" + urlencode(args) if args else "")
