"""ingest.readers.markdown against the real corpus files (AWS .md endpoint + awsdocs history)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.model import CODE, LIST_ITEM, NOTE, PARAGRAPH, PROCEDURE, Page, ReaderError
from ingest.readers.markdown import read_markdown

CORPUS = Path("/work/shared/corpus/sagemaker-roles/en")
CURRENT = CORPUS / "sagemaker-roles.en.md"
HISTORY = sorted((CORPUS / "history").glob("*.md"))
FIRST_REVISION = CORPUS / "history" / "2020-11-02_2b764d9.md"


def read(path: Path) -> Page:
    return read_markdown(path.read_text(encoding="utf-8"), lang="en", source=str(path))


def section(page: Page, anchor: str):
    (found,) = [s for s in page.sections if s.anchor == anchor]
    return found


def blocks(page: Page):
    return [b for s in page.sections for b in s.blocks]


def fenced_bodies(raw: str) -> list[str]:
    # Fences in both dialects are bare ``` lines at column 0 (no language tag, never nested).
    return re.findall(r"^```[^\n]*\n(.*?)\n?^```[ \t]*$", raw, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def current() -> Page:
    return read(CURRENT)


@pytest.fixture(scope="module")
def first_revision() -> Page:
    return read(FIRST_REVISION)


# --- current English page (.md endpoint form) -------------------------------------------------


def test_current_title_and_format(current):
    assert current.title == "How to use SageMaker AI execution roles"
    assert current.format == "md" and current.lang == "en"
    first = current.sections[0]
    assert (first.level, first.anchor, first.line) == (1, "sagemaker-roles", 3)


def test_anchor_on_next_line(current):
    s = section(current, "sagemaker-roles-createmodel-perms")
    assert s.heading == "CreateModel API: Execution Role Permissions"
    assert s.level == 2
    raw_lines = CURRENT.read_text(encoding="utf-8").splitlines()
    assert raw_lines[s.line - 1] == "## CreateModel API: Execution Role Permissions"
    # every real heading of this page carries an anchor, and no anchor paragraph survives
    assert all(s.anchor for s in current.sections)
    assert not any("<a" in b.text or "name=" in b.text for b in blocks(current))


def test_tab_labels_are_not_sections(current):
    raw = CURRENT.read_text(encoding="utf-8")
    assert raw.count("#### [ JSON ]") == 16
    assert not any(s.heading in ("[ JSON ]", "[JSON]") for s in current.sections)
    headings_in_file = [line for line in raw.splitlines() if re.match(r"#{1,6} ", line) and "[ JSON ]" not in line]
    assert len(current.sections) == len(headings_in_file)
    # the ------ / **** tab frames leave no empty blocks behind
    assert all(b.text for b in blocks(current) if b.kind != CODE)


def test_code_blocks_match_fences_verbatim(current):
    raw = CURRENT.read_text(encoding="utf-8")
    fences = [line for line in raw.splitlines() if line.startswith("```")]
    codes = [b.text for b in blocks(current) if b.kind == CODE]
    assert len(codes) == len(fences) // 2 == 38
    assert codes == fenced_bodies(raw)
    assert any("arn:aws:s3:::{{amzn-s3-demo-bucket1/*}}" in c for c in codes)  # placeholders verbatim
    assert not any(c.endswith("\n") for c in codes)


def test_passing_roles_codes_and_links(current):
    s = section(current, "sagemaker-roles-pass-role")
    (para,) = [b for b in s.blocks if b.text.startswith("You pass the role")]
    assert para.kind == PARAGRAPH
    assert "CreateFlowDefiniton" in para.codes  # the page's own misspelling, kept
    assert "iam:PassRole" in para.codes
    assert len(para.codes) == 18
    assert "`" not in para.text and "](" not in para.text
    assert "(iam:PassRole)" in para.text
    hrefs = [link.href for link in para.links]
    assert "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateFlowDefinition.html" in hrefs
    assert para.links[0].text == "CreateAutoMLJob"
    assert para.line == 397


def test_notebook_scoping_bullets_depths(current):
    s = section(current, "sagemaker-roles-createnotebookinstance-perms")
    start = next(i for i, b in enumerate(s.blocks) if b.text.startswith("In the preceding policy"))
    scoped = [(b.kind, b.depth, b.text) for b in s.blocks[start + 1 :] if b.kind != CODE]
    assert scoped[:4] == [
        (LIST_ITEM, 0, "Scope the s3:ListBucket permission to the specific bucket that you specify as "
                       "InputDataConfig.DataSource.S3DataSource.S3Uri in a CreateTrainingJob request."),
        (LIST_ITEM, 0, "Scope s3:GetObject , s3:PutObject, and s3:DeleteObject permissions as follows:"),
        (LIST_ITEM, 1, "Scope to the following values that you specify in a CreateTrainingJob request:"),
        (PARAGRAPH, 1, "InputDataConfig.DataSource.S3DataSource.S3Uri"),
    ]
    assert (PARAGRAPH, 1, "OutputDataConfig.S3OutputPath") in scoped
    assert (PARAGRAPH, 1, "SuplementalContainers.ModelDataUrl") in scoped
    (path,) = [b for b in s.blocks if b.text == "InputDataConfig.DataSource.S3DataSource.S3Uri"]
    assert path.codes == ["InputDataConfig.DataSource.S3DataSource.S3Uri"] and path.line == 825
    depths = [b.depth for b in s.blocks if b.kind == LIST_ITEM]
    assert depths == [0, 0, 1, 1, 0, 1, 1]
    # the code span with a trailing space is stripped in codes
    (get_obj,) = [b for b in s.blocks if b.text.startswith("Scope s3:GetObject")]
    assert get_obj.codes == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]


def test_notes_and_procedures(current):
    notes = [b for b in blocks(current) if b.kind == NOTE]
    assert {n.label for n in notes} == {"Note", "Important"}
    important = section(current, "sagemaker-roles-create-execution-role").blocks[1]
    assert important.kind == NOTE and important.label == "Important" and important.line == 15
    assert important.text.startswith("The IAM managed policy, AmazonSageMakerFullAccess, used in")
    assert "Important" not in important.text
    assert important.links[0].href == "#sagemaker-roles-get-execution-role-s3"
    note = section(current, "sagemaker-roles-create-execution-role").blocks[2]
    assert note.label == "Note" and note.text.endswith("see Create an Amazon SageMaker Notebook Instance for the tutorial.")

    procedures = [b.text for b in blocks(current) if b.kind == PROCEDURE]
    assert "To create a new execution role from the SageMaker AI console" in procedures
    # A bold line followed by prose, not steps, stays a paragraph: no wording is consulted.
    assert "To create a new execution role from the AWS CLI" not in procedures
    assert "Find the execution role attached to your domain" in procedures
    assert "Topics" not in procedures
    topics = [b for b in blocks(current) if b.text == "Topics"]
    assert topics and all(b.kind == PARAGRAPH for b in topics)

    steps = [b for b in section(current, "sagemaker-roles-create-execution-role").blocks if b.kind == LIST_ITEM]
    assert steps[0].ordered and steps[0].text == "Open the IAM console at https://console.aws.amazon.com/iam/."
    assert not steps[-1].ordered  # the "+ To learn about …" bullets


def test_custom_note_labels():
    text = "# T\n\n**注記**\n本文です。\n\n**Note**\nplain paragraph now\n"
    page = read_markdown(text, lang="ja", note_labels={"注記": "note"})
    kinds = [(b.kind, b.label, b.text) for b in page.sections[0].blocks]
    assert kinds[0] == (NOTE, "注記", "本文です。")
    assert kinds[1][0] != NOTE


# --- awsdocs history (GitHub source form) ----------------------------------------------------


def test_history_headings_clean_and_anchored(first_revision):
    page = first_revision
    assert page.title == "SageMaker Roles"
    assert page.revision == "2020-11-02_2b764d9"
    for s in page.sections:
        assert "\\" not in s.heading and "<" not in s.heading
        assert s.anchor and "\\" not in s.anchor
    s = section(page, "sagemaker-roles-createprocessingjob-perms")
    assert s.heading == "CreateProcessingJob API: Execution Role Permissions" and s.line == 438
    intro = page.sections[0].blocks[1]
    assert intro.text == "A SageMaker user can grant these permissions with an IAM role (referred to as an execution role)."


def test_history_note_after_hard_break(first_revision):
    s = section(first_revision, "sagemaker-roles-get-execution-role")
    notes = [b for b in s.blocks if b.kind == NOTE]
    assert len(notes) == 1
    assert notes[0].label == "Note" and notes[0].line == 18
    assert notes[0].text.startswith("The execution role is intended to be available only when running a notebook")
    assert notes[0].codes == ["get_execution_role"]
    assert not any(b.text == "Note" for b in blocks(first_revision))


@pytest.mark.parametrize("path", HISTORY, ids=lambda p: p.stem)
def test_every_history_file_reads(path):
    assert len(HISTORY) == 17
    page = read(path)
    assert page.title == "SageMaker Roles"
    assert len(page.sections) >= 8
    assert all(s.anchor for s in page.sections)
    raw = path.read_text(encoding="utf-8")
    assert [b.text for b in blocks(page) if b.kind == CODE] == fenced_bodies(raw)


# --- edge cases and robustness ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t\n", "just a paragraph\n\n+ and a list\n"])
def test_reader_error(text):
    with pytest.raises(ReaderError):
        read_markdown(text, lang="en")


def test_trailing_see_also_dropped_only_at_end():
    body = "# T\n<a name=\"t\"></a>\n\nText.\n\n## Real\n\nMore.\n\n## See also\n\n+ For AI assistants: …\n"
    assert [s.heading for s in read_markdown(body, lang="en").sections] == ["T", "Real"]
    kept = "# T\n\n## See also\n\n+ x\n\n## Later\n\ny\n"
    assert [s.heading for s in read_markdown(kept, lang="en").sections] == ["T", "See also", "Later"]


def test_front_matter_keeps_line_numbers():
    page = read_markdown("---\nsource_url: https://x\n---\n\n# Title\n\nBody\n", lang="en")
    assert page.title == "Title" and page.sections[0].line == 5
    assert [s.heading for s in page.sections] == ["Title"]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_page_or_reader_error(text):
    try:
        page = read_markdown(text, lang="en")
    except ReaderError:
        return
    assert isinstance(page, Page) and page.sections


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["# H", "## H<a name=\"a\"></a>", "<a name=\"x\"></a>", "**Note**  ", "**Note**",
                                 "text", "+ item", "  + nested", "    `code`", "1. step", "```", "------",
                                 "#### [ JSON ]", "****", "", "| a | b |", "|---|---|", "> quote"])))
def test_markdownish_text_page_or_reader_error(lines):
    try:
        page = read_markdown("\n".join(lines), lang="en")
    except ReaderError:
        return
    assert page.sections and all(b.text or b.kind == CODE for s in page.sections for b in s.blocks)


def test_note_body_in_next_paragraph():
    page = read_markdown("# T\n\n**Warning**\n\nDo not do this.\n\nAfter.\n", lang="en")
    assert [(b.kind, b.label, b.text, b.line) for b in page.sections[0].blocks] == [
        (NOTE, "Warning", "Do not do this.", 3),
        (PARAGRAPH, None, "After.", 7),
    ]


def test_a_line_nesting_more_containers_than_a_page_would_is_refused_before_it_is_parsed():
    """A megabyte of `>` made two million parser events (seconds); a line opening more than
    MAX_NESTING block quotes and lists is refused with its line, and one at the limit is read."""
    from ingest.model import ReaderError
    from ingest.readers.markdown import MAX_NESTING, read_markdown

    with pytest.raises(ReaderError, match=r"x\.md: line 3: block quotes and lists nested more than 64 deep"):
        read_markdown("# T\n\n" + ">" * 1_000_000 + " x\n", lang="en", source="x.md")  # its time: make bench
    with pytest.raises(ReaderError, match="line 3"):
        read_markdown("# T\n\n" + "- > " * (MAX_NESTING // 2 + 1) + "x\n", lang="en", source="x.md")
    page = read_markdown("# T\n\n" + "> " * MAX_NESTING + "deep but allowed\n", lang="en", source="x.md")
    assert "deep but allowed" in page.sections[0].blocks[0].text
