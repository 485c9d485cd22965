"""`kb serve`: Datasette over the KB, read-only, as the database `kb` whatever the file is called.

Our plugin (the kb.web package, installed through the `datasette` entry point) adds the canned
queries, the home page, the policy routes and the live swap of a rebuilt KB file.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from pathlib import Path

from . import DB_NAME, query, web
from .web.live import LiveDatabase

SETTINGS = {
    "sql_time_limit_ms": 1000,  # every query here answers in milliseconds; a runaway ?sql= is cut off
    "default_cache_ttl": 0,     # a rebuilt KB is served at once: no answer cached by browsers
}


def make_datasette(db_path: str | Path, budget: float | None = None):
    """A Datasette serving `db_path` immutable as `kb`. Raises KBError when there is no KB there.
    `budget`: seconds one /-/policy or /-/audit request may take (kb/web/budget.py)."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    if not pm.is_registered(web):  # a source tree whose entry point is not installed
        pm.register(web, name="sagemaker_roles_kb")
    path = Path(db_path).resolve()
    query.connect(path).close()  # a missing or foreign file: KBError that says what to run
    ds = Datasette(settings=SETTINGS)
    ds.remove_database("_memory")  # added because no file was given: nothing to query there
    ds.add_database(LiveDatabase(ds, path, is_mutable=False), name=DB_NAME)
    if budget is not None:
        ds.kb_budget = budget
    return ds


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001, budget: float | None = None) -> None:
    import uvicorn

    ds = make_datasette(db_path, budget)
    sock = listen(host, port)
    asyncio.run(ds.invoke_startup())
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    print(f"kb: serving {Path(db_path)} as /{DB_NAME} on http://{shown}:{port}/ (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(ds.app(), log_level="info", lifespan="on", workers=1)
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler it found:
    # with the default one the process died there, before Python's exit removed the policy
    # workers' temporary directory (/tmp/pymp-*); this one ends through that exit.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.Server(config).run(sockets=[sock])


def _stopped(signum: int, frame: object) -> None:
    sys.exit(0)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is one line naming it (uvicorn would
    log a traceback-like error and exit 1 after start-up)."""
    try:
        # proto must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only
        # then, and without it every response waits ~40 ms for a delayed ACK.
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        reason = ("is in use (another `kb serve`? pick another with --port)" if exc.errno == errno.EADDRINUSE
                  else f"cannot be listened on: {exc.strerror or exc}")
        raise query.KBError(f"{host}:{port} {reason}") from None
    sock.set_inheritable(True)
    return sock
