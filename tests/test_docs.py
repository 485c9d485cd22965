"""The documentation cannot drift from the code (the sqlite-utils habit): every command and option
has help text and is in the README's command reference; every table and view of the schema is in
the README's list of tables and carries a description Datasette shows."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from ingest.cli import main as ingest_main
from kb import schema
from kb.cli import main as kb_main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
REFERENCE = README[README.index("## Command reference"):]


def commands() -> list[tuple[str, click.Command]]:
    out = []
    for prog, group in (("kb", kb_main), ("ingest", ingest_main)):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None
            out.append((f"{prog} {name}", cmd))
    return out


def reference_entry(command: str) -> str:
    """The README's bullet for a command: from "- `kb requirements" to the next bullet or heading."""
    m = re.search(rf"^- `{re.escape(command)}\b.*?(?=^- `|^#|\Z)", REFERENCE, re.M | re.S)
    assert m, f"README's command reference has no entry for `{command}`"
    return m.group(0)


@pytest.mark.parametrize("command,cmd", commands(), ids=[c for c, _ in commands()])
def test_every_command_and_option_is_documented(command, cmd):
    assert (cmd.help or "").strip(), f"{command} has no help text"
    entry = reference_entry(command)
    for param in cmd.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"{command} {param.opts[0]} has no help text"
            names = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
            assert any(n in entry for n in names), f"README's entry for {command} does not mention {names[0]}"


def test_the_global_options_are_documented():
    for prog, group in (("kb", kb_main), ("ingest", ingest_main)):
        for param in group.params:
            assert isinstance(param, click.Option) and (param.help or "").strip(), (prog, param.name)
            assert any(f"`{prog} {o}" in README or f"{prog} {o}" in README for o in param.opts), (prog, param.opts)


def test_every_table_and_view_is_in_the_readme_and_described():
    listed = README[README.index("## Tables"):]
    docs = schema.table_docs()
    for name, doc in docs.items():
        assert f"`{name}`" in listed, f"table {name} is missing from the README's list of tables"
        assert doc["description"], f"table {name} has no description"
        for column, text in doc.get("columns", {}).items():
            assert text, f"{name}.{column} has no description"


def test_the_descriptions_reach_datasette(kb_db):
    from kb.serve import make_datasette
    from tests.helpers import Client

    client = Client(make_datasette(kb_db))
    try:
        page = client.get("/kb/requirement").text
        assert schema.table_docs()["requirement"]["description"] in page
        columns = client.get("/-/metadata.json").json()["databases"]["kb"]["tables"]["statement_resource"]["columns"]
        assert columns["shape"].startswith("the resource as versions compare it")
    finally:
        client.close()
