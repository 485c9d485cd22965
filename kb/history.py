"""What changed on the pages, and since when a fact exists: the read side of the change log.

`changes` reads what ingest/versions.py recorded (page_transition, page_change, refresh_run);
`timeline` runs the canned query queries/timeline.sql, so `kb timeline` and `/kb/timeline` give one
answer. Only the standard library is imported here, so `kb changes` starts fast.
"""

from __future__ import annotations

import json

from . import query
from .query import Checker, KBError, has_table, ui

# --- the change log, as stored --------------------------------------------------------------------


def _require_log(conn, lang: str | None = None) -> None:
    if not has_table(conn, "page_transition") or not has_table(conn, "page_version"):
        raise KBError(ui(conn, lang or "").get("error_no_change_log",
                                              "this KB has no change log or page versions: rebuild it with `ingest build`"))


def changes(conn, since: str | None = None, lang: str | None = None, page_key: str | None = None,
            kind: str | None = None) -> dict:
    """Transitions between versions (dated revisions, refreshes, rebuilds) dated on or after `since`,
    each with the facts that changed, and the refresh runs of that period."""
    _require_log(conn, lang)
    checker = Checker(conn, lang, pages=False)
    since, kind = checker.date(since), checker.change_kind(kind)
    page_key = checker.page(page_key, "versions_any")
    checker.done()
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
                         "pages": [{k: v for k, v in dict(p).items() if k not in ("id", "run_id")} for p in pages
                                   if (not lang or p["lang"] == lang) and (not page_key or p["page_key"] == page_key)]})
    return {"since": since, "transitions": transitions, "runs": runs}


def last_changes(conn, limit: int = 12) -> tuple[list[dict], int]:
    """The current pages whose changes are followed (a logged change, or a translation to compare
    with), newest change first, each with the date its facts last changed (else the date of its
    oldest version), at most `limit`; and how many other current pages there are (a guide page
    read once has nothing to date). What the home page shows."""
    if not has_table(conn, "page_transition") or not has_table(conn, "page_version"):
        return [], 0
    rows = conn.execute("""
        with last as (
          select p.id, (select t2.id from page_transition t2
                        where t2.page_key = p.page_key and t2.lang = p.lang
                          and exists (select 1 from page_change c where c.transition_id = t2.id)
                        order by t2.to_date desc, t2.id desc limit 1) as transition_id,
                 exists (select 1 from page o where o.is_current and o.page_key = p.page_key
                         and o.lang <> p.lang) as translated
          from page p where p.is_current
        )
        select p.page_key, p.lang, p.url, l.name as language,
               (select min(v.version_date) from page_version v where v.page_key = p.page_key and v.lang = p.lang)
                 as known_since,
               t.to_date as changed, t.to_label, t.from_label,
               (select count(*) from page_change c where c.transition_id = t.id) as changes
        from last join page p on p.id = last.id join language l on l.code = p.lang
        left join page_transition t on t.id = last.transition_id
        where last.transition_id is not null or last.translated
        order by t.to_date is null, t.to_date desc, l.prevails desc, p.lang, p.page_key""").fetchall()
    total = conn.execute("select count(*) from page where is_current").fetchone()[0]
    shown = [{"page_key": r["page_key"], "lang": r["lang"], "language": r["language"], "url": r["url"],
              "known_since": r["known_since"], "last_change": r["changed"] and {
                  "date": r["changed"], "from": r["from_label"], "to": r["to_label"], "changes": r["changes"]}}
             for r in rows[:limit]]
    return shown, total - len(shown)


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


def grouped(changes: list[dict]) -> list[list[dict]]:
    """The changes as summarize() writes them, one group per line: actions added to (or removed
    from) one policy together, and actions whose resources changed the same way together."""
    groups: dict[tuple[object, ...], list[dict]] = {}
    for c in changes:
        key: tuple[object, ...]
        if c["kind"] in ("action_added", "action_removed", "resource_changed"):
            key = (c["kind"], c["api"], c["condition"], c["variant"], json.dumps(c["before"]) if c["kind"] ==
                   "resource_changed" else "", json.dumps(c["after"]) if c["kind"] == "resource_changed" else "")
        else:
            key = (id(c),)
        groups.setdefault(key, []).append(c)
    return list(groups.values())


def summarize(changes: list[dict]) -> list[str]:
    """Lines for a person, one per group of grouped()."""
    lines = []
    for members in grouped(changes):
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


def version_pages(conn, lang: str, page_key: str | None = None) -> tuple[str, list[int]]:
    """The page whose versions answer (its key and the ids of its versions): `page_key` (checked
    already), else the page of `lang` with the most versions, as queries/timeline.sql chooses."""
    _require_log(conn, lang)
    if page_key is None:
        row = conn.execute("""select page_key from page_version where lang = ? group by page_key
                              order by count(*) desc, page_key limit 1""", [lang]).fetchone()
        page_key = row[0] if row else ""
    ids = [r[0] for r in conn.execute("select page_id from page_version where lang = ? and page_key = ? order by ord",
                                      [lang, page_key])]
    return page_key, ids


def check_timeline(checker: Checker, subject: str | None, condition: str | None, page_key: str | None) -> dict | None:
    """The timeline's page, subject — an action (service:Name, known to some version of the page)
    or an API (named by one) — and the API's condition (documented by some version), checked: the
    problems go to `checker`, as every door's check does. What was found, or None."""
    conn = checker.conn
    _require_log(conn, checker.lang)
    page_key = checker.page(page_key, "versions")
    if not subject:
        return None
    page_key, page_ids = version_pages(conn, checker.lang, page_key)
    marks = ",".join("?" * len(page_ids))
    if ":" in subject:
        known = [r[0] for r in conn.execute(
            f"""select distinct sa.action from statement_action sa join statement st on st.id = sa.statement_id
                join snippet sn on sn.id = st.snippet_id where sn.page_id in ({marks}) order by 1""", page_ids)]
        name = next((a for a in known if a.lower() == subject.lower()), None)
        what, word = "action", "error_unknown_subject_action"
    else:
        known = [r[0] for r in conn.execute(
            f"select distinct api_name from api_mention where page_id in ({marks}) order by 1", page_ids)]
        name, what, word = checker.api_named(page_ids, subject), "api", "error_unknown_subject_api"
    if name is None:
        dym, near = checker.maybe(subject, known)
        checker.add("subject", subject, word, near, dym=dym)
        return None
    if condition and what != "api":
        checker.add("condition", condition, "error_condition_with_action", subject=name)
        return None
    rows = query.run_canned(conn, "timeline", subject=name, condition=condition or "", lang=checker.lang,
                            page=page_key)
    if condition and not any(r["present"] for r in rows):
        seen = sorted({c for r in rows for c in (r["conditions"] or "").split(", ") if c})
        dym, near = checker.maybe(condition, seen)
        checker.add("condition", condition, "error_unknown_subject_condition", near, dym=dym, api=name,
                    valid=seen or checker.say("error_none"))
        return None
    return {"page_key": page_key, "kind": what, "subject": name, "rows": rows}


def timeline(conn, subject: str, condition: str | None = None, lang: str | None = None,
             page_key: str | None = None) -> dict:
    """For every version of the page, oldest first: does it state `subject` (an API, an API's
    condition, or an action), and what; then when it was first seen and when it last changed."""
    checker = Checker(conn, lang)
    found = check_timeline(checker, subject, condition, page_key)
    lang = checker.done().lang
    assert found is not None
    what, name, rows = found["kind"], found["subject"], found["rows"]
    versions = [_version(r, what, condition) for r in rows]
    first = next((v for v in versions if v["present"]), None)
    changed = [v for v, r in zip(versions, rows) if r["changed_here"]]
    last_changed = changed[-1] if changed else first
    previous_absent = versions[versions.index(first) - 1] if first is not None and first is not versions[0] else None
    return {
        "subject": name, "kind": what, "condition": condition, "lang": lang, "page_key": found["page_key"],
        "versions": versions,
        "first_seen": _point(first),
        # Present in the oldest version the KB holds: the fact may be older than that version.
        "in_oldest_version": first is versions[0],
        "absent_before": _point(previous_absent),
        "last_changed": _point(last_changed), "present_now": versions[-1]["present"],
    }


def _version(r, what: str, condition: str | None) -> dict:
    """One row of queries/timeline.sql, with what a person wants to see of that kind of subject."""
    split = lambda v: [x for x in (v or "").split(", ") if x]
    out = {"date": r["version_date"], "label": r["version"], "date_source": r["date_source"],
           "is_current": bool(r["is_current"]), "present": bool(r["present"])}
    if what == "action":
        return {**out, "apis": split(r["apis"]), "requirements": r["requirements"]}
    if condition:
        return {**out, "actions": split(r["action_list"]), "conditions": split(r["conditions"])}
    return {**out, "documented": bool(r["documented"]), "conditions": split(r["conditions"]),
            "actions": r["action_count"], "passes_role": bool(r["passes_role"])}


def _point(row: dict | None) -> dict | None:
    return {"date": row["date"], "label": row["label"]} if row else None
