"""ingest.readers.text against the real Japanese plain-text rendering of "SageMaker ロール"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.model import CODE, LIST_ITEM, NOTE, PARAGRAPH, PROCEDURE, Page, ReaderError
from ingest.readers.text import read_text

JA = Path("/work/shared/corpus/sagemaker-roles/ja/sagemaker-roles.ja.txt")
LABELS = {"注記": "note", "重要": "important"}
MARKERS = ["機械翻訳"]


@pytest.fixture(scope="module")
def raw() -> str:
    return JA.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(raw: str) -> Page:
    return read_text(raw, lang="ja", source=str(JA), note_labels=LABELS, disclaimer_markers=MARKERS)


def section(page: Page, heading: str):
    (found,) = [s for s in page.sections if s.heading == heading]
    return found


def all_blocks(page: Page):
    return [b for s in page.sections for b in s.blocks]


def test_page_metadata(page: Page):
    assert page.format == "text" and page.lang == "ja" and page.source == str(JA)
    assert page.title == "SageMaker ロール"
    assert page.sections[0].heading == "SageMaker ロール" and page.sections[0].level == 1
    assert page.disclaimer is not None and "英語版が優先" in page.disclaimer
    # The disclaimer is metadata, not content, and the <title> line is not a block either.
    assert not any("機械翻訳" in b.text for b in all_blocks(page))
    assert not any(b.text == "SageMaker ロール - Amazon SageMaker" for b in all_blocks(page))


def test_headings(page: Page):
    levels = {s.heading: s.level for s in page.sections}
    for h in ["ロールを渡す", "CreateAutoMLJob API: 実行ロールのアクセス許可",
              "CreateImage および UpdateImage APIs 実行ロールのアクセス許可",
              "CreateModel API: 実行ロールのアクセス許可", "実行ロールを取得する"]:
        assert levels.get(h) == 2, h
    assert [s.level for s in page.sections].count(1) == 1
    assert all(s.anchor is None for s in page.sections)
    # Headings are exactly the bare short lines: no JSON, no list item, no sentence.
    assert not any(s.heading.startswith(("{", "[", '"')) or s.heading.endswith("。") for s in page.sections)


def test_json_blocks_are_code_one_per_line(page: Page, raw: str):
    json_lines = [line for line in raw.split("\n") if line.startswith("{")]
    code = [b for b in all_blocks(page) if b.kind == CODE and b.text.startswith("{")]
    assert len(code) == len(json_lines) > 20
    assert [b.text for b in code] == json_lines  # verbatim
    # The bare Action list and both Python snippets are code too.
    texts = [b.text for b in all_blocks(page) if b.kind == CODE]
    assert any(t.startswith('"s3:CreateBucket", "s3:GetBucketLocation"') for t in texts)
    assert sum(t.startswith("import ") for t in texts) == 2
    # Prose that merely starts with a quote or a bracket stays prose.
    paras = [b.text for b in all_blocks(page) if b.kind == PARAGRAPH]
    assert any(t.startswith('"Resource": "*" を指定する代わりに') for t in paras)
    items = [b.text for b in all_blocks(page) if b.kind == LIST_ITEM]
    assert any(t.startswith("[Roles] (ロール)") for t in items)


def test_passrole_paragraph_kept_as_printed(page: Page):
    sec = section(page, "ロールを渡す")
    (para,) = [b for b in sec.blocks if b.kind == PARAGRAPH and "iam:PassRole" in b.text]
    assert "CreateFlowDefiniton" in para.text  # the page's own typo, not corrected
    assert "CreateAutoMLJobCreateCompilationJob" in para.text  # concatenated code runs, not split
    assert para.codes == [] and para.links == []


def test_note_boxes(page: Page):
    notes = [b for b in all_blocks(page) if b.kind == NOTE]
    assert {"注記", "重要"} <= {n.label for n in notes}
    assert all(n.text and n.text not in LABELS for n in notes)
    assert not any(s.heading in LABELS for s in page.sections)
    assert not any(b.text in LABELS for b in all_blocks(page))
    # `… get_execution_role()` is followed by `注記` with no blank line: two separate blocks.
    sec = section(page, "実行ロールを取得する")
    code = next(b for b in sec.blocks if b.kind == CODE)
    assert code.text == "import sagemaker sagemaker_session = sagemaker.Session() role = sagemaker.get_execution_role()"
    after = sec.blocks[sec.blocks.index(code) + 1]
    assert after.kind == NOTE and after.label == "注記" and after.text.startswith("実行ロールは")


def test_lists_and_procedure(page: Page):
    sec = section(page, "実行ロールを作成する")
    proc = [b for b in sec.blocks if b.kind == PROCEDURE]
    assert [p.text for p in proc] == ["コンソールから SageMaker新しい実行ロールを作成するには"]
    steps = [b for b in sec.blocks if b.kind == LIST_ITEM]
    assert len(steps) == 10 and all(b.ordered and b.depth == 0 for b in steps)
    assert steps[0].links[0].href == "https://console.aws.amazon.com/iam/"
    # Numbered steps nested under a bullet.
    get = section(page, "実行ロールを取得する")
    items = [b for b in get.blocks if b.kind == LIST_ITEM]
    assert [(b.depth, b.ordered) for b in items] == [(0, False)] * 3 + [(1, True)] * 4


def test_notebook_scoping_bullets(page: Page):
    sec = section(page, "CreateNotebookInstance API: 実行ロールのアクセス許可")
    items = [b for b in sec.blocks if b.kind == LIST_ITEM]
    assert {b.depth for b in items} == {0, 1}
    assert [b.depth for b in items] == [0, 0, 1, 1, 0, 1, 1]
    assert not any(b.ordered for b in items)
    paths = [b for b in sec.blocks if b.kind == PARAGRAPH and b.in_item]
    assert [(b.text, b.depth) for b in paths] == [
        ("InputDataConfig.DataSource.S3DataSource.S3Uri", 1),
        ("OutputDataConfig.S3OutputPath", 1),
        ("PrimaryContainer.ModelDataUrl", 1),
        ("SuplementalContainers.ModelDataUrl", 1),
    ]
    # Each path line follows the bullet it belongs to.
    first = sec.blocks.index(paths[0])
    assert sec.blocks[first - 1].kind == LIST_ITEM and sec.blocks[first - 1].text.startswith("CreateTrainingJob")
    # Elsewhere the same path lines sit under a top-level bullet (indented 4, bullet indented 2).
    tuning = section(page, "CreateHyperParameterTuningJob API: 実行ロールのアクセス許可")
    assert [(b.text, b.depth) for b in tuning.blocks if b.in_item] == [
        ("InputDataConfig.DataSource.S3DataSource.S3Uri", 0), ("OutputDataConfig.S3OutputPath", 0)]


_MARKER = re.compile(r"(?:\d+\.|•)\s+")


def test_block_lines_point_at_their_text(page: Page, raw: str):
    lines = raw.split("\n")
    for s in page.sections:
        assert lines[s.line - 1].strip() == s.heading
        for b in s.blocks:
            printed = lines[b.line - 1].strip()
            if b.kind != CODE:
                printed = " ".join(_MARKER.sub("", printed, count=1).split())  # list marker is not text
            assert printed and b.text.startswith(printed), (b.line, printed, b.text[:40])
            assert b.codes == []
    # Reading order is file order.
    order = [b.line for s in page.sections for b in s.blocks]
    assert order == sorted(order)


def test_language_words_come_from_the_caller(raw: str):
    # Without a lexicon the note labels read as headings and the disclaimer as a paragraph —
    # nothing Japanese is built into the reader.
    bare = read_text(raw, lang="ja")
    assert bare.disclaimer is None
    assert "注記" in {s.heading for s in bare.sections}
    assert any("機械翻訳" in b.text for s in bare.sections for b in s.blocks)


def test_small_inputs():
    for bad in ["", "   \n\t\n", "SageMaker ロール - Amazon SageMaker", "\n\nonly one line\n\n"]:
        with pytest.raises(ReaderError):
            read_text(bad, lang="ja")
    with pytest.raises(ReaderError, match="no heading"):
        read_text("Title - Product\n\nJust a sentence.\n", lang="en")
    p = read_text("Title - Product\n\nPage\n\nBody.\n\n注記\nNote text.", lang="en", note_labels=LABELS)
    assert p.title == "Page" and [b.kind for b in p.sections[0].blocks] == [PARAGRAPH, NOTE]


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from([None, LABELS, {"": "note", "x": "tip"}]),
       st.sampled_from([None, MARKERS, ["", "a"]]))
def test_arbitrary_text_raises_only_reader_error(text: str, labels, markers):
    try:
        p = read_text(text, lang="xx", note_labels=labels, disclaimer_markers=markers)
    except ReaderError:
        return
    assert p.sections and p.title == p.sections[0].heading


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["T - P", "", "Head", "  • item", "    • sub", "      path", "  1. step",
                                 "注記", "{ }", '"a", "b"', "text.", "import x", "(https://x.y/)"]),
                min_size=2, max_size=30))
def test_line_soup_raises_only_reader_error(lines: list[str]):
    try:
        p = read_text("\n".join(lines), lang="ja", note_labels=LABELS, disclaimer_markers=MARKERS)
    except ReaderError:
        return
    for b in (b for s in p.sections for b in s.blocks):
        assert b.depth >= 0 and 1 <= b.line <= len(lines)
