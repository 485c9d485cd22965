"""The questions the KB answers, as plain functions over a read-only SQLite connection.

One answer, every door: the `kb` CLI, the Datasette pages and routes (kb.web) and the policy
writer (kb.policy) all call these. Only the standard library is imported here, so a query
starts fast. Words shown to people (notes, labels) come from the KB's `ui_text` and
`condition_label` tables, which the build fills from the lexicons: one per language.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from . import canned


class KBError(RuntimeError):
    """A question the KB cannot answer as asked; the message says why and what would work."""


def connect(db_path: str | Path) -> sqlite3.Connection:
    path = Path(db_path)
    if not path.is_file():
        raise KBError(f"no knowledge base at {path}: run `ingest build` (or `make serve`) first")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("select 1 from requirement, language limit 1")
    except sqlite3.DatabaseError as exc:
        raise KBError(f"{path} is not a knowledge base built by this version of `ingest build` ({exc}); "
                      f"rebuild it with `ingest build`") from exc
    return conn


def has_table(conn, name: str) -> bool:
    return conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [name]).fetchone() is not None


def has_column(conn, table: str, column: str) -> bool:
    return any(r[1] == column for r in conn.execute(f"pragma table_info({table})"))


def section_url(page_url: str, anchor: str | None) -> str:
    return f"{page_url}#{anchor}" if anchor else page_url


def run_canned(conn, name: str, **params) -> list[sqlite3.Row]:
    """A canned query (queries/<name>.sql), the very SQL Datasette serves."""
    return canned.run(conn, name, **params)


# --- did you mean -------------------------------------------------------------------------------


def closest(name: str, names: list[str]) -> str | None:
    """The one of `names` that `name` most likely misspells (any case), or None."""
    by_lower = {n.lower(): n for n in names}
    near = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[near[0]] if near else None


def did_you_mean(name: str, names: list[str]) -> str:
    """' (did you mean X?)' for a message, or ''."""
    near = closest(name, names)
    return f" (did you mean {near}?)" if near else ""


# --- languages and words ------------------------------------------------------------------------


def languages(conn) -> list[dict]:
    """The KB's languages (one per lexicon the build knew), the prevailing one first."""
    return [{"code": r["code"], "name": r["name"], "prevails": bool(r["prevails"])}
            for r in conn.execute("select code, name, prevails from language order by prevails desc, code")]


def prevailing_language(conn) -> str:
    row = conn.execute("select code from language where prevails").fetchone()
    return row[0] if row else "en"


def check_lang(conn, lang: str | None) -> str:
    """`lang` if the KB has that language, the prevailing one when None; else a KBError naming them."""
    codes = [r["code"] for r in languages(conn)]
    if lang is None or lang == "":
        return prevailing_language(conn)
    if lang not in codes:
        raise KBError(f"no language {lang!r} in this KB; languages: {', '.join(codes)} "
                      f"(a new language is one ingest/lexicon/<lang>.toml, then `ingest build`)")
    return lang


def ui(conn, lang: str) -> dict[str, str]:
    """The interface words of a language (the lexicon's [ui] table), the prevailing language's
    where a lexicon lacks one."""
    words = {r[0]: r[1] for r in conn.execute("select key, text from ui_text where lang = ?",
                                             [prevailing_language(conn)])}
    words.update({r[0]: r[1] for r in conn.execute("select key, text from ui_text where lang = ?", [lang])})
    return words


def note(conn, lang: str, kind: str, **params) -> dict:
    """A note for a person: its kind, its parameters, and its text in `lang`."""
    template = ui(conn, lang).get(f"note_{kind}", kind)
    shown = {k: (", ".join(v) if isinstance(v, list) else v) for k, v in params.items()}
    try:
        text = template.format(**shown)
    except (KeyError, IndexError, ValueError):
        text = template
    return {"kind": kind, **params, "text": text}


def condition_labels(conn, key: str) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute("select lang, label from condition_label where condition_key = ?",
                                             [key])}


def condition_label(conn, key: str, lang: str) -> str:
    labels = condition_labels(conn, key)
    return labels.get(lang) or labels.get(prevailing_language(conn)) or key


# --- APIs -------------------------------------------------------------------------------------


def _pages(conn, lang: str) -> list[sqlite3.Row]:
    rows = conn.execute("select * from page where is_current and lang = ?", [lang]).fetchall()
    if not rows:
        langs = [r[0] for r in conn.execute("select distinct lang from page where is_current order by 1")]
        raise KBError(f"no page in language {lang!r}; languages in this KB: {', '.join(langs)}")
    return rows


def resolve_api(conn, api: str, lang: str) -> str:
    """The model spelling of an API the page documents in `lang` (case-insensitive; the page's
    own misspelling is accepted too)."""
    page_ids = [p["id"] for p in _pages(conn, lang)]
    marks = ",".join("?" * len(page_ids))
    name = api_named(conn, page_ids, api)
    if name is None:
        documented = [r[0] for r in conn.execute(
            f"""select distinct api_name from requirement where page_id in ({marks}) order by 1""", page_ids)]
        elsewhere = [r[0] for r in conn.execute(
            """select distinct p.lang from requirement r join page p on p.id = r.page_id
               where p.is_current and p.lang != ? and lower(r.api_name) = lower(?) order by 1""", [lang, api])]
        hint = f" (the {', '.join(elsewhere)} page documents it: --lang {elsewhere[0]})" if elsewhere else ""
        if not elsewhere:
            hint = did_you_mean(api, documented)
        raise KBError(f"{api!r} has no permissions section on the {lang} page{hint}; documented APIs: "
                      + ", ".join(documented))
    if not conn.execute(f"select 1 from requirement where page_id in ({marks}) and api_name = ? limit 1",
                        [*page_ids, name]).fetchone():
        # Named, but only where the page lists the APIs that pass the role, or in a section without a policy.
        passes = conn.execute(f"select 1 from api_mention where page_id in ({marks}) and api_name = ? "
                              "and context = 'passrole' limit 1", [*page_ids, name]).fetchone()
        where = ("only among the APIs that pass the execution role (iam:PassRole)" if passes
                 else "without a policy for it")
        raise KBError(f"the {lang} page documents no permissions for {name}: it names it {where}; "
                      f"`kb apis --lang {lang}` lists what it documents")
    return name


def api_named(conn, page_ids: list[int], text: str) -> str | None:
    """The model spelling of the API `text` names on those pages (case-insensitive; the page's
    own misspelling counts), or None."""
    marks = ",".join("?" * len(page_ids))
    row = conn.execute(
        f"""select api_name from api_mention where page_id in ({marks})
            and (lower(api_name) = lower(?) or lower(doc_spelling) = lower(?)) limit 1""",
        [*page_ids, text, text]).fetchone()
    return row[0] if row else None


def _requirement_rows(conn, api: str, lang: str):
    return conn.execute(
        """select r.*, sn.role, sn.snippet_index, sn.lead_text, sn.line as snippet_line,
                  s.anchor, s.heading, p.url as page_url, p.lang
           from requirement r join snippet sn on sn.id = r.snippet_id
           join section s on s.id = r.section_id join page p on p.id = r.page_id
           where p.is_current and p.lang = ? and r.api_name = ? order by sn.line, r.id""",
        [lang, api]).fetchall()


def conditions(conn, api: str, lang: str | None = None) -> list[dict]:
    lang = check_lang(conn, lang)
    name = resolve_api(conn, api, lang)
    out: dict[str, dict] = {}
    for r in _requirement_rows(conn, name, lang):
        key = r["condition_key"]
        if key is None or key in out:
            continue
        c = conn.execute("select * from condition where key = ?", [key]).fetchone()
        labels = condition_labels(conn, key)
        out[key] = {
            "key": key, "label": labels.get(lang) or labels.get(prevailing_language(conn)) or key,
            "labels": labels, "classified": bool(c["classified"]),
            "applies_to": "main policy" if r["role"] in ("baseline", "scoped") else "addition",
            "source": _source(r),
        }
    return list(out.values())


def condition_fields(conn) -> dict[str, tuple[str, ...]]:
    """condition key → the request members that show it (from the lexicon, via the build);
    a condition no request can show maps to ()."""
    return {r["key"]: tuple(json.loads(r["request_fields"] or "[]"))
            for r in conn.execute("select key, request_fields from condition")}


def requirements(conn, api: str, conditions_: Sequence[str] = (), scoped: bool = False,
                 lang: str | None = None) -> dict:
    """What the role needs for `api`: the page's main policy (or its resource-scoped variant),
    plus each chosen condition's statements, every statement with its provenance. A statement the
    page prints without a Resource has `resources: null` (and a note); nothing is invented for it.
    `notes` are {kind, …parameters, text} with the text in `lang`: the one place they are made."""
    lang = check_lang(conn, lang)
    name = resolve_api(conn, api, lang)
    rows = _requirement_rows(conn, name, lang)
    known = {r["condition_key"] for r in rows if r["condition_key"]}
    unknown = [c for c in conditions_ if c not in known]
    if unknown:
        raise KBError(f"{name} on the {lang} page documents no condition {', '.join(map(repr, unknown))}; "
                      f"valid keys: {', '.join(sorted(known)) or '(none)'}")
    chosen = set(conditions_)
    notes: list[dict] = []
    variants = {r["variant"] for r in rows if r["variant"]}
    variant = "scoped" if scoped else "default"
    if scoped and "scoped" not in variants:
        notes.append(note(conn, lang, "no_scoped_variant", api=name))
        variant = "default"
    picked = [r for r in rows
              if (r["variant"] in (variant, None))
              and (r["condition_key"] is None or r["condition_key"] in chosen)]
    main_conditions = {r["condition_key"] for r in rows if r["variant"] and r["condition_key"]}
    for key in sorted(main_conditions - chosen):
        notes.append(note(conn, lang, "main_policy_condition", api=name, condition=key,
                          label=condition_label(conn, key, lang)))
    statements = []
    for r in picked:
        for st in _statements(conn, r["snippet_id"]):
            if not st["resource_given"]:
                where = (condition_label(conn, r["condition_key"], lang) if r["condition_key"]
                         else ui(conn, lang).get("main_policy", "main policy"))
                notes.append(note(conn, lang, "no_resource", api=name, actions=st["actions"],
                                  condition=r["condition_key"], where=where))
            statements.append({
                "effect": st["effect"], "actions": st["actions"], "not_actions": st["not_actions"],
                "resources": st["resources"], "condition": st["condition"],
                "requirement": {"condition": r["condition_key"], "variant": r["variant"]},
                "statement_id": st["id"], "source": _source(r),
            })
    actions = sorted({a for s in statements if s["effect"] == "Allow" for a in s["actions"]})
    chosen_info = [c for c in conditions(conn, name, lang) if c["key"] in chosen]
    unique = list({json.dumps(n, sort_keys=True): n for n in notes}.values())
    return {"api": name, "lang": lang, "variant": variant, "conditions": chosen_info, "actions": actions,
            "statements": statements, "notes": unique}


def _statements(conn, snippet_id: int) -> list[dict]:
    out = []
    for st in conn.execute("select * from statement where snippet_id = ? order by ord", [snippet_id]):
        acts = conn.execute("select action, negated from statement_action where statement_id = ? order by id",
                            [st["id"]]).fetchall()
        res = [r[0] for r in conn.execute(
            "select resource from statement_resource where statement_id = ? order by ord", [st["id"]])]
        out.append({
            "id": st["id"], "effect": st["effect"], "actions": [a[0] for a in acts if not a[1]],
            "not_actions": [a[0] for a in acts if a[1]], "resources": res if st["resource_given"] else None,
            "resource_given": bool(st["resource_given"]),
            "condition": json.loads(st["condition_json"]) if st["condition_json"] else None,
        })
    return out


def _source(r) -> dict:
    return {"url": section_url(r["page_url"], r["anchor"]), "lang": r["lang"], "section_anchor": r["anchor"],
            "heading": r["heading"], "snippet_index": r["snippet_index"], "role": r["role"],
            "text": r["lead_text"]}


def apis(conn, lang: str | None = None, passrole_only: bool = False) -> list[dict]:
    lang = check_lang(conn, lang)
    page_ids = [p["id"] for p in _pages(conn, lang)]
    marks = ",".join("?" * len(page_ids))
    rows = conn.execute(
        f"""select m.api_name, m.doc_spelling, m.context, s.anchor, s.heading, p.url
            from api_mention m left join section s on s.id = m.section_id join page p on p.id = m.page_id
            where m.page_id in ({marks}) order by m.id""", page_ids).fetchall()
    out: dict[str, dict] = {}
    for r in rows:
        item = out.setdefault(r["api_name"], {"name": r["api_name"], "doc_spelling": r["doc_spelling"],
                                               "passes_role": False, "documented": False,
                                               "section_anchor": None, "heading": None, "section_url": None})
        if r["context"] == "passrole":
            item["passes_role"] = True
            if r["doc_spelling"] != r["api_name"]:
                item["doc_spelling"] = r["doc_spelling"]
        else:
            item.update(documented=True, section_anchor=r["anchor"], heading=r["heading"],
                        section_url=section_url(r["url"], r["anchor"]))
    items = sorted(out.values(), key=lambda i: i["name"])
    return [i for i in items if i["passes_role"]] if passrole_only else items


def scoping(conn, api: str, lang: str | None = None) -> list[dict]:
    lang = check_lang(conn, lang)
    name = resolve_api(conn, api, lang)
    rows = conn.execute(
        """select r.*, s.anchor, s.heading, p.url as page_url from scoping_rule r
           join section s on s.id = r.section_id join page p on p.id = r.page_id
           where p.is_current and p.lang = ? and r.api_name = ? order by r.line, r.id""", [lang, name]).fetchall()
    return [{"field": r["field_path"], "request_api": r["request_api"], "actions": json.loads(r["actions_json"]),
             "in_api_model": None if r["in_api_model"] is None else bool(r["in_api_model"]),
             "suggested_field": r["suggested_path"], "source_text": r["source_text"],
             "source": {"url": section_url(r["page_url"], r["anchor"]), "heading": r["heading"], "line": r["line"]}}
            for r in rows]


def trust_policy(conn, lang: str | None = None) -> dict:
    lang = check_lang(conn, lang)
    row = conn.execute(
        """select sn.parsed_json, sn.lead_text, sn.snippet_index, s.anchor, s.heading, p.url as page_url
           from snippet sn join section s on s.id = sn.section_id join page p on p.id = sn.page_id
           where p.is_current and p.lang = ? and sn.role = 'trust_policy' order by sn.line limit 1""",
        [lang]).fetchone()
    if row is None:
        raise KBError(f"the {lang} page carries no trust policy")
    return {"policy": json.loads(row["parsed_json"]), "source": {
        "url": section_url(row["page_url"], row["anchor"]), "heading": row["heading"],
        "snippet_index": row["snippet_index"], "text": row["lead_text"]}}


def findings(conn, lang: str | None = None, include_history: bool = False, kind: str | None = None) -> list[dict]:
    sql = "select * from finding_rows where 1"
    args: list = []
    if not include_history:
        sql += " and (is_current or is_current is null)"
    if lang:
        sql += " and lang = ?"
        args.append(lang)
    if kind:
        sql += " and kind = ?"
        args.append(kind)
    rows = conn.execute(sql + " order by lang, coalesce(line, 0), id", args).fetchall()
    return [{"kind": r["kind"], "severity": r["severity"], "subject": r["subject"], "detail": r["detail"],
             "page": r["page_url"], "lang": r["lang"], "revision": r["revision"],
             "section": r["section_anchor"], "heading": r["section_heading"], "line": r["line"]} for r in rows]
