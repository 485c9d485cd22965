"""Politeness towards the site `ingest refresh` reads: at most a few requests at once, and request
starts spaced so the run never asks faster than a bounded rate (both across all threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

MAX_CONCURRENCY = 2  # requests in progress at once, whatever is asked
T = TypeVar("T")


class Pacer:
    """`wait()` before each request: request starts at least 1/rate seconds apart (rate in
    requests per second; 0 or less: no spacing)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)


def for_each(items: Iterable[T], work: Callable[[T], None], concurrency: int) -> None:
    """`work(item)` for every item, on at most `concurrency` threads (capped at MAX_CONCURRENCY);
    `work` handles its own failures."""
    items = list(items)
    threads = max(1, min(concurrency, MAX_CONCURRENCY, len(items) or 1))
    if threads == 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="refresh") as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()
