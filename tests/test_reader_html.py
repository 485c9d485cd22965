"""ingest.readers.html against hand-built fixtures of the docs.aws.amazon.com template.

The fixtures (tests/fixtures/html/) follow /work/shared/docs/aws-docs-html.md and transcribe four
sections of the real pages: the English .md page and the Japanese plain-text rendering in
/work/shared/corpus (copied to data/snapshots). Several tests check the fixtures against those corpus files, so the fixtures
cannot drift from the pages they stand for.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.lexicon import lexicon
from ingest.model import CODE, LIST_ITEM, NOTE, PARAGRAPH, PROCEDURE, Page, ReaderError
from ingest.readers.html import page_fingerprint, read_html
from ingest.readers.markdown import read_markdown

FIXTURES = Path(__file__).parent / "fixtures" / "html"
EN_HTML = FIXTURES / "sagemaker-roles.en.html"
JA_HTML = FIXTURES / "sagemaker-roles.ja.html"
# The shared corpus is the canonical copy; data/snapshots holds byte-identical copies for a clean clone.
CORPUS = Path("/work/shared/corpus/sagemaker-roles")
SNAPSHOTS = Path(__file__).parents[1] / "data" / "snapshots"
EN_MD = CORPUS / "en" / "sagemaker-roles.en.md" if CORPUS.is_dir() else SNAPSHOTS / "sagemaker-roles.en.md"
JA_TXT = CORPUS / "ja" / "sagemaker-roles.ja.txt" if CORPUS.is_dir() else SNAPSHOTS / "sagemaker-roles.ja.txt"

ANCHORS = ["sagemaker-roles", "sagemaker-roles-pass-role", "sagemaker-roles-createimage-perms",
           "sagemaker-roles-createmodel-perms"]


def read(path: Path, lang: str | None = None, **kw) -> Page:
    lex = lexicon(lang or path.suffixes[0].strip("."))
    kw.setdefault("note_labels", lex.note_labels)
    kw.setdefault("disclaimer_markers", lex.disclaimer_markers)
    return read_html(path.read_text(encoding="utf-8"), lang=lang, source=str(path), **kw)


def section(page: Page, anchor: str):
    (found,) = [s for s in page.sections if s.anchor == anchor]
    return found


def blocks(page: Page):
    return [b for s in page.sections for b in s.blocks]


def wrap(body: str, head: str = "") -> str:
    """A minimal page in the site template around some content-area markup."""
    return (f'<html lang="en-US"><head><title>T - P</title>{head}</head><body><div id="main-col-body">'
            f'<h1 class="topictitle" id="t">T</h1>{body}</div></body></html>')


@pytest.fixture(scope="module")
def en() -> Page:
    return read(EN_HTML)


@pytest.fixture(scope="module")
def ja() -> Page:
    return read(JA_HTML)


@pytest.fixture(scope="module")
def md() -> Page:
    return read_markdown(EN_MD.read_text(encoding="utf-8"), lang="en", note_labels=lexicon("en").note_labels)


# --- title, sections, anchors, levels --------------------------------------------------------------


def test_title_sections_anchors_levels(en):
    assert (en.title, en.lang, en.format, en.source) == (
        "How to use SageMaker AI execution roles", "en", "html", str(EN_HTML))
    assert [(s.level, s.anchor, s.heading) for s in en.sections] == [
        (1, "sagemaker-roles", "How to use SageMaker AI execution roles"),
        (2, "sagemaker-roles-pass-role", "Passing Roles"),
        # printed with a newline and indentation inside the <h2>
        (2, "sagemaker-roles-createimage-perms", "CreateImage and UpdateImage APIs: Execution Role Permissions"),
        (2, "sagemaker-roles-createmodel-perms", "CreateModel API: Execution Role Permissions"),
    ]


def test_anchors_are_the_md_page_names(en, md):
    md_sections = {s.anchor: s for s in md.sections}
    for s in en.sections:
        assert f'<a name="{s.anchor}"></a>' in EN_MD.read_text(encoding="utf-8")
        assert (md_sections[s.anchor].heading, md_sections[s.anchor].level) == (s.heading, s.level)


def test_japanese_sections_as_printed(ja, en):
    printed = JA_TXT.read_text(encoding="utf-8").splitlines()
    assert (ja.title, ja.lang) == (printed[4], "ja") == ("SageMaker ロール", "ja")
    assert [s.anchor for s in ja.sections] == [s.anchor for s in en.sections] == ANCHORS
    assert [s.level for s in ja.sections] == [1, 2, 2, 2]
    for s in ja.sections:
        assert s.heading in printed


def test_lines_point_at_the_source(en):
    lines = EN_HTML.read_text(encoding="utf-8").splitlines()
    for s in en.sections:
        assert f'id="{s.anchor}"' in lines[s.line - 1]
    for b in blocks(en):
        src = lines[b.line - 1]
        assert '<pre class="programlisting">' in src if b.kind == CODE else b.text.split()[0] in src
    (guardrails,) = [b for b in blocks(en) if b.kind == NOTE and "guardrails" in b.text]
    assert "deployment-guardrails.html" in lines[guardrails.line - 1]


# --- same page, two readers ------------------------------------------------------------------------


def _comparable(b, html_side: bool):
    text = b.text if html_side or b.kind != CODE else re.sub(r"\{\{(.*?)\}\}", r"\1", b.text)
    # The .md page links sibling pages as `x.md`, the HTML page as `./x.html`.
    hrefs = [re.sub(r"^\./(.*)\.html", r"\1.md", link.href) if html_side else link.href for link in b.links]
    return (b.kind, text, b.codes, hrefs, [link.text for link in b.links], b.depth, b.in_item, b.ordered, b.label)


@pytest.mark.parametrize("anchor", ANCHORS)
def test_html_reads_like_the_md_page(en, md, anchor):
    html_blocks = [_comparable(b, True) for b in section(en, anchor).blocks]
    md_blocks = [_comparable(b, False) for b in section(md, anchor).blocks]
    assert html_blocks == md_blocks


def test_japanese_text_as_printed(ja):
    """Every Japanese block prints as one line of the plain-text rendering of the real page."""
    printed = [line.strip().removeprefix("• ") for line in JA_TXT.read_text(encoding="utf-8").splitlines()]
    one_line_json = [json.loads(line) for line in printed if line.startswith("{")]
    for b in blocks(ja):
        if b.kind == CODE:
            assert json.loads(b.text) in one_line_json
        else:
            assert b.text in printed, b.text


# --- code ----------------------------------------------------------------------------------------------


def test_createmodel_code_equals_md_code(en, md):
    html_codes = [b.text for b in section(en, "sagemaker-roles-createmodel-perms").blocks if b.kind == CODE]
    md_codes = [b.text for b in section(md, "sagemaker-roles-createmodel-perms").blocks if b.kind == CODE]
    assert len(html_codes) == len(md_codes) == 3
    for h, m in zip(html_codes, md_codes):
        assert json.loads(h) == json.loads(re.sub(r"\{\{(.*?)\}\}", r"\1", m))
    scoped = json.loads(html_codes[1])
    assert scoped["Statement"][1]["Resource"] == ["arn:aws:s3:::inputbucket/object"]


def test_code_pitfalls_removed(en, ja):
    raw = EN_HTML.read_text(encoding="utf-8")
    assert "<span>{</span>" in raw and "<!--DEBUG" in raw and "code-btn-container" in raw
    codes = [b for p in (en, ja) for b in blocks(p) if b.kind == CODE]
    assert len(codes) == 10  # 5 per page: trust policy, CreateImage, CreateModel x3
    for b in codes:
        json.loads(b.text)  # every snippet on these sections is valid JSON once read right
        assert b.text.startswith("{") and b.text.endswith("}")
        assert "DEBUG" not in b.text and "Copy" not in b.text and "<" not in b.text


def test_copy_button_text_never_reaches_code():
    html = wrap('<pre class="programlisting"><div class="code-btn-container"><div class="btn-copy-code">Copy'
                '</div></div><!--DEBUG: cli (json)--><code class="json "><span>{</span>"a": 1}</code></pre>')
    (code,) = blocks(read_html(html))
    assert (code.kind, code.text) == (CODE, '{"a": 1}')


def test_tab_labels_dropped_tab_content_kept(en):
    raw = EN_HTML.read_text(encoding="utf-8")
    assert raw.count("<dt>JSON</dt>") == 4 and 'style="display: none"' in raw
    assert not any(b.text == "JSON" for b in blocks(en))
    assert sum(b.kind == CODE for b in section(en, "sagemaker-roles-pass-role").blocks) == 1


# --- inline code and links -----------------------------------------------------------------------------


def test_paragraph_codes_and_links(en):
    (para,) = [b for b in blocks(en) if b.text.startswith("You pass the role")]
    assert para.kind == PARAGRAPH
    assert para.codes[0] == "iam:PassRole" and "CreateFlowDefiniton" in para.codes  # the page's own typo
    assert len(para.codes) == 18 and len(para.links) == 17
    assert para.links[4].text == "CreateFlowDefiniton"
    assert para.links[4].href == "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateFlowDefinition.html"
    assert "(iam:PassRole)" in para.text


def test_nested_code_and_anchor_without_href():
    html = wrap('<p><a id="here"></a>Use <code class="code">s3://<code class="replaceable">bucket</code>/x</code>'
                ' <code class="code"> s3:GetObject </code>.</p>')
    (p,) = blocks(read_html(html))
    assert p.codes == ["s3://bucket/x", "s3:GetObject"] and p.links == []


# --- notes ---------------------------------------------------------------------------------------------


def test_notes_keyed_on_class_with_printed_labels(en, ja):
    assert [b.label for b in blocks(en) if b.kind == NOTE] == ["Note", "Important", "Note"]
    assert [b.label for b in blocks(ja) if b.kind == NOTE] == ["注記", "重要", "注記"]
    (note,) = [b for b in section(ja, "sagemaker-roles-createmodel-perms").blocks if b.kind == NOTE]
    assert note.codes == ["cloudwatch:DescribeAlarms"] and "注記" not in note.text
    assert note.links[0].href == "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html"


def test_note_label_is_whatever_the_box_prints():
    html = wrap('<div class="awsdocs-note"><div class="awsdocs-note-title"><h6>Heads up</h6></div>'
                '<div class="awsdocs-note-text"><p>First.</p><p>Second.</p></div></div>'
                '<div class="other"><h6>Note</h6><p>Not a note box.</p></div>')
    b = blocks(read_html(html))
    assert [(x.kind, x.label, x.text) for x in b] == [
        (NOTE, "Heads up", "First."), (PARAGRAPH, None, "Second."), (PARAGRAPH, None, "Not a note box.")]


def test_note_without_printed_label_takes_the_callers_word():
    html = wrap('<div class="awsdocs-note awsdocs-important"><div class="awsdocs-note-text"><p>Careful.</p>'
                '</div></div>')
    (b,) = blocks(read_html(html, note_labels=lexicon("ja").note_labels))
    assert (b.kind, b.label) == (NOTE, "重要")
    (b,) = blocks(read_html(html))
    assert b.label == "Important"


# --- disclaimer ----------------------------------------------------------------------------------------


def test_disclaimer_found_on_japanese_page(ja, en):
    printed = JA_TXT.read_text(encoding="utf-8").splitlines()
    assert ja.disclaimer == printed[2]
    assert not any("機械翻訳" in b.text for b in blocks(ja))
    assert en.disclaimer is None


def test_disclaimer_needs_markers_and_sits_in_the_banner_area():
    html = ('<html lang="ja-JP"><body><div id="main-col-body"><awsdocs-language-banner>翻訳は機械翻訳により'
            '提供されています。</awsdocs-language-banner><h1 class="topictitle">T</h1>'
            '<p>本文の機械翻訳という語は免責事項ではない。</p></div></body></html>')
    markers = lexicon("ja").disclaimer_markers
    page = read_html(html, disclaimer_markers=markers)
    assert page.disclaimer == "翻訳は機械翻訳により提供されています。"
    assert [b.text for b in blocks(page)] == ["本文の機械翻訳という語は免責事項ではない。"]
    assert read_html(html).disclaimer is None  # the module itself knows no words


# --- h6, procedures, lists -----------------------------------------------------------------------------


def test_h6_is_not_a_section(en, ja):
    for page in (en, ja):
        assert all(s.level < 6 for s in page.sections)
        assert not {"Topics", "Note", "Important", "注記", "重要"} & {s.heading for s in page.sections}
    topics = section(en, "sagemaker-roles-pass-role").blocks
    i = next(i for i, b in enumerate(topics) if b.text == "Topics")
    assert topics[i].kind == PARAGRAPH
    assert [b.kind for b in topics[i + 1:]] == [LIST_ITEM] * 14
    assert topics[-1].links[0].href == "./sagemaker-geospatial-roles.html"


def test_procedure_title_then_ordered_steps():
    html = wrap('<h2 id="p">P</h2><div class="procedure"><h6>To create a role</h6><ol><li><p>Open the '
                '<a href="https://console.aws.amazon.com/iam/">IAM console</a>.</p></li><li><p>Choose '
                '<b>Create role</b>.</p><pre class="programlisting"><code>aws iam create-role</code></pre>'
                '</li></ol></div>')
    page = read_html(html)
    assert [s.heading for s in page.sections] == ["T", "P"]
    got = [(b.kind, b.text, b.depth, b.ordered, b.in_item) for b in page.sections[1].blocks]
    assert got == [
        (PROCEDURE, "To create a role", 0, False, False),
        (LIST_ITEM, "Open the IAM console.", 0, True, False),
        (LIST_ITEM, "Choose Create role.", 0, True, False),
        (CODE, "aws iam create-role", 0, False, True),
    ]


def test_nested_lists_depths_and_item_paragraphs():
    html = wrap('<div class="itemizedlist"><ul class="itemizedlist">'
                '<li class="listitem"><p>Scope <code class="code">s3:ListBucket</code>.</p></li>'
                '<li class="listitem"><p>Scope as follows:</p><div class="itemizedlist"><ul class="itemizedlist">'
                '<li class="listitem"><p>Values in a request:</p><p><code class="code">A.B</code></p>'
                '<p><code class="code">C.D</code></p></li></ul></div><p>Back at the outer item.</p></li>'
                '</ul></div><p>After the list.</p>')
    got = [(b.kind, b.depth, b.in_item, b.text, b.codes) for b in blocks(read_html(html))]
    assert got == [
        (LIST_ITEM, 0, False, "Scope s3:ListBucket.", ["s3:ListBucket"]),
        (LIST_ITEM, 0, False, "Scope as follows:", []),
        (LIST_ITEM, 1, False, "Values in a request:", []),
        (PARAGRAPH, 1, True, "A.B", ["A.B"]),
        (PARAGRAPH, 1, True, "C.D", ["C.D"]),
        (PARAGRAPH, 0, True, "Back at the outer item.", []),
        (PARAGRAPH, 0, False, "After the list.", []),
    ]


def test_scoping_bullets_on_the_page(en):
    bullets = [b for b in section(en, "sagemaker-roles-createmodel-perms").blocks if b.kind == LIST_ITEM]
    assert [(b.depth, b.ordered) for b in bullets] == [(0, False), (0, False)]
    assert bullets[1].codes == ["PrimaryContainer.Image", "SecondaryContainer.Image", "CreateModel"]


def test_table_rows_become_paragraphs():
    html = wrap('<div class="table-container"><div class="table-contents"><table id="w117aab9c15">'
                '<tr><th>API</th><th>Action</th></tr><tr><td>CreateModel</td><td><code class="code">'
                'iam:PassRole</code></td></tr></table></div></div>')
    assert [(b.kind, b.text, b.codes) for b in blocks(read_html(html))] == [
        (PARAGRAPH, "API | Action", []), (PARAGRAPH, "CreateModel | iam:PassRole", ["iam:PassRole"])]


# --- page chrome ---------------------------------------------------------------------------------------


def test_second_title_and_chrome_are_not_content(en):
    raw = EN_HTML.read_text(encoding="utf-8")
    assert raw.count("<title>") == 2 and raw.count("<head>") == 2 and raw.count("<body") == 2
    text = " ".join(b.text for b in blocks(en))
    assert "Amazon SageMaker AI</title>" not in text and "- Amazon SageMaker AI" not in text
    assert "Document Conventions" not in text and "Javascript is disabled" not in text
    assert "General Reference" not in text  # breadcrumbs/hidden links outside #main-col-body


@pytest.mark.parametrize("markup, lang", [
    ('<html lang="ja-JP"><head><meta name="guide-locale" content="ja_jp"></head>', "ja"),
    ('<html><head><meta name="guide-locale" content="ja_jp"></head>', "ja"),
    ('<html lang="en-US"><head></head>', "en"),
    ('<html><head><meta name="guide-locale" content="zh_tw"></head>', "zh-tw"),
    ("<html><head></head>", "en"),
])
def test_language_from_page(markup, lang):
    html = markup + '<body><div id="main-col-body"><html lang="de-DE"></html><h1>T</h1></div></body></html>'
    assert read_html(html).lang == lang
    assert read_html(html, lang="fr").lang == "fr"  # the caller knows best


@pytest.mark.parametrize("text, message", [
    ("", "empty document"),
    ("<html><body><h1>T</h1></body></html>", "no #main-col-body element"),
    ('<html><body><div id="main-col-body"><p>x</p></div></body></html>', "has no <h1> page title"),
])
def test_reader_errors(text, message):
    with pytest.raises(ReaderError, match=re.escape(message)) as info:
        read_html(text, source="page.html")
    assert str(info.value).startswith("page.html: ")


# --- fingerprint ---------------------------------------------------------------------------------------


def test_fingerprint_ignores_build_noise():
    raw = EN_HTML.read_text(encoding="utf-8")
    table = ('<div class="table-container"><div class="table-contents"><table id="{id}"><tr><td headers="{id}">'
             'x</td></tr></table></div></div><img src="/images/sagemaker/latest/dg/images/a.png?v={v}" />'
             '<a href="https://docs.aws.amazon.com/forms/aws-doc-feedback?topic_url=x&amp;b={v}">Feedback</a>')
    end = '<awsdocs-copyright class="copyright-print">'
    one = raw.replace(end, table.format(id="w117aab9c15", v="1.0.1") + end)
    two = (raw.replace(end, table.format(id="w123aac13b7b3", v="2.4.9") + end)
           .replace("<!--DEBUG: cli ()-->", "<!--DEBUG: cli (json)-->")
           .replace("</p>\n<p>", "</p>\n\n    <p>").replace("</li><li", "</li>\n<li")
           .replace("<title>How to use", "<title>New title outside the content area: How to use"))
    assert one != two
    assert page_fingerprint(one) == page_fingerprint(two)
    assert page_fingerprint(raw) == page_fingerprint(raw.replace("<!--DEBUG: cli ()-->", ""))
    assert re.fullmatch(r"[0-9a-f]{64}", page_fingerprint(raw))


def test_fingerprint_changes_when_a_policy_changes():
    raw = EN_HTML.read_text(encoding="utf-8")
    model = raw.index('id="sagemaker-roles-createmodel-perms"')
    changed = raw[:model] + raw[model:].replace('"s3:GetObject",', '"s3:PutObject",', 1)
    assert changed != raw
    assert page_fingerprint(changed) != page_fingerprint(raw)
    assert page_fingerprint(EN_HTML.read_text(encoding="utf-8")) != page_fingerprint(JA_HTML.read_text(encoding="utf-8"))


# --- any input ------------------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from([
    '<div id="main-col-body">', '<h1 class="topictitle" id="t">', "<h1>", "</h1>", '<h2 id="a">', "</h2>",
    "<h6>", "</h6>", "<p>", "</p>", "<ul>", "<ol>", "<li>", "</li>", "</ul>", "</ol>", "</div>", "<div>",
    '<div class="awsdocs-note">', '<div class="awsdocs-note-text">', '<div class="procedure">',
    '<div class="highlights">', "<awsdocs-tabs>", "<dl>", "<dt>", "<dd>", "</dl>", '<pre class="programlisting">',
    "<code>", "</code>", "</pre>", "<!--DEBUG: x-->", '<div class="code-btn-container">', "<table>", "<tr>",
    "<td>", "<html>", "<head>", "<title>", "<body>", "<br>", '<a href="#x">', "<a>", "</a>", "<![CDATA[",
    "<!", "&amp;", "&#0;", "{", "注記", "機械翻訳", " ", "\n", "text",
])


# Most random markup lacks the content area or the title; a skeleton prefix gets the walk going.
_PREFIX = st.sampled_from(["", '<div id="main-col-body">', '<div id="main-col-body"><h1 class="topictitle">T</h1>'])
_MARKUP = st.tuples(_PREFIX, st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=60)).map(
    lambda t: t[0] + "".join(t[1]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), _MARKUP))
def test_any_text_gives_a_page_or_reader_error(text):
    markers = lexicon("ja").disclaimer_markers
    try:
        page = read_html(text, note_labels={"注記": "note"}, disclaimer_markers=markers)
    except ReaderError as exc:
        assert str(exc)
    else:
        assert isinstance(page, Page) and page.sections and page.sections[0].level >= 1
        assert all(b.kind in (PARAGRAPH, LIST_ITEM, CODE, NOTE, PROCEDURE) for b in blocks(page))
    with contextlib.suppress(ReaderError):
        assert re.fullmatch(r"[0-9a-f]{64}", page_fingerprint(text))
