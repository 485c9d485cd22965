"""HTML reader: a docs.aws.amazon.com page as served (or saved) -> ingest.model.Page.

The layout is the site template described in /work/shared/docs/aws-docs-html.md. Only the content
area `#main-col-body` is read. Everything is selected by id, class or tag name, never by position:
the page carries a second <title> and a nested <head>/<body> of its own.

Like the other readers this one keeps what the page printed and judges nothing. It holds no words
of any language: note labels come from the page's own <h6> (or the caller's labels), and the
translation disclaimer is recognised with the caller's markers.
"""

from __future__ import annotations

import hashlib
import re

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from ingest.model import CODE, LIST_ITEM, NOTE, PARAGRAPH, PROCEDURE, Block, Cell, Link, Page, ReaderError, Section

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Tags that never print page content. A nested <head> in the content area also holds the second <title>.
_SILENT = {"head", "title", "script", "style", "noscript", "template", "meta", "link", "button", "svg"}
# Tags that start a new block; every other tag (a, code, em, span, awsui-icon, …) is inline.
_BLOCK = {"html", "body", "div", "p", "pre", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody",
          "tfoot", "tr", "td", "th", "caption", "section", "article", "aside", "header", "footer", "nav", "main",
          "blockquote", "figure", "figcaption", "details", "summary", "form", "fieldset", "hr", *_HEADINGS,
          *_SILENT}
# Chrome inside the content area; its text is not part of the page.
_CHROME_CLASSES = ("awsdocs-page-header-container", "code-btn-container")
# Note kinds by CSS class. The printed label is translated ("Note", "注記"), the class is not.
_NOTE_KINDS = (("awsdocs-important", "important"), ("awsdocs-warning", "warning"), ("awsdocs-tip", "tip"))
# Site build artefacts that change while the page does not (see page_fingerprint).
_BUILD_ID = re.compile(r"\bw\d+(?:[a-z]+\d+)+\b")  # generated table/element ids: w117aab9c15
_ASSET_QUERY = re.compile(r"([?&](?:v|ver|version|rev|build|cb|t)=)[^&#\s]*", re.IGNORECASE)
_ASSET_PATH_VERSION = re.compile(r"(?<=[/._-])v?\d+(?:\.\d+){1,3}(?=[/._-])")
_ASSET_URL = re.compile(r"\.(?:js|css|png|svg|jpe?g|gif|ico|woff2?|ttf)(?:[?#]|$)", re.IGNORECASE)
# Docs pages nest their content area about 15 elements deep; a page nested deeper than this is
# refused at once (the walk is recursive, and each level would cost a scan of what it holds).
MAX_DEPTH = 100
# html.parser and bs4 spend ~25 µs on each tag: a page of more tags than this (docs pages have a few
# thousand) is refused before it is parsed, so no page costs more than a few seconds.
MAX_TAGS = 100_000


def read_html(
    text: str,
    *,
    lang: str | None = None,
    source: str | None = None,
    url: str | None = None,
    note_labels: dict[str, str] | None = None,
    disclaimer_markers: list[str] | None = None,
) -> Page:
    """Read one docs page. Raises ReaderError when it has no #main-col-body or no <h1>."""
    name = source or "html input"
    soup = _parse(text, name)
    body = _content_area(soup, name)
    h1 = _title_heading(body)
    if h1 is None:
        raise ReaderError(f"{name}: #main-col-body has no <h1> page title")
    depth = _depth(body)
    if depth > MAX_DEPTH:
        raise ReaderError(f"{name}: elements nested {depth} deep in #main-col-body (at most {MAX_DEPTH}): "
                          f"not a documentation page")
    _strip_chrome(body)
    disclaimer = _take_disclaimer(body, h1, [m for m in disclaimer_markers or [] if m])
    walker = _Walker(h1, note_labels or {}, _holding_blocks(body))
    try:
        walker.container(body)
    except RecursionError:  # bs4 trees are walked recursively; absurd nesting is not a docs page
        raise ReaderError(f"{name}: elements nested too deeply to be a documentation page") from None
    if not walker.sections:  # the <h1> sat where no heading can be (inside a <pre>, a table cell, …)
        raise ReaderError(f"{name}: the <h1> page title is buried inside other content")
    return Page(lang=lang or _page_lang(soup, body), format="html", title=_collapse(h1.get_text()),
                sections=walker.sections, url=url, source=source, disclaimer=disclaimer)


def page_fingerprint(text: str) -> str:
    """sha256 of the content area with site-build noise removed, so that two builds of the same page
    hash equal: generated ids, comments (DEBUG markers), feedback links, copy buttons, asset versions
    and whitespace differences are dropped. Raises ReaderError like read_html."""
    body = _content_area(_parse(text, "html input"), "html input")
    for c in body.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()
    for el in body.find_all(_is_noise):
        el.decompose()
    for el in body.find_all(True):
        for attr, value in list(el.attrs.items()):
            el.attrs[attr] = _normalize_attr(value)
    # Whitespace between tags is template formatting, not content.
    markup = re.sub(r">\s+<", "><", _collapse(str(body)))
    return hashlib.sha256(markup.encode("utf-8")).hexdigest()


# --- parsing helpers ------------------------------------------------------------------------------


def _parse(text: str, name: str) -> BeautifulSoup:
    if not isinstance(text, str) or not text.strip():
        raise ReaderError(f"{name}: empty document")
    if text.count("<") > MAX_TAGS:
        raise ReaderError(f"{name}: more than {MAX_TAGS} tags, not a documentation page")
    try:
        # html.parser keeps the tree as written (the nested <head>/<body> stay where they are) and
        # records each tag's source line, which lxml's tree builder in bs4 does not.
        return BeautifulSoup(text, "html.parser")
    except Exception as exc:  # bs4 wraps parser failures in several exception types
        raise ReaderError(f"{name}: not parseable as HTML ({type(exc).__name__}: {exc})") from None


def _content_area(soup: BeautifulSoup, name: str) -> Tag:
    body = soup.find(id="main-col-body")
    if not isinstance(body, Tag):
        raise ReaderError(f"{name}: no #main-col-body element, not a docs.aws.amazon.com page")
    return body


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _classes(tag: Tag) -> list[str]:
    value: object = tag.get("class") or []
    return value.split() if isinstance(value, str) else [str(v) for v in value] if isinstance(value, list) else []


def _line(node) -> int:
    return getattr(node, "sourceline", None) or 0


def _strip_chrome(body: Tag) -> None:
    # Comments print nothing (the DEBUG markers sit inside <pre>); <br> prints as a space.
    for c in body.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()
    for el in body.find_all(lambda t: any(c in _classes(t) for c in _CHROME_CLASSES)):
        el.decompose()
    for br in body.find_all("br"):
        br.replace_with(" ")


def _page_lang(soup: BeautifulSoup, body: Tag) -> str:
    """Short language code from <html lang> or <meta name="guide-locale"> outside the content area."""
    found = [el.get("lang") for el in soup.find_all("html") if not _inside(el, body)]
    found += [el.get("content") for el in soup.find_all("meta", attrs={"name": "guide-locale"})]
    codes = [_short_lang(str(v)) for v in found if v]
    return next((c for c in codes if c), "en")  # a page that names no locale is English


def _title_heading(body: Tag) -> Tag | None:
    """The page title: the h1.topictitle, else the first <h1>, never one inside a silent element."""
    visible = [h for h in body.find_all("h1") if not any(p.name in _SILENT for p in _ancestors(h, body))]
    return next((h for h in visible if "topictitle" in _classes(h)), visible[0] if visible else None)


def _ancestors(node, top: Tag):
    """Parents of node up to (not including) top."""
    for p in node.parents:
        if p is top:
            return
        yield p


def _inside(node, ancestor: Tag) -> bool:
    return any(p is ancestor for p in node.parents)  # identity: bs4's == compares markup


def _short_lang(tag: str) -> str:
    parts = tag.strip().replace("_", "-").lower().split("-")
    # Chinese is the one site language whose region names a different script (zh_cn / zh_tw).
    return "-".join(parts[:2]) if parts[0] == "zh" and len(parts) > 1 else parts[0]


def _take_disclaimer(body: Tag, h1: Tag, markers: list[str]) -> str | None:
    """Remove and return the translation disclaimer: the first text before the <h1> (the banner
    area), or inside a language banner element, that contains one of the markers."""
    if not markers:
        return None
    wanted = [m.casefold() for m in markers]
    before_h1 = set(id(s) for s in h1.find_all_previous(string=True))
    for s in body.find_all(string=True):
        if not s.strip() or s.find_parent(list(_SILENT)) is not None:
            continue
        in_banner = any(p.name == "awsdocs-language-banner" for p in s.parents)
        if not (in_banner or id(s) in before_h1):
            continue
        # The disclaimer is the whole block the text sits in (a <p>, a banner <div>), not one run.
        block = next((p for p in s.parents if _is_block(p)), body)
        node = s if block is body else block
        text = _collapse(node.get_text() if isinstance(node, Tag) else str(node))
        if any(m in text.casefold() for m in wanted):
            node.extract()
            return text
    return None


def _is_noise(tag: Tag) -> bool:
    """Elements whose content changes between site builds without the page changing."""
    if "feedback" in tag.name or any("feedback" in c for c in _classes(tag)):
        return True
    if tag.name == "a" and "feedback" in str(tag.get("href", "")).lower():
        return True
    return "code-btn-container" in _classes(tag)


def _normalize_attr(value):
    if isinstance(value, list):
        return [_normalize_attr(v) for v in value]
    value = _BUILD_ID.sub("", str(value))
    if _ASSET_URL.search(value):
        value = _ASSET_PATH_VERSION.sub("0", _ASSET_QUERY.sub(r"\1", value))
    return value


# --- the walk -------------------------------------------------------------------------------------


def _depth(top: Tag) -> int:
    """How deep elements nest under top, without recursion."""
    deepest, stack = 0, [(top, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tag))
    return deepest


def _holding_blocks(top: Tag) -> set[int]:
    """ids of the elements under top that hold a block element somewhere inside: one pass, children
    before parents (reversed document order), instead of a search below every inline element."""
    holding: set[int] = set()
    for node in reversed(list(top.descendants)):
        if isinstance(node, Tag) and any(isinstance(c, Tag) and (_is_block(c) or id(c) in holding)
                                         for c in node.children):
            holding.add(id(node))
    return holding


def _refresh_holding(holding: set[int], parents: list[Tag]) -> None:
    """After an element was taken out: whether each of its former parents still holds a block."""
    for p in parents:
        if any(isinstance(c, Tag) and (_is_block(c) or id(c) in holding) for c in p.children):
            holding.add(id(p))
        else:
            holding.discard(id(p))


def _is_inline(node, holding: set[int]) -> bool:
    if isinstance(node, NavigableString):
        return type(node) is NavigableString  # Doctype, Declaration, CData … print nothing here
    name = node.name
    if name in _BLOCK or _is_component(name):
        return False
    # An inline tag wrapping blocks (<a><div>…</div></a>, or markup the parser nested oddly) is read
    # as a container, so a heading or list inside it is not flattened into prose.
    return id(node) not in holding


def _is_component(name: str) -> bool:
    # Site components are blocks (awsdocs-tabs, awsui-expandable-section), except the icon.
    return name.startswith(("awsdocs-", "awsui-")) and name != "awsui-icon"


def _is_block(tag: Tag) -> bool:
    return tag.name in _BLOCK or _is_component(tag.name)


def _outermost(nodes, name: str):
    """Tags called `name` among nodes and their descendants, skipping ones nested in another."""
    for n in nodes:
        if not isinstance(n, Tag):
            continue
        if n.name == name:
            yield n
        else:
            yield from _outermost(n.children, name)


def _inline(nodes: list) -> tuple[str, list[str], list[Link]]:
    """Plain text, inline code spans and links of a run of inline nodes."""
    text = _collapse("".join(n.get_text() if isinstance(n, Tag) else str(n) for n in nodes))
    codes = [_collapse(c.get_text()) for c in _outermost(nodes, "code")]
    links = [Link(text=_collapse(a.get_text()), href=str(a["href"]))
             for a in _outermost(nodes, "a") if a.get("href") is not None]  # <a id>/<a name> is no link
    return text, [c for c in codes if c], links


def _cell(node: Tag) -> Cell:
    """A table cell, with its text and code parts in order (as the Markdown reader gives them)."""
    text, codes, links = _inline(list(node.children))
    parts: list[tuple[str, str]] = []
    for piece in node.descendants:
        if isinstance(piece, NavigableString) and type(piece) is NavigableString:
            kind = "code" if _in_code(piece, node) else "text"
            content = str(piece)
            if parts and parts[-1][0] == kind:
                parts[-1] = (kind, parts[-1][1] + content)
            else:
                parts.append((kind, content))
    cleaned = [(k, _collapse(c)) for k, c in parts if _collapse(c)]
    return Cell(text, codes, links, cleaned)


def _in_code(piece, top: Tag) -> bool:
    for parent in piece.parents:
        if parent is top:
            return False
        if parent.name == "code":
            return True
    return False


class _Walker:
    """One recursive pass over the content area in document order, tracking list nesting."""

    def __init__(self, h1: Tag, note_labels: dict[str, str], holding: set[int]):
        self.h1 = h1
        self.holding = holding  # _holding_blocks(): elements with a block inside
        self.label_of_kind = {kind: label for label, kind in note_labels.items()}
        self.sections: list[Section] = []
        self.lists: list[bool] = []  # ordered flag per open list
        self.items: list[bool] = []  # per open list item: its LIST_ITEM was emitted
        self.pending_note: tuple[str, int] | None = None  # (label, list depth) of a note awaiting its text

    # -- emitting

    @property
    def depth(self) -> int:
        return max(len(self.lists) - 1, 0)

    def emit(self, block: Block) -> None:
        # Content before the title (language banner, breadcrumbs) has no section to live in.
        if not self.sections or not (block.text or block.kind == CODE):
            return
        if self.items:
            block.depth = self.depth
            if self.items[-1]:
                block.in_item = block.kind in (PARAGRAPH, CODE, NOTE)
            self.items[-1] = True
        self.sections[-1].blocks.append(block)

    def prose(self, text: str, line: int, codes: list[str], links: list[Link]) -> None:
        """A run of prose: a note's text, a list item's own text, or a paragraph."""
        if not text:
            return
        if self.pending_note and self.pending_note[1] == len(self.items):
            label, _ = self.pending_note
            self.pending_note = None
            self.emit(Block(NOTE, text, line, codes, links, label=label))
        elif self.items and not self.items[-1]:
            self.emit(Block(LIST_ITEM, text, line, codes, links, ordered=self.lists[-1]))
        else:
            self.emit(Block(PARAGRAPH, text, line, codes, links))

    def inline(self, nodes: list, line: int) -> None:
        text, codes, links = _inline(nodes)
        self.prose(text, line, codes, links)

    # -- walking

    def container(self, tag: Tag) -> None:
        """Children in order; consecutive inline nodes (bare text, <a>, <code>) form one paragraph."""
        run: list = []
        for child in list(tag.children):
            if _is_inline(child, self.holding):
                run.append(child)
                continue
            self.flush(run, tag)
            run = []
            if isinstance(child, Tag):
                self.element(child)
        self.flush(run, tag)

    def flush(self, run: list, parent: Tag) -> None:
        if run:
            # Bare text carries no line of its own: a run that starts with text (a <p>'s content)
            # takes the enclosing tag's line.
            self.inline(run, _line(run[0] if isinstance(run[0], Tag) else parent))

    def element(self, el: Tag) -> None:
        name, classes = el.name, _classes(el)
        if name in _SILENT:
            return
        if name in _HEADINGS:
            self.heading(el)
        elif name == "p":
            self.container(el)  # one paragraph, unless the parser nested blocks inside the <p>
        elif name == "pre":
            self.code(el)
        elif name in ("ul", "ol"):
            self.list_(el)
        elif name == "table":
            self.table(el)
        elif name == "div" and "awsdocs-note" in classes:
            self.note(el, classes)
        elif name == "div" and "procedure" in classes:
            self.procedure(el)
        elif name == "dt" and el.parent is not None and el.parent.parent is not None \
                and el.parent.parent.name == "awsdocs-tabs":
            return  # a tab's label ("JSON"); the tab content in the <dd> is real content
        else:
            self.container(el)  # div, section, nested body, awsdocs-tabs, dl/dd, …

    def heading(self, el: Tag) -> None:
        if el.name == "h6" and el.find_parent("div", class_=["awsdocs-note", "procedure", "highlights"]):
            # The "Topics" box title (notes and procedures consume their own h6): prose, not a section.
            self.inline(list(el.children), _line(el))
            return
        if not self.sections and el is not self.h1:
            return  # headings above the page title are site chrome
        anchor = el.get("id")
        self.sections.append(Section(heading=_collapse(el.get_text()), level=int(el.name[1]), line=_line(el),
                                     anchor=str(anchor) if anchor else None))

    def code(self, pre: Tag) -> None:
        code = pre.find("code")  # copy button and DEBUG comment are already gone (_strip_chrome)
        text = (code or pre).get_text()
        # HTML drops one newline right after <pre>; a trailing newline is not part of the snippet.
        text = text[1:] if text.startswith("\n") else text
        self.emit(Block(CODE, text.rstrip("\n"), _line(pre)))

    def list_(self, el: Tag) -> None:
        self.lists.append(el.name == "ol")
        for child in el.children:
            if isinstance(child, Tag) and child.name == "li":
                self.items.append(False)
                self.container(child)
                self.items.pop()
            elif isinstance(child, Tag):
                self.element(child)  # stray markup between items: read it, never lose text
        self.lists.pop()

    def table(self, table: Tag) -> None:
        """Each row becomes one paragraph, cells joined by " | " (as the Markdown reader does)."""
        for tr in table.find_all("tr"):
            if next((p for p in tr.parents if p.name in ("table", "td", "th")), None) is not table:
                continue  # a row inside a cell (a nested table, stray markup) prints as part of its cell's text
            tags = [c for c in tr.children if isinstance(c, Tag) and c.name in ("td", "th")]
            cells = [_cell(c) for c in tags]
            text = " | ".join(c.text for c in cells)
            if text:
                self.emit(Block(PARAGRAPH, text, _line(tr), [x for c in cells for x in c.codes],
                                [x for c in cells for x in c.links], cells=cells,
                                header=all(t.name == "th" for t in tags)))

    def note(self, box: Tag, classes: list[str]) -> None:
        kind = next((k for cls, k in _NOTE_KINDS if cls in classes), "note")
        title = box.find(class_="awsdocs-note-title")
        h6 = (title or box).find("h6")
        label = _collapse(h6.get_text()) if h6 is not None else ""
        # With no printed label, fall back to the caller's word for this kind of note.
        label = label or self.label_of_kind.get(kind) or kind.capitalize()
        for el in (title, h6):
            if el is not None:
                self.take_out(el, box)
        self.pending_note = (label, len(self.items))
        self.container(box.find(class_="awsdocs-note-text") or box)
        self.pending_note = None  # a note without text leaves nothing behind

    def procedure(self, box: Tag) -> None:
        h6 = box.find("h6")
        if h6 is not None:
            self.emit(Block(PROCEDURE, _collapse(h6.get_text()), _line(h6)))
            self.take_out(h6, box)
        self.container(box)

    def take_out(self, el: Tag, box: Tag) -> None:
        """Extract el (a note's or procedure's title) and update what its parents inside box hold."""
        parents = [*_ancestors(el, box), box]
        el.extract()
        _refresh_holding(self.holding, parents)
