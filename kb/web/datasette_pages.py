"""Datasette's own pages of the KB (canned queries, tables, SQL): our stylesheet on top of
Datasette's, so that their tables fit a 1,280 px screen and a phone. Applied to the database named
`kb` only; every rule is also scoped to Datasette's `db-kb` body class."""

from __future__ import annotations

from datasette import hookimpl

from .. import DB_NAME
from .home import static_url

STYLESHEET = "datasette-kb.css"


@hookimpl
def extra_css_urls(template, database, datasette):
    if database == DB_NAME and template != "kb_home.html":
        return [static_url(datasette, STYLESHEET)]
    return []
