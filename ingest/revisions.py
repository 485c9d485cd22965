"""Which texts are versions of a page: a normalized fingerprint of a page's content, and the dated
revisions a build keeps (a second copy of a revision, or a revision repeating the one before it,
adds no version)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .sources import Source, SourceError, read_file


def fingerprint(text: str, fmt: str | None) -> str:
    """sha256 of a page's content, normalized so that a re-served page with the same words hashes
    equal: HTML without site-build noise (ids, comments, asset versions), text without trailing
    blanks and line-ending differences."""
    if fmt == "html":
        from .readers.html import page_fingerprint

        return page_fingerprint(text)
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return hashlib.sha256("\n".join(lines).strip("\n").encode("utf-8")).hexdigest()


def skip_repeated_revisions(sources: list[Source]) -> tuple[list[Source], list[tuple[Source, Source]]]:
    """Drop the dated revisions that add no version: a second copy of a revision already listed
    (same file name and content, e.g. the corpus directory imported beside data/'s copy), and a
    revision whose content equals the previous kept revision of the same page (a commit that changed
    nothing the page shows). Only consecutive repeats count: a revision that returns to an older text
    (2022-03-11 undoes 2022-03-04) is a real version. Revisions of a page from several directories
    are merged by date. Returns (kept, [(skipped, same as)])."""
    others = [s for s in sources if s.is_current or s.is_url]
    revisions = sorted((s for s in sources if not (s.is_current or s.is_url)),
                       key=lambda s: (s.key or "", s.lang, s.revision_date or "", Path(s.location).name))
    kept, skipped = [], []
    seen: dict[tuple, tuple[str, Source]] = {}  # (page, revision label) → (digest, source)
    last: dict[tuple, tuple[str, Source]] = {}  # page → the last kept revision
    for source in revisions:
        page = (source.key, source.lang)
        digest = fingerprint(read_file(source.location), source.format)
        copy = seen.get((*page, source.revision))
        if copy is not None:
            if copy[0] != digest:
                raise SourceError(f"revision {source.revision} of {source.key or 'the page'} ({source.lang}) has two "
                                  f"different texts: {copy[1].location} and {source.location}")
            skipped.append((source, copy[1]))
            continue
        previous = last.get(page)
        if previous is not None and previous[0] == digest:
            skipped.append((source, previous[1]))
            continue
        seen[(*page, source.revision)] = last[page] = (digest, source)
        kept.append(source)
    return others + kept, skipped
