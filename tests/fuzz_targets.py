"""What the fuzzers run (tests/test_fuzz.py with hypothesis, `make fuzz` with atheris): one
function per target, taking any text. Each returns normally for every input — a page, or the
one error that says the input is not one (ReaderError); anything else is a crash, and a crash
found is kept as a regression input in tests/fixtures/fuzz/<target>/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ingest import snippets
from ingest.model import BLOCK_KINDS, Page, ReaderError

FIXTURES = Path(__file__).parent / "fixtures" / "fuzz"
STATUSES = {"ok", "repaired", "invalid", "not_json", "too_deep", "too_large"}


def _page(page: Page) -> None:
    assert page.sections and page.title is not None
    for section in page.sections:
        assert section.level >= 1 and section.line >= 0
        for block in section.blocks:
            assert block.kind in BLOCK_KINDS and isinstance(block.text, str)


def markdown(text: str) -> None:
    from ingest.readers.markdown import read_markdown

    try:
        _page(read_markdown(text, lang="en", disclaimer_markers=["English version prevails"]))
    except ReaderError as exc:
        assert str(exc)


HTML_SKELETON = ('<html lang="ja-JP"><body><div id="main-col-body"><h1 class="topictitle">T</h1>', "</div></body></html>")


def html(text: str) -> None:
    """Any text; without a content area of its own it goes into one (else nearly every input would
    stop at "no #main-col-body" and the walk would never be fuzzed)."""
    from ingest.readers.html import page_fingerprint, read_html

    if "main-col-body" not in text:
        text = HTML_SKELETON[0] + text + HTML_SKELETON[1]
    try:
        _page(read_html(text, note_labels={"注記": "note"}, disclaimer_markers=["機械翻訳"]))
        assert len(page_fingerprint(text)) == 64
    except ReaderError as exc:
        assert str(exc)


def text(text: str) -> None:
    from ingest.readers.text import read_text

    try:
        _page(read_text(text, lang="ja", note_labels={"注記": "note", "重要": "important"},
                        disclaimer_markers=["機械翻訳"]))
    except ReaderError as exc:
        assert str(exc)


def snippet(raw: str) -> None:
    parsed = snippets.parse(raw)
    assert parsed.status in STATUSES
    if parsed.value is not None:
        for stmt in snippets.statements(parsed.value):
            stmt.as_policy_statement()


@cache
def _api_model():
    from ingest.catalog import ApiModel

    model = ApiModel()
    _ = model.operations
    return model


def extractor(body: str) -> None:
    """The text as the body of an API permissions section of a page, read and extracted."""
    from ingest import validate
    from ingest.extract import extract
    from ingest.readers.markdown import read_markdown

    source = "# T\n\n## CreateModel API: Execution Role Permissions\n\n" + body
    try:
        page = read_markdown(source, lang="en")
    except ReaderError:
        return
    facts = extract(page, _api_model())
    validate.section_findings(facts)
    for s in facts.snippets:
        assert s.parsed.status in STATUSES


TARGETS = {"markdown": markdown, "html": html, "text": text, "snippet": snippet, "extractor": extractor}


def regressions() -> list[tuple[str, Path]]:
    """(target, input file) of every crash input kept."""
    return sorted((d.name, f) for d in FIXTURES.iterdir() if d.is_dir() and d.name in TARGETS
                  for f in d.iterdir() if f.is_file())
