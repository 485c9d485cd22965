"""The refresh gate, run on the new KB before it replaces the old one: a page that lost most of
its facts (or all its API sections), or that grew by repetition or by contradiction.

A page printed twice over (every API section 20 times: 2 → 40 statements), or edited so that two
of its sections document one API differently, passes a shrinkage check. Each such section is a
`duplicate_section` or `conflicting_sections` finding (ingest/validate.py); a refreshed page with
more of them than the KB's current version had, or with many times its facts, is rejected unless
--force."""

from __future__ import annotations

import sqlite3

from . import changelog

# A refreshed page keeping less than this share of its API sections or facts is rejected.
KEEP_AT_LEAST = 0.5
GROWN_KINDS = ("duplicate_section", "conflicting_sections")
GROW_AT_MOST = 3.0  # a refreshed page with more than this many times its facts is held for a person


def _repeats(conn: sqlite3.Connection, page_id: int | None) -> list[str]:
    if page_id is None:
        return []
    marks = ",".join("?" * len(GROWN_KINDS))
    return [f"{r[0]}: {r[1]}" for r in conn.execute(
        f"select kind, subject from finding where page_id = ? and kind in ({marks}) order by line",
        [page_id, *GROWN_KINDS])]


def growth_reason(old: sqlite3.Connection | None, old_page: int | None, new: sqlite3.Connection, new_page: int,
                  old_size: int | None, new_size: int) -> str | None:
    """Why a refreshed page must not be accepted without --force, or None."""
    before = _repeats(old, old_page) if old is not None else []
    after = _repeats(new, new_page)
    if len(after) > len(before):
        shown = "; ".join(after[:3]) + (" …" if len(after) > 3 else "")
        return (f"rejected: the page grew by duplication or conflict ({len(after)} sections repeat or contradict "
                f"another, {len(before)} before: {shown}); --force accepts it")
    if old_size and new_size > GROW_AT_MOST * old_size:
        return (f"rejected: the page's facts grew from {old_size} to {new_size} (more than {GROW_AT_MOST:g}×); "
                f"--force accepts it")
    return None


def gate(old: sqlite3.Connection | None, new: sqlite3.Connection, targets: list, force: bool) -> dict:
    """Reasons to reject accepted pages: no API section left of those the KB had (never stored,
    even with --force; a page that had none, or a new one without any, is a normal page), or,
    unless forced, growth by duplication or conflict (growth_reason), or less than half of the
    API sections or facts the KB had for the page."""
    reasons = {}
    for t in targets:
        if not t.accepted:
            continue
        page_id = new.execute("select id from page where is_current and page_key = ? and lang = ?",
                              [t.key, t.lang]).fetchone()[0]
        sections = _api_sections(new, page_id)
        before = old.execute("select id from page where is_current and page_key = ? and lang = ?",
                             [t.key, t.lang]).fetchone() if old is not None else None
        old_sections = _api_sections(old, before[0]) if old is not None and before is not None else 0
        if sections == 0 and old_sections:
            reasons[(t.key, t.lang)] = "rejected: the page yields no API permission section"
            continue
        if force:
            continue
        new_size = changelog.page_facts(new, page_id).size
        old_size = changelog.page_facts(old, before[0]).size if old is not None and before is not None else None
        grown = growth_reason(old, before[0] if before else None, new, page_id, old_size, new_size)
        if grown:
            reasons[(t.key, t.lang)] = grown
            continue
        if before is None or old is None or old_size is None:
            continue
        if sections < KEEP_AT_LEAST * old_sections or new_size < KEEP_AT_LEAST * old_size:
            reasons[(t.key, t.lang)] = (
                f"rejected: the page lost most of its facts ({sections} of {old_sections} API sections, "
                f"{new_size} of {old_size} facts left); --force accepts it")
    return reasons


def _api_sections(conn, page_id: int) -> int:
    return conn.execute("select count(*) from section where page_id = ? and is_api_section", [page_id]).fetchone()[0]
