"""The whole role around a composed permissions policy: its trust policy (the one the guide prints
for the kind of job, confused-deputy conditions filled with the request's region and account), the
caller's statement (the caller table's actions for each API, on the resource the request creates,
and iam:PassRole on the role, conditioned the way the guide's caller policies condition it), and
IAM's size quotas (ingest/facts/iam.toml policy_limits): over them, the statements split into
managed policies."""

from __future__ import annotations

import json
import re

from .. import roles
from ..linear import Pattern, compile_linear
from ..query import KBError
from .arns import Context, _fill, value_to_arn
from .catalogue import Catalogue
from .words import Words

_VAR = re.compile(r"\$\{(\w+)\}")


def whole_role(conn, composed: dict, lang: str) -> dict:
    """{"role_name", "trust_policy", "permissions": [{"name", "document"}], "managed": bool,
    "caller_policy", "sources", "notes"} for a compose() result."""
    cat, w = Catalogue(conn), Words(conn, lang)
    ctx = Context(**{k: composed["context"][k] for k in ("partition", "region", "account")})
    notes: list[str] = []
    role_arns = _role_arns(cat, composed["requests"], ctx)
    api = next((a for a in composed["apis"] if _has_role(conn, a)), composed["apis"][0])
    try:
        trust = roles.trust_policy(conn, lang=lang, api=api, region=ctx.region, account=ctx.account)
    except KBError:  # no page of this language prints one: the prevailing language's pages do
        trust = roles.trust_policy(conn, lang=None, api=api, region=ctx.region, account=ctx.account)
    notes += trust["notes"]
    caller, caller_sources = _caller(conn, cat, composed, role_arns, trust["principals"], ctx, w, notes)
    permissions, managed = split(cat, composed["policy"], _name(role_arns, composed["apis"]), w, notes)
    return {"role_name": _role_name(role_arns), "role_path": _role_path(role_arns),
            "trust_policy": trust["policy"], "permissions": permissions, "managed": managed,
            "caller_policy": caller, "sources": {"trust": trust["source"], "caller": caller_sources},
            "texts": {"description": w("role_description", apis=", ".join(composed["apis"])),
                      "caller": w("caller_attach")},
            "notes": notes}


def _has_role(conn, api: str) -> bool:
    return conn.execute("select 1 from role_context where api_name = ? and role_member is not null",
                        [api]).fetchone() is not None


def _role_arns(cat: Catalogue, requests: list[dict], ctx: Context) -> list[str]:
    """The role ARNs the requests pass: top-level values iam:PassRole's ARN format takes."""
    formats = [_pattern(f) for f in cat.arn_formats("iam:PassRole")]
    out = []
    for r in requests:
        for value in r["names"].values():
            if any(rx.match(value) for rx in formats) and value not in out:
                out.append(value)
    return out


def _pattern(fmt: str) -> Pattern:
    """An ARN format as a linear-time pattern: its literal parts, each ${Var} a run of characters
    (the last one anything: a role's name carries its path)."""
    parts = _VAR.split(fmt)
    body = "".join(re.escape(p) if i % 2 == 0 else ".+" if i == len(parts) - 2 else "[^:]*"
                   for i, p in enumerate(parts))
    return compile_linear("^" + body + "$", capture=False, where=f"ARN format {fmt}")


def _role_name(role_arns: list[str]) -> str | None:
    return role_arns[0].rsplit("/", 1)[-1] if len(role_arns) == 1 else None


def _role_path(role_arns: list[str]) -> str:
    if len(role_arns) != 1:
        return "/"
    resource = role_arns[0].split(":", 5)[5]
    return "/" + "/".join(resource.split("/")[1:-1]) + "/" if resource.count("/") > 1 else "/"


def _name(role_arns: list[str], apis: list[str]) -> str:
    return _role_name(role_arns) or "-".join(apis)


def _caller(conn, cat: Catalogue, composed: dict, role_arns: list[str], principals: list[str], ctx: Context,
            w: Words, notes: list[str]) -> tuple[dict, list[dict]]:
    """The caller's statement: per API the caller table's actions (those "required only if" a
    member is set, when the request sets it) on the resource the request names."""
    passrole = cat.lookup("iam:PassRole") or "iam:PassRole"
    by_resource: dict[tuple[str, str], list[str]] = {}  # (resource, condition JSON) → actions
    sources = []
    requests = composed["requests"] or [{"api": a, "names": {}, "fields": []} for a in composed["apis"]]
    for r in requests:
        try:
            table = roles.caller(conn, r["api"])
        except KBError:
            notes.append(w("caller_unknown", api=r["api"]))
            continue
        sources.append(table["source"])
        wanted = [(a, None) for a in table["actions"]]
        wanted += [(c["action"], c["request_field"]) for c in table["conditional"] if c["request_field"] in r["fields"]]
        for action, member in wanted:
            if action.lower() == passrole.lower():
                continue
            made = value_to_arn(cat, action, r["values"][member], True, ctx) if member else None
            key = (made.arn, json.dumps(made.condition, sort_keys=True)) if made else \
                (_resource(cat, action, r["names"], ctx), "null")
            if action not in by_resource.get(key, []):
                by_resource.setdefault(key, []).append(action)
    statements: list[dict] = []
    used: dict[str, int] = {}
    for (res, cond), acts in sorted(by_resource.items()):
        sid = "Caller" + "".join(sorted({a.partition(":")[0].title() for a in acts}))
        used[sid] = used.get(sid, 0) + 1
        sid += str(used[sid]) if used[sid] > 1 else ""
        stmt = {"Sid": sid, "Effect": "Allow", "Action": sorted(acts, key=str.lower), "Resource": [res]}
        if json.loads(cond):
            stmt["Condition"] = json.loads(cond)
        statements.append(stmt)
    pass_stmt: dict = {"Sid": "CallerPassesTheRole", "Effect": "Allow", "Action": [passrole],
                       "Resource": role_arns or ["*"]}
    condition = _passrole_condition(conn, passrole, principals)
    if condition:
        pass_stmt["Condition"] = condition
    if not role_arns:
        notes.append(w("caller_no_role"))
    return {"Version": composed["policy"]["Version"], "Statement": [*statements, pass_stmt]}, sources


def _resource(cat: Catalogue, action: str, names: dict[str, str], ctx: Context) -> str:
    """The resource the request creates, from the action's ARN format, its ${Name} from the request
    member of that name ("*" where the request has none)."""
    for fmt in cat.arn_formats(action):
        filled = _fill(fmt, names, ctx)
        if filled:
            return filled
    return "*"


def _passrole_condition(conn, passrole: str, principals: list[str]) -> dict | None:
    """The Condition the guide's caller policies put on iam:PassRole, naming the service the role
    is passed to (the trust policy's principals) instead of theirs."""
    rows = conn.execute("select parsed_json from snippet sn join page p on p.id = sn.page_id "
                        "where p.is_current and sn.kind = 'caller' and sn.parsed_json is not null order by sn.page_id, sn.id")
    for (text,) in rows:
        for st in _statements_of(json.loads(text)):
            if not isinstance(st.get("Condition"), dict):
                continue
            acts = st.get("Action")
            if passrole.lower() not in {a.lower() for a in ([acts] if isinstance(acts, str) else acts or [])}:
                continue
            operator, block = next(iter(st["Condition"].items()))
            if isinstance(block, dict) and len(block) == 1:
                key = next(iter(block))
                return {operator: {key: principals[0] if len(principals) == 1 else principals}}
    return None


def _statements_of(doc: object) -> list[dict]:
    """The statements of a parsed snippet: a policy, a statement, or a list of either (repaired)."""
    items = doc if isinstance(doc, list) else [doc]
    out: list[dict] = []
    for item in items:
        if isinstance(item, dict):
            inner = item.get("Statement", item)
            out += [st for st in (inner if isinstance(inner, list) else [inner]) if isinstance(st, dict)]
    return out


def _within(version: str, statements: list[dict], limit: int) -> list[dict]:
    """Statements, one too big for a managed policy on its own cut into several with parts of its
    Resource list (Sid numbered)."""
    out = []
    for st in statements:
        if policy_size({"Version": version, "Statement": [st]}) <= limit or len(st["Resource"]) < 2:
            out.append(st)
            continue
        parts: list[list[str]] = [[]]
        for r in st["Resource"]:
            if parts[-1] and policy_size({"Version": version, "Statement": [{**st, "Resource": [*parts[-1], r]}]}) > limit:
                parts.append([])
            parts[-1].append(r)
        out += [{**st, "Sid": f"{st['Sid']}{i + 1}" if "Sid" in st else None, "Resource": part} for i, part in enumerate(parts)]
    return out


def policy_size(document: dict) -> int:
    """A policy's size as IAM counts it: its JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


def split(cat: Catalogue, policy: dict, name: str, w: Words, notes: list[str]) -> tuple[list[dict], bool]:
    """The permissions as one inline policy when IAM's inline quota holds it, else as managed
    policies each within the managed quota (statements in order, greedily)."""
    limits = cat.rules["policy_limits"]
    size = policy_size(policy)
    if size <= limits["inline_role_total"]:
        return [{"name": name, "document": policy}], False
    chunks: list[list[dict]] = [[]]
    for st in _within(policy["Version"], policy["Statement"], limits["managed_policy"]):
        if policy_size({"Version": policy["Version"], "Statement": [*chunks[-1], st]}) > limits["managed_policy"] \
                and chunks[-1]:
            chunks.append([])
        chunks[-1].append(st)
    out: list[dict] = [{"name": f"{name}-{i + 1}", "document": {"Version": policy["Version"], "Statement": c}}
                       for i, c in enumerate(chunks)]
    notes.append(w("split", size=size, limit=limits["inline_role_total"], n=len(out), managed=limits["managed_policy"]))
    too_big = [o["name"] for o in out if policy_size(o["document"]) > limits["managed_policy"]]
    if too_big or len(out) > limits["managed_per_role"]:
        notes.append(w("over_quota", names=", ".join(too_big) or str(len(out)), per_role=limits["managed_per_role"]))
    return out, True
