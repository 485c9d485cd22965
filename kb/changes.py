"""What changed on a page, and since when a fact exists: the change log and the timeline.

Two versions of a page compare as sets of facts (`page_facts`), so the same `diff` serves a
refresh (old KB file against the new one), a rebuild, and consecutive dated revisions inside one
KB. The query functions (`changes`, `timeline`) read what the writers in ingest/history.py
stored. Only the standard library is imported here, so `kb changes` starts fast.
"""

from __future__ import annotations

import difflib
import json
import re
import sqlite3
from dataclasses import dataclass, field

from . import query
from .query import KBError, section_url

NO_RESOURCE = "(no Resource on the page)"
# Placeholders are markup, not part of the ARN: the .md endpoint prints `{{inputbucket}}` where the
# older source format printed `inputbucket`. Resources compare without the braces.
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def _bare(resources: list[str]) -> tuple[str, ...]:
    return tuple(sorted(_arn_shape(_PLACEHOLDER.sub(r"\1", x)) for x in resources))


def _arn_shape(resource: str) -> str:
    """An ARN's region and account on the page are examples (`region`, `us-east-1`, `account-id`,
    `111122223333`): only whether one is given is a fact, so `arn:aws:kms:region:account-id:key/k`
    and `arn:aws:kms:{{us-east-1}}:{{111122223333}}:key/{{k}}` are the same resource."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return resource
    parts[3] = parts[3] and "<region>"
    parts[4] = parts[4] and "<account>"
    return ":".join(parts)


# --- facts of one version -------------------------------------------------------------------------

_REQUIREMENT_FACTS = """
    select r.api_name, r.condition_key, r.variant, st.effect, sa.action, sa.negated,
           st.resource_given, sr.resource,
           s.anchor, s.heading, sn.snippet_index, sn.role, sn.lead_text, p.url as page_url
    from requirement r
    join page p on p.id = r.page_id
    join section s on s.id = r.section_id
    join snippet sn on sn.id = r.snippet_id
    left join statement st on st.snippet_id = sn.id
    left join statement_action sa on sa.statement_id = st.id
    left join statement_resource sr on sr.statement_id = st.id
    where r.page_id = ?
    order by sn.line, st.ord, sa.id, sr.ord
"""


@dataclass
class Facts:
    """One version of a page as comparable sets. Keys: (api, condition, variant) for requirements,
    an action key (`s3:GetObject`, `Deny s3:GetObject`, `NotAction s3:…`) inside each."""
    apis: dict[str, dict] = field(default_factory=dict)  # documented API → provenance of its section
    passrole: dict[str, dict] = field(default_factory=dict)  # API the role is passed to → provenance
    requirements: dict[tuple, dict] = field(default_factory=dict)  # → {"actions": {key: resources}, "source"}
    scoping: dict[tuple, dict] = field(default_factory=dict)  # (api, request_api, field, actions) → provenance

    @property
    def size(self) -> int:
        """How many facts the version states: the measure of the refresh gate."""
        return sum(len(r["actions"]) for r in self.requirements.values()) + len(self.scoping)


def page_facts(conn: sqlite3.Connection, page_id: int) -> Facts:
    facts = Facts()
    resources: dict[tuple, dict[int, list]] = {}  # requirement key → action key → statement → resources
    for r in conn.execute(_REQUIREMENT_FACTS, [page_id]):
        (api, cond, variant, effect, action, negated, given, resource, anchor, heading, index, role, lead, url) = r
        source = {"url": section_url(url, anchor), "heading": heading, "snippet_index": index, "role": role,
                  "text": lead}
        facts.apis.setdefault(api, {"url": section_url(url, anchor), "heading": heading})
        req = facts.requirements.setdefault((api, cond, variant), {"actions": {}, "source": source})
        if action is None:
            continue
        key = ("NotAction " if negated else "") + ("" if effect == "Allow" else f"{effect} ") + action
        res = resources.setdefault((api, cond, variant), {}).setdefault(key, [])
        printed = resource if given else NO_RESOURCE
        if printed is not None and printed not in res:
            res.append(printed)
    for req_key, by_action in resources.items():
        for key, res in by_action.items():
            facts.requirements[req_key]["actions"][key] = sorted(res)
    for api, anchor, heading, url in conn.execute(
            """select m.api_name, s.anchor, s.heading, p.url from api_mention m join page p on p.id = m.page_id
               left join section s on s.id = m.section_id where m.page_id = ? and m.context = 'passrole'""",
            [page_id]):
        facts.passrole.setdefault(api, {"url": section_url(url, anchor), "heading": heading})
    for api, request_api, field_path, actions, text, line, anchor, heading, url in conn.execute(
            """select r.api_name, r.request_api, r.field_path, r.actions_json, r.source_text, r.line,
                      s.anchor, s.heading, p.url
               from scoping_rule r join section s on s.id = r.section_id join page p on p.id = r.page_id
               where r.page_id = ? order by r.line, r.id""", [page_id]):
        key = (api, request_api, field_path, tuple(json.loads(actions)))
        facts.scoping.setdefault(key, {"url": section_url(url, anchor), "heading": heading, "text": text,
                                       "line": line})
    return facts


# --- the difference between two versions ----------------------------------------------------------


def diff(old: Facts, new: Facts) -> list[dict]:
    """Every fact that differs, coarsest first: an added API is one change, not one per action."""
    out: list[dict] = []

    def add(kind, api=None, condition=None, variant=None, action=None, field_=None, before=None, after=None,
            before_source=None, after_source=None):
        out.append({"kind": kind, "api": api, "condition": condition, "variant": variant, "action": action,
                    "field": field_, "before": before, "after": after, "before_source": before_source,
                    "after_source": after_source})

    def summary(facts: Facts, api: str) -> dict:
        reqs = {k: v for k, v in facts.requirements.items() if k[0] == api}
        return {"conditions": sorted({k[1] for k in reqs if k[1]}),
                "actions": sorted({a for v in reqs.values() for a in v["actions"]})}

    for api in sorted(new.apis.keys() - old.apis.keys()):
        add("api_added", api, after=summary(new, api), after_source=new.apis[api])
    for api in sorted(old.apis.keys() - new.apis.keys()):
        add("api_removed", api, before=summary(old, api), before_source=old.apis[api])
    for api in sorted(new.passrole.keys() - old.passrole.keys()):
        add("passrole_added", api, after_source=new.passrole[api])
    for api in sorted(old.passrole.keys() - new.passrole.keys()):
        add("passrole_removed", api, before_source=old.passrole[api])

    both_apis = old.apis.keys() & new.apis.keys()
    old_conds = {(k[0], k[1]) for k in old.requirements if k[0] in both_apis}
    new_conds = {(k[0], k[1]) for k in new.requirements if k[0] in both_apis}

    def actions_of(facts: Facts, api, cond) -> dict:  # variant ("both": the addition applies to both) → actions
        return {k[2] or "both": sorted(v["actions"]) for k, v in facts.requirements.items() if k[:2] == (api, cond)}

    def first_source(facts: Facts, api, cond):
        return next(v["source"] for k, v in facts.requirements.items() if k[:2] == (api, cond))

    for api, cond in sorted(new_conds - old_conds, key=_sort_key):
        add("condition_added", api, cond, after=actions_of(new, api, cond), after_source=first_source(new, api, cond))
    for api, cond in sorted(old_conds - new_conds, key=_sort_key):
        add("condition_removed", api, cond, before=actions_of(old, api, cond),
            before_source=first_source(old, api, cond))

    both_conds = old_conds & new_conds
    old_reqs = {k: v for k, v in old.requirements.items() if k[:2] in both_conds}
    new_reqs = {k: v for k, v in new.requirements.items() if k[:2] in both_conds}
    for key in sorted(new_reqs.keys() - old_reqs.keys(), key=_sort_key):
        add("variant_added", *key, after=sorted(new_reqs[key]["actions"]), after_source=new_reqs[key]["source"])
    for key in sorted(old_reqs.keys() - new_reqs.keys(), key=_sort_key):
        add("variant_removed", *key, before=sorted(old_reqs[key]["actions"]), before_source=old_reqs[key]["source"])
    for key in sorted(old_reqs.keys() & new_reqs.keys(), key=_sort_key):
        before, after = old_reqs[key], new_reqs[key]
        was, now = before["actions"], after["actions"]
        for action in sorted(now.keys() - was.keys()):
            add("action_added", *key, action=action, after=now[action], after_source=after["source"])
        for action in sorted(was.keys() - now.keys()):
            add("action_removed", *key, action=action, before=was[action], before_source=before["source"])
        for action in sorted(was.keys() & now.keys()):
            if _bare(was[action]) != _bare(now[action]):
                add("resource_changed", *key, action=action, before=was[action], after=now[action],
                    before_source=before["source"], after_source=after["source"])

    _diff_scoping(old, new, add)
    return out


def _diff_scoping(old: Facts, new: Facts, add) -> None:
    """A rule whose actions and API stay while its field (or request API) changes is one change."""
    gone = sorted(old.scoping.keys() - new.scoping.keys(), key=_sort_key)
    came = sorted(new.scoping.keys() - old.scoping.keys(), key=_sort_key)
    for o in list(gone):
        match = next((n for n in came if n[0] == o[0] and n[3] == o[3]), None)
        if match is None:
            continue
        gone.remove(o)
        came.remove(match)
        add("scoping_changed", o[0], field_=match[2], before={"request_api": o[1], "field": o[2], "actions": list(o[3])},
            after={"request_api": match[1], "field": match[2], "actions": list(match[3])},
            before_source=old.scoping[o], after_source=new.scoping[match])
    for n in came:
        add("scoping_added", n[0], field_=n[2], after={"request_api": n[1], "field": n[2], "actions": list(n[3])},
            after_source=new.scoping[n])
    for o in gone:
        add("scoping_removed", o[0], field_=o[2], before={"request_api": o[1], "field": o[2], "actions": list(o[3])},
            before_source=old.scoping[o])


def _sort_key(key: tuple) -> tuple:
    return tuple("" if x is None else str(x) for x in key)


# --- the change log, as stored --------------------------------------------------------------------


def has_table(conn, name: str) -> bool:
    return conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [name]).fetchone() is not None


def _require_log(conn) -> None:
    if not has_table(conn, "page_transition") or not has_table(conn, "page_version"):
        raise KBError("this KB has no change log or page versions: rebuild it with `ingest build`")


def changes(conn, since: str | None = None, lang: str | None = None, page_key: str | None = None,
            kind: str | None = None) -> dict:
    """Transitions between versions (dated revisions, refreshes, rebuilds) dated on or after `since`,
    each with the facts that changed, and the refresh runs of that period."""
    _require_log(conn)
    where, args = ["1"], []
    if since:
        where.append("t.to_date >= ?")
        args.append(since)
    if lang:
        where.append("t.lang = ?")
        args.append(lang)
    if page_key:
        where.append("t.page_key = ?")
        args.append(page_key)
    transitions = []
    for t in conn.execute(f"select * from page_transition t where {' and '.join(where)} order by t.to_date, t.id",
                          args).fetchall():
        sql, cargs = "select * from page_change where transition_id = ?", [t["id"]]
        if kind:
            sql, cargs = sql + " and kind like ?", [*cargs, kind.replace("*", "%")]
        rows = conn.execute(sql + " order by id", cargs).fetchall()
        if kind and not rows:
            continue
        transitions.append({
            "page_key": t["page_key"], "lang": t["lang"], "origin": t["origin"], "run_id": t["run_id"],
            "from": {"label": t["from_label"], "date": t["from_date"], "sha256": t["from_sha256"],
                     "source": t["from_source"]},
            "to": {"label": t["to_label"], "date": t["to_date"], "sha256": t["to_sha256"], "source": t["to_source"]},
            "changes": [change_row(r) for r in rows],
        })
    runs = []
    if has_table(conn, "refresh_run"):
        run_sql, run_args = "select * from refresh_run where 1", []
        if since:
            run_sql, run_args = run_sql + " and finished_at >= ?", [since]
        for run in conn.execute(run_sql + " order by id", run_args).fetchall():
            pages = conn.execute("select * from refresh_page where run_id = ? order by id", [run["id"]]).fetchall()
            runs.append({**dict(run), "facts_rebuilt": bool(run["facts_rebuilt"]),
                         "pages": [{k: p[k] for k in p.keys() if k not in ("id", "run_id")} for p in pages
                                   if (not lang or p["lang"] == lang) and (not page_key or p["page_key"] == page_key)]})
    return {"since": since, "transitions": transitions, "runs": runs}


def change_row(r) -> dict:
    def load(v):
        return json.loads(v) if v is not None else None

    return {"kind": r["kind"], "api": r["api_name"], "condition": r["condition_key"], "variant": r["variant"],
            "action": r["action"], "field": r["field"], "before": load(r["before_json"]),
            "after": load(r["after_json"]), "before_source": load(r["before_source_json"]),
            "after_source": load(r["after_source_json"])}


def describe(change: dict) -> str:
    """One line a person reads: `+ CreateModel [vpc]: ec2:DescribeVpcs`."""
    kind, api = change["kind"], change["api"]
    sign = {"added": "+", "removed": "-"}.get(kind.rsplit("_", 1)[-1], "~")
    what = kind.rsplit("_", 1)[0]
    where = f"{api} [{change['condition'] or 'main policy'}" + (f", {change['variant']}" if change["variant"] else "") + "]"
    if what == "api":
        facts = change["after"] or change["before"]
        return (f"{sign} API {api}: {_n(len(facts['actions']), 'action')}; "
                f"conditions: {', '.join(facts['conditions']) or 'none'}")
    if what == "passrole":
        return f"{sign} iam:PassRole to {api}"
    if what in ("condition", "variant"):
        acts = change["after"] if change["after"] is not None else change["before"]
        names = sorted(set(acts) if isinstance(acts, list) else {a for v in acts.values() for a in v})
        shown = ", ".join(names) if len(names) <= 4 else _n(len(names), "action")
        return f"{sign} {what} {where}: {shown}"
    if what == "action":
        return f"{sign} {where}: {change['action']}"
    if kind == "resource_changed":
        return f"~ {where}: {change['action']} on {', '.join(change['before'])} → {', '.join(change['after'])}"
    if kind == "scoping_changed":
        return (f"~ scoping {api} {', '.join(change['after']['actions'])}: {_field(change['before'])}"
                f" → {_field(change['after'])}")
    rule = change["after"] or change["before"]
    return f"{sign} scoping {api} {', '.join(rule['actions'])} → {_field(rule)}"


def summarize(changes: list[dict]) -> list[str]:
    """Lines for a person: actions added to (or removed from) one policy on one line, and actions
    whose resources changed the same way on one line."""
    groups: dict[tuple, list[dict]] = {}
    for c in changes:
        if c["kind"] in ("action_added", "action_removed", "resource_changed"):
            key = (c["kind"], c["api"], c["condition"], c["variant"], json.dumps(c["before"]) if c["kind"] ==
                   "resource_changed" else "", json.dumps(c["after"]) if c["kind"] == "resource_changed" else "")
        else:
            key = (id(c),)
        groups.setdefault(key, []).append(c)
    lines = []
    for members in groups.values():
        first = dict(members[0])
        if len(members) > 1:
            first["action"] = ", ".join(m["action"] for m in members)
        lines.append(describe(first))
    return lines


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _field(rule: dict) -> str:
    if not rule["field"]:
        return "(no request field named)"
    return f"{rule['request_api']}.{rule['field']}" if rule["request_api"] else rule["field"]


# --- the timeline ---------------------------------------------------------------------------------


def versions(conn, lang: str = "en", page_key: str | None = None) -> list[sqlite3.Row]:
    _require_log(conn)
    keys = [r[0] for r in conn.execute("select distinct page_key from page_version where lang = ? order by 1", [lang])]
    if not keys:
        langs = [r[0] for r in conn.execute("select distinct lang from page_version order by 1")]
        raise KBError(f"no page in language {lang!r}; languages in this KB: {', '.join(langs)}")
    if page_key is None:
        if len(keys) > 1:
            raise KBError(f"the KB holds several {lang} pages ({', '.join(keys)}): name one with --page")
        page_key = keys[0]
    elif page_key not in keys:
        raise KBError(f"no {lang} page {page_key!r}; pages: {', '.join(keys)}")
    return conn.execute("select * from page_version where lang = ? and page_key = ? order by ord",
                        [lang, page_key]).fetchall()


def _resolve(conn, subject: str, page_ids: list[int]) -> tuple[str, str]:
    """('action', canonical name) or ('api', model name), known to at least one version."""
    marks = ",".join("?" * len(page_ids))
    if ":" in subject:
        row = conn.execute(
            f"""select sa.action from statement_action sa join statement st on st.id = sa.statement_id
                join snippet sn on sn.id = st.snippet_id where sn.page_id in ({marks})
                and lower(sa.action) = lower(?) limit 1""", [*page_ids, subject]).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute(
                f"""select distinct sa.action from statement_action sa join statement st on st.id = sa.statement_id
                    join snippet sn on sn.id = st.snippet_id where sn.page_id in ({marks})""", page_ids)]
            raise KBError(f"no version of the page names the action {subject!r}" + _suggest(subject, known))
        return "action", row[0]
    name = query.api_named(conn, page_ids, subject)
    if name is None:
        known = [r[0] for r in conn.execute(
            f"select distinct api_name from api_mention where page_id in ({marks})", page_ids)]
        raise KBError(f"no version of the page names the API {subject!r}" + _suggest(subject, known))
    return "api", name


def _suggest(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


def timeline(conn, subject: str, condition: str | None = None, lang: str = "en",
             page_key: str | None = None) -> dict:
    """For every version of the page, oldest first: does it state `subject` (an API, an API's
    condition, or an action), and what; then when it was first seen and when it last changed."""
    vers = versions(conn, lang, page_key)
    page_ids = [v["page_id"] for v in vers]
    what, name = _resolve(conn, subject, page_ids)
    if condition and what != "api":
        raise KBError("--condition goes with an API, not with an action")
    rows = []
    for v in vers:
        facts = page_facts(conn, v["page_id"])
        state, detail, present = _state(facts, what, name, condition)
        rows.append({"date": v["version_date"], "label": v["label"], "date_source": v["date_source"],
                     "is_current": bool(v["is_current"]), "present": present, **detail, "_state": state})
    if condition and not any(r["present"] for r in rows):
        known = sorted({c for r in rows for c in r.get("conditions", [])})
        raise KBError(f"no version of the page documents condition {condition!r} for {name}; "
                      f"conditions seen: {', '.join(known) or '(none)'}")
    first = next((r for r in rows if r["present"]), None)
    changed = [cur for prev, cur in zip(rows, rows[1:]) if prev["_state"] != cur["_state"]]
    last_changed = changed[-1] if changed else first
    previous_absent = None
    if first is not None and first is not rows[0]:
        previous_absent = rows[rows.index(first) - 1]
    for r in rows:
        r.pop("_state")
    return {
        "subject": name, "kind": what, "condition": condition, "lang": lang, "page_key": vers[0]["page_key"],
        "versions": rows,
        "first_seen": _point(first),
        # Present in the oldest version the KB holds: the fact may be older than that version.
        "in_oldest_version": first is rows[0],
        "absent_before": _point(previous_absent),
        "last_changed": _point(last_changed), "present_now": rows[-1]["present"],
    }


def _point(row: dict | None) -> dict | None:
    return {"date": row["date"], "label": row["label"]} if row else None


def _state(facts: Facts, what: str, name: str, condition: str | None):
    """(comparable state, what to show, present?) of one subject in one version."""
    if what == "action":
        where = {(k[0], k[1], k[2], _bare(v["actions"][a])) for k, v in facts.requirements.items()
                 for a in v["actions"] if a.split(" ")[-1] == name}
        apis = sorted({w[0] for w in where})
        return where, {"apis": apis, "requirements": len(where)}, bool(where)
    reqs = {k: v for k, v in facts.requirements.items() if k[0] == name}
    conditions = sorted({k[1] for k in reqs if k[1]})
    if condition:
        picked = {k: v for k, v in reqs.items() if k[1] == condition}
        state = {(k[2], a, _bare(r)) for k, v in picked.items() for a, r in v["actions"].items()}
        actions = sorted({a for v in picked.values() for a in v["actions"]})
        return state, {"actions": actions, "conditions": conditions}, bool(picked)
    state = ({(k[1], k[2], a, _bare(r)) for k, v in reqs.items() for a, r in v["actions"].items()},
             name in facts.passrole)
    actions = sorted({a for v in reqs.values() for a in v["actions"]})
    # Present: the version names the API, in a permissions section or in its iam:PassRole list.
    detail = {"documented": name in facts.apis, "conditions": conditions, "actions": len(actions),
              "passes_role": name in facts.passrole}
    return state, detail, name in facts.apis or name in facts.passrole
