"""Where pages come from (data/sources.toml, files, URLs) and which reader reads each."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from kb import DATA_DIR

from .lexicon import UnknownLanguage, lexicon
from .model import Page, ReaderError

DEFAULT_SOURCES = DATA_DIR / "sources.toml"
REVISION_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})_([0-9a-f]+)\.md$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SourceError(RuntimeError):
    """A source that cannot be found, fetched or read; the message names it."""


_C0_OR_SPACE = "".join(map(chr, range(33)))
_UNSAFE = dict.fromkeys(map(ord, "\t\r\n"))


@dataclass
class Source:
    location: str  # file path or URL
    lang: str
    format: str | None = None  # md, html, text; None: guess from name and content
    url: str | None = None  # the live page, for citations
    key: str | None = None
    is_current: bool = True
    revision: str | None = None
    revision_date: str | None = None
    retrieved: str | None = None  # the day a snapshot was taken from the live page, as the source list says

    @property
    def is_url(self) -> bool:
        # urlparse's scheme, without parsing the rest (a build asks this of every page, many times):
        # leading controls and spaces ignored, tabs and line breaks dropped, as urlsplit does
        scheme, colon, _ = self.location.lstrip(_C0_OR_SPACE).partition(":")
        return bool(colon) and scheme.translate(_UNSAFE).lower() in ("http", "https")


def load_sources(path: Path = DEFAULT_SOURCES, *, with_history: bool = True) -> list[Source]:
    try:
        config = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"{path}: cannot read the source list ({exc})") from exc
    base = Path(path).parent
    out = []
    for p in config.get("page", []):
        retrieved = p.get("retrieved")
        if retrieved is not None and not ISO_DATE.match(str(retrieved)):
            raise SourceError(f"{path}: [[page]] {p.get('key')} ({p['lang']}): retrieved = {retrieved!r} "
                              f"is not a date written YYYY-MM-DD")
        out.append(Source(str(base / p["file"]), p["lang"], p.get("format"), p.get("url"), p.get("key"),
                          retrieved=None if retrieved is None else str(retrieved)))
    keys = {(s.key, s.lang) for s in out}
    for g in config.get("guide", []):
        out.extend(guide_sources(base, g, path, keys))
    if with_history:
        for h in config.get("history", []):
            directory = base / h["dir"]
            if not directory.is_dir():
                raise SourceError(f"{path}: the [[history]] directory {h['dir']!r} ({h.get('key')}, {h['lang']}) "
                                  f"does not exist; restore it or remove that entry (--no-history builds without "
                                  f"any revisions)")
            out.extend(history_sources(directory, h["lang"], url=h.get("url"), key=h.get("key")))
    return out


def guide_sources(base: Path, entry: dict, listed_in: Path, current: set[tuple]) -> list[Source]:
    """Every page of a guide directory (`[[guide]]`), each with its live URL and its last-change date
    from the guide's table (page, last_changed, commit). A page the source list also names as a
    current page (a newer snapshot of it) is an older revision of that page."""
    directory = base / entry["dir"]
    if not directory.is_dir():
        raise SourceError(f"{listed_in}: the [[guide]] directory {entry['dir']!r} does not exist")
    dates: dict[str, tuple[str, str]] = {}
    if entry.get("dates"):
        try:
            lines = (base / entry["dates"]).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SourceError(f"{listed_in}: cannot read the guide's dates {entry['dates']!r} ({exc})") from exc
        for line in lines[1:]:
            name, _, rest = line.partition("\t")
            day, _, commit = rest.partition("\t")
            if ISO_DATE.match(day):
                dates[name] = (day, commit.strip())
    out = []
    lang = entry["lang"]
    # names, not Path objects: a Path per page and their comparisons were a tenth of a rebuild's reading
    for name in sorted(n for n in os.listdir(directory) if n.endswith(".md")):
        path, key = os.path.join(directory, name), name[:-3]
        day, commit = dates.get(name, (None, ""))
        url = entry["url"].format(page=key)
        if (key, lang) in current:  # the current snapshot is newer: this is one of its revisions
            out.append(Source(path, lang, "md", url, key, is_current=False,
                              revision=f"{day}_{commit}" if day else None, revision_date=day))
        else:
            out.append(Source(path, lang, "md", url, key, retrieved=day))
    return out


def history_sources(directory: Path, lang: str, *, url: str | None = None, key: str | None = None) -> list[Source]:
    """Dated revisions `YYYY-MM-DD_<commit>.md` of one page, oldest first."""
    try:
        files = sorted(p for p in Path(directory).iterdir() if REVISION_FILE.match(p.name))
    except OSError as exc:
        raise SourceError(f"{directory}: cannot list the revisions ({exc.strerror or exc})") from exc
    if not files:
        raise SourceError(f"{directory}: no revision files named YYYY-MM-DD_<commit>.md")
    return [Source(str(p), lang, "md", url, key, is_current=False, revision=p.stem,
                   revision_date=p.name[:10]) for p in files]  # the name matched YYYY-MM-DD_…


def guess_format(location: str, text: str) -> str:
    name = urlparse(location).path if "://" in location else location
    suffix = Path(name).suffix.lower()
    if suffix in (".md", ".markdown"):
        return "md"
    if suffix in (".html", ".htm"):
        return "html"
    if suffix == ".txt":
        return "text"
    head = text.lstrip()[:500].lower()
    if head.startswith(("<!doctype html", "<html")):
        return "html"
    return "md" if re.search(r"^#{1,6} ", text, re.M) else "text"


def read_page(source: Source, text: str) -> Page:
    """Read text with the reader of its format, passing the language's own words in."""
    fmt = source.format or guess_format(source.location, text)
    try:
        lex = lexicon(source.lang)
    except UnknownLanguage as exc:
        raise ReaderError(str(exc)) from None
    url = source.url or (source.location if source.is_url else None)
    if fmt == "md":
        from .readers.markdown import read_markdown
        page = read_markdown(text, lang=source.lang, source=source.location, url=url, note_labels=lex.note_labels,
                             disclaimer_markers=lex.disclaimer_markers)
    elif fmt == "html":
        from .readers.html import read_html
        page = read_html(text, lang=source.lang, source=source.location, url=url, note_labels=lex.note_labels,
                         disclaimer_markers=lex.disclaimer_markers)
    elif fmt == "text":
        from .readers.text import read_text
        page = read_text(text, lang=source.lang, source=source.location, url=url, note_labels=lex.note_labels,
                         disclaimer_markers=lex.disclaimer_markers)
    else:
        raise ReaderError(f"unknown format {fmt!r}")
    page.format = fmt
    if source.revision:
        page.revision = source.revision
    return page


def page_key(source: Source, page: Page) -> str:
    """The page's id in its guide: declared, else the title anchor, else the URL or file name."""
    if source.key:
        return source.key
    if page.sections and page.sections[0].level == 1 and page.sections[0].anchor:
        return page.sections[0].anchor
    name = location_name(source)
    return re.sub(r"(\.(en|ja|[a-z]{2}(_[a-z]{2})?))?\.(md|html?|txt)$", "", name) or name


def location_name(source: Source) -> str:
    """The file name of the page's URL, else of where it was read from."""
    return Path(urlparse(source.url or source.location).path).name


def read_file(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
