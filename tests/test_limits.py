"""Depth and size limits on every JSON or YAML the project parses (issue 13): a snippet nested
1,000 deep is a finding and the build goes on; a request or policy past the limits is one line
from the CLI; HTML nested thousands deep is refused at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest import snippets
from ingest.build import build
from ingest.model import ReaderError
from ingest.readers.html import read_html
from ingest.sources import DATA_DIR, Source
from kb import query
from kb.limits import LimitError, check_value, json_depth
from kb.policy.documents import parse_document
from kb.policy.words import Words
from kb.query import KBError

CURRENT_EN = DATA_DIR / "snapshots" / "sagemaker-roles.en.md"
ROOT = Path(__file__).resolve().parent.parent


def test_json_depth_counts_brackets_outside_strings_only():
    assert json_depth('{"a": "[[[[{{{{", "b": [1, {"c": []}]}') == (4, None)
    assert json_depth('{"a\\"[": 1}') == (1, None)
    assert json_depth("[\n[\n[", limit=2) == (3, 3)


def test_a_snippet_nested_1000_deep_is_not_parsed_and_says_where():
    parsed = snippets.parse("{\n  \"Statement\":\n" + "[" * 1000 + "]" * 1000 + "\n}")
    assert parsed.status == "too_deep" and parsed.value is None
    assert parsed.error_line == 3 and "1001 deep" in parsed.error
    big = snippets.parse('{"Action": ["' + "s3:GetObject\", \"" * 30_000 + '"]}')
    assert big.status == "too_large" and "bytes" in big.error


def test_a_page_with_a_deep_and_a_huge_snippet_builds_with_findings_and_keeps_its_facts(tmp_path):
    text = CURRENT_EN.read_text(encoding="utf-8")
    start = text.index("## CreateImage and UpdateImage APIs")
    at = text.index("\n\n", text.index("```\n{", start) + 4)  # after the section's first snippet
    deep = "[" * 1000 + "\n" + "]" * 1000
    huge = '{"Statement": [\n' + '{"Effect": "Allow", "Action": "s3:GetObject"},' * 8000 + "{}]}"
    page = tmp_path / "hostile.en.md"
    extra = f"\n\nAlso:\n\n```\n{deep}\n```\n\nAnd:\n\n```\n{huge}\n```\n"
    end = text.index("\n```", text.index("```\n{", start) + 4) + 4
    page.write_text(text[:end] + extra + text[end:], encoding="utf-8")
    good, db = tmp_path / "good.db", tmp_path / "kb.db"
    build([Source(str(CURRENT_EN), "en")], good)
    build([Source(str(page), "en")], db)  # no RecursionError: the build goes on
    conn = query.connect(db)
    found = {f["kind"]: f for f in query.findings(conn) if f["kind"].startswith("snippet_too")}
    assert set(found) == {"snippet_too_deep", "snippet_too_large"}
    lines = page.read_text(encoding="utf-8").splitlines()
    assert found["snippet_too_deep"]["section"] == found["snippet_too_large"]["section"] is not None
    assert lines[found["snippet_too_deep"]["line"] - 1].startswith("[[[[")
    assert lines[found["snippet_too_large"]["line"] - 1].startswith('{"Statement"')
    rows = lambda c: set(c.execute("select api, condition, variant, action from requirement_rows where is_current"))
    assert rows(conn) == rows(query.connect(good))  # nothing lost, nothing invented
    assert at  # the snippets went in after the section's own


def test_documents_past_the_limits_are_one_kb_error(kb_db):
    w = Words(query.connect(kb_db), "en")
    with pytest.raises(KBError, match=r"^deep.json: the request is refused: it nests deeper than 64 levels "
                                      r"\(from line 1\)$"):
        parse_document("[" * 1000 + "]" * 1000, "deep.json", "request", w)
    block = "".join("  " * i + "a:\n" for i in range(200)) + "  " * 200 + "x\n"
    with pytest.raises(KBError, match=r"^deep.yaml: the request is refused: it nests deeper than 64 levels "
                                      r"\(from line 64\)$"):
        parse_document(block, "deep.yaml", "request", w)
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))
    t = time.perf_counter()
    with pytest.raises(KBError, match=r"^bomb.yaml: the request is refused: it holds more than 200000 values$"):
        parse_document(bomb, "bomb.yaml", "request", w)
    assert time.perf_counter() - t < 5
    with pytest.raises(KBError, match=r"^big.json: the policy is refused: it is larger than 8388608 bytes$"):
        parse_document(" " * (8 * 1024 * 1024 + 1), "big.json", "policy", w)
    ja = Words(query.connect(kb_db), "ja")
    with pytest.raises(KBError, match=r"^deep.json: リクエストは受け付けられません: "
                                      r"入れ子が 64 段を超えています \(1 行目から\)$"):
        parse_document("[" * 1000 + "]" * 1000, "deep.json", "request", ja)
    assert parse_document('{"a": [1, {"b": "[[["}]}', "ok.json", "request", w) == {"a": [1, {"b": "[[["}]}


def test_check_value_is_iterative():
    value: list = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(LimitError) as err:
        check_value(value)
    assert err.value.kind == "too_deep"


@pytest.mark.parametrize("body", ["[" * 1000 + "]" * 1000, '{"TrainingJobName": ' + "[" * 5000 + "]" * 5000 + "}"])
def test_kb_policy_with_a_deep_request_is_one_line(tmp_path, kb_db, body):
    request = tmp_path / "deep.json"
    request.write_text(body, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "kb", "--db", str(kb_db), "policy", "CreateTrainingJob", "--request",
                           str(request)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "nests deeper than 64" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_html_nested_thousands_deep_is_refused_at_once():
    text = '<html><body><div id="main-col-body"><h1>T</h1>' + "<span>" * 8000 + "<div>x</div>" \
        + "</span>" * 8000 + "</div></body></html>"
    t = time.perf_counter()
    with pytest.raises(ReaderError, match="nested 8001 deep"):
        read_html(text)
    assert time.perf_counter() - t < 5  # was 9 s (a search below every element)


def test_html_nested_within_the_limit_is_read_in_linear_time():
    text = '<html><body><div id="main-col-body"><h1>T</h1>' + ("<span>" * 90 + "<div>x</div>" + "</span>" * 90) * 300 \
        + "<p>end</p></div></body></html>"
    t = time.perf_counter()
    page = read_html(text)
    assert time.perf_counter() - t < 10
    assert [b.text for b in page.sections[0].blocks].count("x") == 300
