"""Which conditions apply to which API of a role, and why: asked for (--condition), shown by a
request member (the lexicon's request_fields, stored in the KB's condition table), or stood for by
an option (--input-kms-key: the condition whose set_by_option the lexicon names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import query
from ..query import KBError
from .request import Request, bare, strings_in
from .words import Words

INPUT_KEY_OPTION = "input-kms-key"


def trigger_hits(req: Request, fields: dict[str, tuple[str, ...]]) -> list[tuple[str, str, object]]:
    """(condition, path, value) for each request member that shows a condition."""
    hits = []
    for path, _, _, value in req.members:
        plain = bare(path)
        if not any(strings_in(value)):
            continue  # a CLI skeleton's empty VpcConfig shows nothing
        for key, patterns in fields.items():
            for p in patterns:
                if (plain == p[1:]) if p.startswith("/") else (plain == p or plain.endswith("." + p)):
                    hits.append((key, path, value))
    return hits


@dataclass
class Plan:
    """Which conditions apply to which API, and why."""
    apis: list[str]
    chosen: dict[str, dict[str, str]]  # api → condition → why ("--condition", "inferred from …")
    trigger_values: dict[tuple[str, str], list[tuple[str, str, object]]]  # (api, cond) → (source, path, value)
    documented: dict[str, dict[str, dict]]
    notes: list[str]
    # api → condition → where it came from, for a person or a form: {"by": "asked"}, {"by": "option",
    # "option": "input-kms-key"} or {"by": "request", "request": source, "field": member path}
    origins: dict[str, dict[str, dict]] = field(default_factory=dict)


def option_condition(conn, option: str) -> str | None:
    row = conn.execute("select key from condition where set_by_option = ?", [option]).fetchone()
    return row[0] if row else None


def check_role(conn, apis: Sequence[str], conditions: Sequence[str], lang: str | None,
               region: str | None = None, account: str | None = None) -> tuple[str, list[str]]:
    """A role's language, APIs, conditions, region and account checked together, as `kb requirements`
    checks its own: an Invalid naming every one the pages do not know (a condition is known when the
    pages document it for one of the role's APIs; with no API named, conditions wait for the APIs a
    request shows). The language that answers, and the APIs' model spellings."""
    checker = query.Checker(conn, lang)
    found = [checker.context(a) for a in apis]
    names = list(dict.fromkeys(n for n in found if n))
    if apis:
        checker.conditions(list(conditions), names or None)
    checker.region_account(region, account)
    return checker.done().lang, names


def plan(conn, apis: list[str], conditions: list[str], lang: str, requests: list[Request],
         input_kms_keys: list[str]) -> Plan:
    lang, names = check_role(conn, apis, conditions, lang)
    w = Words(conn, lang)
    if not names:
        raise KBError(w("name_an_api"))
    documented = {a: {c["key"]: c for c in query.conditions(conn, a, lang)} for a in names}
    notes: list[str] = []
    chosen: dict[str, dict[str, str]] = {a: {} for a in names}
    origins: dict[str, dict[str, dict]] = {a: {} for a in names}
    key_condition = option_condition(conn, INPUT_KEY_OPTION)
    if input_kms_keys and key_condition is None:
        raise KBError(w("option_no_condition", option=INPUT_KEY_OPTION))
    wanted = list(dict.fromkeys(list(conditions) + ([key_condition] if input_kms_keys and key_condition else [])))
    for cond in wanted:
        takers = [a for a in names if cond in documented[a]]
        if not takers:
            valid = sorted({k for a in names for k in documented[a]})
            raise KBError(w("unknown_condition", lang=lang, apis=", ".join(names), condition=cond,
                            valid=", ".join(valid) or w("none")))
        for a in names:
            if a in takers:
                chosen[a][cond] = "--condition" if cond in conditions else f"--{INPUT_KEY_OPTION}"
                origins[a][cond] = {"by": "asked"} if cond in conditions else {"by": "option", "option": INPUT_KEY_OPTION}
            else:
                notes.append(w("not_applied", api=a, condition=cond))
    values: dict[tuple[str, str], list] = {}
    fields = query.condition_fields(conn)
    for req in requests:
        for cond, path, value in trigger_hits(req, fields):
            if req.api not in names:
                notes.append(w("other_api_request", source=req.source, api=req.api, field=bare(path), condition=cond))
                continue
            if cond not in documented[req.api]:
                elsewhere = [a for a, conds in _all_documented(conn, lang).items() if cond in conds]
                notes.append(w("condition_elsewhere", source=req.source, field=bare(path), condition=cond,
                               apis=", ".join(elsewhere) or w("no_api"), api=req.api))
                continue
            chosen[req.api].setdefault(cond, w("why_request", request=req.source, field=bare(path)))
            origins[req.api].setdefault(cond, {"by": "request", "request": req.source, "field": bare(path)})
            values.setdefault((req.api, cond), []).append((req.source, path, value))
    for key in input_kms_keys:
        for a in names:
            if key_condition in chosen[a]:
                values.setdefault((a, key_condition), []).append((f"--{INPUT_KEY_OPTION}", f"--{INPUT_KEY_OPTION}",
                                                                  key))
    options = {r[0]: r[1] for r in conn.execute("select key, set_by_option from condition where set_by_option is "
                                                "not null")}
    for a in names:
        for cond in sorted(c for c in documented[a] if not fields.get(c) and c not in chosen[a]) if requests else []:
            label = documented[a][cond]["label"]
            notes.append(w("unseen_condition_option", api=a, condition=cond, label=label, option=options[cond])
                         if cond in options else w("unseen_condition", api=a, condition=cond, label=label))
    return Plan(names, chosen, values, documented, notes, origins)


def _all_documented(conn, lang: str) -> dict[str, set[str]]:
    rows = conn.execute(
        """select distinct r.api_name, r.condition_key from requirement r join page p on p.id = r.page_id
           where p.is_current and p.lang = ? and r.condition_key is not null and r.api_name is not null""", [lang]).fetchall()
    out: dict[str, set[str]] = {}
    for api, cond in rows:
        out.setdefault(api, set()).add(cond)
    return out
