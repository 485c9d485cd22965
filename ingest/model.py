"""The one document model every reader produces and the extractor consumes.

A page is a flat list of sections in reading order; each section holds the blocks that
stand between its heading and the next heading. Readers keep what the page printed
(inline code spans, link targets, source lines) and decide nothing about permissions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Block kinds. A list item carries its nesting depth; a note carries its printed label.
PARAGRAPH = "paragraph"
LIST_ITEM = "list_item"
CODE = "code"
NOTE = "note"
PROCEDURE = "procedure"  # the title line of a step-by-step procedure ("To create …")
BLOCK_KINDS = (PARAGRAPH, LIST_ITEM, CODE, NOTE, PROCEDURE)


@dataclass
class Link:
    text: str
    href: str


@dataclass
class Cell:
    """A table cell: its text, and its inline parts in order (("text" | "code", content)), so a
    reader of the table knows which words were code and what a note in the cell applies to."""
    text: str
    codes: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    parts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Block:
    kind: str
    text: str  # plain text as printed, inline code content included, whitespace collapsed (code: verbatim)
    line: int  # 1-based line of the block's start in the source file
    codes: list[str] = field(default_factory=list)  # inline code spans, in order
    links: list[Link] = field(default_factory=list)
    depth: int = 0  # list nesting, 0 = top level
    in_item: bool = False  # a paragraph/code that continues the list item of the same depth above it
    ordered: bool = False  # list item of a numbered list
    label: str | None = None  # note label as printed ("Note", "注記")
    cells: list[Cell] | None = None  # a table row (text: the cells joined by " | "); None otherwise
    header: bool = False  # a table's header row


@dataclass
class Section:
    heading: str
    level: int  # 1 = page title
    line: int
    anchor: str | None = None  # None where the format carries no anchors (plain text)
    anchor_source: str | None = None  # "aligned": borrowed from the English page's section
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Page:
    lang: str  # "en", "ja", …
    format: str  # "md", "html", "text"
    title: str
    sections: list[Section]
    url: str | None = None
    source: str | None = None  # file path or URL it was read from
    disclaimer: str | None = None  # the machine-translation notice, when the page has one
    revision: str | None = None  # e.g. "2022-12-09_53d2932" for a dated history file


class ReaderError(ValueError):
    """The input cannot be read as a page of this format (empty, truncated, not text)."""
