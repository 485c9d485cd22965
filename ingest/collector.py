"""The cyclic garbage collector held off while much is allocated and little is freed: reading and
extracting pages makes hundreds of thousands of objects and no cycles, and every collection would
scan them again (superlinear time on a large page, seconds on the whole guide). Reference counting
still frees everything that is dropped."""

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
            gc.enable()
