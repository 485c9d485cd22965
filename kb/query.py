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


def _pages(conn, lang: str, page: str | None = None) -> list[sqlite3.Row]:
    """The current pages of a language (one, with `page`: its key as the source list names it)."""
    rows = conn.execute("select * from page where is_current and lang = ?", [lang]).fetchall()
    if not rows:
        langs = [r[0] for r in conn.execute("select distinct lang from page where is_current order by 1")]
        raise KBError(f"no page in language {lang!r}; languages in this KB: {', '.join(langs)}")
    if page is not None:
        picked = [r for r in rows if r["page_key"] == page]
        if not picked:
            raise KBError(f"no current {lang} page {page!r}" + did_you_mean(page, [r["page_key"] for r in rows]))
        return picked
    return rows


def _where_pages(conn, lang: str, page: str | None) -> tuple[str, list[int]]:
    ids = [p["id"] for p in _pages(conn, lang, page)]
    return ",".join("?" * len(ids)), ids


def documented(conn, lang: str, page: str | None = None) -> list[str]:
    """The role contexts some current page of `lang` documents permissions for: the APIs whose request
    carries the role, and the feature contexts. An API whose request carries no role (CreateTransformJob)
    is none, even where a page about it documents the role it runs with (the model's)."""
    marks, ids = _where_pages(conn, lang, page)
    return [r[0] for r in conn.execute(
        f"""select distinct coalesce(r.api_name, c.key) from requirement r join role_context c on c.id = r.context_id
            where r.page_id in ({marks}) order by 1""", ids)]


def resolve_api(conn, api: str, lang: str, page: str | None = None) -> str:
    """The model spelling of an API (or the key of a feature context) whose permissions a current
    page of `lang` documents (case-insensitive; a page's own misspelling is accepted too)."""
    marks, ids = _where_pages(conn, lang, page)
    known = documented(conn, lang, page)
    name = next((k for k in known if k.lower() == api.lower()), None) or api_named(conn, ids, api)
    if name is None or name not in known:
        _runs_with_another_role(conn, marks, ids, name or api, lang)
        where = f"the {lang} page {page!r}" if page else f"any {lang} page"
        if name is None:
            elsewhere = [r[0] for r in conn.execute(
                """select distinct p.lang from requirement r join page p on p.id = r.page_id
                   where p.is_current and p.lang != ? and lower(r.api_name) = lower(?) order by 1""", [lang, api])]
            hint = (f" (the {', '.join(elsewhere)} page documents it: --lang {elsewhere[0]})" if elsewhere
                    else did_you_mean(api, known))
            raise KBError(f"{api!r} has no permissions section on {where}{hint}; documented: {', '.join(known)}")
        # Named, but only where the page lists the APIs that pass the role, or in a section without a policy.
        passes = conn.execute(f"select 1 from api_mention where page_id in ({marks}) and api_name = ? "
                              "and context = 'passrole' limit 1", [*ids, name]).fetchone()
        how = ("only among the APIs that pass the execution role (iam:PassRole)" if passes
               else "without a policy for it")
        says = f"{where} documents" if page else f"the {lang} pages document"
        raise KBError(f"{says} no permissions for {name}: {'it names' if page else 'they name'} it {how}; "
                      f"`kb apis --lang {lang}` lists what they document")
    return name


def _runs_with_another_role(conn, marks: str, ids: list[int], api: str, lang: str) -> None:
    """Refuse an API whose request carries no role but whose jobs a page says run with another API's
    role (CreateTransformJob, the model's: CreateModel), naming that role and its pages."""
    uses = conn.execute(
        f"""select distinct r.subject_api, coalesce(r.api_name, c.key), p.page_key from requirement r
            join role_context c on c.id = r.context_id join page p on p.id = r.page_id
            where r.page_id in ({marks}) and lower(r.subject_api) = lower(?) order by 2, 3""", [*ids, api]).fetchall()
    if uses:
        contexts = list(dict.fromkeys(u[1] for u in uses))
        raise KBError(f"{uses[0][0]}'s request carries no role (no role member in the API model): its jobs run "
                      f"with {' and '.join(contexts)}'s role ({', '.join(dict.fromkeys(u[2] for u in uses))}); "
                      f"`kb requirements {contexts[0]} --lang {lang}`")


def api_named(conn, page_ids: list[int], text: str) -> str | None:
    """The model spelling of the API `text` names on those pages (case-insensitive; the page's
    own misspelling counts), or None."""
    marks = ",".join("?" * len(page_ids))
    row = conn.execute(
        f"""select api_name from api_mention where page_id in ({marks})
            and (lower(api_name) = lower(?) or lower(doc_spelling) = lower(?)) limit 1""",
        [*page_ids, text, text]).fetchone()
    return row[0] if row else None


def _requirement_rows(conn, name: str, lang: str, page: str | None = None):
    """Every requirement of an API whose request carries the role, or of a feature context, on the
    current pages of `lang`, page by page in reading order."""
    marks, ids = _where_pages(conn, lang, page)
    return conn.execute(
        f"""select r.*, sn.role, sn.snippet_index, sn.lead_text, sn.line as snippet_line,
                   s.anchor, s.heading, p.url as page_url, p.lang, p.page_key, p.title as page_title, c.key as context
            from requirement r join snippet sn on sn.id = r.snippet_id join role_context c on c.id = r.context_id
            join section s on s.id = r.section_id join page p on p.id = r.page_id
            where r.page_id in ({marks}) and (r.api_name = ? or c.key = ?)
            order by p.page_key, sn.line, r.id""",
        [*ids, name, name]).fetchall()


def conditions(conn, api: str, lang: str | None = None, page: str | None = None) -> list[dict]:
    lang = check_lang(conn, lang)
    name = resolve_api(conn, api, lang, page)
    out: dict[str, dict] = {}
    for r in _requirement_rows(conn, name, lang, page):
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


def requirements(conn, api: str, conditions_: Sequence[str] = (), scoped: bool = False,
                 lang: str | None = None, page: str | None = None) -> dict:
    """What the role needs for `api`: the union of what every current page says (or one page,
    with `page`): a page's main policy (its resource-scoped variant when asked and it has one),
    plus each chosen condition's statements, every statement with its page and provenance. A
    statement printed without a Resource has `resources: null` (and a note); nothing is invented.
    `notes` are {kind, …parameters, text} with the text in `lang`: the one place they are made."""
    lang = check_lang(conn, lang)
    name = resolve_api(conn, api, lang, page)
    rows = _requirement_rows(conn, name, lang, page)
    known = {r["condition_key"] for r in rows if r["condition_key"]}
    unknown = [c for c in conditions_ if c not in known]
    if unknown:
        raise KBError(f"no {lang} page documents for {name} the condition {', '.join(map(repr, unknown))}; "
                      f"valid keys: {', '.join(sorted(known)) or '(none)'}")
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
        for st in _statements(conn, r["snippet_id"]):
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
    actions = sorted({a for s in statements if s["effect"] == "Allow" for a in s["actions"]})
    chosen_info = [c for c in conditions(conn, name, lang, page) if c["key"] in chosen]
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
    lang = check_lang(conn, lang)
    marks, ids = _where_pages(conn, lang, page)
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
    lang = check_lang(conn, lang)
    name = resolve_api(conn, api, lang, page)
    marks, ids = _where_pages(conn, lang, page)
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
    rows = conn.execute(sql + " order by lang, coalesce(line, 0), id", args).fetchall()
    return [{"kind": r["kind"], "severity": r["severity"], "subject": r["subject"], "detail": r["detail"],
             "page": r["page_url"], "page_key": r["page_key"], "lang": r["lang"], "revision": r["revision"],
             "section": r["section_anchor"], "heading": r["section_heading"], "line": r["line"]} for r in rows]
