"""The canned queries (queries/<name>.sql with their titles in queries/metadata.yml): loaded once,
served by Datasette (kb.web) and run by the `kb` commands that answer with the same SQL."""

from __future__ import annotations

import functools
import os
import sqlite3
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Installed: kb/queries (pyproject maps queries/ there); from a checkout: the repository's queries/.
QUERIES = Path(os.environ.get("KB_QUERIES_DIR")
               or next((d for d in (HERE / "queries", HERE.parent / "queries") if d.is_dir()), HERE / "queries"))


class QueryFileError(RuntimeError):
    """queries/ and its metadata.yml disagree: a packaging mistake, reported at start-up."""


# What a parameter may be, as metadata.yml's `checks` declares it for each parameter of a query
# (kb/params.py checks each with the function the `kb` commands check theirs with); `text` is free.
CHECK_TYPES = ("lang", "page", "page_any", "page_versions", "context", "conditions", "subject", "subject_condition",
               "finding_kind", "change_kind", "date", "flag", "action", "caller_api", "text")


@functools.cache
def load_queries(directory: Path = QUERIES) -> dict[str, dict]:
    """queries/<name>.sql with its titles and descriptions from queries/metadata.yml. A query
    without metadata (or metadata without a query) fails at start-up. Titles and descriptions are
    keyed by language; every query has at least the English ones."""
    import yaml  # only the web service and a few commands read the metadata

    meta = yaml.safe_load((directory / "metadata.yml").read_text(encoding="utf-8")) or {}
    files = {p.stem: p for p in sorted(directory.glob("*.sql"))}
    if set(files) != set(meta):
        raise QueryFileError(f"{directory}: queries and metadata.yml disagree: no metadata for "
                             f"{sorted(set(files) - set(meta))}, no .sql for {sorted(set(meta) - set(files))}")
    out = {}
    for name, path in files.items():
        m = meta[name]
        missing = [f"{k}.en" for k in ("title", "description") if not (m.get(k) or {}).get("en")]
        if "params" not in m:
            missing.append("params")
        checks = dict(m.get("checks") or {})
        missing += [f"checks.{p}" for p in m.get("params") or [] if p not in checks]
        if missing:
            raise QueryFileError(f"{directory / 'metadata.yml'}: {name} needs {', '.join(missing)}")
        wrong = [f"{p}: {t}" for p, t in checks.items() if t not in CHECK_TYPES or p not in m["params"]]
        if wrong or len(set(checks.values()) - {"text"}) != len([t for t in checks.values() if t != "text"]):
            raise QueryFileError(f"{directory / 'metadata.yml'}: {name}'s checks must give each parameter one of "
                                 f"{', '.join(CHECK_TYPES)}, each type once: {', '.join(wrong) or checks}")
        out[name] = {
            "sql": path.read_text(encoding="utf-8").strip(),
            "params": list(m["params"]),
            "checks": checks,
            "title": dict(m["title"]), "description": dict(m["description"]),
            "example": {k: str(v) for k, v in (m.get("example") or {}).items()},
            "hide_sql": bool(m.get("hide_sql", True)),
        }
    return out


def sql_of(name: str) -> str:
    return load_queries()[name]["sql"]


def run(conn: sqlite3.Connection, name: str, **params: object) -> list[sqlite3.Row]:
    """A canned query's own SQL with bound parameters; a missing one is '', as Datasette binds it."""
    query = load_queries()[name]
    values = {p: "" if params.get(p) is None else str(params[p]) for p in query["params"]}
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(query["sql"], values).fetchall()
