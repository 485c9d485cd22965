"""`ingest`: build the knowledge base from documentation pages. Thin: parsing and progress only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from kb.lazy_group import LazyGroup

from .sources import DEFAULT_SOURCES, Source, SourceError, load_sources

DEFAULT_DB = Path(os.environ.get("KB_DB", Path(__file__).resolve().parent.parent / "data" / "kb.db"))


def _fail(message: str) -> None:
    click.echo(f"ingest: {message}", err=True)
    sys.exit(1)


def check_languages(langs) -> None:
    """Refuse a --lang without a lexicon before anything is read or fetched."""
    from .lexicon import UnknownLanguage, lexicon

    for lang in langs:
        try:
            lexicon(lang)
        except UnknownLanguage as exc:
            _fail(f"--lang {lang}: {exc}")


@click.group(cls=LazyGroup, lazy={"refresh": "ingest.refresh:refresh_command", "history": "ingest.history:history_command"})
def main():
    """Build the SageMaker execution-role knowledge base from AWS's documentation."""


@main.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True, help="KB file to write (replaced only after a successful build).")
@click.option("--source", "locations", multiple=True, help="Page file or URL; repeat with --lang. Default: data/sources.toml.")
@click.option("--lang", "langs", multiple=True, help="Language of the --source at the same position (en, ja, …).")
@click.option("--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_SOURCES,
              show_default=True, help="Source list to build from when no --source is given.")
@click.option("--no-history", is_flag=True, help="Leave out the dated revisions listed in the source list.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
def build(db_path, locations, langs, sources_file, no_history, as_json):
    """Build the KB (atomically: the old file stays until the new one passes its check)."""
    from kb.store import BuildError

    from .build import build as run_build
    from .history import writer_lock
    from .model import ReaderError

    if locations:
        if len(langs) != len(locations):
            _fail("give one --lang for every --source (e.g. --source page.md --lang en)")
        check_languages(langs)
        sources = [Source(loc, lang) for loc, lang in zip(locations, langs)]
    else:
        try:
            sources = load_sources(sources_file, with_history=not no_history)
        except SourceError as exc:
            _fail(str(exc))
    try:
        with writer_lock(db_path):  # not while a refresh or history import writes the same KB
            report = run_build(sources, db_path, fetch_text=_fetch_text)
    except (SourceError, ReaderError, BuildError) as exc:
        _fail(f"build failed, {db_path} left unchanged: {exc}")
    summary = build_summary(report)
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        for p in summary["pages"]:
            click.echo(f"{p['lang']}  {p['source']}: {p['api_sections']} API sections, {p['snippets']} snippets, "
                       f"{p['requirements']} requirements, {p['findings']} findings", err=True)
        click.echo(f"wrote {db_path} in {report.total_s:.2f}s", err=True)


def _fetch_text(source: Source) -> str:
    """A URL the user named on the command line: that host is allowed, and no other."""
    from urllib.parse import urlparse

    from .fetch import FetchError, fetch

    try:
        return fetch(source.location, allowed_hosts=(urlparse(source.location).hostname or "",)).text
    except FetchError as exc:
        raise SourceError(f"{source.location}: {exc}") from exc


def build_summary(report) -> dict:
    pages = []
    for facts, timing in zip(report.pages, report.timings):
        pages.append({
            "source": timing.source, "lang": timing.lang, "revision": facts.page.revision,
            "sections": len(facts.page.sections), "api_sections": len(facts.api_sections),
            "snippets": sum(1 for s in facts.snippets if s.index >= 0),
            "statements": sum(len(s.statements) for s in facts.snippets),
            "distinct_actions": len({a for s in facts.snippets for st in s.statements for a in st.actions}),
            "conditions": len(facts.conditions), "requirements": len(facts.requirements),
            "scoping_rules": len(facts.scoping), "findings": len(facts.findings),
            "read_s": round(timing.read_s, 4), "extract_s": round(timing.extract_s, 4),
            "validate_s": round(timing.validate_s, 4),
        })
    return {"db": str(report.db_path), "setup_s": round(report.setup_s, 4), "store_s": round(report.store_s, 4),
            "total_s": round(report.total_s, 4), "pages": pages}
