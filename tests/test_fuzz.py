"""Fuzzing in the suite (issue 13): hypothesis drives each reader, the snippet parser and the
extractor with structured hostile input (the shapes that crashed or stalled them: deep nesting,
long runs of one character, brackets, anchors, CamelCase runs); every input kept in
tests/fixtures/fuzz/ (crashes found before, by hand or by `make fuzz`) runs as a regression.
`make fuzz` runs the same targets (tests/fuzz_targets.py) for a long campaign."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzz_targets as T

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BOUND = 10.0  # seconds for any one input here (the kept ones are the stalls: each took 9 s or more)


def runs(k: int):
    """A fragment repeated: long runs are what backtracking and recursion choke on."""
    return st.tuples(st.sampled_from(["[", "{", "<a ", "*_", "`", "\\", ">", "<span>", "Ab", "C", " ", "a:B ", "A.",
                                      "[ ", "<", "\"", "1. ", "  ", "{{"]), st.integers(1, k)).map(lambda t: t[0] * t[1])


def doc(fragments: list[str], k: int = 3000):
    return st.lists(st.one_of(st.sampled_from(fragments), runs(k), st.text(max_size=8)), max_size=40).map("".join)


MD = ["# T\n", "## CreateModel API: Execution Role Permissions\n", "<a name=\"x\"></a>\n", "\n", "**Note**  \n",
      "+ item ", "  + nested ", "```\n", "------\n", "#### [ JSON ]\n", "| a | b |\n|---|---|\n", "> ", "[l](http://x)",
      "`s3:GetObject`", "scope the policy as follows:\n\n", "If you specify a private VPC, add\n", "---\n"]
HTML = ['<div id="main-col-body">', "<h1>T</h1>", "<h2 id=\"a\">CreateModel API</h2>", "<p>", "</p>", "<span>", "</span>",
        "<div>", "</div>", '<div class="awsdocs-note"><h6>Note</h6>', "<pre><code>", "</code></pre>", "<table><tr><td>",
        "</td></tr></table>", "<ul><li>", "</li></ul>", "<a href=\"x\">", "</a>", "<!-- c -->", "<br>", "&amp;"]
TEXT = ["Title\n", "\n", "Heading\n", "注記\n", "  • item\n", "    • sub\n", "  1. step\n", '{"a": [', "]}\n",
        '"a", "b"\n', "(https://x)", "機械翻訳\n", "\t"]
JSON = ["{", "}", "[", "]", '"', ",", ":", "\\", "\n", '"Effect": "Allow"', '"Action": ["s3:GetObject"]', '"Resource": "*"',
        '"Statement": [', "{{bucket}}", "1", "null", "  "]


def within_bound(fn, value) -> None:
    t = time.perf_counter()
    fn(value)
    took = time.perf_counter() - t
    assert took < BOUND, f"{took:.1f}s on {value[:80]!r}…"


@FAST
@given(doc(MD))
def test_markdown_reader(value):
    within_bound(T.markdown, value)


@FAST
@given(doc(HTML))
def test_html_reader(value):
    within_bound(T.html, value)


@FAST
@given(doc(TEXT))
def test_text_reader(value):
    within_bound(T.text, value)


@FAST
@given(doc(JSON))
def test_snippet_parser(value):
    within_bound(T.snippet, value)


@FAST
@given(doc([*MD, "```\n" + '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}' + "\n```\n",
            "+ CreateModel `PrimaryContainer.Image`\n", "iam:PassRole CreateModel CreateTrainingJob\n"]))
def test_extractor(value):
    within_bound(T.extractor, value)


KEPT = T.regressions()


def test_kept_inputs_exist_for_every_target():
    assert {target for target, _ in KEPT} == set(T.TARGETS)


@pytest.mark.parametrize(("target", "path"), KEPT, ids=[f"{t}-{p.name}" for t, p in KEPT])
def test_kept_input(target, path):
    within_bound(T.TARGETS[target], path.read_text(encoding="utf-8", errors="surrogateescape"))
