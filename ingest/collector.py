"""The cyclic garbage collector held off while much is allocated and little is freed: reading and
extracting pages makes hundreds of thousands of objects and no cycles, and every collection would
scan them again (superlinear time on a large page, seconds on the whole guide). Reference counting
still frees everything that is dropped. What was made meanwhile is frozen before the collector
runs again (gc.freeze): the facts a build hands back would otherwise be scanned by the first
full collection after it, a second of work that finds nothing."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()
