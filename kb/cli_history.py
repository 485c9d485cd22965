"""`kb changes` and `kb timeline`: what changed on the page, and since when a fact exists."""

from __future__ import annotations

import click

from . import history as changelog
from .cli import _emit, _run, json_option


@click.command()
@click.option("--since", default=None, metavar="DATE", help="Only changes dated on or after DATE (YYYY-MM-DD; "
              "a date that is not one is refused).")
@click.option("--lang", default=None, metavar="LANG", help="Only this language's page.")
@click.option("--page", "page_key", default=None, help="Only this page (page key, e.g. sagemaker-roles).")
@click.option("--kind", default=None, help="Only changes of this kind (action_added, api_*, …; an unknown one is "
              "refused with the kinds there are).")
@json_option
@click.pass_obj
def changes(obj, since, lang, page_key, kind, as_json):
    """What changed between versions of the page: dated revisions, refreshes, rebuilds."""
    data = _run(lambda: changelog.changes(obj.conn(), since, lang, page_key, kind))

    def text(d):
        if not d["transitions"] and not d["runs"]:
            click.echo("no changes" + (f" since {d['since']}" if d["since"] else ""))
        for t in d["transitions"]:
            click.echo(f"{t['to']['date']}  {t['page_key']} ({t['lang']})  {t['from']['label']} → {t['to']['label']}"
                       f"  [{t['origin']}{' #' + str(t['run_id']) if t['run_id'] else ''}]")
            if not t["changes"]:
                click.echo("    (the text changed; no fact did)")
            for line in changelog.summarize(t["changes"]):
                click.echo(f"    {line}")
        if d["runs"]:
            click.echo("refresh runs:")
        for r in d["runs"]:
            pages = ", ".join(f"{p['lang']} {p['status']}" + (f" ({p['reason']})" if p["status"] == "failed" else "")
                              for p in r["pages"])
            click.echo(f"  {r['finished_at']}  {r['command']} #{r['id']}: {r['status']}; {pages or 'no page'}")

    _emit(data, as_json, text)


@click.command()
@click.argument("subject")
@click.option("--condition", default=None, help="With an API: the condition's additions (vpc, kms_output, …).")
@click.option("--lang", default=None, metavar="LANG", help="Which language's versions (default: the prevailing one).")
@click.option("--page", "page_key", default=None, help="Page key, when the KB holds several pages.")
@json_option
@click.pass_obj
def timeline(obj, subject, condition, lang, page_key, as_json):
    """Since when the page states SUBJECT: an API, an API's condition (--condition), or an action
    (service:Name). One line per version, dated revisions then the current page."""

    data = _run(lambda: changelog.timeline(obj.conn(), subject, condition, lang, page_key))

    def text(d):
        title = d["subject"] + (f" --condition {d['condition']}" if d["condition"] else "")
        click.echo(f"{title}  ({d['page_key']}, {d['lang']})")
        for v in d["versions"]:
            mark = "present" if v["present"] else "absent "
            click.echo(f"  {v['date'][:10]}  {v['label']:<20} {mark}  {_detail(d, v)}")
        first, last = d["first_seen"], d["last_changed"]
        if first is None:
            click.echo("never present")
            return
        since = f"first seen {first['date'][:10]} ({first['label']})"
        if d["absent_before"]:
            since += f", absent in {d['absent_before']['label']}"
        elif d["in_oldest_version"]:
            since += ", the oldest version here: it may be older"
        click.echo(f"{since} · last changed {last['date'][:10]} ({last['label']}) · "
                   + ("present now" if d["present_now"] else "absent now"))

    _emit(data, as_json, text)


def _detail(d: dict, v: dict) -> str:
    if not v["present"]:
        return ""
    if d["kind"] == "action":
        return "required by " + ", ".join(v["apis"])
    if d["condition"]:
        return ", ".join(v["actions"]) if len(v["actions"]) <= 3 else f"{len(v['actions'])} actions"
    role = "passed the role (iam:PassRole)" if v["passes_role"] else ""
    if not v["documented"]:
        return role + "; no permissions section"
    return f"{v['actions']} actions over its policies; conditions: {', '.join(v['conditions']) or 'none'}" + (
        f"; {role}" if role else "")
