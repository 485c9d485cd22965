"""The canned queries refuse what the `kb` command refuses: /kb/<query>[.json|.csv] is checked here
first (kb/params.py: each parameter by the type queries/metadata.yml declares, with the checks the
CLI's commands use), and only a question the KB can answer goes on to Datasette's own page.

A refusal is a 400: in JSON Datasette's error object (`{"ok": false, "error": …, "status": 400}`)
with each problem (`problems`: param, value, error, suggestion); in CSV the sentence; in HTML a page
of Datasette's look with the same sentence, the query's form filled with what was asked (the
parameters at fault marked), a link with the suggested values and the query's example. The
sentence is the CLI's, in the question's language (the prevailing one when that is at fault).
"""

from __future__ import annotations

from urllib.parse import urlencode

from datasette.utils.asgi import Response

from .. import DB_NAME, canned, params, query
from ..query import Invalid


def route() -> tuple[str, object]:
    names = "|".join(sorted(canned.load_queries()))
    return rf"^/{DB_NAME}/(?P<name>{names})(\.(?P<format>\w+))?$", canned_query


async def canned_query(datasette, request, send):
    name, fmt = request.url_vars["name"], request.url_vars.get("format")
    try:
        db = datasette.get_database(DB_NAME)
    except KeyError:
        db = None
    if db is not None:
        args = {k: request.args.get(k) for k in request.args}
        try:
            await db.execute_fn(lambda conn: params.check(conn, name, args))
        except Invalid as exc:
            if fmt == "json":  # each problem named by the query's own parameter (`scoped`, not `flag`)
                body = exc.to_json()
                for problem in body["problems"]:
                    problem["param"] = exc.params.get(problem["param"], problem["param"])
                return Response.json(body, status=400)
            if fmt is not None:
                return Response.text(str(exc) + "\n", status=400)
            return await _page(datasette, db, request, name, args, exc)
    from datasette.views.table import TableView

    # what Datasette's own route would have captured: its page (or JSON, CSV) of the canned query
    request.scope["url_route"] = {"kwargs": {"database": DB_NAME, "table": name, "format": fmt}}
    return await TableView.as_view(datasette)(request, send)


async def _page(datasette, db, request, name: str, args: dict, exc: Invalid) -> Response:
    q = canned.load_queries()[name]
    words = await db.execute_fn(lambda conn: query.ui(conn, exc.lang))
    at_fault = {exc.params.get(p.param) for p in exc.problems}
    fixed = {exc.params[p.param]: p.suggestion for p in exc.problems if p.suggestion and p.param in exc.params}
    # a value at fault with nothing near it is left out of the link (empty: every one, the prevailing language)
    cleared = {p: "" for p in at_fault if p and p not in fixed}
    base = datasette.urls.database(DB_NAME) + f"/{name}"
    asked = {p: args.get(p) or "" for p in q["params"]}
    context = {
        "database": DB_NAME, "query_name": name, "lang": exc.lang, "t": words, "error": str(exc),
        "title": " · ".join(q["title"].values()), "form_action": base,
        "fields": [{"name": p, "value": asked[p], "invalid": p in at_fault} for p in q["params"]],
        "fixed_url": base + "?" + urlencode({**asked, **cleared, **fixed}) if fixed else None,
        "fixed": [f"{k}={v}" for k, v in fixed.items()],
        "example_url": base + "?" + urlencode(q["example"]),
    }
    html = await datasette.render_template("kb_refusal.html", context, request=request)
    return Response.html(html, status=400)
