"""Our Datasette plugin: canned queries from queries/*.sql, the bilingual home page, and a live
swap of the KB file when `ingest build` replaces it.

Installed through the `datasette` entry point, so `kb serve` and a plain `datasette kb.db` both
get it; everything applies to the database named `kb` only.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import sys
import threading
import weakref
from pathlib import Path
from urllib.parse import urlencode

import markupsafe
import yaml
from datasette import hookimpl
from datasette.database import Database
from datasette.utils.asgi import Response, asgi_static
from jinja2 import FileSystemLoader

from .query import closest, connect

DB_NAME = "kb"
LANGS = ("en", "ja")
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_ROUTE = "/-/kb/static/"
# Installed: kb/queries (pyproject maps queries/ there); from a checkout: the repository's queries/.
QUERIES = Path(os.environ.get("KB_QUERIES_DIR")
               or next((d for d in (HERE / "queries", HERE.parent / "queries") if d.is_dir()), HERE / "queries"))


# ---- canned queries -------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def load_queries(directory: Path = QUERIES) -> dict[str, dict]:
    """queries/<name>.sql with its titles and descriptions from queries/metadata.yml. A query
    without metadata (or metadata without a query) is a packaging mistake: fail at start-up."""
    meta = yaml.safe_load((directory / "metadata.yml").read_text(encoding="utf-8")) or {}
    files = {p.stem: p for p in sorted(directory.glob("*.sql"))}
    if set(files) != set(meta):
        raise RuntimeError(f"{directory}: queries and metadata.yml disagree: "
                           f"no metadata for {sorted(set(files) - set(meta))}, no .sql for {sorted(set(meta) - set(files))}")
    out = {}
    for name, path in files.items():
        m = meta[name]
        missing = [f"{k}.{lang}" for k in ("title", "description") for lang in LANGS if not (m.get(k) or {}).get(lang)]
        if "params" not in m:
            missing.append("params")
        if missing:
            raise RuntimeError(f"{directory / 'metadata.yml'}: {name} needs {', '.join(missing)}")
        out[name] = {
            "sql": path.read_text(encoding="utf-8").strip(),
            "params": list(m["params"]),
            "title": m["title"], "description": m["description"],
            "example": {k: str(v) for k, v in (m.get("example") or {}).items()},
        }
    return out


def _canned(query: dict) -> dict:
    """What Datasette shows on the query's page: both languages, the SQL visible."""
    t, d = query["title"], query["description"]
    description = markupsafe.Markup("").join(
        markupsafe.Markup('<p lang="{}">{}</p>').format(lang, d[lang]) for lang in LANGS)
    return {"sql": query["sql"], "params": query["params"], "title": f"{t['en']} · {t['ja']}",
            "description_html": str(description)}


@functools.lru_cache(maxsize=None)
def _all_canned() -> dict[str, dict]:
    return {name: _canned(q) for name, q in load_queries().items()}


@hookimpl
def canned_queries(datasette, database):
    # Asked on every canned-query request: built once (Datasette only adds each one's "name").
    if database == DB_NAME:
        return dict(_all_canned())


@hookimpl
def get_metadata(datasette, key, database, table):
    return {
        "title": "SageMaker execution roles · SageMaker 実行ロール",
        "databases": {DB_NAME: {
            "description": "What a SageMaker execution role needs, per API and condition, from AWS's "
                           "\"SageMaker roles\" page in English and Japanese (English prevails).",
            "source": "docs.aws.amazon.com: SageMaker roles",
            "source_url": "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html",
        }},
    }


async def run_query(db, name: str, **params) -> list[dict]:
    """Run a canned query's own SQL with bound parameters (missing ones are '', as Datasette does)."""
    query = load_queries()[name]
    values = {p: str(params.get(p, "")) for p in query["params"]}
    return [dict(r) for r in await db.execute(query["sql"], values)]


@hookimpl
def render_cell(value, column, database):
    # search.sql marks matches with ⟦…⟧; the text is escaped first, only the marks become markup.
    if database == DB_NAME and column == "snippet" and isinstance(value, str) and "⟦" in value:
        return markupsafe.Markup(str(markupsafe.escape(value)).replace("⟦", "<mark>").replace("⟧", "</mark>"))


# ---- pages ----------------------------------------------------------------------------------

@hookimpl
def prepare_jinja2_environment(env, datasette):
    # Datasette finds a plugin's templates only when the plugin is a package (Python >= 3.12 also
    # accepts a module); our entry point is a module, so the directory is added here.
    loaders = getattr(env.loader, "loaders", None)
    if loaders is not None and not any(getattr(l, "_kb", False) for l in loaders):
        loader = FileSystemLoader(str(TEMPLATES))
        loader._kb = True
        loaders.insert(1, loader)


@hookimpl
def register_routes(datasette):
    return [
        (r"^/$", home),
        (rf"^{STATIC_ROUTE}(?P<path>.+)$", asgi_static(STATIC)),
    ]


def _lang(request) -> str:
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    return "ja" if request.headers.get("accept-language", "").lower().startswith("ja") else "en"


def _web_url(url: str | None) -> str | None:
    """A link only to a web page: a URL from a downloaded page never becomes javascript:."""
    return url if url and url.startswith(("https://", "http://")) else None


async def home(datasette, request, send):
    """The form (API, its conditions, scoped) and its answer: the requirements table, the
    policy JSON and the notes, all from the same canned queries the JSON API serves."""
    if DB_NAME not in datasette.databases:
        # not a KB (`datasette other.db` where this package is installed): Datasette's own index
        from datasette.views.index import IndexView

        request.scope["url_route"] = {"kwargs": {"format": None}}  # what Datasette's own route captures
        return await IndexView.as_view(datasette)(request, send)
    lang = _lang(request)
    db = datasette.get_database(DB_NAME)
    apis = await run_query(db, "apis", lang=lang)
    asked = request.args.get("api", "").strip()
    api = next((a for a in apis if asked.lower() in (a["api"].lower(), a["doc_spelling"].lower())), None)
    suggestion = closest(asked, [a["api"] for a in apis]) if asked and not api else None
    conditions, chosen, rows = [], [], []
    scoped = request.args.get("scoped") == "1"
    if api:
        api["source_url"] = _web_url(api["source_url"])
        conditions = await run_query(db, "conditions", api=api["api"], lang=lang)
        valid = [c["key"] for c in conditions]
        picked = {k for v in request.args.getlist("conditions") for k in v.split(",")}
        chosen = [k for k in valid if k in picked]
        params = {"api": api["api"], "conditions": ",".join(chosen), "lang": lang, "scoped": "1" if scoped else "0"}
        rows = await run_query(db, "requirements", **params)
        previous = None
        for r in rows:
            r["href"] = _web_url(r["source_url"])
            r["first_of_statement"] = r["statement_id"] != previous  # the page's sentence once per statement
            previous = r["statement_id"]
    selection = {"api": api["api"] if api else asked, "conditions": ",".join(chosen), "scoped": "1" if scoped else ""}
    context = {
        "lang": lang, "apis": apis, "api": api, "asked_api": asked, "conditions": conditions, "chosen": chosen,
        "suggestion": suggestion and {"api": suggestion, "url": "/?" + urlencode({"api": suggestion, "lang": lang})},
        "scoped": scoped, "rows": rows, "notes": _notes(api, conditions, chosen, scoped, rows),
        "policy_json": json.dumps(policy_document(rows), indent=2, ensure_ascii=False) if rows else None,
        "json_url": _query_url(datasette, "requirements", dict(selection, lang=lang, scoped="1" if scoped else "0"),
                               json_api=True) if api else None,
        "switch": {other: "/?" + urlencode({k: v for k, v in dict(selection, lang=other).items() if v})
                   for other in LANGS},
        "queries": [{"name": name, "title": q["title"], "description": q["description"],
                     "url": _query_url(datasette, name, q["example"])} for name, q in load_queries().items()],
        "search_url": datasette.urls.database(DB_NAME) + "/search",
        "browse_url": datasette.urls.database(DB_NAME),
        "static": datasette.urls.path(STATIC_ROUTE),
    }
    return Response.html(await datasette.render_template("kb_home.html", context, request=request))


def _query_url(datasette, name: str, params: dict, json_api: bool = False) -> str:
    base = datasette.urls.database(DB_NAME) + f"/{name}" + (".json" if json_api else "")
    args = dict(params, _shape="array") if json_api else params
    return base + ("?" + urlencode(args) if args else "")


def _notes(api, conditions, chosen, scoped, rows) -> list[dict]:
    """What the reader must know beside the table; the template words them in either language."""
    if not api:
        return []
    notes = []
    if scoped and not api["has_scoped_variant"]:
        notes.append({"kind": "no_scoped_variant"})
    for c in conditions:
        if c["applies_to"] == "main policy" and c["key"] not in chosen:
            notes.append({"kind": "main_policy_condition", "key": c["key"], "label": c["label"]})
    unscoped = list(dict.fromkeys(r["action"] for r in rows if not r["resource_given"]))
    if unscoped:
        notes.append({"kind": "no_resource", "actions": unscoped})
    return notes


def policy_document(rows: list[dict]) -> dict:
    """The page's statements as one IAM policy, in the page's order (one row is one statement ×
    action × resource; a statement the page gives no Resource gets "*", flagged in the notes)."""
    statements: dict[int, dict] = {}
    for r in rows:
        st = statements.setdefault(r["statement_id"], {
            "Effect": r["effect"], "Action": [], "NotAction": [], "Resource": [],
            "Condition": json.loads(r["condition_block"]) if r["condition_block"] else None})
        actions = st["NotAction"] if r["negated"] else st["Action"]
        for value, into in ((r["action"], actions), (r["resource"], st["Resource"])):
            if value not in into:
                into.append(value)
    out = []
    for st in statements.values():
        item = {k: v for k, v in st.items() if v}
        item["Resource"] = st["Resource"][0] if len(st["Resource"]) == 1 else st["Resource"]
        out.append(item)
    return {"Version": "2012-10-17", "Statement": out}


# ---- live swap of a replaced KB file ---------------------------------------------------------

def file_signature(path) -> tuple:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


_threads = threading.local()


class LiveDatabase(Database):
    """A file database whose connections belong to this object, not to its name.

    Datasette keeps one connection per executor thread per database *name*; a database swapped
    in under the same name would go on reading the replaced file through them. Here each
    generation has its own, and a thread closes its older ones when it opens a newer one.
    """

    _generations = itertools.count(1)

    def __init__(self, ds, path, is_mutable: bool = False):
        super().__init__(ds, path=str(path), is_mutable=is_mutable)
        self.generation = next(self._generations)
        self.signature = file_signature(path)

    async def execute_fn(self, fn):
        if self.ds.executor is None:
            return await super().execute_fn(fn)

        def in_thread():
            conns = _threads.__dict__.setdefault("by_name", {}).setdefault(self.name, {})
            conn = conns.get(self.generation)
            if conn is None:
                conn = self.connect()
                self.ds._prepare_connection(conn, self.name)
                if conns and self.generation < max(conns):
                    # a request that began before a swap, running late: no handle kept on the old file
                    try:
                        return fn(conn)
                    finally:
                        conn.close()
                for old in list(conns):
                    conns.pop(old).close()  # this thread's own and idle: nobody else uses it
                conns[self.generation] = conn
            return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)


class Reloader:
    """Notices that the `kb` file was replaced (ingest writes a new file and os.replace()s it)
    and swaps in a database on the new file. A request keeps the database it started with; the
    new one is opened and checked before it is added, and the databases dict is replaced without
    an await in between, so no request ever finds no `kb`."""

    def __init__(self, datasette):
        self.ds_ref = weakref.ref(datasette)  # kept in a WeakKeyDictionary keyed by that Datasette
        self.swapping = False

    async def check(self) -> None:
        ds = self.ds_ref()
        db = ds.databases.get(DB_NAME) if ds is not None else None
        if self.swapping or db is None or db.is_memory or not db.path:
            return
        try:
            now = file_signature(db.path)
        except OSError:
            return  # gone, for now or for good: keep serving what is open
        if getattr(db, "signature", None) is None:
            db.signature = now  # a plain Database (`datasette kb.db`): its file as first seen
        if now == db.signature:
            return
        self.swapping = True
        try:
            # proved on a connection of its own: the new database's are opened once it serves
            await asyncio.get_running_loop().run_in_executor(None, lambda: connect(db.path).close())
            new = LiveDatabase(ds, db.path, is_mutable=db.is_mutable)
        except Exception as exc:  # not a KB: keep the old one, try again at the next replace
            db.signature = now
            print(f"kb: {db.path} was replaced by a file that is not a KB ({exc}); still serving the old one",
                  file=sys.stderr, flush=True)
            return
        finally:
            self.swapping = False
        ds.remove_database(DB_NAME)
        ds.add_database(new, name=DB_NAME)
        print(f"kb: {db.path} was replaced; now serving the new file", file=sys.stderr, flush=True)


_reloaders = weakref.WeakKeyDictionary()


@hookimpl
def asgi_wrapper(datasette):
    # One per Datasette: its in-process client and the server each wrap their own app.
    reloader = _reloaders.setdefault(datasette, Reloader(datasette))

    def wrap(app):
        async def app_with_reload(scope, receive, send):
            if scope["type"] == "http":
                await reloader.check()
            await app(scope, receive, send)

        return app_with_reload

    return wrap
