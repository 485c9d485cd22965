"""Edits of the source list (data/sources.toml) that keep every comment and line of it: a new page,
a page's new snapshot and date, a directory of revisions. Each edit is checked to parse before the
file is replaced whole."""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from pathlib import Path

from .lock import write_atomically
from .sources import SourceError


def append_page(sources_file: Path, entry: dict[str, str]) -> None:
    """Add a [[page]] entry at the end of the source list."""
    block = "\n[[page]]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in entry.items())
    text = sources_file.read_text(encoding="utf-8")
    write_checked(sources_file, text.rstrip("\n") + "\n" + block)


_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def has_page(sources_file: Path, key: str, lang: str) -> bool:
    """The source list has a [[page]] entry of (key, lang) (a page of a [[guide]] directory has none)."""
    pages = tomllib.loads(sources_file.read_text(encoding="utf-8")).get("page", [])
    return any(p.get("key") == key and p.get("lang") == lang for p in pages)


def update_page(sources_file: Path, key: str, lang: str, values: dict[str, str]) -> None:
    """Set `values` in the [[page]] entry of (key, lang), keeping every comment and other line."""
    lines = sources_file.read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")] + [len(lines)]
    for start, end in itertools.pairwise(starts):
        if lines[start].strip() != "[[page]]":
            continue
        body = tomllib.loads("".join(lines[start + 1:end]))
        if body.get("key") != key or body.get("lang") != lang:
            continue
        block = lines[start + 1:end]
        for name, value in values.items():
            new = f"{name} = {json.dumps(value, ensure_ascii=False)}\n"
            at = next((i for i, line in enumerate(block) if (m := _KEY_LINE.match(line)) and m.group(1) == name), None)
            if at is None:
                at = max((i for i, line in enumerate(block) if _KEY_LINE.match(line)), default=-1) + 1
                block.insert(at, new)
            else:
                block[at] = new
        write_checked(sources_file, "".join(lines[:start + 1] + block + lines[end:]))
        return
    raise SourceError(f"{sources_file}: no [[page]] entry for {key} ({lang}) to update")


def register_history(sources_file: Path, directory: Path, key: str, lang: str, url: str | None) -> bool:
    """Add a [[history]] entry for `directory` to the source list unless one is there (so a later
    `ingest build` keeps these versions). Returns True when the file was changed."""
    config = tomllib.loads(sources_file.read_text(encoding="utf-8"))
    base = sources_file.parent.resolve()
    wanted = directory.resolve()
    for h in config.get("history", []):
        if (base / h["dir"]).resolve() == wanted and h.get("lang") == lang:
            return False
    try:
        shown = str(wanted.relative_to(base))
    except ValueError:
        shown = str(wanted)
    entry = [f"key = {json.dumps(key, ensure_ascii=False)}", f"lang = {json.dumps(lang)}"]
    if url:
        entry.append(f"url = {json.dumps(url, ensure_ascii=False)}")
    entry += [f"dir = {json.dumps(shown, ensure_ascii=False)}", 'format = "md"']
    text = sources_file.read_text(encoding="utf-8")
    block = "\n[[history]]\n" + "\n".join(entry) + "\n"
    write_atomically(sources_file, text.rstrip("\n") + "\n" + block)
    return True


def write_checked(path: Path, text: str) -> None:
    tomllib.loads(text)  # never leave a source list that no longer parses
    write_atomically(path, text)
