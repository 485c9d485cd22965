"""`ingest`: build, refresh and extend the knowledge base. Thin: options, progress and printing;
the work is in ingest.build, ingest.refresh and ingest.history (imported when a command runs, so
`ingest --help` is instant)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlparse, urlsplit

import click

from kb import __version__, default_db
from kb.cli_errors import Count, Number, OneLineGroup, fail

from .sources import DEFAULT_SOURCES, Source, SourceError, load_sources


def _fail(message: str) -> NoReturn:
    """One line on stderr (`{"error": …}` with --json), exit 1."""
    fail("ingest", message)


def check_languages(langs) -> None:
    """Refuse a --lang without a lexicon before anything is read or fetched."""
    from .lexicon import LexiconError, UnknownLanguage, lexicon

    for lang in langs:
        try:
            lexicon(lang)
        except (UnknownLanguage, LexiconError) as exc:
            _fail(f"--lang {lang}: {exc}")


db_option = click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="KB file to write (default: data/kb.db or $KB_DB).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")


@click.group(name="ingest", cls=OneLineGroup)
@click.version_option(__version__, prog_name="ingest", message="%(prog)s %(version)s")
def main():
    """Build the SageMaker execution-role knowledge base from AWS's documentation."""


@main.command()
@db_option
@click.option("--source", "locations", multiple=True, help="Page file or URL; repeat with --lang. Default: data/sources.toml.")
@click.option("--lang", "langs", multiple=True, help="Language of the --source at the same position (en, ja, …).")
@click.option("--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEFAULT_SOURCES,
              show_default=True, help="Source list to build from when no --source is given.")
@click.option("--no-history", is_flag=True, help="Leave out the dated revisions listed in the source list.")
@click.option("--no-cache", is_flag=True, help="Read and extract every page again, even if unchanged since a build "
              "on this machine, and write the whole KB (not a patch of the previous one where pages changed).")
@click.option("--verbose", "-v", is_flag=True, help="A line for every page (by default: for each page read and "
              "extracted this time, when there are a few).")
@json_option
def build(db_path, locations, langs, sources_file, no_history, no_cache, verbose, as_json):
    """Build the KB (atomically: the old file stays until the new one passes its check)."""
    from .build import build as run_build
    from .lexicon import LexiconError
    from .lock import writer_lock
    from .model import ReaderError
    from .store import BuildError

    db_path = db_path or default_db()
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
            report = run_build(sources, db_path, fetch_text=_fetch_text, use_cache=not no_cache)
    except (SourceError, ReaderError, BuildError, LexiconError) as exc:
        _fail(f"build failed, {db_path} left unchanged: {exc}")
    except OSError as exc:  # the disk refused the new file (full, read-only, an I/O error)
        _fail(f"build failed, {db_path} left unchanged: cannot write {exc.filename or 'the new KB'}: "
              f"{exc.strerror or exc}")
    summary = build_summary(report)
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        extracted = [p for p in summary["pages"] if not p["cached"]]
        for p in summary["pages"] if verbose else extracted if len(extracted) <= FEW_PAGES else []:
            click.echo(f"{p['lang']}  {p['source']}: {p['api_sections']} API sections, {p['snippets']} snippets, "
                       f"{p['requirements']} requirements, {p['findings']} findings", err=True)
        click.echo(f"{len(extracted)} of the {len(summary['pages'])} pages used read and extracted, the others' facts "
                   "from the cache (--verbose: a line per page; --json: every count)", err=True)
        if report.patched is not None:
            click.echo(f"{report.patched} pages read again (changed, or the translation of a changed page) and "
                       "patched into a copy of the previous KB, the rest kept "
                       "as they were (ingest/patch.py; --no-cache writes every page)", err=True)
        click.echo(f"wrote {db_path} in {report.total_s:.2f}s", err=True)


FEW_PAGES = 20  # pages read and extracted this time that `ingest build` names one by one


def _fetch_text(source: Source) -> str:
    """A URL the user named on the command line: that host is allowed, and no other."""
    from .fetch import FetchError, fetch

    try:
        return fetch(source.location, allowed_hosts=(urlparse(source.location).hostname or "",)).text or ""
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
            "validate_s": round(timing.validate_s, 4), "cached": timing.cached,
        })
    return {"db": str(report.db_path), "patched": report.patched,
            "setup_s": round(report.setup_s, 4), "store_s": round(report.store_s, 4),
            "total_s": round(report.total_s, 4), "pages": pages}


@main.command("refresh")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="KB file to refresh (default: data/kb.db or $KB_DB).")
@click.option("--source", "locations", multiple=True, help="Page URL to fetch; repeat with --lang. Default: every "
              "page of the source list.")
@click.option("--lang", "langs", multiple=True, help="Language of the --source at the same position.")
@click.option("--base-url", default=None, help="Fetch the source list's pages from this mirror (same paths).")
@click.option("--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Source list (default: data/sources.toml); its snapshots receive accepted pages.")
@click.option("--force", is_flag=True, help="Accept a page that lost most of its facts.")
@click.option("--timeout", type=Number(min=0.1), default=15.0, show_default=True, help="Seconds each read may wait.")
@click.option("--retries", type=Count(min=0), default=3, show_default=True, help="Extra attempts on 429, 5xx and timeouts.")
@click.option("--max-bytes", type=Count(min=1), default=5_000_000, show_default=True, help="Largest page accepted.")
@click.option("--page-deadline", type=Number(min=0.1), default=120.0, show_default=True,
              help="Seconds one page's fetch may take in all (attempts, Retry-After waits, a slow body).")
@click.option("--run-deadline", type=Number(min=0.1), default=900.0, show_default=True,
              help="Seconds the fetches of the whole run may take; pages still to fetch then fail.")
@click.option("--concurrency", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Requests in progress at once (never more than 2: the site is shared).")
@click.option("--rate", type=click.FloatRange(min=0.1, max=20.0), default=5.0, show_default=True,
              help="Requests started per second, at most, over the whole run.")
@click.option("--register/--no-register", default=None,
              help="Write accepted pages into the source list's snapshots (default: only when the KB is "
                   "data/kb.db or --sources-file is given).")
@click.option("--exit-code", is_flag=True, help="Exit 3 when a page changed or is new (the KB was rebuilt), 0 when "
              "nothing changed, 1 when a page or the run failed: for a scheduler.")
@json_option
def refresh_command(db_path, locations, langs, base_url, sources_file, force, timeout, retries, max_bytes,
                    page_deadline, run_deadline, concurrency, rate, register, exit_code, as_json):
    """Fetch the live pages and rebuild the KB from what changed; report what did.

    Exits 1 when a page failed (it keeps its previous facts) or the run failed (the KB is left as
    it was); with --exit-code, 3 when a page changed and no page failed."""
    from .lexicon import LexiconError
    from .model import ReaderError
    from .refresh import FetchPolicy, refresh
    from .store import BuildError

    if len(langs) != len(locations):
        _fail("give one --lang for every --source (e.g. --source URL --lang en)")
    check_languages(langs)
    if base_url and locations:
        _fail("--base-url applies to the source list's pages; give it or --source, not both")
    for url in [*locations, *([base_url] if base_url else [])]:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            _fail(f"{url}: not an http(s) URL")
    shipped = default_db()
    if register is None:  # a KB elsewhere must not rewrite the shipped data/ (as `ingest history`)
        register = sources_file is not None or db_path is None or db_path.resolve() == shipped.resolve()
    db_path = db_path or shipped
    policy = FetchPolicy(timeout=timeout, retries=retries, max_bytes=max_bytes, page_deadline=page_deadline,
                         run_deadline=run_deadline, concurrency=concurrency, rate=rate)
    try:
        report = refresh(db_path, sources_file or DEFAULT_SOURCES, explicit=list(zip(locations, langs)),
                         base_url=base_url, force=force, policy=policy, register=register,
                         progress=lambda msg: click.echo(msg, err=True))
    except (SourceError, ReaderError, BuildError, LexiconError, sqlite3.Error, OSError) as exc:
        _fail(f"refresh failed, {db_path} left unchanged: {exc}")
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_refresh(report)
    if not report.ok:
        sys.exit(1)
    sys.exit(3 if exit_code and any(p.accepted for p in report.pages) else 0)


def _print_refresh(report) -> None:
    from kb.history import summarize

    for t in report.pages:
        click.echo(f"{t.lang} {t.key}: {t.status}" + (f" — {t.reason}" if t.reason else ""), err=True)
        for line in summarize(t.changes):
            click.echo(f"    {line}", err=True)
        if t.accepted:
            click.echo(f"    snapshot {t.snapshot}" if t.snapshot else
                       "    snapshot not written (a KB elsewhere than data/: --register writes it)", err=True)
    verb = "rebuilt" if report.facts_rebuilt else "facts kept; run logged in"
    click.echo(f"{verb} {report.db} (refresh #{report.run_id})", err=True)


@main.command("history")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lang", default="en", show_default=True, help="Language of the revisions.")
@click.option("--key", default=None, help="Page key (default: the source list's, else the page title's anchor).")
@click.option("--url", default=None, help="The page's URL, for citations (default: the source list's).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="KB file to rebuild (default: data/kb.db or $KB_DB).")
@click.option("--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Source list the directory is registered in (default: data/sources.toml).")
@click.option("--register/--no-register", default=None,
              help="Add DIR to the source list so later builds keep its versions (default: only when the KB "
                   "is data/kb.db or --sources-file is given).")
@json_option
def history_command(directory, lang, key, url, db_path, sources_file, register, as_json):
    """Ingest DIR's dated revisions (YYYY-MM-DD_<commit>.md) as versions of one page.

    The directory is registered in the source list, so every later build keeps them; a revision
    identical to the one before it, or to a revision the KB already holds, is skipped. The versions
    answer `kb timeline` and `kb changes`, never `kb requirements`."""
    from .history import ingest_history
    from .lexicon import LexiconError
    from .model import ReaderError
    from .sources import REVISION_FILE
    from .store import BuildError

    check_languages([lang])
    shipped = default_db()
    if register is None:  # a scratch KB elsewhere must not change the shipped source list
        register = sources_file is not None or db_path is None or db_path.resolve() == shipped.resolve()
    db_path = db_path or shipped
    sources_file = sources_file or DEFAULT_SOURCES
    if not any(REVISION_FILE.match(p.name) for p in directory.iterdir()):
        _fail(f"{directory}: no revision files named YYYY-MM-DD_<commit>.md")
    try:
        report = ingest_history(directory, lang, db_path, sources_file, key=key, url=url, register=register)
    except (SourceError, ReaderError, BuildError, LexiconError) as exc:
        _fail(f"history not ingested, {db_path} left unchanged: {exc}")
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    say = lambda msg: click.echo(msg, err=True)
    say(f"{report['page_key']} ({lang}): {report['revisions']} revisions in {directory}, "
        f"{report['new_versions']} of them new" + (", registered in the source list" if report["registered"] else ""))
    for s in report["skipped_identical"]:
        say(f"  skipped {s['revision']}: identical to {s.get('same_as_file') or s['same_as']}")
    say(f"  {len(report['versions'])} versions: {report['versions'][0]['label']} … {report['versions'][-1]['label']}")
    for t in report["new_transitions"]:
        say(f"  logged {t['from']} → {t['to']}: {t['changes']} changes")
    say(f"wrote {db_path}")
    if not report["in_source_list"] and report["versions_from_dir"]:
        say(f"note: {directory} is not in {sources_file}; a later `ingest build` of {db_path} leaves these "
            f"versions out (run again with --register to keep them)")
