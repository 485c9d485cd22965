"""The change log's facts: one version of a page as comparable sets (`page_facts`), and what
differs between two versions (`diff`).

Two versions compare as sets of facts, so the same `diff` serves a refresh (the old KB file
against the new one), a rebuild, and consecutive dated revisions inside one KB (ingest/versions.py
records the results). Resources compare by their stored shape (`resource_shape`, computed once
when the KB is written): placeholder markup and the page's example region and account are
notation, not a change.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field

from kb.query import has_column, section_url

NO_RESOURCE = "(no Resource on the page)"
# Placeholders are markup, not part of the ARN: the .md endpoint prints `{{inputbucket}}` where the
# older source format printed `inputbucket`.
_PLACEHOLDER = re.compile(r"\{\{([^{}]*+)\}\}")  # its content is stripped: no `\s*` on either side to backtrack


def resource_shape(resource: str | None) -> str:
    """A resource as versions compare it: without `{{ }}` markup, and with an ARN's region and
    account reduced to whether the page gives one (`region`, `us-east-1`, `account-id` and
    `111122223333` are all examples), so `arn:aws:kms:region:account-id:key/k` and
    `arn:aws:kms:{{us-east-1}}:{{111122223333}}:key/{{k}}` are the same resource."""
    if resource is None:
        return NO_RESOURCE
    bare = _PLACEHOLDER.sub(lambda m: m.group(1).strip(), resource)
    parts = bare.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return bare
    parts[3] = parts[3] and "<region>"
    parts[4] = parts[4] and "<account>"
    return ":".join(parts)


_REQUIREMENT_FACTS = """
    select {subject} as api_name, r.condition_key, r.variant, st.effect, sa.action, sa.negated,
           st.resource_given, sr.resource, {shape} as shape,
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
    # → {"actions": {key: printed resources}, "shapes": {key: compared resources}, "source"}
    requirements: dict[tuple, dict] = field(default_factory=dict)
    scoping: dict[tuple, dict] = field(default_factory=dict)  # (api, request_api, field, actions) → provenance

    @property
    def size(self) -> int:
        """How many facts the version states: the measure of the refresh gate."""
        return sum(len(r["actions"]) for r in self.requirements.values()) + len(self.scoping)


def page_facts(conn: sqlite3.Connection, page_id: int) -> Facts:
    facts = Facts()
    # A KB written before shapes were stored (the file a refresh replaces): computed here, the same way.
    stored = has_column(conn, "statement_resource", "shape")
    # a feature's role (no API) is named by its context; a KB from before role contexts has none
    subject = ("coalesce(r.api_name, (select c.key from role_context c where c.id = r.context_id))"
               if has_column(conn, "requirement", "context_id") else "r.api_name")
    sql = _REQUIREMENT_FACTS.format(shape="sr.shape" if stored else "null", subject=subject)
    resources: dict[tuple, dict[str, dict[str, str]]] = {}  # requirement → action key → printed → shape
    for r in conn.execute(sql, [page_id]):
        (api, cond, variant, effect, action, negated, given, resource, shape, anchor, heading, index, role,
         lead, url) = r
        source = {"url": section_url(url, anchor), "heading": heading, "snippet_index": index, "role": role,
                  "text": lead}
        facts.apis.setdefault(api, {"url": section_url(url, anchor), "heading": heading})
        facts.requirements.setdefault((api, cond, variant), {"actions": {}, "shapes": {}, "source": source})
        if action is None:
            continue
        key = ("NotAction " if negated else "") + ("" if effect == "Allow" else f"{effect} ") + action
        res = resources.setdefault((api, cond, variant), {}).setdefault(key, {})
        printed = resource if given else NO_RESOURCE
        if printed is not None and printed not in res:
            res[printed] = shape if stored and given else resource_shape(resource if given else None)
    for req_key, by_action in resources.items():
        for key, res in by_action.items():
            facts.requirements[req_key]["actions"][key] = sorted(res)
            facts.requirements[req_key]["shapes"][key] = tuple(sorted(res.values()))
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
        add("variant_added", key[0], key[1], key[2], after=sorted(new_reqs[key]["actions"]),
            after_source=new_reqs[key]["source"])
    for key in sorted(old_reqs.keys() - new_reqs.keys(), key=_sort_key):
        add("variant_removed", key[0], key[1], key[2], before=sorted(old_reqs[key]["actions"]),
            before_source=old_reqs[key]["source"])
    for key in sorted(old_reqs.keys() & new_reqs.keys(), key=_sort_key):
        before, after = old_reqs[key], new_reqs[key]
        was, now = before["actions"], after["actions"]
        for action in sorted(now.keys() - was.keys()):
            add("action_added", key[0], key[1], key[2], action=action, after=now[action], after_source=after["source"])
        for action in sorted(was.keys() - now.keys()):
            add("action_removed", key[0], key[1], key[2], action=action, before=was[action], before_source=before["source"])
        for action in sorted(was.keys() & now.keys()):
            if before["shapes"][action] != after["shapes"][action]:
                add("resource_changed", key[0], key[1], key[2], action=action, before=was[action], after=now[action],
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
