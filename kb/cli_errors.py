"""Every error of the `kb` and `ingest` commands is one line on stderr — `kb: …` — and, with `--json`,
one JSON object `{"error": …}` (with `problems` when the KB refused parameters, as the HTTP doors
give them); click's usage errors too (four lines by default), and no Python type name in a message.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from .checks import Invalid


def wants_json(argv: list[str] | None = None) -> bool:
    """Whether the command asked for JSON: its --json flag, or (before click has parsed it) the word."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.params.get("as_json"):
        return True
    return "--json" in (sys.argv[1:] if argv is None else argv) and ctx is None


def fail(prog: str, message: str, *, status: int = 1, as_json: bool | None = None, error: Exception | None = None
         ) -> NoReturn:
    """One line on stderr (a JSON object with --json), and exit `status`."""
    message = " ".join(str(message).split())
    if wants_json() if as_json is None else as_json:
        body: dict = {"error": message}
        if isinstance(error, Invalid):
            body["problems"] = [p.to_json() for p in error.problems]
        click.echo(json.dumps(body, ensure_ascii=False), err=True)
    else:
        click.echo(f"{prog}: {message}", err=True)
    sys.exit(status)


# click 8.2 and later raise the help of a command run without arguments as a usage error (8.1 prints it)
_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = tuple(
    c for c in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if c is not None)


class OneLineGroup(click.Group):
    """A click group whose usage errors (a missing argument, an unknown option or command, a bad
    value) are one line naming the command and its --help, not click's usage block."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        prog = prog_name or self.name or "kb"
        try:
            returned = super().main(argv, prog, complete_var, False, **extra)
        except click.exceptions.Abort:
            fail(prog, "aborted", as_json="--json" in argv)
        except _NO_ARGS_IS_HELP as exc:  # the bare command: its help as written, not squashed into a line
            click.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else prog
            fail(prog, f"{exc.format_message()} (see `{where} --help`)", status=exc.exit_code, as_json="--json" in argv)
        except click.ClickException as exc:
            fail(prog, exc.format_message(), status=exc.exit_code, as_json="--json" in argv)
        sys.exit(returned if isinstance(returned, int) else 0)


class _Bounded(click.ParamType):
    """A number within `min` and `max` whose errors speak of numbers, not of Python's types."""
    kind: type = float
    words = "a number"

    def __init__(self, min: float | None = None, max: float | None = None):
        self.min, self.max = min, max

    def convert(self, value, param, ctx):
        number: float
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = self.kind(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not {self.words}", param, ctx)
        if self.min is not None and number < self.min:
            self.fail(f"{number:g} is less than {self.min:g}", param, ctx)
        if self.max is not None and number > self.max:
            self.fail(f"{number:g} is more than {self.max:g}", param, ctx)
        return number


class Number(_Bounded):
    """A number of seconds."""
    name = "number"


class Count(_Bounded):
    """A whole number (retries, bytes, a port)."""
    name = "whole number"
    kind = int
    words = "a whole number"
