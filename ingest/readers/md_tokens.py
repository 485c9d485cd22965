"""Markdown parsed by pyromark (pulldown-cmark: CommonMark and GFM tables, in Rust) into the flat
token stream the Markdown reader walks: block tokens (`heading_open`, `paragraph_open`, `inline`,
`fence`, `tr_open`, …) with their source lines, an `inline` token's children (`text`, `code_inline`,
`link_open` with its href, `strong_open`, `html_inline`, `softbreak`, `image`, …). A child is a
plain (type, content, href) tuple: most events are inline text, and a tuple costs a third of an
object to make.

pulldown-cmark is a pull parser without recursion: nesting costs no stack, and no input makes it
backtrack (its own pathological-input suite; tests/test_hostile_input.py checks ours). It reports
byte ranges; lines come from a table of line starts. A list item's text that is not in a paragraph
of its own (a tight list) becomes a paragraph here, as CommonMark renders it.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import pyromark

_OPTIONS = pyromark.Options.ENABLE_TABLES
# Block-level starts and ends: inline text collected for a tight list item ends at any of them.
_INLINE_TAGS = frozenset(("Emphasis", "Strong", "Link", "Image", "Strikethrough", "Superscript", "Subscript"))


Child = tuple[str, str, str]  # (type, content, href) of an inline token's child


class Token:
    """One block token, in markdown-it's vocabulary (only what the reader reads)."""

    __slots__ = ("children", "content", "href", "map", "tag", "type")

    def __init__(self, type_: str, content: str = "", tag: str = "", map_: list[int] | None = None,
                 href: str = ""):
        self.type = type_
        self.content = content
        self.tag = tag
        self.map = map_
        self.href = href
        self.children: list[Child] | None = None

    def __repr__(self) -> str:  # for a person debugging the reader
        return f"Token({self.type!r}, {self.content[:30]!r}, map={self.map})"


def normalize_newlines(text: str) -> str:
    """CR LF and a lone CR end a line, as CommonMark says; one form, so lines count alike."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tokens(text: str) -> list[Token]:
    """The flat token stream of `text` (newlines normalized by the caller)."""
    return _Builder(text).run()


class _Builder:
    def __init__(self, text: str):
        self.text = text
        data = text.encode("utf-8")
        self.starts = [0]
        find, at = data.find, data.find(b"\n")
        while at != -1:
            self.starts.append(at + 1)
            at = find(b"\n", at + 1)
        self.out: list[Token] = []
        self.inline: Token | None = None  # the inline token being filled
        self.implicit = False  # that inline token belongs to a paragraph this builder opened
        self.cell_tag = "td"
        self.image: tuple[list[Child], int] | None = None  # where the image is among its siblings, until its alt text is read
        self.image_depth = 0
        self.code: Token | None = None  # the fence or code block being filled
        self.html: Token | None = None  # the HTML block being filled
        # Text of the token being filled, joined when it closes (`+=` on an attribute copies the
        # whole string each time: quadratic on a long paragraph).
        self.parts: dict[str, list[str]] = {"inline": [], "code": [], "html": [], "image": []}

    def line(self, offset: int) -> int:
        """0-based line of a byte offset."""
        return bisect_right(self.starts, offset) - 1

    def run(self) -> list[Token]:
        events: Any = pyromark.events_with_range(self.text, options=_OPTIONS)  # (event, {start, end}) pairs
        parts = self.parts
        for event, span in events:
            if event.__class__ is str:  # SoftBreak, HardBreak, Rule
                self.bare(event, span)
                continue
            text = event.get("Text")
            if text is not None:  # most events: text, into a code block, an HTML block or a paragraph
                if self.code is not None:
                    parts["code"].append(text)
                elif self.html is not None:
                    parts["html"].append(text)
                elif self.inline is not None and self.image is None:  # the common case, without a call
                    self.inline.children.append(("text", text, ""))  # type: ignore[union-attr]
                    if text:
                        parts["inline"].append(text)
                else:
                    self.child(("text", text, ""), span)
                continue
            (kind, value), = event.items()
            if kind == "Start":
                self.start(value, span)
            elif kind == "End":
                self.end(value)
            else:
                self.leaf(kind, value, span)
        self.close_implicit()
        return self.out

    # -- inline content ------------------------------------------------------------------------

    def child(self, token: Child, span: dict) -> None:
        if self.image is not None:  # inside an image only its alt text prints
            if token[0] in ("text", "code_inline"):
                self.parts["image"].append(token[1])
            return
        if self.inline is None:  # text straight inside a list item (a tight list): its paragraph
            first = self.line(span["start"])
            self.out.append(Token("paragraph_open", map_=[first, first + 1]))
            self.inline = Token("inline", map_=[first, first + 1])
            self.inline.children = []
            self.out.append(self.inline)
            self.implicit = True
        assert self.inline.children is not None
        self.inline.children.append(token)
        if token[1]:
            self.parts["inline"].append(token[1])

    def close_implicit(self) -> None:
        if self.implicit:
            self.out.append(Token("paragraph_close"))
            self.close_inline()
            self.implicit = False

    def close_inline(self) -> None:
        if self.inline is not None:
            self.inline.content = "".join(self.parts["inline"])
        self.inline, self.parts["inline"] = None, []

    def filled(self, token: Token | None, kind: str) -> None:
        if token is not None:
            token.content = "".join(self.parts[kind])
        self.parts[kind] = []

    def bare(self, event: str, span: dict) -> None:
        if event == "SoftBreak":
            self.child(("softbreak", "", ""), span)
        elif event == "HardBreak":
            self.child(("hardbreak", "", ""), span)
        else:  # Rule: a thematic break
            self.close_implicit()
            self.out.append(Token("hr", map_=[self.line(span["start"]), self.line(span["start"]) + 1]))

    def leaf(self, kind: str, value, span: dict) -> None:
        if kind == "Code":
            self.child(("code_inline", value, ""), span)
        elif kind == "InlineHtml":
            self.child(("html_inline", value, ""), span)
        elif kind == "Html":
            if self.html is not None:
                self.parts["html"].append(value)
            else:
                self.child(("html_inline", value, ""), span)
        elif isinstance(value, str):  # math, footnote references …: their text
            self.child(("text", value, ""), span)

    # -- containers ----------------------------------------------------------------------------

    def start(self, tag: Any, span: dict) -> None:
        value: Any
        name, value = (tag, None) if isinstance(tag, str) else next(iter(tag.items()))
        if name in _INLINE_TAGS:
            if name == "Image":
                self.image_depth += 1
                if self.image is None:
                    self.child(("image", "", ""), span)  # its alt text is set when the image ends
                    assert self.inline is not None and self.inline.children is not None
                    self.image = (self.inline.children, len(self.inline.children) - 1)
            elif name == "Link":
                self.child(("link_open", "", str(value.get("dest_url") or "")), span)
            elif name in ("Emphasis", "Strong"):
                self.child(("em_open" if name == "Emphasis" else "strong_open", "", ""), span)
            return
        self.close_implicit()
        first = self.line(span["start"])
        end = self.line(max(span["end"] - 1, span["start"])) + 1
        if name == "Paragraph":
            self.open_inline("paragraph_open", "", [first, end])
        elif name == "Heading":
            self.open_inline("heading_open", "h" + str(value["level"])[-1], [first, end])
        elif name == "TableCell":
            self.out.append(Token(self.cell_tag + "_open"))
            self.inline = Token("inline", map_=[first, first + 1])
            self.inline.children = []
            self.out.append(self.inline)
        elif name in ("TableHead", "TableRow"):
            self.cell_tag = "th" if name == "TableHead" else "td"
            self.out.append(Token("tr_open", map_=[first, first + 1]))
        elif name == "List":
            self.out.append(Token("bullet_list_open" if value is None else "ordered_list_open", map_=[first, end]))
        elif name == "Item":
            self.out.append(Token("list_item_open", map_=[first, end]))
        elif name == "CodeBlock":
            self.code = Token("fence" if isinstance(value, dict) else "code_block", map_=[first, end])
            self.out.append(self.code)
        elif name == "HtmlBlock":
            self.html = Token("html_block", map_=[first, end])
            self.out.append(self.html)
        # BlockQuote, Table, definition lists …: wrappers that carry no text of their own

    def open_inline(self, kind: str, tag: str, map_: list[int]) -> None:
        self.out.append(Token(kind, tag=tag, map_=map_))
        self.inline = Token("inline", map_=map_)
        self.inline.children = []
        self.out.append(self.inline)

    def end(self, tag) -> None:
        name = tag if isinstance(tag, str) else next(iter(tag))
        if name in _INLINE_TAGS:
            if name == "Image":
                self.image_depth -= 1
                if self.image_depth == 0 and self.image is not None:
                    siblings, at = self.image
                    siblings[at] = ("image", "".join(self.parts["image"]), "")
                    self.parts["image"] = []
                    self.image = None
            elif name == "Link":
                self.child(("link_close", "", ""), {"start": 0})
            elif name in ("Emphasis", "Strong"):
                self.child(("em_close" if name == "Emphasis" else "strong_close", "", ""), {"start": 0})
            return
        self.close_implicit()
        if name == "Paragraph":
            self.close_inline()
            self.out.append(Token("paragraph_close"))
        elif name == "Heading":
            self.close_inline()
            self.out.append(Token("heading_close"))
        elif name == "TableCell":
            self.close_inline()
            self.out.append(Token(self.cell_tag + "_close"))
        elif name in ("TableHead", "TableRow"):
            self.out.append(Token("tr_close"))
        elif name == "List":
            self.out.append(Token("ordered_list_close" if tag[name] else "bullet_list_close"))
        elif name == "Item":
            self.out.append(Token("list_item_close"))
        elif name == "CodeBlock":
            self.filled(self.code, "code")
            self.code = None
        elif name == "HtmlBlock":
            self.filled(self.html, "html")
            self.html = None
