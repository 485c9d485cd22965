"""kb/schema.sql: the DDL of kb/schema.py's tables and views as a file, so that `ingest build` creates
a KB without importing the ORM (SQLModel/SQLAlchemy take about a second to import). The classes of
kb/schema.py stay the definition; `python -m kb.schema_sql > kb/schema.sql` writes the file again,
and tests/test_schema_sql.py fails while it is not current. A file made from another version of
kb/schema.py (its header names that version's sha256) is not used: the DDL is generated instead."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA_PY, SCHEMA_SQL = HERE / "schema.py", HERE / "schema.sql"
VIEWS_MARK = "-- views (created by ingest/store.py's ensure_db_shape)"
_IF_MISSING = re.compile(r"^(CREATE (?:UNIQUE )?(?:TABLE|INDEX)) ", re.MULTILINE)
_VIEW = re.compile(r"^CREATE VIEW (\w+) AS (.*);$", re.MULTILINE)
_HEADER = re.compile(r"^-- Generated from kb/schema\.py \(sha256 ([0-9a-f]{64})\)")


def schema_digest() -> str:
    return hashlib.sha256(SCHEMA_PY.read_bytes()).hexdigest()


def ddl() -> str:
    """The CREATE TABLE / INDEX statements of every table, then the views (the ORM is imported here)."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable
    from sqlmodel import SQLModel

    from kb.schema import VIEWS

    dialect = sqlite.dialect()
    out = [f"-- Generated from kb/schema.py (sha256 {schema_digest()}) by `python -m kb.schema_sql > kb/schema.sql`;",
           "-- do not edit: edit kb/schema.py and generate this again (tests/test_schema_sql.py checks it is current).",
           ""]
    for table in SQLModel.metadata.sorted_tables:
        out.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";")
        out += [str(CreateIndex(ix).compile(dialect=dialect)).strip() + ";"
                for ix in sorted(table.indexes, key=lambda i: str(i.name))]
        out.append("")
    out.append(VIEWS_MARK)
    out += [f"CREATE VIEW {name} AS {' '.join(sql.split())};" for name, sql in VIEWS.items()]
    return "\n".join(out) + "\n"


def current_ddl() -> tuple[str, str]:
    """(tables and indexes, views): from kb/schema.sql when it was made from this kb/schema.py,
    else generated. Tables and indexes are created only where missing (a KB of an older
    schema gains the new tables and keeps its rows)."""
    try:
        text = SCHEMA_SQL.read_text(encoding="utf-8")
    except OSError:
        text = ""
    m = _HEADER.match(text)
    if not m or m.group(1) != schema_digest():
        text = ddl()
    tables, _, views = text.partition(VIEWS_MARK)
    return _IF_MISSING.sub(lambda m: f"{m.group(1)} IF NOT EXISTS ", tables), views


def view_sql(views: str) -> dict[str, str]:
    """{name: select} of the views part of the DDL."""
    return {m.group(1): m.group(2) for m in _VIEW.finditer(views)}


if __name__ == "__main__":
    print(ddl(), end="")
