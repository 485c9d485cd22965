"""`kb policy` and `kb audit`: thin click commands over kb.policy (loaded only when called)."""

from __future__ import annotations

import json
import sys

import click

from . import policy as P
from . import query
from .cli import _run, json_option, lang_option
from .policy.formats import FORMATS, render
from .policy.words import Words
from .query import KBError


def _read(path: str, what: str, w: Words):
    """A JSON/YAML file (or - for stdin), parsed; unreadable or malformed → one KBError line, in
    w's language (`what`: request, policy or manifest)."""
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as exc:
        raise KBError(w("file_unreadable", name=name, what=w(f"what_{what}"), reason=exc.strerror or exc)) from None
    except UnicodeDecodeError:
        raise KBError(w("file_not_utf8", name=name, what=w(f"what_{what}"))) from None
    if not text.strip():
        raise KBError(w("file_empty", name=name, what=w(f"what_{what}")))
    return P.parse_document(text, name, what, w), name


def _requests(specs: tuple[str, ...], w: Words) -> list[tuple[str | None, object, str]]:
    out: list[tuple[str | None, object, str]] = []
    for spec in specs:
        prefix, sep, path = spec.partition("=")
        api: str | None = prefix
        if not sep or "/" in prefix or prefix.startswith("."):
            api, path = None, spec  # a plain path (which may itself contain '=' after a '/')
        body, name = _read(path, "request", w)
        out.append((api or None, body, name))
    return out


request_option = click.option(
    "--request", "requests", multiple=True, metavar="[API=]FILE",
    help="A request body as boto3 or `aws … --cli-input-json|yaml` take it (JSON or YAML; - for stdin). "
         "Conditions are inferred from it and resources filled from it. Repeatable; prefix API= when "
         "the API cannot be told from the body.")
context_options = [
    click.option("--input-kms-key", "input_kms_keys", multiple=True, metavar="KEY",
                 help="KMS key (id, ARN or alias) your SSE-KMS input is encrypted with: adds kms_input, scoped to it."),
    click.option("--region", default=None, help="Region for key ids and the page's example ARNs "
                 "(default: from an ARN or image URI in the request)."),
    click.option("--account", default=None, help="Account for the same (default: from the request's role ARN)."),
    click.option("--kms-key-arn", "kms_key_arns", multiple=True, metavar="ALIAS=ARN",
                 help="The key ARN a KMS alias of the request stands for: grants on that key instead of on the "
                      "account's keys with a kms:ResourceAliases condition. Repeatable."),
    click.option("--manifest", "manifests", multiple=True, metavar="FILE",
                 help="A manifest file a ManifestFile channel names (its content): grants the objects it lists. "
                      "Repeatable."),
]


def _key_arns(pairs: tuple[str, ...], w: Words) -> dict[str, str]:
    out = {}
    for pair in pairs:
        alias, sep, arn = pair.partition("=")
        if not sep:
            raise KBError(w("kms_pair", pair=repr(pair)))
        out[alias.strip()] = arn.strip()
    return out


def _manifests(paths: tuple[str, ...], w: Words) -> list[tuple[object, str]]:
    return [_read(path, "manifest", w) for path in paths]


def _with(options):
    def deco(fn):
        for opt in reversed(options):
            fn = opt(fn)
        return fn
    return deco


@click.command()
@click.argument("apis", nargs=-1, metavar="[API...]")
@click.option("--condition", "conditions", multiple=True, help="Add a condition's statements (see `kb conditions API`).")
@click.option("--scoped", is_flag=True, help="The page's resource-scoped variant (implied by --request).")
@request_option
@_with(context_options)
@click.option("--explain", is_flag=True, help="Show each statement's page sentence and section URL, "
              "and where each resource came from.")
@click.option("--strict", is_flag=True, help="Exit with status 2 when a resource is a placeholder or the page's "
              "unscoped form because the request does not name it (the policy is printed all the same).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
              help="json: the permissions policy; role: one JSON with the trust policy, the permissions and the "
                   "caller's policy; cloudformation (YAML), terraform or cli: the same, ready to deploy. Over "
                   "IAM's size quotas the permissions are split into managed policies.")
@lang_option
@json_option
@click.pass_obj
def policy(obj, apis, conditions, scoped, requests, input_kms_keys, region, account, kms_key_arns, manifests,
           explain, strict, fmt, lang, as_json):
    """An IAM policy for a role passed to API(s): the page's statements, with the request's resources.

    Standard output is the policy document alone (the conditions used and the notes go to stderr),
    so `> policy.json` gives a file IAM accepts; --explain annotates each statement with its page
    sentence and request fields instead, and --explain --json prints {"policy", "explain", "notes"}."""
    def run():
        conn = obj.conn()
        w = Words(conn, lang or "")  # the files' problems in the question's language
        return P.compose(conn, list(apis), list(conditions), scoped=scoped, lang=lang,
                         requests=_requests(requests, w), input_kms_keys=list(input_kms_keys),
                         region=region, account=account, kms_key_arns=_key_arns(kms_key_arns, w),
                         manifests=_manifests(manifests, w))

    data = _run(run)
    if fmt == "json":
        _print_policy(data, explain, as_json, query.ui(obj.conn(), data["lang"]))
    else:  # the whole role's module only when asked for
        from .policy.role import whole_role
        role = _run(lambda: whole_role(obj.conn(), data, data["lang"]))
        click.echo(render(fmt, role), nl=False)
        for note in data["notes"] + role["notes"]:
            click.echo(f"note: {note}", err=True)
    if strict and data["unresolved"]:
        sys.exit(2)


def _print_policy(data: dict, explain: bool, as_json: bool, w: dict) -> None:
    if as_json:
        out = ({"policy": data["policy"], "conditions": data["conditions"], "explain": data["explain"],
                "notes": data["notes"]} if explain else data["policy"])
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        for note in data["notes"]:
            click.echo(f"note: {note}", err=True)
        return
    if explain:
        _print_explained(data, w)
        _print_header_notes(data, err=False, w=w)
    else:  # stdout stays one policy document (`> policy.json` works); the summary goes to the terminal
        click.echo(json.dumps(data["policy"], indent=2, ensure_ascii=False))
        _print_header_notes(data, err=True, w=w)


def _print_explained(data: dict, w: dict) -> None:
    click.echo('{\n  "Version": "2012-10-17",\n  "Statement": [')
    last = len(data["policy"]["Statement"]) - 1
    for i, (stmt, ex) in enumerate(zip(data["policy"]["Statement"], data["explain"])):
        body = json.dumps(stmt, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        click.echo("    " + body + ("," if i < last else ""))
        for s in ex["sources"]:
            what = s["condition"] or w["variant_default"]
            click.echo(click.style(f"      // {s['api']} · {what}: “{s['text']}”", fg="green"))
            click.echo(click.style(f"      //   {s['url']}", fg="green"))
        for r in ex["resources"]:
            if "field" in r:
                click.echo(click.style(f"      // {r['resource']} ← {r['request']}: {r['field']} = {r['value']}", fg="cyan"))
    click.echo("  ]\n}")


def _print_header_notes(data: dict, *, err: bool, w: dict) -> None:
    conds = "; ".join(f"{api}: " + (", ".join(f"{c['key']} ({c['why']})" for c in cs) or w["cli_none"])
                      for api, cs in data["conditions"].items())
    click.echo("\n# " + w["cli_policy_head"].format(variant=w[f"variant_{data['variant']}"], lang=data["lang"],
                                                   conditions=conds), err=err)
    for note in data["notes"]:
        click.echo(f"# {w['cli_note']}: {note}", err=err)


@click.command()
@click.argument("policy_files", nargs=-1, required=True, metavar="POLICY_FILE [POLICY_FILE...]")
@click.option("--api", "apis", multiple=True, help="An API the role is passed to (repeatable; without it, the "
              "APIs the --request files show).")
@click.option("--condition", "conditions", multiple=True, help="A condition that applies (repeatable).")
@request_option
@_with(context_options)
@click.option("--strict", is_flag=True, help="Exit with status 2 when anything is missing, in excess, or granted on "
              "resources broader than the request needs.")
@lang_option
@json_option
@click.pass_obj
def audit(obj, policy_files, apis, conditions, requests, input_kms_keys, region, account, kms_key_arns, manifests,
          strict, lang, as_json):
    """What the role's policies (JSON files; `aws iam get-role-policy` output too) lack or grant in excess."""
    def run():
        conn = obj.conn()
        w = Words(conn, lang or "")  # the files' problems in the question's language
        docs = [_read(f, "policy", w) for f in policy_files]
        return P.audit(conn, docs, list(apis), list(conditions), lang=lang, requests=_requests(requests, w),
                       input_kms_keys=list(input_kms_keys), region=region, account=account,
                       kms_key_arns=_key_arns(kms_key_arns, w), manifests=_manifests(manifests, w))

    data = _run(run)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _print_audit(data, query.ui(obj.conn(), data["lang"]))
    if strict and (data["missing"] or data["excess"] or data["broader"]):
        sys.exit(2)


def _print_audit(d: dict, w: dict) -> None:
    conds = "; ".join(f"{a}: {', '.join(c) or w['cli_none']}" for a, c in d["conditions"].items())
    click.echo(w["cli_audit_head"].format(apis=", ".join(d["apis"]), lang=d["lang"], conditions=conds))
    click.echo("\n" + w["panel_missing"].format(count=len(d["missing"])))
    for m in d["missing"]:
        res = f" on {m['resource']} ({m['from']})" if "resource" in m else ""
        click.echo(f"  {m['action']}{res}: {m['reason']}")
        if m.get("not_granted"):
            click.echo("    " + w["cli_not_granted"].format(count=len(m["not_granted"]),
                                                           examples=", ".join(m["not_granted"][:5])))
        if m.get("source"):  # the page's own sentence, in the language asked for
            quoted = f"「{m['source']['text']}」" if m['source']['lang'] == "ja" else f"“{m['source']['text']}”"
            click.echo(click.style(f"    {quoted} {m['source']['url']}", fg="green"))
    click.echo("\n" + w["panel_excess"].format(count=len(d["excess"])))
    for e in d["excess"]:
        listed = ", ".join(e["actions"][:8]) + (" …" if e["count"] > 8 else "") if "actions" in e else \
            ", ".join(f"{s} {n}" for s, n in list(e["by_service"].items())[:8]) + " …"
        click.echo("  " + w["cli_excess_entry"].format(pattern=e["pattern"], statement=e["statement"], count=e["count"],
                                                     listed=listed))
    labels = {"granted_on": w["panel_granted_on"], "needed_on": w["panel_needed_on"], "statement": w["panel_statement"],
              "page_resources": w["cli_page_resources"]}
    for key, title in (("broader", "cli_broader"), ("resource_notes", "panel_resource_notes"),
                       ("optional", "panel_optional"), ("unknown_actions", "panel_unknown")):
        if d[key]:
            click.echo("\n" + w[title].format(count=len(d[key])))
            for n in d[key]:
                what = ", ".join(n["actions"]) if "actions" in n else n["action"]
                click.echo(f"  {what}: {n['note']}")
                for k, label in labels.items():
                    if k in n:
                        click.echo(f"    {label}: {', '.join(n[k]) if isinstance(n[k], list) else n[k]}")
    if d["notes"]:
        click.echo("\n" + w["panel_notes"])
        for note in d["notes"]:
            click.echo(f"  {note}")
