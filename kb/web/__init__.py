"""Our Datasette plugin, one package (templates/, static/, one `datasette` entry point): the
canned queries from queries/*.sql, the bilingual home page, the policy and audit routes, the
schema's own descriptions as metadata, and a live swap of the KB file when it is replaced.

Installed through the `datasette` entry point, so `kb serve` and a plain `datasette kb.db` both
get it; everything applies to the database named `kb` only.
"""

from __future__ import annotations

import asyncio
import functools

import markupsafe
from datasette import hookimpl

from .. import DB_NAME, canned, schema
from . import bounds, budget, feed, headers, home, refusals, routes
from .datasette_pages import extra_css_urls  # noqa: F401  (a hook: pluggy finds it in this module)
from .live import reloader_of


def _canned(query: dict) -> dict:
    """What Datasette shows on the query's page: every language's title and description, the SQL
    folded away (hide_sql) so the form comes first."""
    t, d = query["title"], query["description"]
    description = markupsafe.Markup("").join(
        markupsafe.Markup('<p lang="{}">{}</p>').format(lang, text) for lang, text in d.items())
    return {"sql": query["sql"], "params": query["params"], "title": " · ".join(t.values()),
            "description_html": str(description), "hide_sql": query["hide_sql"]}


@functools.cache
def _all_canned() -> dict[str, dict]:
    return {name: _canned(q) for name, q in canned.load_queries().items()}


@hookimpl
def canned_queries(datasette, database):
    # Asked on every canned-query request: built once (Datasette only adds each one's "name").
    if database == DB_NAME:
        return dict(_all_canned())


@functools.lru_cache(maxsize=1)
def _tables() -> dict:
    return schema.table_docs()


@hookimpl
def get_metadata(datasette, key, database, table):
    return {
        "title": "SageMaker execution roles · SageMaker 実行ロール",
        "databases": {DB_NAME: {
            "description": "What a SageMaker execution role needs, per API and condition, from AWS's "
                           "documentation in English and its translations (English prevails).",
            "source": "docs.aws.amazon.com: Amazon SageMaker Developer Guide",
            "source_url": "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html",
            "tables": _tables(),
        }},
    }


# The page's own sentences: a few lines in a table cell (datasette-kb.css clamps .kb-long), the
# whole text in its title and in the JSON and CSV versions of the page.
PROSE_COLUMNS = {"source_text", "detail", "prevailing_text", "translation_text", "lead_text", "text", "body"}
LONG_TEXT = 160


@hookimpl
def render_cell(value, column, database):
    if database != DB_NAME or not isinstance(value, str):
        return None
    # search.sql marks matches with ⟦…⟧; the text is escaped first, only the marks become markup.
    if column == "snippet" and "⟦" in value:
        return markupsafe.Markup(str(markupsafe.escape(value)).replace("⟦", "<mark>").replace("⟧", "</mark>"))
    if column in PROSE_COLUMNS and len(value) > LONG_TEXT:
        return markupsafe.Markup('<span class="kb-long" title="{0}">{0}</span>').format(value)
    return None


@hookimpl
def register_routes(datasette):
    # the canned queries' own paths first: a question the KB cannot answer is refused as the CLI refuses it
    return [(r"^/$", home.home), refusals.route(), *routes.ROUTES, *feed.ROUTES]


@hookimpl
def prepare_connection(conn, database, datasette):
    bounds.limit(conn)  # no value over 256 KB, no result over 64 columns: `?sql=` cannot take the memory


@hookimpl
def startup(datasette):
    async def start_workers():
        await asyncio.to_thread(budget.warm)  # the forkserver of /-/policy and /-/audit's workers

    return start_workers


@hookimpl
def skip_csrf(datasette, scope):
    # JSON-only routes: a browser cannot POST application/json cross-site without CORS.
    return scope.get("type") == "http" and scope.get("path") in routes.JSON_POST_PATHS


@hookimpl
def asgi_wrapper(datasette):
    reloader = reloader_of(datasette)

    def wrap(app):
        secured = headers.secure(app)

        async def app_with_reload(scope, receive, send):
            if scope["type"] == "http":
                await reloader.check()
            await secured(scope, receive, send)

        return app_with_reload

    return wrap
