"""The home page: pick an API, its conditions, scoped or not, and read what the role needs.

Every answer comes from the functions the CLI calls (kb.query.requirements, kb.policy.compose),
run on Datasette's connection to the KB; every word from the KB's ui_text table (the lexicons).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from datasette.utils.asgi import Response

from .. import DB_NAME, canned, history, query
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


def _answer(conn, lang: str, asked: str, picked: set[str], scoped: bool) -> dict:
    apis = [a for a in query.apis(conn, lang) if a["documented"]]
    out: dict = {"apis": apis, "api": None, "conditions": [], "chosen": [], "unknown_conditions": [],
                 "suggestion": None, "rows": [], "notes": [], "policy_json": None}
    api = next((a for a in apis if asked.lower() in (a["name"].lower(), a["doc_spelling"].lower())), None)
    if asked and api is None:
        out["suggestion"] = query.closest(asked, [a["name"] for a in apis])
        return out
    if api is None:
        return out
    conditions = query.conditions(conn, api["name"], lang)
    valid = [c["key"] for c in conditions]
    out.update(api=api, conditions=conditions, chosen=[k for k in valid if k in picked],
               unknown_conditions=sorted(picked - set(valid)))
    answer = query.requirements(conn, api["name"], out["chosen"], scoped, lang)
    labels = {c["key"]: c["label"] for c in conditions}
    out["rows"] = [dict(r, condition_label=labels.get(r["condition"])) for r in rows_of(answer)]
    out["notes"] = answer["notes"]
    out["variant"] = answer["variant"]
    try:
        policy = compose(conn, [api["name"]], out["chosen"], scoped=scoped, lang=lang)["policy"]
        out["policy_json"] = json.dumps(policy, indent=2, ensure_ascii=False)
    except KBError:
        out["policy_json"] = None  # the page gives no statement to compose (a condition-only API)
    return out


def _page(conn, lang: str) -> dict:
    counts = {r[0]: r[1] for r in conn.execute("select lang, count(*) from page where is_current group by lang")}
    followed, others = history.last_changes(conn)
    return {"languages": query.languages(conn), "ui": query.ui(conn, lang), "page_counts": counts,
            "page_changes": followed, "pages_unchanged": others}


async def home(datasette, request, send):
    """The form (API, its conditions, scoped) and its answer: the requirements table, the
    policy JSON and the notes, from the same functions as `kb requirements` and `kb policy`."""
    if DB_NAME not in datasette.databases:
        # not a KB (`datasette other.db` where this package is installed): Datasette's own index
        from datasette.views.index import IndexView

        request.scope["url_route"] = {"kwargs": {"format": None}}  # what Datasette's own route captures
        return await IndexView.as_view(datasette)(request, send)
    db = datasette.get_database(DB_NAME)
    meta = await db.execute_fn(lambda conn: {"codes": [x["code"] for x in query.languages(conn)],
                                             "default": query.prevailing_language(conn)})
    lang = chosen_lang(request, meta["codes"], meta["default"])
    asked = request.args.get("api", "").strip()
    picked = {k for v in request.args.getlist("conditions") for k in v.split(",") if k}
    scoped = request.args.get("scoped") == "1"
    answer = await db.execute_fn(lambda conn: {**_answer(conn, lang, asked, picked, scoped), **_page(conn, lang)})
    api = answer["api"]
    selection = {"api": api["name"] if api else asked, "conditions": ",".join(answer["chosen"]),
                 "scoped": "1" if scoped else ""}
    queries = canned.load_queries()
    context = {
        **answer, "lang": lang, "t": answer["ui"], "asked_api": asked, "scoped": scoped,
        "suggestion": answer["suggestion"] and {
            "api": answer["suggestion"], "url": "/?" + urlencode({"api": answer["suggestion"], "lang": lang})},
        "json_url": _query_url(datasette, "requirements", dict(selection, lang=lang, scoped="1" if scoped else "0"),
                               json_api=True) if api else None,
        "switch": [{"code": x["code"], "name": x["name"],
                    "url": "/?" + urlencode({k: v for k, v in dict(selection, lang=x["code"]).items() if v})}
                   for x in answer["languages"]],
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
    return Response.html(await datasette.render_template("kb_home.html", context, request=request))


def _query_url(datasette, name: str, params: dict, json_api: bool = False) -> str:
    base = datasette.urls.database(DB_NAME) + f"/{name}" + (".json" if json_api else "")
    args = dict(params, _shape="array") if json_api else params
    return base + ("?" + urlencode(args) if args else "")
