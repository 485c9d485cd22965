"""Markdown reader: an AWS documentation page in Markdown -> ingest.model.Page.

Two real dialects are read (see /work/shared/corpus/README.md):

* the AWS ``.md`` endpoint: ``# Title`` with ``<a name="id"></a>`` on the NEXT line, tabbed code
  written as ``------`` / ``#### [ JSON ]`` / ``****`` / fence / ``------``;
* the awsdocs GitHub source: ``# Title<a name="id"></a>`` on one line, punctuation
  backslash-escaped, note labels ending in a hard break (``**Note**␠␠``).

All Markdown parsing is pulldown-cmark's (CommonMark + tables, through pyromark; md_tokens.py
hands its events over as a flat token stream); this module only walks the tokens and maps them
onto the model. It keeps what the page printed and judges nothing:
code text is kept verbatim, even where the JSON is broken.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from ingest.model import CODE, LIST_ITEM, NOTE, PARAGRAPH, PROCEDURE, Block, Cell, Link, Page, ReaderError, Section

from ..collector import collector_paused
from .md_tokens import Child, Token, normalize_newlines, tokens

DEFAULT_NOTE_LABELS = {"Note": "note", "Important": "important", "Tip": "tip", "Warning": "warning"}

# <a name="id"> (or id="id") is how both dialects print a section anchor: an <a> tag, then its
# attribute. Two steps, each linear on any text (a tag's body is scanned once, to its `>`).
_A_TAG = re.compile(r"<a\s[^>]*+", re.IGNORECASE)
_ANCHOR_ATTR = re.compile(r"""(?<!\S)(?:name|id)\s*+=\s*+["']([^"']+)["']""", re.IGNORECASE)
# Raw HTML is not unescaped by the parser, so an escaped anchor (`sagemaker\-roles`) is cleaned here.
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
# `#### [ JSON ]` is the label of a code tab, not a section.
_TAB_LABEL = re.compile(r"\[ [^\]]+ \]")
# A YAML front matter block would otherwise parse as an hr plus a setext heading.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*\n", re.DOTALL)
# History files are named YYYY-MM-DD_<commit>.md; that stem is the page's revision.
_REVISION = re.compile(r"\d{4}-\d{2}-\d{2}_[0-9a-f]{7,40}")
# The block quote and list markers a line opens with: each is a container the parser nests, and two
# events per level (a megabyte of `>` was two million events, seconds before any reading began).
_CONTAINER_MARKERS = re.compile(r"[ \t]{0,3}+(?:>|[-+*](?=[ \t])|\d{1,9}+[.)](?=[ \t]))")
MAX_NESTING = 64  # containers opened on one line; the shipped pages open at most 2


def read_markdown(
    text: str,
    *,
    lang: str,
    source: str | None = None,
    url: str | None = None,
    note_labels: dict[str, str] | None = None,
    disclaimer_markers: list[str] | None = None,
) -> Page:
    """Read one Markdown page. Raises ReaderError if it is empty or has no heading. A paragraph
    before the first heading with one of the language's `disclaimer_markers` is the page's
    machine-translation notice (translated .md pages start with it)."""
    if not isinstance(text, str) or not text.strip():
        raise ReaderError(f"{source or 'markdown input'}: empty document")
    labels = DEFAULT_NOTE_LABELS if note_labels is None else note_labels
    text = normalize_newlines(text)
    _check_nesting(text, source)
    # Blank out front matter line for line so token line numbers still match the file.
    text = _FRONT_MATTER.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    with collector_paused():
        try:
            stream = tokens(text)
        except UnicodeEncodeError as exc:  # a lone surrogate: not text a file can hold
            raise ReaderError(f"{source or 'markdown input'}: not valid Unicode text ({exc.reason})") from None
        walker = _Walker(stream, labels)
        sections = walker.run()
    if not sections:
        raise ReaderError(f"{source or 'markdown input'}: no heading found, not a documentation page")

    # Some .md responses end with a "## See also" section addressed to AI assistants. We drop it
    # only when it is the very last section (nothing follows it) and is level 2; a "See also" anywhere
    # else is real page content.
    if len(sections) > 1 and sections[-1].level == 2 and sections[-1].heading.casefold() == "see also":
        sections.pop()

    # The title is the first level-1 heading; a page without one falls back to its first heading.
    title = next((s.heading for s in sections if s.level == 1), sections[0].heading)
    revision = None
    if source:
        m = _REVISION.fullmatch(PurePath(source).stem)
        revision = m.group(0) if m else None
    markers = [m for m in disclaimer_markers or [] if m]
    disclaimer = next((b.text for b in walker.preamble if any(m in b.text for m in markers)), None)
    return Page(lang=lang, format="md", title=title, sections=sections, url=url, source=source,
                revision=revision, disclaimer=disclaimer)


def _check_nesting(text: str, source: str | None) -> None:
    """Refuse a page whose line opens more than MAX_NESTING block quotes and lists (one look at each
    line's start: linear in the text)."""
    for number, line in enumerate(text.split("\n"), 1):
        depth, at = 0, 0
        while depth <= MAX_NESTING and (m := _CONTAINER_MARKERS.match(line, at)):
            depth, at = depth + 1, m.end()
        if depth > MAX_NESTING:
            raise ReaderError(f"{source or 'markdown input'}: line {number}: block quotes and lists nested more than "
                              f"{MAX_NESTING} deep on one line, not a documentation page")


def _cell(children: list[Child]) -> Cell:
    """A table cell, with its text and code parts in order."""
    text, codes, links = _inline(children)
    parts: list[tuple[str, str]] = []
    for type_, content, _ in children:
        kind = "code" if type_ == "code_inline" else "text" if type_ == "text" else None
        if type_ in ("softbreak", "hardbreak"):
            kind, content = "text", " "
        if kind is None:
            continue
        if parts and parts[-1][0] == kind == "text":
            parts[-1] = ("text", parts[-1][1] + content)
        else:
            parts.append((kind, content))
    cleaned = [(k, _collapse(c) if k == "text" else c.strip()) for k, c in parts]
    return Cell(text, codes, links, [(k, c) for k, c in cleaned if c])


def _inline(children: list[Child]) -> tuple[str, list[str], list[Link]]:
    """Plain text, inline code spans and links of an inline token's children."""
    parts: list[str] = []
    codes: list[str] = []
    links: list[Link] = []
    link_start: int | None = None
    href = ""
    for type_, content, target in children:
        if type_ == "text" or type_ == "image":  # image: its alt text is what prints
            parts.append(content)
        elif type_ == "code_inline":
            parts.append(content)
            codes.append(content.strip())  # the page has `s3:GetObject ` with a stray space
        elif type_ in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif type_ == "link_open":
            link_start, href = len(parts), target
        elif type_ == "link_close" and link_start is not None:
            links.append(Link(text=_collapse("".join(parts[link_start:])), href=href))
            link_start = None
        # html_inline (<a name>, </a>) and emphasis markers print nothing.
    return _collapse("".join(parts)), codes, links


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _anchor(html: str, at_start: bool = False) -> str | None:
    """The name (or id) of the first <a> tag that has one; with at_start, of a tag opening html."""
    for tag in _A_TAG.finditer(html):
        if at_start and tag.start() != 0:
            return None
        m = _ANCHOR_ATTR.search(tag.group(0), 2)
        if m:
            return m.group(1)
        if at_start:
            return None
    return None


def _strip_tags(html: str) -> str:
    """Tags as spaces. A `<` with no `>` after it starts no tag: only the text up to the last `>`
    is searched, so a run of `<` costs one scan, not one per `<`."""
    end = html.rfind(">") + 1
    return re.sub(r"<[^>]*>", " ", html[:end]) + html[end:]


def _significant(children: list[Child]) -> list[int]:
    """Where the children are that are not the empty/whitespace text markdown-it leaves around emphasis."""
    return [i for i, (type_, content, _) in enumerate(children) if not (type_ == "text" and not content.strip())]


def _all_bold(significant: list[Child]) -> bool:
    """These (significant) children have text, and all of it in bold."""
    depth, seen = 0, False
    for type_, _, _ in significant:
        if type_ in ("strong_open", "strong_close"):
            depth += 1 if type_ == "strong_open" else -1
        elif type_ in ("text", "code_inline"):
            if depth == 0:
                return False
            seen = True
    return seen


def _line(tok: Token, default: int) -> int:
    return tok.map[0] + 1 if tok.map else default


class _Walker:
    """One pass over the flat token stream, tracking list nesting."""

    def __init__(self, tokens: list[Token], note_labels: dict[str, str]):
        self.toks = tokens
        self.labels = note_labels
        self.sections: list[Section] = []
        self.lists: list[bool] = []  # ordered flag per open list
        self.item_has_text: list[bool] = []  # per open list item: its LIST_ITEM was emitted
        self.heading_end: int | None = None  # 0-based line after the latest heading
        self.preamble: list[Block] = []  # what stands before the first heading (a translation notice)

    def run(self) -> list[Section]:
        i = 0
        while i < len(self.toks):
            i = self.step(i)
        return self.sections

    @property
    def depth(self) -> int:
        return max(len(self.lists) - 1, 0)

    def emit(self, block: Block) -> None:
        # Content before the first heading has no section to live in (AWS pages print only a
        # translation notice there): it is kept aside, never invented into a heading-less section.
        if not self.sections:
            self.preamble.append(block)
        elif block.text or block.kind == CODE:
            if self.lists:
                block.depth = self.depth
                block.in_item = block.kind != LIST_ITEM
            self.sections[-1].blocks.append(block)

    def step(self, i: int) -> int:
        t = self.toks[i]
        kind = t.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            self.lists.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
        elif kind == "list_item_open":
            self.item_has_text.append(False)
        elif kind == "list_item_close":
            self.item_has_text.pop()
        elif kind == "heading_open":
            return self.heading(i)
        elif kind == "paragraph_open":
            return self.paragraph(i)
        elif kind in ("fence", "code_block"):
            code = t.content[:-1] if t.content.endswith("\n") else t.content
            self.emit(Block(CODE, code, _line(t, 1)))
        elif kind == "html_block":
            self.html_block(t)
        elif kind == "tr_open":
            return self.table_row(i)
        # hr (the `------` / `****` tab frames), blockquote and table wrappers carry no text.
        return i + 1

    def heading(self, i: int) -> int:
        open_, inline = self.toks[i], self.toks[i + 1]
        if _TAB_LABEL.fullmatch(inline.content.strip()):
            return i + 3
        text, _, _ = _inline(inline.children or [])
        # Only real inline HTML counts: an `<a name>` inside a code span is text, not an anchor.
        html = "".join(content for type_, content, _ in inline.children or [] if type_ == "html_inline")
        anchor = _anchor(html)
        self.sections.append(Section(heading=text, level=int(open_.tag[1]), line=_line(open_, 1),
                                     anchor=_ESCAPED.sub(r"\1", anchor) if anchor else None))
        self.heading_end = open_.map[1] if open_.map else None
        return i + 3

    def take_next_line_anchor(self, tok: Token, html: str) -> None:
        """The .md endpoint prints the anchor on the line right after the heading."""
        sec = self.sections[-1] if self.sections else None
        if sec is None or sec.anchor is not None or not tok.map or tok.map[0] != self.heading_end:
            return
        anchor = _anchor(html.lstrip(), at_start=True)
        if anchor:
            sec.anchor = _ESCAPED.sub(r"\1", anchor)

    def paragraph(self, i: int) -> int:
        open_, inline = self.toks[i], self.toks[i + 1]
        children = inline.children or []
        line = _line(open_, 1)
        where = _significant(children)
        sig = [children[i] for i in where]
        if sig and sig[0][0] == "html_inline":
            self.take_next_line_anchor(open_, inline.content)
        nxt = i + 3  # paragraph_open, inline, paragraph_close

        # The first paragraph of a list item is the item's own text.
        if self.item_has_text and not self.item_has_text[-1]:
            self.item_has_text[-1] = True
            text, codes, links = _inline(children)
            self.emit(Block(LIST_ITEM, text, line, codes, links, ordered=self.lists[-1]))
            return nxt

        # Note box: first line is exactly a bold label, body follows on the next lines.
        label = self.note_label(sig)
        if label is not None:
            # The body is everything after the line break that ends the label line.
            body = children[where[3] + 1:] if len(sig) > 3 else []
            text, codes, links = _inline(body)
            if not text and self.is_paragraph(nxt):  # body printed as its own paragraph
                text, codes, links = _inline(self.toks[nxt + 1].children or [])
                nxt += 3
            if text:
                self.emit(Block(NOTE, text, line, codes, links, label=label))
                return nxt

        text, codes, links = _inline(children)
        kind = PARAGRAPH
        # A bold-only line is a procedure title when an ordered list follows; otherwise
        # (e.g. "**Topics**" over a bullet list) it is prose. No wording is consulted: the
        # reader serves every language.
        if _all_bold(sig) and self.tok_type(nxt) == "ordered_list_open":
            kind = PROCEDURE
        self.emit(Block(kind, text, line, codes, links))
        return nxt

    def note_label(self, sig: list[Child]) -> str | None:
        if (len(sig) >= 3 and sig[0][0] == "strong_open" and sig[1][0] == "text"
                and sig[2][0] == "strong_close" and sig[1][1].strip() in self.labels
                and (len(sig) == 3 or sig[3][0] in ("softbreak", "hardbreak"))):
            return sig[1][1].strip()
        return None

    def tok_type(self, i: int) -> str | None:
        return self.toks[i].type if i < len(self.toks) else None

    def is_paragraph(self, i: int) -> bool:
        return self.tok_type(i) == "paragraph_open" and i + 1 < len(self.toks)

    def html_block(self, t: Token) -> None:
        self.take_next_line_anchor(t, t.content)
        text = _collapse(_strip_tags(t.content))
        self.emit(Block(PARAGRAPH, text, _line(t, 1)))

    def table_row(self, i: int) -> int:
        """A table row becomes one paragraph, cells joined by " | ", that keeps its cells."""
        line = _line(self.toks[i], 1)
        cells: list[Cell] = []
        header = False
        i += 1
        while i < len(self.toks) and self.toks[i].type != "tr_close":
            if self.toks[i].type == "th_open":
                header = True
            if self.toks[i].type == "inline":
                cells.append(_cell(self.toks[i].children or []))
            i += 1
        self.emit(Block(PARAGRAPH, " | ".join(c.text for c in cells), line, [x for c in cells for x in c.codes],
                        [x for c in cells for x in c.links], cells=cells, header=header))
        return i + 1
