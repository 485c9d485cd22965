"""Bounded work for /-/policy and /-/audit: each request runs in a child process of its own, off
Datasette's SQL threads and its event loop, under a time budget.

- A child is forked from a forkserver started (single-threaded, with kb.policy loaded) before the
  first request, so a start costs milliseconds and never copies the server's threads.
- At most WORKERS run at once, at a lower CPU priority than the server: canned queries and pages
  keep answering while they work. Waiting for a free worker counts against the budget.
- Over its budget a child is killed and the answer is 503 {"error": …}; a client that disconnects
  has its child killed at once: no work goes on for nobody.
- The child also has an address-space and CPU-time limit of its own, so that even a bug cannot
  take the server's memory or a core for long.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import sqlite3
import traceback
from collections.abc import Callable
from typing import Any

from ..query import Invalid, KBError

DEFAULT_BUDGET_S = 10.0  # `kb serve --budget`: what one /-/policy or /-/audit request may take
WORKERS = max(1, min(2, os.cpu_count() or 1))
MEMORY_LIMIT = 1 << 30  # bytes of address space a child may use
PRELOAD = ["kb.query", "kb.policy", "kb.web.routes"]


class OverBudget(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


_context: Any = None
_slots: dict[int, asyncio.Semaphore] = {}  # per event loop


def context():
    """The forkserver context (started on first use: call warm() at start-up)."""
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
    return _context


def warm() -> None:
    """Start the forkserver now (it takes a second) rather than in the first request."""
    proc = context().Process(target=_noop)
    proc.start()
    proc.join(10)


def _noop() -> None:
    pass


def _child(conn, db_path: str, fn: Callable, args: dict, cpu_seconds: int) -> None:
    try:
        os.nice(10)  # the server's own requests first
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (OSError, ValueError):
        pass
    try:
        from ..query import connect

        db = connect(db_path)
        conn.send(("ok", fn(db, args)))
    except Invalid as exc:
        conn.send(("error", 400, str(exc), exc.to_json()))
    except KBError as exc:
        conn.send(("error", getattr(exc, "status", 400), str(exc), None))
    except MemoryError:
        conn.send(("error", 413, "the request needs more memory than a request may use", None))
    except (sqlite3.Error, RecursionError, ValueError, TypeError, KeyError, AttributeError):
        traceback.print_exc()  # the server's log has the details; the client a sentence
        conn.send(("error", 500, "the KB failed to answer this request (an internal error, in the server's log)",
                   None))
    finally:
        conn.close()


def _slots_for_loop() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if id(loop) not in _slots:
        _slots[id(loop)] = asyncio.Semaphore(WORKERS)
    return _slots[id(loop)]


async def _disconnected(receive) -> None:
    """Returns when the client has gone (the body is read already: only a disconnect is left)."""
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return


async def run(fn: Callable, args: dict, db_path: str, *, budget: float, receive=None) -> Any:
    """fn(conn, args) in a child process, within `budget` seconds. Raises OverBudget (503) when
    it takes longer or no worker frees up in time, KBError with the child's status for the
    user's mistake; returns fn's result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    gone = asyncio.ensure_future(_disconnected(receive)) if receive is not None else None
    slots = _slots_for_loop()
    try:
        try:
            await asyncio.wait_for(slots.acquire(), timeout=budget)
        except TimeoutError:
            raise OverBudget(503, f"busy: no worker was free within the {budget:g} s budget; try again") from None
        try:
            return await _in_child(fn, args, db_path, deadline, gone, budget)
        finally:
            slots.release()
    finally:
        if gone is not None:
            gone.cancel()


async def _in_child(fn, args, db_path, deadline, gone, budget) -> Any:
    loop = asyncio.get_running_loop()
    ctx = context()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, db_path, fn, args, int(budget) + 2), daemon=True)
    await asyncio.to_thread(proc.start)
    child.close()
    answer = asyncio.ensure_future(asyncio.to_thread(_receive, parent))
    try:
        waiting = {answer} | ({gone} if gone is not None else set())
        done, _ = await asyncio.wait(waiting, timeout=max(0.0, deadline - loop.time()),
                                     return_when=asyncio.FIRST_COMPLETED)
        if answer not in done:
            if gone is not None and gone in done:
                raise OverBudget(499, "the client disconnected; its work was stopped")
            raise OverBudget(503, f"the request took longer than its {budget:g} s budget and was stopped; "
                                  f"ask for fewer APIs, requests or statements")
        result = answer.result()
    finally:
        if proc.is_alive():
            proc.kill()
        await asyncio.to_thread(proc.join, 5)
        await asyncio.wait({answer}, timeout=5)  # the reader sees the end of the pipe, then it is closed
        parent.close()
    if result is None:
        raise OverBudget(503, "the request's worker stopped before it answered (over its CPU or memory limit)")
    if result[0] == "ok":
        return result[1]
    raise ChildError(result[1], result[2], result[3])


class ChildError(KBError):
    """What the worker refused: its status, its sentence, and the JSON body a door answers with."""

    def __init__(self, status: int, message: str, body: dict | None):
        super().__init__(message)
        self.status = status
        self.body = body or {"ok": False, "error": message, "status": status}


def _receive(conn):
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None
