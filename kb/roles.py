"""Questions about roles across the whole guide: the role contexts, what the caller needs, the trust
policy (with the confused-deputy conditions a page documents for a kind of job), and how much of
each page's policy snippets the KB could read and attribute (`coverage`)."""

from __future__ import annotations

import copy
import json
from collections import Counter

from .checks import notation_rule
from .query import Checker, ask, documented, prevailing_language, run_canned, section_url, ui


def roles(conn, lang: str | None = None, page: str | None = None) -> list[dict]:
    """Every role context some current page documents: the API whose request carries the role (and
    that request member), or the feature a page documents; its pages and conditions, and `used_by`: the
    APIs whose request carries no role but whose jobs a page says run with this one (CreateTransformJob
    with the model's). Those are never role contexts of their own."""
    checker, page = ask(conn, lang, page)
    lang = checker.done().lang
    marks, ids = checker.page_marks(page)
    out: dict[str, dict] = {}
    for r in conn.execute(
            f"""select c.key, c.api_name, c.role_member, c.feature, p.page_key, r.condition_key, r.subject_api
                from requirement r join role_context c on c.id = r.context_id join page p on p.id = r.page_id
                where r.page_id in ({marks}) order by c.key, p.page_key""", ids):
        item = out.setdefault(r["key"], {"key": r["key"], "api": r["api_name"], "role_member": r["role_member"],
                                         "feature": r["feature"], "pages": [], "conditions": [], "used_by": []})
        for field, value in (("pages", r["page_key"]), ("conditions", r["condition_key"]),
                             ("used_by", r["subject_api"])):
            if value and value not in item[field]:
                item[field].append(value)
    return sorted(out.values(), key=lambda i: (i["api"] is None, i["key"]))


def choices(conn, lang: str | None = None) -> list[dict]:
    """Every role context a person may ask about in `lang`: each API, then each feature context
    (labelled by the title of its page), that a current page of `lang` documents — and those only
    the prevailing language's pages document, `lang` saying which language answers. What the home
    page and the policy panel offer; `kb requirements NAME --lang LANG` answers each."""
    checker = Checker(conn, lang)
    lang = checker.done().lang
    prevailing = prevailing_language(conn)
    own = documented(conn, lang)
    named = [(n, lang) for n in own] + [(n, prevailing) for n in (documented(conn, prevailing) if lang != prevailing
                                                                    else []) if n not in own]
    # a feature context's page, in each language (the first page by key, where several document it)
    pages = {(r["key"], r["lang"]): r for r in conn.execute(
        """select c.key, p.lang, p.page_key, p.title from role_context c join requirement r on r.context_id = c.id
           join page p on p.id = r.page_id where c.api_name is null and p.is_current order by p.page_key desc""")}
    out = []
    for name, answers in named:
        feature = pages.get((name, answers))
        label = f"{feature['title'] or feature['page_key']} ({feature['page_key']})" if feature else name
        out.append({"name": name, "kind": "feature" if feature else "api", "label": label, "lang": answers,
                    "page": feature["page_key"] if feature else None})
    return sorted(out, key=lambda c: (c["kind"] == "feature", c["label"].lower() if c["kind"] == "feature" else c["name"]))


def caller(conn, api: str, lang: str | None = None) -> dict:
    """What the caller of `api` needs, from the guide's API permissions table: the actions always
    required, and those required only when a request member is set. From `lang`'s pages; where none
    has the table, the prevailing language's, with a note in `lang` (the `caller` canned query)."""
    checker = Checker(conn, lang)
    name = checker.caller_api(api)
    if name is None and not checker.problems:  # no API named at all
        checker.add("api", api, "error_unknown_caller_api", dym="")
    lang = checker.done().lang
    rows = run_canned(conn, "caller", api=name, lang=lang)
    first = rows[0]
    notes = [] if first["lang"] == lang else [ui(conn, lang)["note_caller_prevailing"].format(
        language=_language_name(conn, lang), name=name)]
    return {
        "api": name, "lang": first["lang"],
        "actions": list(dict.fromkeys(r["action"] for r in rows if r["required_when"] is None)),
        "conditional": [{"action": r["action"], "when": r["required_when"], "request_field": r["request_field"]}
                        for r in rows if r["required_when"] is not None],
        "source": {"url": first["source_url"], "page": first["page_key"], "heading": first["heading"],
                   "line": first["line"], "text": first["cell_text"], "lang": first["lang"]},
        "notes": notes,
    }


def trust_policy(conn, lang: str | None = None, service: str | None = None, api: str | None = None,
                 region: str | None = None, account: str | None = None, page: str | None = None,
                 say_in: str | None = None) -> dict:
    """The trust policy of a role: the one a page documents for `api`'s kind of job (the API whose
    request carries the role, or the job a feature's role is for, CreateTransformJob; its
    confused-deputy conditions filled with `region` and `account`), else the plain one most pages
    print, for `service` when given. Notes are in `say_in` when given (an answer another language's
    pages give), else in `lang`."""
    checker, page = ask(conn, lang, page)
    _check_trust_question(checker, api, region, account)
    lang = checker.lang  # the question's, or the prevailing one while a problem stands (said below)
    marks, ids = checker.page_marks(page)
    rows = conn.execute(
        f"""select sn.id, sn.parsed_json, sn.lead_text, sn.snippet_index, sn.line, s.anchor, s.heading,
                   p.url as page_url, p.page_key, p.title as page_title, p.lang,
                   (select group_concat(principal, ' ') from trust_principal t where t.snippet_id = sn.id) as principals,
                   (select group_concat(coalesce(c.api_name, x.subject_api), ' ') from snippet_context x
                    join role_context c on c.id = x.context_id where x.snippet_id = sn.id) as apis,
                   (select count(*) from section q where q.page_id = p.id and q.is_api_section) as api_sections
            from snippet sn join section s on s.id = sn.section_id join page p on p.id = sn.page_id
            where sn.page_id in ({marks}) and sn.kind = 'trust' and sn.parsed_json is not null
            order by p.page_key, sn.line""", ids).fetchall()
    if service:
        rows = [r for r in rows if service in (r["principals"] or "").split()]
        if not rows:
            known = sorted({p for r in conn.execute("select principal from trust_principal") for p in r})
            dym, near = checker.maybe(service, known)
            checker.add("service", service, "error_unknown_trust_service", near, dym=dym)
    elif not rows and not checker.problems:
        checker.add("lang", lang, "error_no_trust_in_lang")
    checker.done()  # every problem of the question at once
    # the page about this kind of job, the most specific first (a trust policy "for all execution roles" names many)
    chosen = sorted((r for r in rows if api and api in (r["apis"] or "").split()), key=lambda r: len(r["apis"].split()))
    if not chosen:
        # the plain trust policy: the principals most pages print, without conditions if a page has one
        common = Counter((r["principals"] or "") for r in {r["page_key"]: r for r in rows}.values()).most_common(1)[0][0]
        # from the page that documents the most APIs' roles (the roles page), without conditions if it can
        plain = sorted((r for r in rows if (r["principals"] or "") == common), key=lambda r: -r["api_sections"])
        chosen = [r for r in plain if "Condition" not in (r["parsed_json"] or "")] or plain
    prevailing = prevailing_language(conn)
    if api and lang != prevailing and page is None and "Condition" not in (chosen[0]["parsed_json"] or ""):
        # the prevailing language's pages print this kind of job's trust policy with its confused-deputy
        # conditions, which no page of this language has: theirs, said so
        english = trust_policy(conn, prevailing, service, api, region, account, say_in=lang)
        if "Condition" in json.dumps(english["policy"]):
            english["notes"].insert(0, ui(conn, lang)["note_trust_prevailing"].format(
                language=_language_name(conn, lang), api=api))
            return english
    row = chosen[0]
    document = json.loads(row["parsed_json"])
    notes: list[str] = []
    if api and api not in (row["apis"] or "").split():
        notes.append(ui(conn, say_in or lang)["note_trust_plain"].format(api=api))
    filled = _fill(conn, document, region, account, notes, say_in or lang)
    source = {"url": section_url(row["page_url"], row["anchor"]), "page": row["page_key"], "heading": row["heading"],
              "snippet_index": row["snippet_index"], "text": row["lead_text"], "lang": row["lang"]}
    return {"policy": filled, "principals": (row["principals"] or "").split(), "api": api, "source": source,
            "notes": notes}


def _language_name(conn, lang: str) -> str:
    row = conn.execute("select name from language where code = ?", [lang]).fetchone()
    return row[0] if row else lang


def _check_trust_question(checker: Checker, api: str | None, region: str | None, account: str | None) -> None:
    """The API a model names (did you mean), a region and an account as IAM writes them: what
    `kb policy` refuses, refused here too, in the question's language."""
    if api:
        names = [r[0] for r in checker.conn.execute("select name from api order by 1")]
        if api not in names:
            dym, near = checker.maybe(api, names)
            checker.add("api", api, "error_unknown_model_api", near, dym=dym)
    checker.region_account(region, account)


def _fill(conn, document: dict, region: str | None, account: str | None, notes: list[str], lang: str) -> dict:
    """The confused-deputy conditions with the caller's region and account in place of the page's
    examples (the example accounts are the IAM notation rules' own list)."""
    examples = set(json.loads((conn.execute("select value_json from iam_rule where name = 'example_accounts'")
                               .fetchone() or ["[]"])[0]))
    region_rx = notation_rule(conn, "region_pattern")
    out = copy.deepcopy(document)
    statements = out["Statement"] if isinstance(out.get("Statement"), list) else [out.get("Statement")]
    touched = False
    for st in statements:
        if not isinstance(st, dict):
            continue
        for operator in (st.get("Condition") or {}).values():
            if not isinstance(operator, dict):
                continue
            for key, value in list(operator.items()):
                if key.lower() == "aws:sourcearn" and isinstance(value, str):
                    parts = value.split(":", 5)
                    if len(parts) == 6:
                        if region and ((region_rx and region_rx.match(parts[3])) or parts[3] in ("region", "")):
                            parts[3] = region
                        if account and (parts[4] in examples or not parts[4].isdigit()):
                            parts[4] = account
                        operator[key] = ":".join(parts)
                        touched = True
                elif key.lower() == "aws:sourceaccount" and account:
                    operator[key] = account
                    touched = True
    if touched and not (region and account):
        notes.append(ui(conn, lang)["note_trust_examples"])
    return out


KINDS = ("execution_role", "caller", "trust", "key", "bucket", "vpc_endpoint", "other")


def coverage(conn, page: str | None = None) -> dict:
    """Per current page (queries/coverage.sql, every page, a page without code too): its code
    blocks, the policies among them by kind, how many execution-role policies are tied to a role
    context, and the policy snippets the KB could not place, with the reason."""
    ask(conn, None, page, "any")[0].done()
    counts = run_canned(conn, "coverage", page=page or "")
    unplaced: dict[tuple, list[dict]] = {}
    for r in conn.execute(
            """select p.page_key, p.lang, sn.line, sn.kind, sn.kind_reason from snippet sn join page p on p.id = sn.page_id
               where p.is_current and sn.snippet_index is not null and (? is null or p.page_key = ?)
                 and ((sn.kind = 'execution_role' and not exists (select 1 from snippet_context x
                                                                  where x.snippet_id = sn.id)
                       and not exists (select 1 from requirement q where q.snippet_id = sn.id))
                      or (sn.kind = 'other' and sn.kind_reason like '%no sentence says%'))
               order by sn.line""", [page, page]):
        reason = "no role context found" if r["kind"] == "execution_role" else r["kind_reason"]
        unplaced.setdefault((r["page_key"], r["lang"]), []).append({"line": r["line"], "reason": reason})
    items = []
    for r in counts:
        items.append({"page": r["page_key"], "lang": r["lang"], "code_blocks": r["code_blocks"],
                      "policy_snippets": r["policy_snippets"], "kinds": {k: r[k] for k in KINDS if r[k]},
                      "attributed": r["attributed"], "unattributed": unplaced.get((r["page_key"], r["lang"]), [])})
    totals: dict = {"pages": len(items), "code_blocks": 0, "policy_snippets": 0, "kinds": {}, "attributed": 0,
                    "unattributed": 0}
    for item in items:
        for key in ("code_blocks", "policy_snippets", "attributed"):
            totals[key] += item[key]
        totals["unattributed"] += len(item["unattributed"])
        for kind, n in item["kinds"].items():
            totals["kinds"][kind] = totals["kinds"].get(kind, 0) + n
    return {"pages": items, "totals": totals}
