"""Every regular expression runs in linear time on hostile text (issue 13).

The code's own patterns are found in the sources (tests/hostile.py reads every literal handed to
`re`), so a new one is tested without being listed here; the patterns data supplies (lexicons,
ingest/facts/iam.toml, a policy's wildcards) run on RE2 (kb/linear.py) and are fed the same inputs.
"""

from __future__ import annotations

import re
import time

import pytest

from ingest import lexicon as lexicon_module
from ingest.facts import iam_rules
from ingest.lexicon import Lexicon, LexiconError, all_lexicons, squash
from kb.linear import PatternError, compile_linear
from kb.policy.role_policy import glob, glob_covers
from tests import hostile

LIMIT = 0.05  # seconds for one search of ~10,000 hostile characters: a linear pattern takes < 1 ms
# Patterns whose code never hands them what makes them slow, each proved by its own test below.
GUARDED = {r"<[^>]*>": "applied only up to the text's last `>` (markdown _strip_tags, catalog _plain)"}
CODE = [c for c in hostile.code_patterns() if c[1] not in GUARDED]


def _bounded(fn, *args, timeout: float = 120):
    """slowest() in a child process: a pattern that never finishes is (inf, timeout, "")."""
    out = hostile.run_bounded(fn, *args, timeout=timeout)
    return (float("inf"), timeout, "") if out[0] == "timeout" else out


def _verdict(where: str, pattern: str, flags: int, method: str):
    rx = re.compile(pattern, flags)
    return hostile.slowest(getattr(rx, method), pattern, flags, limit=LIMIT)


@pytest.mark.parametrize(("where", "pattern", "flags", "method"), CODE, ids=[c[0] for c in CODE])
def test_every_pattern_in_the_code_is_linear(where, pattern, flags, method):
    share, took, text = _bounded(_verdict, where, pattern, flags, method)
    assert share <= 1, f"{where}: {pattern!r}.{method} took {took:.3f}s on {text[:60]!r}… ({len(text)} chars)"


def test_tag_stripping_is_linear_on_a_run_of_unclosed_tags():
    from ingest.catalog import _plain
    from ingest.readers.markdown import _strip_tags

    text = "<" * 1_000_000 + "<b>x</b> y" + "<" * 1_000_000
    t = time.perf_counter()
    assert _strip_tags(text) == " x  y" + "<" * 1_000_000  # the leading run opens the <b> tag, as before
    assert _plain("<p>a</p>" + "<" * 1_000_000, limit=10) == "a " + "<" * 7 + "…"
    assert time.perf_counter() - t < 1.0


def test_the_sources_scan_finds_the_patterns_of_the_readers_and_the_extractor():
    where = {c[0].split(":")[0] for c in CODE}
    assert {"ingest/extract.py", "ingest/readers/markdown.py", "ingest/readers/html.py", "ingest/readers/text.py",
            "ingest/snippets.py", "kb/policy/role_policy.py"} <= where
    assert len(CODE) >= 40


# The patterns issue 13 found, as they were: the harness must catch each (else it proves nothing).
OLD = [
    (r"(?<![\w.:])([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)(?![\w.:])", 0),  # CAMEL_WORD: exponential
    (r"""<a\s+(?:[^>]*?\s)?(?:name|id)\s*=\s*["']([^"']+)["']""", re.IGNORECASE),  # markdown _ANCHOR: cubic
    (squash("pass an AWS KMS customer managed key.*as the .*KmsKeyId"), re.IGNORECASE),  # kms_domain: quadratic
    (squash("must also have the .* permission"), re.IGNORECASE),  # prose_requirement: quadratic
    (r"\{\{\s*([^{}]*?)\s*\}\}", 0),  # changelog placeholders: cubic
    (r"<[^>]*>", 0),  # tag stripping: quadratic on a run of "<"
]


@pytest.mark.parametrize(("pattern", "flags"), OLD)
def test_the_hostile_inputs_catch_the_patterns_that_were_slow(pattern, flags):
    share, _, _ = _bounded(_verdict, "old", pattern, flags, "search", timeout=4)
    assert share > 1


def _lexicon_patterns():
    out = []
    for lex in all_lexicons():
        for group, patterns in lex._groups.items():
            out += [(lex.lang, group, p) for p in patterns]
        for cond in lex.conditions:
            out += [(lex.lang, f"conditions.{cond.key}", p) for p in cond.patterns]
    return out


LEXICON = _lexicon_patterns()


def _lexicon_verdict(pattern):
    return hostile.slowest(pattern.search, pattern.pattern, re.IGNORECASE, limit=LIMIT)


@pytest.mark.parametrize(("lang", "group", "pattern"), LEXICON, ids=[f"{x[0]}-{x[1]}" for x in LEXICON])
def test_every_lexicon_pattern_is_linear(lang, group, pattern):
    share, took, text = _bounded(_lexicon_verdict, pattern)
    assert share <= 1, f"{lang} {group}: {pattern.pattern!r} took {took:.3f}s on {text[:60]!r}"


def test_the_kms_domain_and_prose_phrases_on_the_issues_paragraphs():
    en = lexicon_module.lexicon("en")
    t = time.perf_counter()
    found = en.condition_in("pass an AWS KMS customer managed key " + "as the " * 5000)  # 35 KB
    assert found is None or found.key != "kms_domain"  # (custom_kms: "customer managed key" alone)
    assert not en.says("prose_requirement", "must also have the " * 10500)  # 200 KB
    assert time.perf_counter() - t < 1.0
    assert en.condition_in("If you pass an AWS KMS customer managed key as the KmsKeyId, add:").key == "kms_domain"


def _lexicon(tmp_path, patterns: list[str]) -> Lexicon:
    data = {"lang": "xx", "note_labels": {}, "disclaimer_markers": [], "passrole_action": "iam:PassRole",
            "prose_requirement": patterns}
    return Lexicon(data, tmp_path / "xx.toml")


def test_a_lexicon_pattern_re2_cannot_run_in_linear_time_is_refused_by_the_loader(tmp_path):
    with pytest.raises(LexiconError) as err:
        _lexicon(tmp_path, ["(?<!not )required"])
    assert "xx.toml: prose_requirement" in str(err.value) and "(?<!not)required" in str(err.value)
    with pytest.raises(LexiconError, match=r"backreference|look"):
        _lexicon(tmp_path, [r"(a)\1"])


def test_a_lexicon_pattern_with_nested_quantifiers_runs_in_linear_time(tmp_path):
    lex = _lexicon(tmp_path, ["(a+)+$", "(?:[A-Z][A-Za-z0-9]*)+:", "x.*y.*z"])
    text = "a" * 1_000_000 + "b " + "Ab" + "C" * 100_000 + ". " + "x y " * 100_000
    t = time.perf_counter()
    assert not lex.says("prose_requirement", text)
    assert time.perf_counter() - t < 1.0


def test_a_broken_lexicon_file_is_one_line_from_ingest_build(tmp_path):
    import subprocess
    import sys

    (tmp_path / "xx.toml").write_text(
        'lang = "xx"\nnote_labels = {}\ndisclaimer_markers = []\npassrole_action = "iam:PassRole"\n'
        'prose_requirement = ["(?<=a)b"]\n', encoding="utf-8")
    page = tmp_path / "p.md"
    page.write_text("# T\n\ntext\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "ingest", "build", "--db", str(tmp_path / "kb.db"), "--source",
                           str(page), "--lang", "xx"], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "KB_LEXICONS": str(tmp_path)})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "not a linear-time regular expression" in proc.stderr, proc.stderr


IAM = [(v["name"], v["pattern"]) for v in iam_rules()["value"]] + \
      [(k, iam_rules()[k]) for k in ("region_pattern", "account_pattern", "bare_name_pattern")]


@pytest.mark.parametrize(("name", "pattern"), IAM, ids=[x[0] for x in IAM])
def test_every_iam_value_pattern_is_linear(name, pattern):
    share, took, text = _bounded(lambda: hostile.slowest(compile_linear(pattern).match, pattern, limit=LIMIT))
    assert share <= 1, f"{name}: {pattern!r} took {took:.3f}s on {text[:60]!r}"


def test_a_data_pattern_that_is_not_linear_is_refused_with_its_reason():
    with pytest.raises(PatternError, match=r"iam.toml value x: '\(a\)\\\\1' is not a linear-time"):
        compile_linear(r"(a)\1", where="iam.toml value x")


def test_a_policys_wildcards_match_in_linear_time():
    pattern = "s3:" + "*a" * 40 + "*b"
    name = "s3:" + "a" * 200_000
    t = time.perf_counter()
    assert glob(pattern, True).fullmatch(name) is None
    assert not glob_covers("arn:aws:s3:::" + "*a" * 40 + "*b", "arn:aws:s3:::" + "a" * 200_000)
    assert glob("s3:Get*", True).fullmatch("s3:getobject") and glob_covers("arn:*:s3:::b/*", "arn:aws:s3:::b/k*")
    assert time.perf_counter() - t < 1.0
