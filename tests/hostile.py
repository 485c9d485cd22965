"""Adversarial inputs for regular expressions, and a bounded way to run them.

A backtracking engine is slow on a pattern whose parts can match the same text in many ways:
nested or adjacent quantifiers over overlapping classes (`(?:[A-Z][A-Za-z0-9]*)+`, `\\s+(?:[^>]*?\\s)?`),
`.*x.*y` scans. Such a pattern shows it on a long run of one short "pump" (a character, a pair,
or one of the pattern's own literal words), after the literal that leads into it, with a tail
that makes the match fail. `inputs()` makes those; `run_bounded()` runs a check in a child
process so that a pattern that never finishes fails a test instead of hanging it.
"""

from __future__ import annotations

import ast
import multiprocessing
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover  (older Pythons)
    import sre_parse  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
BASE = "Aa0 \n_.:-<>\"=,é"
TAILS = ("", "\x00", "!", "A", ".")


_CATEGORY = {"CATEGORY_WORD": "a", "CATEGORY_NOT_WORD": "!", "CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": "x",
             "CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "x"}


def _walk(pattern: str, flags: int) -> tuple[list[str], list[str]]:
    """The pattern's literal words (`as the`, `<a`, `KmsKeyId`) and one character of each class."""
    runs: list[str] = []
    chars: list[str] = []

    def walk(items) -> None:
        current = ""
        for op, arg in items:
            if op is sre_parse.LITERAL:
                current += chr(arg)
                chars.append(chr(arg))
                continue
            if current:
                runs.append(current)
                current = ""
            name = str(op)
            if name == "SUBPATTERN":
                walk(arg[-1])
            elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
                walk(arg[2])
            elif name == "BRANCH":
                for branch in arg[1]:
                    walk(branch)
            elif name in ("ASSERT", "ASSERT_NOT"):
                walk(arg[1])
            elif name == "ATOMIC_GROUP":
                walk(arg)
            elif name == "IN":
                for kind, value in arg:
                    if str(kind) == "LITERAL":
                        chars.append(chr(value))
                    elif str(kind) == "RANGE":
                        chars.extend((chr(value[0]), chr(value[1])))
                    elif str(kind) == "CATEGORY":
                        chars.append(_CATEGORY.get(str(value), "x"))
            elif name == "ANY":
                chars.append("x")
        if current:
            runs.append(current)

    walk(sre_parse.parse(pattern, flags))
    return list(dict.fromkeys(r for r in runs if len(r) > 1)), list(dict.fromkeys(chars))


def inputs(pattern: str, flags: int = 0, n: int = 10_000) -> Iterator[str]:
    """Hostile strings for `pattern`: short ones (40 characters: exponential backtracking shows
    there) after pairs of the pattern's own characters, then long ones (about n: polynomial
    backtracking) of characters, pairs of its own characters and its literal words, after those words."""
    words, own = _walk(pattern, flags)
    chars = list(dict.fromkeys(BASE + "".join(own)))
    mine = own[:10]
    for prefix in ["", *chars, *(a + b for a in mine for b in mine), *words[:3]]:
        for pump in chars:
            for tail in TAILS:
                yield prefix + pump * 40 + tail
    pumps = chars + [a + b for a in mine[:8] for b in mine[:8] if a != b] + words + [w + " " for w in words]
    for prefix in ["", *words[:1]]:
        for pump in pumps:
            # a word repeated: n words long, as a scan from each of them to the end is what is slow
            body = prefix + pump * (n if pump in words or pump.rstrip() in words else n // len(pump))
            for tail in TAILS[:3]:
                yield body + tail


def slowest(search: Callable[[str], object], pattern: str, flags: int = 0, n: int = 10_000,
            limit: float = 0.05) -> tuple[float, float, str]:
    """(share of its budget, seconds, input) of the slowest hostile input. An input's budget is
    `limit` per n characters; the search stops at the first input over it (its best of three runs,
    so that a busy machine does not make a linear pattern look slow)."""
    worst = (0.0, 0.0, "")
    for text in inputs(pattern, flags, n):
        budget = limit * max(1.0, len(text) / n)
        took = _time(search, text)
        if took > budget:
            took = min(took, _time(search, text), _time(search, text))
        if took / budget > worst[0]:
            worst = (took / budget, took, text)
        if took > budget:
            break
    return worst


def _time(search, text: str) -> float:
    t = time.perf_counter()
    search(text)
    return time.perf_counter() - t


def _child(queue, fn, args) -> None:
    queue.put(fn(*args))


def run_bounded(fn, *args, timeout: float = 60.0):
    """fn(*args) in a forked child; ('timeout', timeout) when it does not finish in time."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    # read before joining: a child whose answer is larger than the pipe's buffer (the slowest input
    # is up to 100 KB) cannot exit until it has been read
    try:
        answer = queue.get(timeout=timeout)
    except Exception:  # queue.Empty: still running (or died without an answer)
        proc.kill()
        proc.join()
        return ("timeout", timeout)
    proc.join()
    return answer


# --- every regular expression literal written in the code ----------------------------------------

_RE_FUNCS = {"compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"}
_FLAG_NAMES = {"I": re.I, "IGNORECASE": re.I, "S": re.S, "DOTALL": re.S, "M": re.M, "MULTILINE": re.M,
               "X": re.X, "VERBOSE": re.X}


def code_patterns(packages=("ingest", "kb")) -> list[tuple[str, str, int, str]]:
    """(where, pattern, flags, method) of every string literal handed to the `re` module in the
    packages. method is how the code applies it: "search" (also findall, sub, split: every start
    is tried), "match" or "fullmatch" (anchored); for a compiled pattern, the most exposed of the
    ways its name is used in the module."""
    found = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            uses: dict[str, set[str]] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    uses.setdefault(node.value.id, set()).add(node.attr)
            names = {id(n.value): n.targets[0].id for n in ast.walk(tree)
                     if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)}
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                        and node.func.attr in _RE_FUNCS and node.args):
                    continue
                first = node.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                flags = 0
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "re" \
                            and sub.attr in _FLAG_NAMES:
                        flags |= _FLAG_NAMES[sub.attr]
                method = node.func.attr
                if method == "compile":
                    used = uses.get(names.get(id(node), ""), set()) & _RE_FUNCS
                    method = "search" if not used or used - {"match", "fullmatch"} else \
                        "match" if "match" in used else "fullmatch"
                elif method not in ("match", "fullmatch"):
                    method = "search"
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", first.value, flags, method))
    return found
