"""The `kb` and `ingest` commands speak one way (issue 14, item 5): every error is one line on
stderr (`kb: …`), with `--json` one JSON object `{"error": …}` on stderr; usage errors too; dates
and kinds are validated; no Python type name in a message; `kb check --strict` exits 2 on an error
finding — all against the KB built from the shipped sources, through the installed commands."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kb.kinds import CHANGE_KINDS, FINDING_KINDS

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PYTHON_TYPES = re.compile(r"\b(NoneType|int|float|str|bool|dict|list|tuple|KeyError|ValueError|TypeError)\b")


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True)


def kb(db, *args) -> subprocess.CompletedProcess:
    return run(BIN / "kb", "--db", db, *args)


def one_line(result: subprocess.CompletedProcess, prog: str = "kb") -> str:
    assert result.stdout == "" and result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"{prog}: "), result.stderr
    assert not PYTHON_TYPES.search(result.stderr), result.stderr
    return result.stderr[len(prog) + 2:-1]


def test_check_strict_exits_2_on_error_findings(shipped_kb):
    conn = sqlite3.connect(shipped_kb)
    severities = dict(conn.execute("select kind, max(severity = 'error') from finding group by kind").fetchall())
    assert kb(shipped_kb, "check").returncode == 0  # a report, not a failure, without --strict
    strict = kb(shipped_kb, "check", "--strict", "--json")
    assert strict.returncode == 2 and any(f["severity"] == "error" for f in json.loads(strict.stdout))
    warning_only = next(k for k, is_error in severities.items() if not is_error)
    assert kb(shipped_kb, "check", "--strict", "--kind", warning_only).returncode == 0
    error_kind = next(k for k, is_error in severities.items() if is_error)
    assert kb(shipped_kb, "check", "--strict", "--kind", error_kind).returncode == 2


def test_dates_and_kinds_are_validated(shipped_kb):
    month = kb(shipped_kb, "changes", "--since", "2023-13-01")
    assert month.returncode == 1 and one_line(month) == "'2023-13-01' is not a date (YYYY-MM-DD)"
    bogus = kb(shipped_kb, "check", "--kind", "bogus")
    assert bogus.returncode == 1
    assert one_line(bogus).startswith("no kind of finding 'bogus'; kinds: api_name_typo, conflicting_sections, ")
    near = kb(shipped_kb, "check", "--kind", "drfit")
    assert near.returncode == 1 and "(did you mean drift?)" in one_line(near)
    change = kb(shipped_kb, "changes", "--kind", "api_addded")
    assert change.returncode == 1 and "no kind of change matches 'api_addded' (did you mean api_added?)" in one_line(change)
    assert kb(shipped_kb, "changes", "--kind", "api_*", "--since", "2020-01-01").returncode == 0  # a pattern is a kind


def test_every_problem_of_a_question_is_named_in_one_line(shipped_kb):
    bad = kb(shipped_kb, "requirements", "CreateModle", "--condition", "vcp", "--lang", "fr")
    assert bad.returncode == 1
    assert one_line(bad) == ("no language 'fr' in this KB; languages: en, ja; 'CreateModle' has no permissions section "
                             "on any en page (did you mean CreateModel?); no en page documents the condition 'vcp' "
                             "(did you mean vpc?) for any API")
    # the policy writer refuses the same role the same way
    policy = kb(shipped_kb, "policy", "CreateModle", "--condition", "vcp", "--lang", "fr")
    assert policy.returncode == 1 and one_line(policy) == one_line(bad)


@pytest.mark.parametrize("args,needle", [
    (("requirements",), "Missing argument 'API'. (see `kb requirements --help`)"),
    (("requirements", "CreateModel", "--bogus"), "No such option '--bogus'"),
    (("nosuchcommand",), "No such command 'nosuchcommand'"),
    (("serve", "--port", "abc"), "'abc' is not a whole number (see `kb serve --help`)"),
    (("serve", "--port", "70000"), "70000 is more than 65535"),
    (("serve", "--budget", "x"), "'x' is not a number"),
])
def test_usage_errors_are_one_line_without_python_type_names(shipped_kb, args, needle):
    bad = kb(shipped_kb, *args)
    assert bad.returncode == 2 and needle in one_line(bad)


def test_ingest_usage_errors_are_one_line_too(tmp_path):
    bad = run(BIN / "ingest", "refresh", "--db", tmp_path / "kb.db", "--timeout", "soon")
    assert bad.returncode == 2 and "'soon' is not a number (see `ingest refresh --help`)" in one_line(bad, "ingest")
    bad = run(BIN / "ingest", "refresh", "--db", tmp_path / "kb.db", "--retries", "1.5")
    assert bad.returncode == 2 and "'1.5' is not a whole number" in one_line(bad, "ingest")


def test_json_errors_are_an_error_object_on_stderr(shipped_kb):
    bad = kb(shipped_kb, "requirements", "CreateModle", "--condition", "vcp", "--lang", "fr", "--json")
    assert bad.returncode == 1 and bad.stdout == "" and bad.stderr.count("\n") == 1
    body = json.loads(bad.stderr)
    assert body["error"].startswith("no language 'fr' in this KB")
    assert [(p["param"], p["value"], p["suggestion"]) for p in body["problems"]] == [
        ("lang", "fr", None), ("api", "CreateModle", "CreateModel"), ("conditions", "vcp", "vpc")]
    date = kb(shipped_kb, "changes", "--since", "2023-13-01", "--json")
    assert date.returncode == 1 and json.loads(date.stderr)["error"] == "'2023-13-01' is not a date (YYYY-MM-DD)"
    usage = kb(shipped_kb, "requirements", "--json")
    assert usage.returncode == 2 and json.loads(usage.stderr)["error"].startswith("Missing argument 'API'.")
    missing = run(BIN / "kb", "--db", "/nonexistent/kb.db", "apis", "--json")
    assert missing.returncode == 1 and json.loads(missing.stderr)["error"].startswith("no knowledge base at ")


def test_the_kinds_are_the_ones_ingest_writes(shipped_kb):
    """kb/kinds.py is the vocabulary `--kind` accepts: every kind ingest's sources write is in it,
    and every kind the shipped KB holds."""
    sources = "\n".join((ROOT / "ingest" / f"{name}.py").read_text(encoding="utf-8")
                         for name in ("extract", "attribute", "validate"))
    written = set(re.findall(r'Finding\(\s*"(\w+)"', sources))
    for pair in re.findall(r'kind = "(\w+)" if .+ else "(\w+)"', sources):
        written |= set(pair)
    assert {"invalid_json", "unknown_action", "drift", "duplicate_section"} <= written <= set(FINDING_KINDS)
    changes = set(re.findall(r'add\("(\w+)"', (ROOT / "ingest" / "changelog.py").read_text(encoding="utf-8")))
    assert {"api_added", "action_removed"} <= changes <= set(CHANGE_KINDS)
    conn = sqlite3.connect(shipped_kb)
    assert {r[0] for r in conn.execute("select distinct kind from finding")} <= set(FINDING_KINDS)
    assert {r[0] for r in conn.execute("select distinct kind from page_change")} <= set(CHANGE_KINDS)


def test_an_answer_with_nothing_to_list_says_so(shipped_kb):
    """No conditions documented (CreateFlowDefinition's pages give none) is a sentence, not an empty
    screen; a context without a main policy names no pages as 'none', not an empty list."""
    none = kb(shipped_kb, "conditions", "CreateFlowDefinition")
    assert none.returncode == 0 and none.stdout == "The pages document no conditions for CreateFlowDefinition.\n"
    assert json.loads(kb(shipped_kb, "conditions", "CreateFlowDefinition", "--json").stdout) == []
    head = kb(shipped_kb, "requirements", "CreateDomain").stdout.splitlines()[0]
    assert head == "CreateDomain (en, main policy, conditions: none; pages: none)", head
