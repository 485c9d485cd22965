"""`kb`: ask the knowledge base. Thin: parsing and printing; the answers come from kb.query."""

from __future__ import annotations

import json
import sys

import click

from . import __version__, default_db, query
from .cli_errors import Count, Number, fail
from .lazy_group import LazyGroup
from .query import KBError


class _Ctx:
    def __init__(self, db: str):
        self.db = db

    def conn(self):
        return query.connect(self.db)


def _run(fn):
    """Turn a KBError into one line on stderr (`{"error": …}` with --json) and exit 1: no traceback
    for a user's mistake."""
    try:
        return fn()
    except KBError as exc:
        fail("kb", str(exc), error=exc)


def _emit(data, as_json: bool, text_fn) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        text_fn(data)


@click.group(name="kb", cls=LazyGroup, lazy={
    "policy": "kb.cli_policy:policy",
    "audit": "kb.cli_policy:audit",
    "changes": "kb.cli_history:changes",
    "timeline": "kb.cli_history:timeline",
    "roles": "kb.cli_roles:roles",
    "caller": "kb.cli_roles:caller",
    "trust-policy": "kb.cli_roles:trust_policy",
    "coverage": "kb.cli_roles:coverage",
})
@click.version_option(__version__, prog_name="kb", message="%(prog)s %(version)s")
@click.option("--db", default=lambda: str(default_db()), show_default="data/kb.db or $KB_DB",
              help="Knowledge base file.")
@click.pass_context
def main(ctx, db):
    """What a SageMaker execution role needs, from AWS's documentation."""
    ctx.obj = _Ctx(db)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
lang_option = click.option("--lang", default=None, metavar="LANG",
                           help="Which language's page answers: a language of the KB (en, ja, …; default: the "
                                "prevailing one, English, which the translations say prevails).")
page_option = click.option("--page", default=None, metavar="NAME",
                           help="Answer from this page only (its name in the source list, e.g. sagemaker-roles; "
                                "default: every page).")


@main.command()
@click.argument("api")
@click.option("--condition", "conditions", multiple=True, help="Add a condition's statements (see `kb conditions API`).")
@click.option("--scoped", is_flag=True, help="Use the page's resource-scoped variant of the main policy.")
@lang_option
@page_option
@json_option
@click.pass_obj
def requirements(obj, api, conditions, scoped, lang, page, as_json):
    """The permissions the role needs for API (or a feature context from `kb roles`): what every page
    documenting it says, each statement citing its page."""
    data = _run(lambda: query.requirements(obj.conn(), api, list(conditions), scoped, lang, page))

    def text(d):
        w = query.ui(obj.conn(), d["lang"])
        conds = ", ".join(c["key"] for c in d["conditions"]) or w["cli_none"]
        click.echo(w["cli_requirements_head"].format(api=d["api"], lang=d["lang"], variant=w[f"variant_{d['variant']}"],
                                                     conditions=conds, pages=", ".join(d["pages"]) or w["cli_none"]))
        for s in d["statements"]:
            res = ", ".join(s["resources"]) if s["resources"] is not None else w["no_resource"]
            click.echo("\n  " + w["cli_effect_on"].format(effect=s["effect"], resources=res))
            for a in s["actions"]:
                click.echo(f"    {a}")
            click.echo(f"  ← {s['source']['page']}: {s['source']['heading']} [{s['source']['url']}]")
            click.echo(f"    “{s['source']['text']}”")
        for n in d["notes"]:
            hint = f" (--condition {n['condition']})" if n["kind"] == "main_policy_condition" else ""
            click.echo(f"\n{w['cli_note']}: {n['text']}{hint}")

    _emit(data, as_json, text)


@main.command(name="conditions")
@click.argument("api")
@lang_option
@page_option
@json_option
@click.pass_obj
def conditions_cmd(obj, api, lang, page, as_json):
    """The conditions the pages document for API."""
    data = _run(lambda: query.conditions(obj.conn(), api, lang, page))

    def text(d):
        for c in d:
            click.echo(f"{c['key']:<12} {c['label']}  — “{c['source']['text']}”")
        if not d:  # said, not an empty screen
            conn = obj.conn()
            click.echo(query.ui(conn, query.check_lang(conn, lang))["cli_no_conditions"].format(api=api))

    _emit(data, as_json, text)


@main.command()
@click.option("--passrole", is_flag=True, help="Only the APIs the page says the role is passed to.")
@lang_option
@page_option
@json_option
@click.pass_obj
def apis(obj, passrole, lang, page, as_json):
    """APIs the pages name: those whose role's permissions they document, and the iam:PassRole list."""
    data = _run(lambda: query.apis(obj.conn(), lang, passrole, page))

    def text(d):
        for a in d:
            flags = ("passes role" if a["passes_role"] else "") + (", documented" if a["documented"] else "")
            typo = f"  (page spells it {a['doc_spelling']})" if a["doc_spelling"] != a["name"] else ""
            click.echo(f"{a['name']:<32} {flags.strip(', ')}{typo}")

    _emit(data, as_json, text)


@main.command(name="scoping")
@click.argument("api")
@lang_option
@page_option
@json_option
@click.pass_obj
def scoping_cmd(obj, api, lang, page, as_json):
    """Which request fields the page says API's resources are scoped to."""
    data = _run(lambda: query.scoping(obj.conn(), api, lang, page))

    def text(d):
        for r in d:
            mark = "" if r["in_api_model"] in (True, None) else "  ✗ not in the API model" + (
                f" (use {r['suggested_field']})" if r["suggested_field"] else "")
            click.echo(f"{', '.join(r['actions'])}\n    → {r['request_api'] or '-'}: {r['field'] or '(no field named)'}{mark}")

    _emit(data, as_json, text)


@main.command()
@click.option("--lang", default=None, metavar="LANG", help="Only this language's page.")
@click.option("--kind", default=None, help="Only findings of this kind (invalid_json, drift, …; an unknown one is "
              "refused with the kinds there are).")
@click.option("--history", is_flag=True, help="Include findings in older revisions.")
@click.option("--strict", is_flag=True, help="Exit with status 2 when a finding has severity error (for CI).")
@page_option
@json_option
@click.pass_obj
def check(obj, lang, kind, history, strict, page, as_json):
    """Errors in the docs themselves: typos, fields not in the API model, bad JSON, drift, pages that disagree."""
    data = _run(lambda: query.findings(obj.conn(), lang, history, kind, page))

    def text(d):
        for f in d:
            where = f"{f['lang']} {f['section'] or ''}" + (f":{f['line']}" if f["line"] else "")
            click.echo(f"{f['severity']:<7} {f['kind']:<22} {f['subject']}\n        {f['detail']}  [{where}]")

    _emit(data, as_json, text)
    if strict and any(f["severity"] == "error" for f in data):
        sys.exit(2)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8001, show_default=True, type=Count(min=0, max=65535), help="Port to listen on.")
@click.option("--budget", type=Number(min=0.1), default=10.0, show_default=True,
              help="Seconds one /-/policy or /-/audit request may take before it is stopped (503).")
@click.pass_obj
def serve(obj, host, port, budget):
    """Serve the KB with Datasette (web UI, canned queries, JSON API)."""
    from .serve import serve as run

    _run(lambda: run(obj.db, host, port, budget))
