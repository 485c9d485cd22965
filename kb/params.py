"""A canned query's parameters checked as the `kb` command checks its own, before the SQL runs.

queries/metadata.yml declares what each parameter of a query is (`checks`: lang, page, context, …);
each is checked here by the kb.checks function the command with the same question calls
(`kb requirements` ↔ `requirements`, `kb check` ↔ `findings`, `kb timeline` ↔ `timeline`, …), in
one Checker, so that a canned query refuses exactly what the CLI refuses, with the same sentence.
An empty parameter asks nothing of its kind (every API, every page, …) and is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import canned, history
from .checks import Checker, Invalid

# a kind of problem (kb.checks.PARAM_ORDER) → the types of parameter whose value it is about
_PROBLEM_TYPES = {"lang": ("lang",), "page": ("page", "page_any", "page_versions"), "api": ("context", "caller_api"),
                  "conditions": ("conditions",), "subject": ("subject",), "condition": ("subject_condition",),
                  "kind": ("finding_kind", "change_kind"), "since": ("date",), "action": ("action",),
                  "flag": ("flag",)}


def split(value: str | None) -> list[str]:
    """Comma-separated keys (`conditions=vpc,kms_output`), blanks ignored, as the SQL reads them."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def check(conn, name: str, args: Mapping[str, str], words: str | None = None) -> Checker:
    """Raise Invalid (its `params`: problem kind → the query's parameter name) for every value of
    `args` the KB does not know, as the query's `checks` declare them; else the Checker."""
    spec = canned.load_queries()[name]
    checks = spec["checks"]
    param = {t: p for p, t in checks.items() if t != "text"}
    value = {t: (args.get(p) or "").strip() for t, p in param.items()}
    checker = Checker(conn, value.get("lang") or None, words=words)
    # A name the query does not take would be ignored, and the answer quietly smaller (`condition=vpc`
    # for `conditions`): refused, as the command refuses an option it lacks. `_…` are Datasette's own.
    for name_asked in args:
        if name_asked not in spec["params"] and not name_asked.startswith("_"):
            dym, near = checker.maybe(name_asked, list(spec["params"]))
            checker.add("parameter", name_asked, "error_unknown_parameter", near, dym=dym, query=name,
                        valid=", ".join(spec["params"]))
    page = None
    for kind, scope in (("page", "lang"), ("page_any", "any")):
        if kind in value:
            page = checker.page(value[kind], scope)
    if "subject" in value or "page_versions" in value:
        history.check_timeline(checker, value.get("subject"), value.get("subject_condition"), value.get("page_versions"))
    context = checker.context(value["context"], page) if "context" in value else None
    if "conditions" in value:
        checker.conditions(split(value["conditions"]), context, page)
    if "finding_kind" in value:
        checker.finding_kind(value["finding_kind"])
    if "change_kind" in value:
        checker.change_kind(value["change_kind"])
    if "date" in value:
        checker.date(value["date"])
    if "flag" in value:
        checker.flag(param["flag"], value["flag"])
    if "action" in value:
        checker.action(value["action"])
    if "caller_api" in value:
        checker.caller_api(value["caller_api"])
    try:
        return checker.done()
    except Invalid as exc:
        exc.params = {kind: next(param[t] for t in types if t in param)
                      for kind, types in _PROBLEM_TYPES.items() if any(t in param for t in types)}
        raise
