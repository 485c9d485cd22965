"""The questions the KB answers, as plain functions over a read-only SQLite connection.

One answer, every door: the `kb` CLI, the Datasette pages and routes (kb.web) and the policy
writer (kb.policy) all call these. Only the standard library is imported here, so a query
starts fast. Words shown to people (notes, labels) come from the KB's `ui_text` and
`condition_label` tables, which the build fills from the lexicons: one per language.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from . import canned
from .checks import (  # noqa: F401  (the questions' checks, asked for as kb.query's by every door)
    Checker,
    Invalid,
    KBError,
    closest,
    did_you_mean,
    languages,
    page_languages,
    prevailing_language,
    ui,
)


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


# --- languages and words ------------------------------------------------------------------------


def check_lang(conn, lang: str | None) -> str:
    """`lang` if some current page of the KB is in that language, the prevailing one when None;
    else an Invalid naming the languages there are."""
    return Checker(conn, lang).done().lang


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


def ask(conn, lang: str | None = None, page: str | None = None, page_scope: str = "lang") -> tuple[Checker, str | None]:
    """A Checker for a question in `lang` about `page` (its problems kept, not yet raised)."""
    checker = Checker(conn, lang)
    return checker, checker.page(page, page_scope)


def documented(conn, lang: str, page: str | None = None) -> list[str]:
    """The APIs and feature contexts some current page of `lang` documents permissions for."""
    checker, page = ask(conn, lang, page)
    return checker.done().documented(page)


def resolve_api(conn, api: str, lang: str | None, page: str | None = None) -> str:
    """The model spelling of an API (or the key of a feature context) whose permissions a current
    page of `lang` documents (case-insensitive; a page's own misspelling is accepted too)."""
    checker, page = ask(conn, lang, page)
    name = checker.context(api, page)
    checker.done()
    assert name is not None
    return name


def api_named(conn, page_ids: list[int], text: str) -> str | None:
    """The model spelling of the API `text` names on those pages (case-insensitive; the page's
    own misspelling counts), or None."""
    return Checker(conn).api_named(page_ids, text)


def _requirement_rows(conn, name: str, pages: tuple[str, list[int]]):
    """Every requirement of an API whose request carries the role, or of a feature context, on a
    question's current pages (`pages`: Checker.page_marks), page by page in reading order, the pages
    that give the context's main policy first (queries/requirements.sql's order). (`+r.page_id`:
    the few hundred requirement rows are read, not the rows of the language's thousand pages, to find
    the handful of a context: a third of the time on a KB not read yet.)"""
    marks, ids = pages
    return conn.execute(
        f"""select r.*, sn.role, sn.snippet_index, sn.lead_text, sn.line as snippet_line, sn.parse_status,
                   s.anchor, s.heading, p.url as page_url, p.lang, p.page_key, p.title as page_title, c.key as context
            from requirement r join snippet sn on sn.id = r.snippet_id join role_context c on c.id = r.context_id
            join section s on s.id = r.section_id join page p on p.id = r.page_id
            where +r.page_id in ({marks}) and (r.api_name = ? or c.key = ?)
            order by not exists (select 1 from requirement m where m.page_id = r.page_id and m.context_id = r.context_id
                                 and m.condition_key is null), p.page_key, sn.line, r.id""",
        [*ids, name, name]).fetchall()


def conditions(conn, api: str, lang: str | None = None, page: str | None = None) -> list[dict]:
    checker, page = ask(conn, lang, page)
    name = checker.context(api, page)
    lang = checker.done().lang
    assert name is not None
    return _conditions_of(conn, _requirement_rows(conn, name, checker.page_marks(page)), lang)


def _conditions_of(conn, rows: list[sqlite3.Row], lang: str) -> list[dict]:
    """The conditions of a context's requirement rows, each once, in reading order."""
    out: dict[str, dict] = {}
    for r in rows:
        key = r["condition_key"]
        if key is None or key in out:
            continue
        c = conn.execute("select * from condition where key = ?", [key]).fetchone()
        labels = condition_labels(conn, key)
        out[key] = {
            "key": key, "label": labels.get(lang) or labels.get(prevailing_language(conn)) or key,
            "labels": labels, "classified": bool(c["classified"]),
            "applies_to": "main policy" if r["role"] in ("baseline", "scoped") and r["variant"] else "addition",
            "source": _source(r),
        }
    return list(out.values())


def condition_fields(conn) -> dict[str, tuple[str, ...]]:
    """condition key → the request members that show it (from the lexicon, via the build);
    a condition no request can show maps to ()."""
    return {r["key"]: tuple(json.loads(r["request_fields"] or "[]"))
            for r in conn.execute("select key, request_fields from condition")}


def _prevailing_pages(conn, lang: str, name: str, chosen: set[str]) -> list[dict]:
    """In a language that does not prevail: the prevailing language's pages that document this
    context (its main policy or a chosen condition) and have no version in `lang` — their
    statements are not in this answer, and the reader is told where they are."""
    prevailing = prevailing_language(conn)
    if lang == prevailing:
        return []
    pages = [r[0] for r in conn.execute(
        """select distinct p.page_key from requirement r join role_context c on c.id = r.context_id
           join page p on p.id = r.page_id
           where p.is_current and p.lang = ? and coalesce(r.api_name, c.key) = ?
             and (r.condition_key is null or r.condition_key in (select value from json_each(?)))
             and p.page_key not in (select page_key from page where is_current and lang = ?)
           order by 1""", [prevailing, name, json.dumps(sorted(chosen)), lang])]
    if not pages:
        return []
    return [note(conn, lang, "prevailing_pages", api=name, pages=pages, prevailing=prevailing)]


def requirements(conn, api: str, conditions_: Sequence[str] = (), scoped: bool = False,
                 lang: str | None = None, page: str | None = None) -> dict:
    """What the role needs for `api`: the union of what every current page says (or one page,
    with `page`): a page's main policy (its resource-scoped variant when asked and it has one),
    plus each chosen condition's statements, every statement with its page and provenance. A
    statement printed without a Resource has `resources: null` (and a note); nothing is invented.
    `notes` are {kind, …parameters, text} with the text in `lang`: the one place they are made."""
    checker, page = ask(conn, lang, page)
    name = checker.context(api, page)
    checker.conditions(conditions_, name, page)
    lang = checker.done().lang
    assert name is not None
    rows = _requirement_rows(conn, name, checker.page_marks(page))
    known = {r["condition_key"] for r in rows if r["condition_key"]}
    chosen = set(conditions_)
    notes: list[dict] = []
    scoped_pages = {r["page_id"] for r in rows if r["variant"] == "scoped"}
    if scoped and not scoped_pages:
        notes.append(note(conn, lang, "no_scoped_variant", api=name))

    def variant_of(r) -> str:
        return "scoped" if scoped and r["page_id"] in scoped_pages else "default"

    picked = [r for r in rows
              if (r["variant"] is None or r["variant"] == variant_of(r))
              and (r["condition_key"] is None or r["condition_key"] in chosen)]
    main_conditions = {r["condition_key"] for r in rows if r["variant"] and r["condition_key"]}
    for key in sorted(main_conditions - chosen):
        notes.append(note(conn, lang, "main_policy_condition", api=name, condition=key,
                          label=condition_label(conn, key, lang)))
    if not picked and not main_conditions:  # the pages give this role only additions, each for a feature
        notes.append(note(conn, lang, "only_additions", api=name, conditions=sorted(known)))
    statements = []
    for r in picked:
        read = _statements(conn, r["snippet_id"])
        if not read and r["parse_status"] in ("invalid", "not_json", "too_deep", "too_large"):  # nothing: say so
            notes.append(note(conn, lang, "unreadable_policy", api=name, page=r["page_key"], line=r["snippet_line"],
                              condition=r["condition_key"]))
        for st in read:
            if not st["resource_given"]:
                where = (condition_label(conn, r["condition_key"], lang) if r["condition_key"]
                         else ui(conn, lang).get("main_policy", "main policy"))
                notes.append(note(conn, lang, "no_resource", api=name, actions=st["actions"],
                                  condition=r["condition_key"], where=where))
            statements.append({
                "effect": st["effect"], "actions": st["actions"], "not_actions": st["not_actions"],
                "resources": st["resources"], "condition": st["condition"],
                "requirement": {"condition": r["condition_key"], "variant": r["variant"], "context": r["context"],
                                "api": r["api_name"], "how": r["how"]},
                "statement_id": st["id"], "source": _source(r),
            })
    if page is None:
        notes += _prevailing_pages(conn, lang, name, chosen)
    actions = sorted({a for s in statements if s["effect"] == "Allow" for a in s["actions"]})
    chosen_info = [c for c in _conditions_of(conn, rows, lang) if c["key"] in chosen]
    unique = list({json.dumps(n, sort_keys=True): n for n in notes}.values())
    variant = "scoped" if scoped and scoped_pages else "default"
    return {"api": name, "lang": lang, "variant": variant, "conditions": chosen_info, "actions": actions,
            "statements": statements, "pages": sorted({r["page_key"] for r in picked}), "notes": unique}


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
    return {"url": section_url(r["page_url"], r["anchor"]), "lang": r["lang"], "page": r["page_key"],
            "page_title": r["page_title"], "section_anchor": r["anchor"], "heading": r["heading"],
            "snippet_index": r["snippet_index"], "role": r["role"], "text": r["lead_text"]}


def apis(conn, lang: str | None = None, passrole_only: bool = False, page: str | None = None) -> list[dict]:
    """The APIs the current pages name: documented (some page gives their role's permissions) or only
    listed among the APIs the role is passed to (iam:PassRole)."""
    checker, page = ask(conn, lang, page)
    lang = checker.done().lang
    marks, ids = checker.page_marks(page)
    has_permissions = set(documented(conn, lang, page))
    out: dict[str, dict] = {}

    def item(name: str, spelling: str | None = None) -> dict:
        return out.setdefault(name, {"name": name, "doc_spelling": spelling or name, "passes_role": False,
                                     "documented": False, "section_anchor": None, "heading": None,
                                     "section_url": None, "pages": []})

    for r in conn.execute(
            f"""select m.api_name, m.doc_spelling, m.context, s.anchor, s.heading, p.url, p.page_key
                from api_mention m left join section s on s.id = m.section_id join page p on p.id = m.page_id
                where m.page_id in ({marks}) order by p.page_key, m.id""", ids):
        entry = item(r["api_name"], r["doc_spelling"])
        if r["context"] == "passrole":
            entry["passes_role"] = True
            if r["doc_spelling"] != r["api_name"]:
                entry["doc_spelling"] = r["doc_spelling"]
        elif not entry["documented"] and r["api_name"] in has_permissions:  # its own permissions section first
            entry.update(documented=True, section_anchor=r["anchor"], heading=r["heading"],
                         section_url=section_url(r["url"], r["anchor"]))
            entry["pages"].append(r["page_key"])
    for r in conn.execute(
            f"""select r.api_name as api, s.anchor, s.heading, p.url, p.page_key
                from requirement r join section s on s.id = r.section_id join page p on p.id = r.page_id
                where r.page_id in ({marks}) and r.api_name is not null
                order by p.page_key, s.ord""", ids):
        entry = item(r["api"])
        if not entry["documented"]:
            entry.update(documented=True, section_anchor=r["anchor"], heading=r["heading"],
                         section_url=section_url(r["url"], r["anchor"]))
        if r["page_key"] not in entry["pages"]:
            entry["pages"].append(r["page_key"])
    items = sorted(out.values(), key=lambda i: i["name"])
    return [i for i in items if i["passes_role"]] if passrole_only else items


def scoping(conn, api: str, lang: str | None = None, page: str | None = None) -> list[dict]:
    checker, page = ask(conn, lang, page)
    name = checker.context(api, page)
    lang = checker.done().lang
    marks, ids = checker.page_marks(page)
    rows = conn.execute(
        f"""select r.*, s.anchor, s.heading, p.url as page_url, p.page_key from scoping_rule r
            join section s on s.id = r.section_id join page p on p.id = r.page_id
            where r.page_id in ({marks}) and r.api_name = ? order by p.page_key, r.line, r.id""",
        [*ids, name]).fetchall()
    return [{"field": r["field_path"], "request_api": r["request_api"], "actions": json.loads(r["actions_json"]),
             "in_api_model": None if r["in_api_model"] is None else bool(r["in_api_model"]),
             "suggested_field": r["suggested_path"], "source_text": r["source_text"],
             "source": {"url": section_url(r["page_url"], r["anchor"]), "page": r["page_key"], "heading": r["heading"],
                        "line": r["line"]}}
            for r in rows]


def findings(conn, lang: str | None = None, include_history: bool = False, kind: str | None = None,
             page: str | None = None) -> list[dict]:
    """The findings of the current pages (of every language, or `lang`'s; with `include_history`,
    of their older versions too), of one `kind`, on one `page`."""
    checker, page = ask(conn, lang, page, "any")
    kind = checker.finding_kind(kind)
    checker.done()
    sql = "select * from finding_rows where 1"
    args: list = []
    if page:
        sql += " and page_key = ?"
        args.append(page)
    if not include_history:
        sql += " and (is_current or is_current is null)"
    if lang:
        sql += " and lang = ?"
        args.append(lang)
    if kind:
        sql += " and kind = ?"
        args.append(kind)
    # ties in page order, then as the page's rows were written: alike in a whole and a patched KB
    rows = conn.execute(sql + " order by lang, coalesce(line, 0), across_pages, page_id, id", args).fetchall()
    return [{"kind": r["kind"], "severity": r["severity"], "subject": r["subject"], "detail": r["detail"],
             "page": r["page_url"], "page_key": r["page_key"], "lang": r["lang"], "revision": r["revision"],
             "section": r["section_anchor"], "heading": r["section_heading"], "line": r["line"]} for r in rows]
