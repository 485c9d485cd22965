"""A least-privilege policy for one role: the page's statements for each API and condition,
resources filled from the requests through the KB's scoping rules, merged into statements.

    compose(conn, apis, ...)  → {"policy", "explain", "notes", "conditions", ...}
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import query
from ..query import KBError
from .arns import (
    PLACEHOLDER,
    UNKNOWN_IN_REQUEST,
    ValueRefused,
    context_from,
    fill_documented,
    is_placeholder,
    value_to_arn,
    value_vars,
    value_what,
)
from .catalogue import Catalogue
from .inputs import expand
from .plan import Plan, check_role, plan
from .request import Request, Shapes, bare, bind_request, strings_in
from .role_policy import glob_covers, narrowest
from .touches import manifest_touches, member_touches
from .words import Words

VERSION = "2012-10-17"


@dataclass
class _Grant:
    """One action's resources in one (effect, condition block, origin) group."""
    resources: dict[str, list[dict]] = field(default_factory=dict)  # resource → provenance
    sources: list[dict] = field(default_factory=list)


def compose(conn, apis: list[str], conditions: Sequence[str] = (), *, scoped: bool = False, lang: str | None = None,
            requests: Sequence[tuple[str | None, object, str]] = (), input_kms_keys: Sequence[str] = (),
            region: str | None = None, account: str | None = None, kms_key_arns: dict[str, str] | None = None,
            manifests: Sequence[tuple[object, str]] = ()) -> dict:
    """The policy for `apis` (one role): the page's statements for each API and condition,
    resources filled from the requests through the KB's scoping rules, merged; the request's other
    S3 locations granted as their members' descriptions say (kb/policy/touches.py).

    `requests` are (api or None, body, source name) triples; `kms_key_arns` maps a KMS alias to its
    key ARN; `manifests` are (manifest document, name) pairs."""
    # every unknown API, condition, language, bad region or account at once (APIs a request file shows
    # are checked by plan())
    lang = check_role(conn, apis, conditions, lang, region, account)[0]
    cat, w = Catalogue(conn), Words(conn, lang)
    shapes = Shapes(conn, w)
    specs, input_notes, apis = role_requests(conn, cat, shapes, w, apis, requests)
    reqs = bind_requests(conn, shapes, apis, specs, lang, w)
    p = plan(conn, apis, list(conditions), lang, reqs, list(input_kms_keys))
    ctx = context_from(cat, reqs, region, account, w, kms_key_arns or {})
    notes = input_notes + list(p.notes)
    if reqs:
        scoped = True
    groups: dict[tuple, dict[str, _Grant]] = {}
    consumed: set[tuple[str, str]] = set()
    for api in p.apis:
        req = query.requirements(conn, api, list(p.chosen[api]), scoped, lang)
        # "no Resource" notes are restated per statement below, with the Sid that got "*"
        notes += [n["text"] for n in req["notes"] if n["kind"] != "no_resource"]
        rules = query.scoping(conn, api, lang)
        unscoped = _unscoped_form(conn, api, p, lang) if reqs else {}
        for st in req["statements"]:
            origin = st["requirement"]["condition"]
            key = (st["effect"], json.dumps(st["condition"], sort_keys=True) if st["condition"] else None, origin)
            source = {"api": api, "condition": origin, "variant": st["requirement"]["variant"],
                      "resource_given": st["resources"] is not None, **st["source"]}
            for action in st["actions"]:
                resources, more_notes = _resources_for(cat, shapes, api, st, action, origin, rules, reqs, p, ctx,
                                                      consumed, w, unscoped)
                notes += more_notes
                for res, prov in resources:
                    # a resource with its own Condition (a KMS alias) is a statement of its own
                    cond = merge_conditions(st["condition"], prov.get("condition"))
                    group = key if cond == st["condition"] else (key[0], json.dumps(cond, sort_keys=True), origin)
                    _add(groups, group, action, res, prov, source)
    touched = member_touches(cat, shapes, reqs, p.apis, consumed, ctx, w)
    listed, manifest_notes = manifest_touches(cat, reqs, list(manifests), ctx, w)
    notes += manifest_notes
    for t in touched + listed:
        _add(groups, ("Allow", None, None), t.action, t.resource, t.provenance, t.source)
    narrowed = _narrow_to_request(groups) if reqs else []
    statements, explain = _statements(groups, p)
    if not statements:
        raise KBError("; ".join(dict.fromkeys(notes)) or w("no_permissions", apis=", ".join(p.apis)))
    if narrowed:
        notes.append(w("narrowed", actions=_names(narrowed, w)))
    notes += _leftover_notes(cat, statements, explain, bool(reqs), w)
    notes += _unscoped_values(cat, w, reqs, consumed, statements)
    unknown = [var for var in ("Region", "Account") if PLACEHOLDER[var] in json.dumps(statements)]
    if reqs:  # an ARN a request scopes never carries notation: a part it does not show is "*"
        statements, explain = _unknown_parts_wild(statements, explain, unknown)
    for var in unknown:
        notes.append(w("no_context", var=var.lower(), placeholder=UNKNOWN_IN_REQUEST if reqs else PLACEHOLDER[var]))
    return {
        "apis": p.apis, "lang": lang, "variant": "scoped" if scoped else "default",
        "conditions": {a: [{"key": k, "label": p.documented[a][k]["label"], "why": why, **p.origins[a][k]}
                           for k, why in p.chosen[a].items()] for a in p.apis},
        "requests": [_summary(r) for r in reqs],
        "context": {"partition": ctx.partition, "region": ctx.region, "account": ctx.account, "from": ctx.origin},
        "policy": {"Version": VERSION, "Statement": statements},
        "explain": explain,
        # what keeps the policy from being least privilege as it stands (`kb policy --strict` exits 2):
        # a placeholder (no request), or an action the request could not scope (the page's unscoped form)
        "unresolved": _unresolved(statements, explain)
        + [{"sid": None, "resource": None, "field": f"--{var.lower()}", "actions": [], "placeholder": not reqs}
           for var in unknown],
        "notes": list(dict.fromkeys(notes)),
    }


def _summary(r: Request) -> dict:
    """A request as the whole role needs it (kb/policy/role.py): its top-level names and the
    members it sets."""
    return {"source": r.source, "api": r.api,
            "names": {path: v for path, _, _, v in r.members if "." not in path and "[" not in path and isinstance(v, str)},
            "fields": sorted({bare(path) for path, _, _, _ in r.members}),
            "values": {b: v for b, v in reversed([(bare(path), v) for path, _, _, v in r.members if isinstance(v, str)])}}


def _unknown_parts_wild(statements: list[dict], explain: list[dict], unknown: list[str]) -> tuple[list, list]:
    def wild(arn: str) -> str:
        for var in unknown:
            arn = arn.replace(PLACEHOLDER[var], UNKNOWN_IN_REQUEST)
        return arn

    for stmt in statements:
        stmt["Resource"] = [wild(r) for r in stmt["Resource"]]
    for ex in explain:
        for r in ex["resources"]:
            r["resource"] = wild(r["resource"])
    return statements, explain


def _narrow_to_request(groups: dict) -> list[str]:
    """An action a page grants on "*" that the request names resources for (its S3 locations, as
    their descriptions say SageMaker uses them): granted on those alone. Returns the actions."""
    out = []
    for action, grant in groups.get(("Allow", None, None), {}).items():
        named = [r for r, provs in grant.resources.items() if r != "*" and any("request" in p for p in provs)]
        if "*" in grant.resources and named:
            del grant.resources["*"]
            out.append(action)
    return sorted(out, key=str.lower)


def _unresolved(statements: list[dict], explain: list[dict]) -> list[dict]:
    out = []
    for stmt, ex in zip(statements, explain):
        for r in ex["resources"]:
            if "unresolved" in r or r.get("example"):
                out.append({"sid": stmt["Sid"], "resource": r["resource"], "field": r.get("unresolved"),
                            "actions": r.get("actions", stmt["Action"]), "placeholder": bool(r.get("example"))})
    return out


def _unscoped_form(conn, api: str, p: Plan, lang: str) -> dict[str, list[str]]:
    """action (lower case) → the resources the page's main (not resource-scoped) variant gives it,
    placeholders left out."""
    out: dict[str, list[str]] = {}
    for st in query.requirements(conn, api, list(p.chosen[api]), False, lang)["statements"]:
        for action in st["actions"]:
            for r in st["resources"] or ["*"]:
                if "{{" not in r and r not in out.setdefault(action.lower(), []):
                    out[action.lower()].append(r)
    return out


def _add(groups: dict, group: tuple, action: str, resource: str, prov: dict, source: dict) -> None:
    grant = groups.setdefault(group, {}).setdefault(action, _Grant())
    provs = grant.resources.setdefault(resource, [])
    if prov not in provs:
        provs.append(prov)
    if source not in grant.sources:
        grant.sources.append(source)


def role_requests(conn, cat: Catalogue, shapes: Shapes, w: Words, apis: Sequence[str], requests) -> tuple[list, list, list]:
    """The requests the files hold (CloudTrail events, Pipeline steps), notes on what they leave out,
    and the role's APIs: those named, else those the files show, else the API whose request model
    takes a bare body (of those passing a role)."""
    specs, notes = expand(conn, cat, list(requests), w)
    found = list(apis) or list(dict.fromkeys(a for a, _, _ in specs if a))
    if not found and specs:
        passing = [r[0] for r in conn.execute(
            "select distinct api_name from role_context where role_member is not null order by 1")]
        found = list(dict.fromkeys(bind_request(shapes, body, source, None, passing, w).api
                                   for _, body, source in specs))
    if not found:
        raise KBError(w("apis_needed"))
    return specs, notes, found


def bind_requests(conn, shapes: Shapes, apis, requests, lang, w: Words) -> list[Request]:
    if not requests:
        return []
    names = list(dict.fromkeys(query.resolve_api(conn, a, lang) for a in apis))
    candidates = names + [r["request_api"] for a in names for r in query.scoping(conn, a, lang) if r["request_api"]]
    out = []
    for api, body, source in requests:
        if api:
            api = query.resolve_api(conn, api, lang) if _documented(conn, api, lang) else api
        out.append(bind_request(shapes, body, source, api, list(dict.fromkeys(candidates)), w))
    return out


def _documented(conn, api, lang) -> bool:
    try:
        query.resolve_api(conn, api, lang)
        return True
    except KBError:
        return False


def _resources_for(cat: Catalogue, shapes: Shapes, api, st, action, origin, rules, reqs, p: Plan, ctx, consumed,
                   w: Words, unscoped: dict[str, list[str]]):
    """[(resource, provenance)] for one action of one page statement, and notes. Provenance
    says where a resource came from: a request member, or the page (as documented)."""
    documented = st["resources"] if st["resources"] is not None else ["*"]
    notes: list[str] = []
    found: list[tuple[str, dict]] = []
    # a documented resource of an action the page scopes to a request member is an example
    example = any(action.lower() in {a.lower() for a in r["actions"]} and r["field"] for r in rules)
    for rule in rules if reqs else []:
        if action.lower() not in {a.lower() for a in rule["actions"]} or not rule["field"]:
            continue
        target = (shapes.member_of(rule["request_api"], rule["field"])
                  or shapes.member_of(rule["request_api"], rule["suggested_field"]))
        if target is None:
            notes.append(w("member_missing", actions=", ".join(rule["actions"]), field=rule["field"],
                           request_api=rule["request_api"]))
            continue
        for req in reqs:
            for path, owner, member, value in req.members:
                if (owner, member) != target:
                    continue
                if bare(path) != rule["field"]:
                    notes.append(w("member_elsewhere", source=req.source, field=rule["field"], path=bare(path),
                                   api=req.api))
                found += _arns(cat, action, req.source, path, value, ctx, consumed, notes, w, req.access)
    # a condition's own request members (or flag) name its resources, e.g. the output KMS key
    for src, path, value in p.trigger_values.get((api, origin), []) if origin else []:
        found += _arns(cat, action, src, path, value, ctx, consumed, notes, w, {})
    bounds = [fill_documented(cat, d, action, ctx) for d in documented]
    if found and documented != ["*"] and all("*" in b or "?" in b for b in bounds):
        # the page's resource is a pattern (algorithm/*): the request's must fall within it
        inside = [(r, prov) for r, prov in found if any(glob_covers(b, r) for b in bounds)]
        for r, prov in found:
            if (r, prov) not in inside:
                notes.append(w("outside_page", source=prov["request"], resource=r, documented=", ".join(documented),
                               action=action))
        found = inside
    if found:
        return found, notes
    out = []
    for d in documented:
        filled = fill_documented(cat, d, action, ctx)
        out.append((filled, {"documented": d, "example": filled != "*" and (example or is_placeholder(cat, filled))}))
    if reqs and any(prov["example"] for _, prov in out):
        # with a request, no example reaches the policy: the page's unscoped form of the action
        # (its main policy's resource, "*" when it has none), and the member that would scope it
        fields = [r["field"] for r in rules if r["field"] and action.lower() in {a.lower() for a in r["actions"]}]
        wider = unscoped.get(action.lower()) or ["*"]
        out = [(r, {"documented": r, "example": False, "unresolved": ", ".join(dict.fromkeys(fields))
                    or None}) for r in wider]
    return out, notes


def _arns(cat: Catalogue, action, source, path, value, ctx, consumed, notes, w: Words, access: dict[str, str]):
    out = []
    leaf = isinstance(value, str)
    for where, v in strings_in(value, path):
        try:
            made = value_to_arn(cat, action, v, leaf, ctx, access.get(where))
        except ValueRefused as exc:
            raise KBError(w("value_refused", source=source, path=bare(where), reason=str(exc))) from None
        if made is None:
            if leaf:
                what = value_what(cat, action.partition(":")[0].lower())
                said = dict(source=source, path=bare(where), value=repr(v), action=action)
                notes.append(w("names_no_resource_what", what=what, **said) if what else w("names_no_resource", **said))
            continue
        arn = made.arn
        if made.note:
            note = dict(made.note)
            notes.append(f"{source}: " + w(note.pop("key"), **note))
        consumed.add((source, v))
        prov = {"request": source, "field": where, "value": v}
        if access.get(where):
            prov["access"] = access[where]  # what SageMaker does there, as the member's description says
        if made.condition:
            prov["condition"] = made.condition
        out.append((arn, prov))
        owner = arn.split(":")[4] if arn.count(":") >= 5 else ""
        if ctx.account and owner and owner != ctx.account:
            notes.append(w("other_account", source=source, value=v, owner=owner, account=ctx.account))
    return out


def _statements(groups: dict[tuple, dict[str, _Grant]], p: Plan) -> tuple[list[dict], list[dict]]:
    """Merge: within a group, actions with the same resources share a statement; an action
    granted on "*" anywhere needs no narrower grant; Sids named from content, unique."""
    anywhere = {a.lower() for (effect, cond, _), grants in groups.items() if effect == "Allow" and cond is None
                for a, g in grants.items() if "*" in g.resources}
    order: dict[str | None, int] = {None: 0}
    order.update({c: i + 1 for i, c in enumerate(dict.fromkeys(c for a in p.apis for c in p.chosen[a]))})
    statements: list[dict] = []
    explain: list[dict] = []
    used: set[str] = set()
    in_order = sorted(groups.items(), key=lambda kv: (order.get(kv[0][2], 99), kv[0][0], kv[0][1] or ""))
    for (effect, cond, origin), grants in in_order:
        by_resources: dict[tuple, list[str]] = {}
        for action, grant in grants.items():
            res = ("*",) if "*" in grant.resources else tuple(narrowest(grant.resources))
            if effect == "Allow" and cond is None and res != ("*",) and action.lower() in anywhere:
                continue
            by_resources.setdefault(res, []).append(action)
        for res, actions in sorted(by_resources.items(), key=lambda kv: (kv[0] != ("*",), sorted(kv[1]))):
            actions = sorted(set(actions), key=str.lower)
            stmt = {"Sid": _sid(origin, actions, res, used), "Effect": effect, "Action": actions, "Resource": list(res)}
            if cond:
                stmt["Condition"] = json.loads(cond)
            statements.append(stmt)
            sources: list[dict] = []
            prov: list[dict] = []
            for a in actions:
                for s in grants[a].sources:
                    if s not in sources:
                        sources.append(s)
                for r in res:
                    for item in grants[a].resources.get(r, []):
                        entry = {"resource": r, **item}
                        if "unresolved" in item:  # which of the statement's actions it leaves unscoped
                            entry = next((e for e in prov if e.get("unresolved") == item["unresolved"]
                                          and e["resource"] == r), {**entry, "actions": []})
                            entry["actions"].append(a)
                        if entry not in prov:
                            prov.append(entry)
            explain.append({"Sid": stmt["Sid"], "condition": origin, "sources": sources, "resources": prov})
    return statements, explain


def merge_conditions(page: dict | None, own: dict | None) -> dict | None:
    """The page's Condition block and a resource's own (a KMS alias's): both must hold."""
    if not own:
        return page
    out = {op: dict(keys) for op, keys in (page or {}).items()}
    for op, keys in own.items():
        out.setdefault(op, {}).update(keys)
    return out


def _sid(origin: str | None, actions: list[str], resources: tuple, used: set) -> str:
    camel = lambda s: "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", s) if w)
    services = sorted({a.partition(":")[0] for a in actions})
    if len(actions) == 1:
        service, _, name = actions[0].partition(":")
        body = camel(name) if origin and camel(origin).lower().startswith(service.lower()) else camel(f"{service} {name}")
    else:
        if origin and len(services) == 1 and camel(origin).lower().startswith(services[0].lower()):
            services = []
        body = "".join(camel(s) for s in services) + ("Any" if resources == ("*",) else "Scoped")
    base = camel(origin or "") + body
    sid, n = base, 2
    while sid in used:
        sid, n = f"{base}{n}", n + 1
    used.add(sid)
    return sid


def _leftover_notes(cat: Catalogue, statements, explain, with_request: bool, w: Words) -> list[str]:
    """What the reader must know about resources the request did not name."""
    notes = []
    for stmt, ex in zip(statements, explain):
        sid = stmt["Sid"]
        unresolved = sorted({r["unresolved"] or "" for r in ex["resources"] if "unresolved" in r})
        if unresolved:
            left = sorted({a for r in ex["resources"] if "unresolved" in r for a in r["actions"]}, key=str.lower)
            notes.append(w("unresolved", sid=sid, actions=_names(left, w),
                           resources=", ".join(stmt["Resource"]),
                           fields=", ".join(f for f in unresolved if f) or w("no_member")))
            continue
        if stmt["Resource"] == ["*"]:
            if any(not s["resource_given"] for s in ex["sources"]):
                notes.append(w("star_addition" if ex["condition"] else "star_permissions", sid=sid,
                               actions=_names(stmt["Action"], w)))
            elif with_request and (scopable := [a for a in stmt["Action"] if cat.arn_formats(a)]):
                notes.append(w("star_kept", sid=sid, actions=_names(scopable, w)))
            continue
        kept = [r for r in ex["resources"] if "documented" in r and r["resource"] != "*" and "unresolved" not in r]
        holes = [r["resource"] for r in kept if r["example"]]
        filled = [r["resource"] for r in kept if not r["example"] and r["resource"] != r["documented"]]
        if holes:
            how = w("how_request" if with_request else "how_no_request")
            notes.append(w("examples" if len(holes) > 1 else "example", sid=sid, resources=", ".join(holes), how=how))
        if filled:
            notes.append(w("filled", sid=sid, resources=", ".join(filled)))
    return notes


def _names(actions: list[str], w: Words) -> str:
    return ", ".join(actions) if len(actions) <= 4 else w("more_actions", first=", ".join(actions[:3]), count=len(actions))


def _unscoped_values(cat: Catalogue, w: Words, reqs, consumed, statements) -> list[str]:
    """Request values (S3 URIs, ECR images, KMS keys, ARNs of other services' resources) that no
    rule or condition used, where the policy grants that service only on named resources (or not at
    all): the role will lack access to them. None is dropped without a note."""
    # a service whose every action here is on "*" (ecr:GetAuthorizationToken alone does not count:
    # the image actions are scoped)
    scoped = {a.partition(":")[0].lower() for s in statements if s["Resource"] != ["*"] for a in s["Action"]}
    star = {a.partition(":")[0].lower() for s in statements if s["Resource"] == ["*"] for a in s["Action"]} - scoped
    notes = []
    for req in reqs:
        for path, _, member, value in req.members:
            if not isinstance(value, str) or not value.strip() or (req.source, value.strip()) in consumed:
                continue
            try:
                kind = value_vars(cat, value.strip())
            except ValueRefused as exc:
                raise KBError(w("value_refused", source=req.source, path=bare(path), reason=str(exc))) from None
            suffixes = cat.rules.get("member_suffix", {})
            service = kind[0] if kind else next((s for sfx, s in suffixes.items() if member.endswith(sfx)), None)
            if service is None and value.strip().startswith("arn:") and value.count(":") >= 5:
                # an ARN names a resource of its service (an SNS topic, a Lambda function, a log
                # group); a role's own ARN is what the role is, not a resource it needs
                service = value.split(":")[2] or None
                service = None if service == "iam" else service
            if service is None or service in star:
                continue
            what = w.ui.get(f"resource_{service}", service)
            notes.append(w("unscoped", source=req.source, path=bare(path), value=value.strip(), what=what))
    return notes
