"""Plain-text reader: the visible text of an AWS doc page (HTML rendered to text) -> Page.

Layout, as observed in /work/shared/corpus (README.md there): line 1 is the HTML <title>, then
the machine-translation disclaimer, then the page. Blocks are separated by blank lines, headings
are bare short lines, a note box is a bare label line followed by its text, lists are indented
`1.` / `•` lines, and every JSON snippet is printed on ONE line.

The reader holds no words of any language: note labels and disclaimer markers come from the
caller's lexicon. It keeps the text as printed (moved words, concatenated inline code runs, the
page's own typos) and guesses no inline code: plain text carries no markup, so Block.codes is [].
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from ingest.model import CODE, LIST_ITEM, NOTE, PARAGRAPH, PROCEDURE, Block, Link, Page, ReaderError, Section

# A list item line (already stripped): `1. text` / `1) text` (ordered) or `• text` (bullet).
_ITEM = re.compile(r"(?:(\d+)[.)]|[•◦▪‣●○■*+-])\s+(\S.*)", re.DOTALL)
# JSON is detected by shape only: an object, an array (but not prose like `[Roles] (…)`), or a bare
# run of quoted strings `"a", "b"` (an Action list printed without its brackets).
_JSON_ARRAY = re.compile(r"\[\s*(?:[\[{\"\]\d-]|$)")
_QUOTED_RUN = re.compile(r'"[^"]*"(?:\s*,\s*"[^"]*")+\s*,?')
# The renderer prints a link's target in parentheses after it only for bare URLs.
_URL = re.compile(r"\((https?://[^\s()]+)\)")
_SENTENCE_END = tuple("。．.:：!?！？、,")
_NOT_HEADING_START = tuple('{["')
_MAX_HEADING = 80


@dataclass
class _Chunk:
    line: int  # 1-based line of its first line
    lines: list[str]  # as printed, indentation included

    @property
    def head(self) -> str:
        return self.lines[0].strip()

    @property
    def indent(self) -> int:
        first = self.lines[0].expandtabs(8)
        return len(first) - len(first.lstrip())

    @property
    def text(self) -> str:
        return _collapse(" ".join(self.lines))


def read_text(
    text: str,
    *,
    lang: str,
    source: str | None = None,
    url: str | None = None,
    note_labels: dict[str, str] | None = None,
    disclaimer_markers: list[str] | None = None,
) -> Page:
    """Read one plain-text page. Raises ReaderError if it is empty, too short or has no heading."""
    name = source or "text input"
    if not isinstance(text, str) or not text.strip():
        raise ReaderError(f"{name}: empty document")
    # Count lines the way an editor does, so Block.line can be looked up in the file.
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    filled = [n for n, line in enumerate(lines) if line.strip()]
    if len(filled) < 2:
        raise ReaderError(f"{name}: {len(filled)} non-empty line(s); expected a <title> line and a page")
    labels = note_labels or {}
    markers = [m for m in disclaimer_markers or [] if m]  # an empty marker would match any paragraph
    chunks = _chunks(lines, filled[0] + 1, labels)  # the <title> line itself is not page content
    sections, disclaimer = _Builder(labels, markers).run(chunks)
    if not sections:
        raise ReaderError(f"{name}: no heading found after the title line, not a documentation page")
    return Page(lang=lang, format="text", title=sections[0].heading, sections=sections, url=url,
                source=source, disclaimer=disclaimer)


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _chunks(lines: list[str], start: int, labels: dict[str, str]) -> list[_Chunk]:
    """Split at blank lines; a note label line and a list item line also start a new chunk,
    because the renderer sometimes omits the blank line (`… get_execution_role()` then `注記`)."""
    chunks: list[_Chunk] = []
    current: _Chunk | None = None
    for n in range(start, len(lines)):
        raw = lines[n].rstrip()
        stripped = raw.strip()
        if not stripped:
            current = None
            continue
        is_label = stripped in labels
        if current is None or is_label or _ITEM.fullmatch(stripped) or current.head in labels:
            current = _Chunk(n + 1, [raw])
            chunks.append(current)
        else:
            current.lines.append(raw)
    return chunks


def _is_code(head: str) -> bool:
    return (head.startswith("{") or bool(_JSON_ARRAY.match(head)) or bool(_QUOTED_RUN.fullmatch(head))
            or head.startswith("import "))


def _links(text: str) -> list[Link]:
    return [Link(text=u, href=u) for u in _URL.findall(text)]


class _Builder:
    """One pass over the chunks, tracking the indentation of the open list levels."""

    def __init__(self, labels: dict[str, str], markers: list[str]):
        self.labels = labels
        self.markers = markers
        self.sections: list[Section] = []
        # Blocks before the first heading (only the disclaimer, normally) are kept: they open the
        # H1 section rather than being dropped.
        self.preamble: list[Block] = []
        self.disclaimer: str | None = None
        # Indentations of the open list levels, outermost first. Depth is the position in this
        # stack, so any indentation step (2, 3 or 4 spaces) nests, and a dedent closes levels.
        self.levels: list[int] = []

    def run(self, chunks: list[_Chunk]) -> tuple[list[Section], str | None]:
        i = 0
        while i < len(chunks):
            i = self.step(chunks, i)
        return self.sections, self.disclaimer

    def emit(self, block: Block) -> None:
        (self.sections[-1].blocks if self.sections else self.preamble).append(block)

    def is_heading(self, c: _Chunk) -> bool:
        head = c.head
        return (len(c.lines) == 1 and c.indent == 0 and len(head) <= _MAX_HEADING
                and not head.endswith(_SENTENCE_END) and not head.startswith(_NOT_HEADING_START)
                and not _ITEM.fullmatch(head) and head not in self.labels)

    def list_depth(self, indent: int) -> int:
        while self.levels and self.levels[-1] > indent:
            self.levels.pop()
        if not self.levels or self.levels[-1] < indent:
            self.levels.append(indent)
        return len(self.levels) - 1

    def owner(self, indent: int) -> tuple[int, bool]:
        """(depth, in_item) of a non-item chunk: an indented line belongs to the deepest open
        item that is less indented than it; an unindented one ends the list."""
        while self.levels and self.levels[-1] >= indent:
            self.levels.pop()
        return (len(self.levels) - 1, True) if self.levels else (0, False)

    def step(self, chunks: list[_Chunk], i: int) -> int:
        c = chunks[i]
        nxt = chunks[i + 1] if i + 1 < len(chunks) else None
        text = c.text
        if not self.sections and self.disclaimer is None and any(m in text for m in self.markers):
            self.disclaimer = text
            return i + 1

        item = _ITEM.fullmatch(c.head)
        if item:
            body = _collapse(" ".join([item.group(2), *c.lines[1:]]))
            self.emit(Block(LIST_ITEM, body, c.line, links=_links(body), depth=self.list_depth(c.indent),
                            ordered=item.group(1) is not None))
            return i + 1

        depth, in_item = self.owner(c.indent)
        if c.head in self.labels:
            # The note's text is the next chunk. Its line is the text's line (where Block.text
            # starts); the label line is the one above it.
            if nxt is not None and nxt.head not in self.labels and not _ITEM.fullmatch(nxt.head) \
                    and not _is_code(nxt.head):
                self.emit(Block(NOTE, nxt.text, nxt.line, links=_links(nxt.text), depth=depth,
                                in_item=in_item, label=c.head))
                return i + 2
            self.emit(Block(PARAGRAPH, text, c.line, depth=depth, in_item=in_item))  # label with no text
        elif _is_code(c.head):
            code = textwrap.dedent("\n".join(c.lines)).strip()
            self.emit(Block(CODE, code, c.line, depth=depth, in_item=in_item))
        elif self.is_heading(c):
            # Plain text prints no heading levels: the first heading is the page title (H1) and
            # every later one is taken as level 2.
            if not self.sections:
                self.sections.append(Section(text, 1, c.line, blocks=self.preamble))
            elif nxt is not None and (m := _ITEM.fullmatch(nxt.head)) and m.group(1):
                # A bare line right before a numbered list titles a procedure ("To create …").
                self.emit(Block(PROCEDURE, text, c.line))
            else:
                self.sections.append(Section(text, 2, c.line))
        else:
            self.emit(Block(PARAGRAPH, text, c.line, links=_links(text), depth=depth, in_item=in_item))
        return i + 1
