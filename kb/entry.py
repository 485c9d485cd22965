"""The `kb` and `ingest` console scripts (and `python -m kb`, `python -m ingest`): the command's click
group run as a process that ends as soon as its output is out.

A `kb` question is a process whose start and end cost more than its answer. Importing the command
makes tens of thousands of objects, among which the cyclic garbage collector keeps searching for
cycles that are not there (4% of a `kb requirements`, callgrind); and Python's finalization frees
every module and object one by one before the process ends (9%; after a whole `ingest build`, the
facts of 1,300 pages). Here the collector waits until the command's modules are imported, and a
command that returns or exits while no other thread runs, having started no processes, leaves with
`os._exit` once stdout and stderr are flushed: the system takes the memory back at once. Nothing
the commands keep is left to finalization: SQLite files are closed (and a new KB swapped in)
before the command returns.
Callers in the same process (the tests' CliRunner) call the click groups themselves, unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import os
import sys
from typing import NoReturn

# What CPython exits with when flushing stdout fails at exit (a reader that closed the pipe early).
FLUSH_FAILED = 120
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}  # what writing a stream can meet


def kb() -> NoReturn:
    run("kb.cli")


def ingest() -> NoReturn:
    run("ingest.cli")


def run(module: str) -> NoReturn:
    prog = module.partition(".")[0]
    gc.disable()
    try:
        main = importlib.import_module(module).main
    finally:
        gc.enable()
    try:
        main()
        code: str | int | None = 0
    except SystemExit as exc:
        code = exc.code
    except OSError as exc:  # the system refused what no command handles itself: writing the output
        code = _refused_by_the_system(prog, exc)
    threading = sys.modules.get("threading")
    if (threading is not None and threading.active_count() > 1) or "multiprocessing" in sys.modules:
        # another thread still runs (a server's), or the command started processes: Python's own
        # exit waits for the thread, and cleans up after the processes (their temporary directory)
        sys.exit(code)
    leave(code, prog)


def _refused_by_the_system(prog: str, exc: OSError) -> int:
    """One line for an OSError (a full disk under stdout), none for a reader that left (`| head`):
    the output it did not want goes nowhere."""
    if isinstance(exc, BrokenPipeError):
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    reason = exc.strerror or str(exc)
    if exc.filename:
        _tell(prog, f"{reason} ({exc.filename})")
    elif exc.errno in _WRITE_ERRORS:  # no file named: the output the command writes to
        _tell(prog, f"cannot write the output: {reason}")
    else:
        _tell(prog, reason)
    return 1


def _tell(prog: str, said: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr itself may be gone
        print(f"{prog}: {said}", file=sys.stderr)


def leave(code: str | int | None, prog: str = "kb") -> NoReturn:
    """End the process as sys.exit(code) would, without finalizing the interpreter."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:  # a reader that left, a full disk, a stdout the command closed
        status = FLUSH_FAILED
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            _tell(prog, f"cannot write the output: {exc.strerror or exc}")
    with contextlib.suppress(OSError, ValueError):  # nowhere left to say it
        sys.stderr.flush()
    os._exit(status)
