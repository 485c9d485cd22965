"""`ingest refresh`: fetch the live pages, rebuild the KB from what changed, and say what changed.

Politely, at guide scale: at most two requests at once (ingest/polite.py), request starts spaced
to a bounded rate, and every page asked conditionally, so an unchanged guide costs only 304s.
Per page: fetch the `.md` form (the `.html` form only when the site has no `.md` form), with the
ETag / Last-Modified of the last fetch of the text the KB holds; judge it: unchanged (304, or the
same normalized content as the page's snapshot), new (the KB has no such page) or changed; a page
that cannot be fetched or read has failed. When a page changed or is new, the KB is rebuilt from
the fetched texts (the snapshots for every other page), and the gate runs on the new file before it
replaces the old one: a page that lost its API sections or most of its facts is rejected (unless
--force), and the build is redone with its previous text. A failed page keeps its previous facts.

Where fetched text lives: an accepted page is written over its snapshot in data/ (the file the
source list names), once the new KB is in place. So `ingest build` reproduces the KB from data/,
`git diff data/snapshots` shows what AWS changed, and make's rebuild-when-newer keeps the refresh;
the entry's `retrieved` date moves to the day of the fetch that brought the new text.
A page whose form changes (the Japanese snapshot is a plain-text rendering; the site serves `.md`)
gets a snapshot file of its new form, and its entry in the source list is pointed at it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from kb.query import has_table

from . import patch, polite, source_list, store, versions
from .build import build
from .fetch import DEFAULT_ALLOWED_HOSTS, FetchError, candidate_urls, fetch
from .lock import now_iso, writer_lock
from .model import ReaderError
from .refresh_gate import gate
from .revisions import fingerprint
from .sources import Source, SourceError, guess_format, load_sources, read_file, read_page

# The site has no .md form of a page (or refuses it): try the .html form. Any other failure of the
# .md form (5xx after retries, a timeout, a truncated body) fails the page: the next run retries it,
# and the snapshot does not flap between forms.
_NO_SUCH_FORM = re.compile(r"^(HTTP (403|404|406|410)\b|not a text page)")
_EXTENSIONS = {"md": ".md", "html": ".html", "text": ".txt"}


@dataclass
class FetchPolicy:
    timeout: float = 15.0  # each read
    retries: int = 3
    backoff: float = 0.5
    max_bytes: int = 5_000_000
    page_deadline: float = 120.0  # one page, every form and attempt and wait included
    run_deadline: float = 900.0  # every page of the run
    concurrency: int = polite.MAX_CONCURRENCY  # requests at once (at most polite.MAX_CONCURRENCY)
    rate: float = 5.0  # request starts per second, at most, over the whole run
    run_end: float | None = field(default=None, repr=False)  # time.monotonic() the run must end by
    pacer: polite.Pacer | None = field(default=None, repr=False)

    def page_end(self) -> float:
        return min(time.monotonic() + self.page_deadline, self.run_end or float("inf"))


@dataclass
class PageRefresh:
    """One page: where it comes from, what happened to it, and what changed."""
    key: str
    lang: str
    url: str  # the page's URL, as cited
    fetch_url: str  # where it is fetched from (the same, a mirror's copy, or an explicit --source)
    explicit: bool  # named on the command line: its host is allowed
    entry: Source | None  # its entry in the source list (None: a page the list does not have)
    status: str = "unchanged"
    reason: str | None = None
    http: str | None = None
    fetched_url: str | None = None
    final_url: str | None = None
    format: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retrieved_at: str | None = None
    fetched_sha256: str | None = None
    fingerprint: str | None = None
    old_sha256: str | None = None
    new_sha256: str | None = None
    snapshot: str | None = None  # file written with the accepted text
    changes: list[dict] = field(default_factory=list)
    text: str | None = field(default=None, repr=False)

    @property
    def accepted(self) -> bool:
        return self.status in ("changed", "new")

    def fail(self, reason: str) -> None:
        self.status, self.reason, self.text = "failed", reason, None

    def report(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("text", "entry", "explicit", "fetch_url")}
        return {"page_key": out.pop("key"), **out}


class _Rejected(Exception):
    def __init__(self, reasons: dict[tuple, str]):
        super().__init__("; ".join(reasons.values()))
        self.reasons = reasons


# --- what to refresh ------------------------------------------------------------------------------


def plan(sources_file: Path, explicit: Sequence[tuple[str, str]] = (), base_url: str | None = None
         ) -> tuple[list[Source], list[PageRefresh]]:
    """All sources of the list, and the pages to fetch: every page of the list (from `base_url`
    when given), or the explicit (URL, lang) pairs matched to the list's pages by URL or name."""
    sources = load_sources(sources_file)
    pages = [s for s in sources if s.is_current]
    if explicit:
        targets = [_explicit_target(url, lang, pages) for url, lang in explicit]
    else:
        targets = [PageRefresh(s.key or _stem(s.url or s.location), s.lang, s.url,
                               _rebase(s.url, base_url) if base_url else s.url, bool(base_url), s)
                   for s in pages if s.url]
    seen = set()
    for t in targets:
        if (t.key, t.lang) in seen:
            raise SourceError(f"{t.key} ({t.lang}) is named twice")
        seen.add((t.key, t.lang))
    return sources, targets


def _explicit_target(url: str, lang: str, pages: list[Source]) -> PageRefresh:
    def same_page(s: Source) -> bool:
        if s.lang != lang:
            return False
        if s.url and _strip_form(s.url) == _strip_form(url):
            return True
        return _stem(url) in {s.key, _stem(s.url or "")}

    entry = next((s for s in pages if same_page(s)), None)
    if entry is not None:
        return PageRefresh(entry.key or _stem(url), lang, entry.url or url, url, True, entry)
    return PageRefresh(_stem(url), lang, url, url, True, None)


def _stem(url: str) -> str:
    name = Path(urlsplit(url).path).name
    return re.sub(r"\.(md|html?)$", "", name)


def _strip_form(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=re.sub(r"\.(md|html?)$", "", parts.path), fragment="", query=""))


def _rebase(url: str, base_url: str) -> str:
    """The page's path on a mirror: https://docs.aws.amazon.com/a/b.html → {base_url}/a/b.html."""
    base, parts = urlsplit(base_url), urlsplit(url)
    return urlunsplit(base._replace(path=base.path.rstrip("/") + parts.path, query="", fragment=""))


# --- fetch and judge ------------------------------------------------------------------------------


def fetch_page(t: PageRefresh, baseline: str | None, conditional: dict | None, policy: FetchPolicy) -> None:
    """Fetch one page and judge it against its baseline text (the snapshot)."""
    res, cond = _fetch_some_form(t, conditional, policy)
    if res is None:
        return
    t.retrieved_at = now_iso()
    t.fetched_url, t.final_url = res.url, res.final_url
    t.etag, t.last_modified = res.etag or cond.get("etag"), res.last_modified or cond.get("last_modified")
    if res.status == "not_modified":
        t.http, t.status, t.reason = "not_modified", "unchanged", "304 Not Modified"
        return
    t.http, t.fetched_sha256 = "ok", res.sha256
    t.format = _form(res.final_url, res.content_type, res.text)
    try:
        t.fingerprint = fingerprint(res.text, t.format)
        read_page(Source(res.final_url, t.lang, t.format, t.url, t.key), res.text)
    except ReaderError as exc:
        t.fail(f"unreadable {t.format} page: {exc}")
        return
    base_format = t.entry and (t.entry.format or guess_format(t.entry.location, baseline or ""))
    if baseline is not None and base_format == t.format and fingerprint(baseline, base_format) == t.fingerprint:
        t.status, t.reason = "unchanged", "same content as the snapshot"
        return
    t.status, t.text = "changed", res.text


def _fetch_some_form(t: PageRefresh, conditional: dict | None, policy: FetchPolicy):
    """(FetchResult, the validators sent) of the first form the site has; (None, {}) when the page
    failed. Redirects stay on the host fetched: docs.aws.amazon.com, or the host named by hand."""
    hosts = (urlsplit(t.fetch_url).hostname or "",) if t.explicit else DEFAULT_ALLOWED_HOSTS
    candidates, tried = candidate_urls(t.fetch_url), []
    deadline = policy.page_end()
    for n, url in enumerate(candidates):
        # Validators belong to the URL they came from: a .html ETag says nothing about the .md form.
        cond = conditional if conditional and conditional["fetched_url"] == url else {}
        if policy.pacer is not None:
            policy.pacer.wait()
        try:
            res = fetch(url, etag=cond.get("etag"), last_modified=cond.get("last_modified"), allowed_hosts=hosts,
                        timeout=policy.timeout, retries=policy.retries, backoff=policy.backoff,
                        max_bytes=policy.max_bytes, deadline=deadline)
        except FetchError as exc:
            tried.append(f"{url}: {exc.reason}")
            if n + 1 < len(candidates) and _NO_SUCH_FORM.match(exc.reason):
                continue
            t.fail("; ".join(tried))
            return None, {}
        if tried:  # a person wonders why the page's form changed
            t.reason = f"read the .html form ({tried[0]})"
        return res, cond
    raise AssertionError("candidate_urls returned no URL")


def _form(url: str, content_type: str | None, text: str) -> str:
    ctype = (content_type or "").lower()
    if urlsplit(url).path.endswith(".md") or "markdown" in ctype:
        return "md"
    if "html" in ctype:
        return "html"
    return guess_format(url, text)


# --- the KB before the run ------------------------------------------------------------------------


def _conditional(old: sqlite3.Connection | None, t: PageRefresh, baseline_sha: str | None) -> dict | None:
    """ETag / Last-Modified of the last fetch of the text the snapshot holds (only then is a 304 a
    statement about that text)."""
    if old is None or baseline_sha is None or not has_table(old, "refresh_page"):
        return None
    row = old.execute(
        """select fetched_url, etag, last_modified from refresh_page
           where page_key = ? and lang = ? and new_sha256 = ? and status != 'failed'
             and (etag is not null or last_modified is not null) order by id desc limit 1""",
        [t.key, t.lang, baseline_sha]).fetchone()
    return {"fetched_url": row[0], "etag": row[1], "last_modified": row[2]} if row else None


def _old_page(old: sqlite3.Connection | None, key: str, lang: str):
    if old is None:
        return None
    return old.execute("select id, content_sha256 from page where is_current and page_key = ? and lang = ?",
                       [key, lang]).fetchone()


# --- the run --------------------------------------------------------------------------------------


@dataclass
class RefreshReport:
    db: str
    started_at: str
    finished_at: str | None = None
    run_id: int | None = None
    facts_rebuilt: bool = False
    pages: list[PageRefresh] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # after the swap: snapshots that could not be written

    @property
    def ok(self) -> bool:
        return not self.problems and not any(p.status == "failed" for p in self.pages)

    def to_json(self) -> dict:
        counts = {s: sum(p.status == s for p in self.pages) for s in ("unchanged", "changed", "new", "failed")}
        return {"db": self.db, "run_id": self.run_id, "started_at": self.started_at, "finished_at": self.finished_at,
                "ok": self.ok, "facts_rebuilt": self.facts_rebuilt, "summary": counts, "problems": self.problems,
                "pages": [p.report() for p in self.pages]}


def refresh(db_path: Path, sources_file: Path, *, explicit: Sequence[tuple[str, str]] = (), base_url: str | None = None,
            force: bool = False, policy: FetchPolicy | None = None, progress=None, register: bool = True) -> RefreshReport:
    """Refresh the KB at `db_path` from the live pages (see the module docstring). Without
    `register` (a KB elsewhere than the source list's) accepted text goes into the KB only: the
    snapshots and the source list are left as they are."""
    policy = policy or FetchPolicy()
    policy.run_end = time.monotonic() + policy.run_deadline
    policy.pacer = polite.Pacer(policy.rate)
    say = progress or (lambda msg: None)
    db_path, sources_file = Path(db_path), Path(sources_file)
    report = RefreshReport(str(db_path), now_iso())
    with writer_lock(db_path):
        sources, report.pages = plan(sources_file, explicit, base_url)
        old = versions.open_kb_readonly(db_path)
        try:
            # What the KB says of each page is read here (one connection, one thread); the fetches
            # run on at most two threads.
            prepared = []
            for t in report.pages:
                try:
                    prepared.append((t, _prepare(t, old)))
                except Exception as exc:  # a page that breaks anything fails alone; the run goes on
                    t.fail(f"{type(exc).__name__}: {exc}")
            polite.for_each(prepared, lambda item: _fetch_one(item[0], item[1], policy, say), policy.concurrency)
            try:
                rejected = _install(db_path, sources, report, old, force, say)
            except Exception as exc:  # whatever failed, the run is logged as failed
                _log_failed_run(db_path, report, exc, say)
                raise
        finally:
            if old is not None:
                old.close()
        for t in report.pages:
            if t.accepted and register:
                try:
                    _save_snapshot(sources_file, t)
                except (OSError, SourceError) as exc:  # the KB is ahead of data/ now: say so loudly
                    report.problems.append(f"{t.lang} {t.key}: KB refreshed, snapshot not written ({exc}); "
                                           "a later `ingest build` would bring back the old facts")
        for problem in report.problems:
            say(problem)
        if rejected:
            say(f"rejected: {'; '.join(rejected)}")
    return report


def _prepare(t: PageRefresh, old) -> tuple[str | None, bool, dict | None]:
    """(the snapshot's text, whether the KB holds the page, the validators to send)."""
    baseline = read_file(t.entry.location) if t.entry is not None and Path(t.entry.location).is_file() else None
    baseline_sha = store.sha256_text(baseline) if baseline is not None else None
    before = _old_page(old, t.key, t.lang)
    t.old_sha256 = before[1] if before else None
    return baseline, before is not None, _conditional(old, t, baseline_sha)


def _fetch_one(t: PageRefresh, prepared: tuple[str | None, bool, dict | None], policy: FetchPolicy, say) -> None:
    try:
        _fetch_prepared(t, *prepared, policy, say)
    except Exception as exc:  # a page that breaks anything fails alone; the run goes on
        t.fail(f"{type(exc).__name__}: {exc}")


def _fetch_prepared(t: PageRefresh, baseline: str | None, held: bool, conditional: dict | None, policy: FetchPolicy,
                    say) -> None:
    say(f"{t.lang} {t.key}: fetching {t.fetch_url}")
    fetch_page(t, baseline, conditional, policy)
    if t.status == "unchanged" and not held:
        t.status, t.text = "new", baseline  # the snapshot is live, but this KB has never held the page
    elif t.status == "changed" and not held:
        t.status = "new"
    t.new_sha256 = store.sha256_text(t.text) if t.accepted and t.text is not None else t.old_sha256
    say(f"{t.lang} {t.key}: {t.status}" + (f" ({t.reason})" if t.reason else ""))


def _install(db_path: Path, sources: list[Source], report: RefreshReport, old, force: bool, say) -> list[str]:
    """Rebuild (pages accepted) or copy (none) the KB with this run logged, and swap it in."""
    rejected: list[str] = []
    while True:
        accepted = [t for t in report.pages if t.accepted]
        if not accepted:
            _log_only(db_path, report)
            return rejected
        say(f"rebuilding the KB with {', '.join(f'{t.lang} {t.key}' for t in accepted)}")
        try:
            build(_sources_with(sources, report.pages), db_path, fetch_text=_texts(report.pages),
                  finish=lambda previous, tmp: _finish(previous, tmp, report, old, force))
            report.facts_rebuilt = True
            return rejected
        except _Rejected as exc:
            for t in report.pages:
                if (t.key, t.lang) in exc.reasons:
                    t.fail(exc.reasons[(t.key, t.lang)])
                    t.new_sha256 = t.old_sha256
                    rejected.append(f"{t.lang} {t.key}: {t.reason}")


def _sources_with(sources: list[Source], pages: list[PageRefresh]) -> list[Source]:
    """The source list with each accepted page read from its fetched text."""
    fetched = {(t.key, t.lang): t for t in pages if t.accepted}
    out = []
    for s in sources:
        t = fetched.pop((s.key or "", s.lang), None) if s.is_current else None
        out.append(Source(t.final_url or t.fetched_url or t.url, s.lang, t.format, s.url, s.key)
                   if t is not None and t.http == "ok" else s)
    # Pages the list does not have yet; a new page whose text is its snapshot keeps its entry above.
    out += [Source(t.final_url or t.url, t.lang, t.format, t.url, t.key) for t in fetched.values() if t.http == "ok"]
    return out


def _texts(pages: list[PageRefresh]):
    texts = {t.final_url: t.text for t in pages if t.accepted and t.http == "ok"}
    return lambda source: texts[source.location]


def _finish(previous: Path, tmp: Path, report: RefreshReport, old, force: bool) -> None:
    conn = store.connect_scratch(tmp)
    try:
        reasons = gate(old, conn, report.pages, force)
        if reasons:
            raise _Rejected(reasons)
        _log_run(conn, previous, report, rebuilt=True)
    finally:
        conn.close()


def _log_run(conn: sqlite3.Connection, previous: Path, report: RefreshReport, *, rebuilt: bool) -> None:
    """Add this run and its pages to the log, date the versions, record the changes. (A rebuilt
    file has the old log carried in first; a copied one holds it already.)"""
    if rebuilt:
        versions.carry_log(conn, previous)
    report.finished_at = now_iso()
    status = "ok" if report.ok else "failed"
    report.run_id = conn.execute(
        "insert into refresh_run (command, started_at, finished_at, status, facts_rebuilt) values ('refresh', ?, ?, ?, ?)",
        [report.started_at, report.finished_at, status, rebuilt]).lastrowid
    page_rows = {}
    for t in report.pages:
        page_rows[(t.key, t.lang)] = conn.execute(
            """insert into refresh_page (run_id, page_key, lang, url, fetched_url, final_url, status, reason, http,
                   format, old_sha256, new_sha256, fetched_sha256, fingerprint, etag, last_modified, retrieved_at,
                   changes)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)""",
            [report.run_id, t.key, t.lang, t.url, t.fetched_url, t.final_url, t.status, t.reason, t.http, t.format,
             t.old_sha256, t.new_sha256, t.fetched_sha256, t.fingerprint, t.etag, t.last_modified,
             t.retrieved_at or report.finished_at]).lastrowid
    versions.stamp_versions(conn)
    fetched = {(t.key, t.lang): (t.final_url, t.retrieved_at) for t in report.pages if t.accepted}
    recorded = versions.record_changes(conn, previous, origin="refresh", run_id=report.run_id, fetched=fetched)
    for t in report.pages:
        if t.accepted:
            t.changes = recorded.get((t.key, t.lang), [])
            conn.execute("update refresh_page set changes = ? where id = ?", [len(t.changes), page_rows[(t.key, t.lang)]])
    conn.commit()


def _log_failed_run(db_path: Path, report: RefreshReport, exc: Exception, say) -> None:
    """No KB could be installed: log the run (failed, with why) in a copy of the KB as it was."""
    why = f"{type(exc).__name__}: {exc}"
    for t in report.pages:
        if t.accepted:
            t.fail(f"run failed before the KB was replaced: {why}")
            t.new_sha256 = t.old_sha256
    report.problems.append(f"run failed: {why}")
    try:
        _log_only(db_path, report)
    except Exception as log_exc:  # no KB to log in (never built), or a disk that refuses: say so
        say(f"the failed run could not be logged in {db_path}: {log_exc}")


def _log_only(db_path: Path, report: RefreshReport) -> None:
    """No page changed: the KB's facts stay byte for byte; a copy with this run logged replaces it
    (never an in-place write: a running `kb serve` only ever sees complete files)."""
    if not db_path.is_file():
        raise SourceError(f"{db_path}: no KB to refresh and no page fetched; run `ingest build` first")
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.refresh")
    was_vouched = patch.vouched(db_path)  # facts unchanged: what a build may patch stays patchable
    try:
        src = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        dst = store.connect_scratch(tmp)
        try:
            src.backup(dst)
        finally:
            src.close()
        if not has_table(dst, "page_version"):
            dst.close()
            store.create_tables(tmp)  # a KB built before the change log existed
            dst = store.connect_scratch(tmp)
        try:
            _log_run(dst, db_path, report, rebuilt=False)
        finally:
            dst.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, db_path)
        if was_vouched:
            patch.vouch(db_path)
    finally:
        if tmp.exists():
            tmp.unlink()


# --- snapshots and the source list ----------------------------------------------------------------


def _save_snapshot(sources_file: Path, t: PageRefresh) -> None:
    """Write an accepted page's text where the source list expects it (see the module docstring)."""
    if t.text is None or t.http != "ok" or t.format is None:
        return
    base = sources_file.parent
    day = (t.retrieved_at or now_iso())[:10]
    ext = _EXTENSIONS[t.format]
    # A page of a [[guide]] directory keeps its shipped file (now its older revision) and gets a
    # [[page]] entry and a snapshot of its own, as a page the list lacked.
    entry = t.entry if t.entry is not None and source_list.has_page(sources_file, t.key, t.lang) else None
    if entry is not None:
        current = Path(entry.location)
        same_form = (entry.format or guess_format(entry.location, "")) == t.format
        path = current if same_form else current.with_name(re.sub(r"\.(md|html?|txt)$", "", current.name) + ext)
    else:
        path = base / "snapshots" / f"{t.key}.{t.lang}{ext}"
    t.snapshot = str(path)
    data = t.text.encode("utf-8")
    written = not (path.is_file() and path.read_bytes() == data)
    if written:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    relative = os.path.relpath(path, base)
    if entry is None:
        source_list.append_page(sources_file, {
            "key": t.key, "lang": t.lang, "url": t.url, "file": relative, "format": t.format,
            "retrieved": day, "attribution": f"fetched from {t.final_url} on {day} by `ingest refresh`."})
    elif written or path != Path(entry.location):  # `retrieved` says since when the snapshot holds this text
        source_list.update_page(sources_file, t.key, t.lang,
                                {"file": relative, "format": t.format, "retrieved": day})


