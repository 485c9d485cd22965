"""Regular expressions that come from data (the lexicons' phrases, ingest/facts/iam.toml's value
patterns, both editable by users) run on RE2: linear time in the text, whatever the pattern, so
no phrase can make a page or a request take exponential time. A pattern RE2 cannot run in linear
time (a backreference, a look-around) is refused with the reason, where the data is loaded."""

from __future__ import annotations

from typing import Any, Protocol

import re2


class PatternError(ValueError):
    """A data pattern that is not a linear-time regular expression."""


class Pattern(Protocol):
    pattern: str

    def search(self, text: str, pos: int = ..., endpos: int = ...) -> Any: ...

    def match(self, text: str, pos: int = ..., endpos: int = ...) -> Any: ...

    def fullmatch(self, text: str, pos: int = ..., endpos: int = ...) -> Any: ...


def compile_linear(pattern: str, *, ignore_case: bool = False, capture: bool = True,
                   where: str = "pattern") -> Pattern:
    """`pattern` compiled by RE2; PatternError naming `where` when RE2 refuses it. Without
    `capture` (a yes/no test) RE2 answers from its DFA alone, several times faster."""
    if not isinstance(pattern, str):
        raise PatternError(f"{where}: {pattern!r} is not a string")
    options = re2.Options()
    options.log_errors = False  # the reason goes into our error, not onto stderr
    options.case_sensitive = not ignore_case
    options.never_capture = not capture
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"{where}: {pattern!r} is not a linear-time regular expression ({reason}; "
                           f"look-arounds and backreferences are not supported)") from None
