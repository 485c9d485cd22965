"""`kb roles`, `kb caller`, `kb trust-policy`, `kb coverage`: roles across the whole guide."""

from __future__ import annotations

import json

import click

from . import roles as R
from .cli import _emit, _run, json_option, lang_option, page_option


@click.command()
@lang_option
@page_option
@json_option
@click.pass_obj
def roles(obj, lang, page, as_json):
    """The role contexts the pages document: the API whose request carries the role (and that member),
    or the feature a page documents; with their pages and conditions, and the APIs whose jobs run with
    that role without carrying one (used by)."""
    data = _run(lambda: R.roles(obj.conn(), lang, page))

    def text(d):
        for c in d:
            who = f"{c['api']}.{c['role_member']}" if c["api"] else f"{c['key']} ({c['feature']})"
            used = f"; used by: {', '.join(c['used_by'])}" if c["used_by"] else ""
            click.echo(f"{who}\n    pages: {', '.join(c['pages'])}; conditions: {', '.join(c['conditions']) or 'none'}"
                       f"{used}")

    _emit(data, as_json, text)


@click.command()
@click.argument("api")
@lang_option
@json_option
@click.pass_obj
def caller(obj, api, lang, as_json):
    """What the caller of API needs (the guide's API permissions table): always, and only if a request
    member is set. In another language than the table's, the table's words, with a note."""
    data = _run(lambda: R.caller(obj.conn(), api, lang))

    def text(d):
        click.echo(f"{d['api']}: {', '.join(d['actions'])}")
        for c in d["conditional"]:
            field = f" [{c['request_field']}]" if c["request_field"] else ""
            click.echo(f"  {c['action']} — {c['when']}{field}")
        click.echo(f"← {d['source']['page']}: {d['source']['heading']} [{d['source']['url']}]")
        for note in d["notes"]:
            click.echo(f"note: {note}", err=True)

    _emit(data, as_json, text)


@click.command("trust-policy")
@click.option("--service", default=None, metavar="PRINCIPAL",
              help="The service principal to trust (e.g. sagemaker-geospatial.amazonaws.com).")
@click.option("--api", default=None, metavar="API",
              help="The API the role is passed to: its kind of job's confused-deputy conditions, where a page documents them.")
@click.option("--region", default=None, help="Region for the conditions (aws:SourceArn).")
@click.option("--account", default=None, help="Account for the conditions (aws:SourceArn, aws:SourceAccount).")
@lang_option
@page_option
@json_option
@click.pass_obj
def trust_policy(obj, service, api, region, account, lang, page, as_json):
    """The trust policy of an execution role: the policy document itself on standard output (with or
    without --json, so `> trust.json` works), its page and notes on standard error."""
    data = _run(lambda: R.trust_policy(obj.conn(), lang, service, api, region, account, page))
    click.echo(json.dumps(data["policy"], indent=2, ensure_ascii=False))
    click.echo(f"← {data['source']['page']}: {data['source']['heading']} [{data['source']['url']}]", err=True)
    for note in data["notes"]:
        click.echo(f"note: {note}", err=True)


@click.command()
@page_option
@json_option
@click.pass_obj
def coverage(obj, page, as_json):
    """How much of each page's policy snippets the KB read: code blocks, policies by kind, execution-role
    policies tied to a role context, and what it could not place."""
    data = _run(lambda: R.coverage(obj.conn(), page))

    def text(d):
        for p in d["pages"]:
            if not p["policy_snippets"]:
                continue
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(p["kinds"].items()))
            click.echo(f"{p['page']} ({p['lang']}): {p['policy_snippets']} of {p['code_blocks']} code blocks are "
                       f"policies ({kinds}); {p['attributed']} execution-role attributed")
            for u in p["unattributed"]:
                click.echo(f"    line {u['line']}: {u['reason']}")
        t = d["totals"]
        click.echo(f"\n{t['pages']} pages, {t['code_blocks']} code blocks, {t['policy_snippets']} policies "
                   f"({', '.join(f'{k} {n}' for k, n in sorted(t['kinds'].items()))}), {t['attributed']} execution-role "
                   f"policies attributed to a role context, {t['unattributed']} policies not placed")

    _emit(data, as_json, text)
