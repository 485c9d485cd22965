"""kb/schema.sql is the DDL of kb/schema.py, so `ingest build` creates a KB without the ORM."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from sqlmodel import SQLModel, create_engine

from ingest import store
from kb import schema, schema_sql


def _shape(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return sorted(conn.execute("select type, name, tbl_name, sql from sqlite_master where name not like 'sqlite_%'"))
    finally:
        conn.close()


def test_schema_sql_is_current():
    assert schema_sql.SCHEMA_SQL.read_text(encoding="utf-8") == schema_sql.ddl(), \
        "kb/schema.sql is stale: run `python -m kb.schema_sql > kb/schema.sql`"


def test_the_file_creates_what_the_orm_creates(tmp_path):
    orm, plain = tmp_path / "orm.db", tmp_path / "plain.db"
    engine = create_engine(f"sqlite:///{orm}")
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    store.create_tables(plain)
    norm = lambda rows: [(t, n, tb, " ".join(sql.replace(" IF NOT EXISTS", "").split())) for t, n, tb, sql in rows]
    assert norm(_shape(plain)) == norm(_shape(orm))
    assert set(schema_sql.view_sql(schema_sql.current_ddl()[1])) == set(schema.VIEWS)


def test_creating_again_keeps_the_rows(tmp_path):
    db = tmp_path / "kb.db"
    store.create_tables(db)
    conn = sqlite3.connect(db)
    conn.execute("insert into language (code, name, prevails) values ('en', 'English', 1)")
    conn.commit()
    conn.close()
    store.create_tables(db)
    assert sqlite3.connect(db).execute("select count(*) from language").fetchone()[0] == 1


def test_a_build_imports_no_orm():
    code = ("import sys, ingest.build, ingest.store\n"
            "print(any(m.split('.')[0] in ('sqlmodel', 'sqlalchemy') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
