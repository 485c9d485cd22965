"""`ingest refresh` against a real HTTP server on 127.0.0.1 (tests/fixtures/refresh/loopback.py).

The server plays the docs site: it serves the dated revisions and the current page of
data/ (real pages), answers conditional requests, and misbehaves on demand (500, 429, slow,
truncated, redirects to another host, oversized). Every test works on a scratch copy of data/
(refresh writes accepted pages over the snapshots there) and its own KB file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import cli as ingest_cli
from ingest.lock import writer_lock
from ingest.sources import DATA_DIR
from kb import query
from kb import roles as kb_roles
from tests.fixtures.refresh.loopback import LoopbackServer, Reply, page, redirect
from tests.helpers import without_ids

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
FIXTURES = Path(__file__).parent / "fixtures" / "refresh"
HISTORY = DATA_DIR / "history" / "sagemaker-roles" / "en"
CURRENT_EN = (DATA_DIR / "snapshots" / "sagemaker-roles.en.md").read_text(encoding="utf-8")
REV_2022_12_09 = (HISTORY / "2022-12-09_53d2932.md").read_text(encoding="utf-8")
EN_HTML_PAGE = (FIXTURES / "sagemaker-roles.en.html").read_text(encoding="utf-8")
EN_MD, EN_HTML = "/sagemaker/latest/dg/sagemaker-roles.md", "/sagemaker/latest/dg/sagemaker-roles.html"


# --- a scratch copy of data/ and its KB ------------------------------------------------------------


def make_workspace(dest: Path, langs=("en", "ja"), with_history=True) -> Path:
    """data/'s snapshots and history under `dest`, with a source list of the pages in `langs`."""
    config = tomllib.loads((DATA_DIR / "sources.toml").read_text(encoding="utf-8"))
    for name in ("snapshots", "history"):
        shutil.copytree(DATA_DIR / name, dest / name)
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shipped copies are read-only
    blocks = [("page", p) for p in config["page"] if p["lang"] in langs]
    blocks += [("history", h) for h in config.get("history", [])] if with_history else []
    (dest / "sources.toml").write_text("# scratch copy for tests\n" + "".join(
        f"\n[[{kind}]]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in entry.items())
        for kind, entry in blocks), encoding="utf-8")
    return dest


def retrieved(ws: Path, sources: str = "sources.toml") -> dict[str, str | None]:
    """The `retrieved` date of each [[page]] of a source list, by language."""
    pages = tomllib.loads((ws / sources).read_text(encoding="utf-8"))["page"]
    return {p["lang"]: p.get("retrieved") for p in pages}


def shipped_retrieved() -> dict[str, str | None]:
    return retrieved(DATA_DIR)


def ingest(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(ingest_cli.main, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def build(ws: Path) -> None:
    code, _, err = ingest("build", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml")
    assert code == 0, err


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    ws = make_workspace(tmp_path_factory.mktemp("template"))
    build(ws)
    return ws


@pytest.fixture
def ws(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "ws"))


def refresh(ws: Path, *args) -> tuple[int, dict | None, str]:
    code, out, err = ingest("refresh", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml", "--json", *args)
    return code, (json.loads(out) if out.strip() else None), err


def answers(db: Path) -> dict:
    """Everything `kb` answers from the current pages: every API × condition × variant in both
    languages, the API lists, scoping rules, trust policies and findings (row ids left out)."""
    conn = query.connect(db)
    out = {}
    for lang in ("en", "ja"):
        try:
            apis = query.apis(conn, lang)
        except query.KBError:
            continue
        out[("apis", lang)] = apis
        for api in (a["name"] for a in apis if a["documented"]):
            conds = [c["key"] for c in query.conditions(conn, api, lang)]
            for chosen in [[], *[[c] for c in conds]]:
                for scoped in (False, True):
                    out[(api, lang, tuple(chosen), scoped)] = query.requirements(conn, api, chosen, scoped, lang)
            out[("scoping", api, lang)] = query.scoping(conn, api, lang)
        try:
            out[("trust", lang)] = kb_roles.trust_policy(conn, lang)
        except query.KBError as exc:  # a page cut to one section carries none
            out[("trust", lang)] = str(exc)
        out[("findings", lang)] = query.findings(conn, lang)
    conn.close()
    return without_ids(out)


def kinds(report: dict, lang: str = "en") -> set[tuple]:
    page_ = next(p for p in report["pages"] if p["lang"] == lang)
    return {(c["kind"], c["api"], c["condition"], c["action"]) for c in page_["changes"]}


def one_page(report: dict) -> dict:
    assert len(report["pages"]) == 1
    return report["pages"][0]


# --- changed, unchanged, new ----------------------------------------------------------------------


def test_a_changed_page_then_an_unchanged_one_and_kb_changes_names_what_differs(ws):
    """The issue's acceptance run: the server serves the 2022-12-09 revision, then the current page."""
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(REV_2022_12_09, etag='"rev-2022-12-09"'))
        code, first, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        report = first
        assert code == 0, err
        assert "fetching" in err  # progress for a person on stderr, the report on stdout
        p = one_page(report)
        assert (p["status"], p["format"], p["etag"]) == ("changed", "md", '"rev-2022-12-09"')
        # What the 2022 page lacks or has besides the current one, read in the two files: no
        # CreateAutoMLJobV2 section, no AlgorithmArn sentence, no guardrails note, a shorter PassRole
        # list, and the iam:PassRole statement still in the CreateImage/UpdateImage policy.
        assert {("api_removed", "CreateAutoMLJobV2", None, None),
                ("passrole_removed", "UpdateNotebookInstance", None, None),
                ("passrole_removed", "CreateFeatureGroup", None, None),
                ("condition_removed", "CreateTrainingJob", "algorithm", None),
                ("condition_removed", "CreateModel", "guardrails", None),
                ("action_added", "CreateImage", None, "iam:PassRole"),
                ("action_added", "UpdateImage", None, "iam:PassRole")} <= kinds(report)
        assert (ws / "snapshots" / "sagemaker-roles.en.md").read_text(encoding="utf-8") == REV_2022_12_09
        # The source list now dates the English snapshot by this fetch; the Japanese one keeps its date.
        assert retrieved(ws) == {"en": p["retrieved_at"][:10], "ja": shipped_retrieved()["ja"]}
        with pytest.raises(query.KBError, match="the condition 'algorithm'"):
            query.requirements(query.connect(ws / "kb.db"), "CreateTrainingJob", ["algorithm"])

        srv.route(EN_MD, page(CURRENT_EN, etag='"rev-current"'))
        code, report, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        assert code == 0, err
        assert one_page(report)["status"] == "changed"
        assert {("api_added", "CreateAutoMLJobV2", None, None),
                ("passrole_added", "UpdateNotebookInstance", None, None),
                ("condition_added", "CreateTrainingJob", "algorithm", None),
                ("condition_added", "CreateModel", "guardrails", None),
                ("action_removed", "CreateImage", None, "iam:PassRole")} <= kinds(report)
        algorithm = next(c for c in one_page(report)["changes"] if c["condition"] == "algorithm")
        assert algorithm["after"] == {"both": ["sagemaker:DescribeAlgorithm"]}
        assert algorithm["after_source"]["url"].endswith("#sagemaker-roles-createtrainingjob-perms")
        before = answers(ws / "kb.db")
        assert "sagemaker:DescribeAlgorithm" in before[("CreateTrainingJob", "en", ("algorithm",), False)]["actions"]

        code, report, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        assert code == 0, err
        p = one_page(report)
        assert (p["status"], p["http"], p["changes"], report["facts_rebuilt"]) == ("unchanged", "not_modified", [], False)
        assert srv.hits(EN_MD)[-1]["if-none-match"] == '"rev-current"'
        assert srv.hits(EN_MD)[-1]["user-agent"].startswith("sagemaker-roles-kb/")
        assert answers(ws / "kb.db") == before

        # The page flips back: the same step again is a new event in the log, not a known one.
        srv.route(EN_MD, page(REV_2022_12_09, etag='"rev-2022-12-09"'))
        code, again, _ = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        assert code == 0 and kinds(again) == kinds(first)

    # The installed `kb`, as a user runs it.
    since = report["started_at"][:10]
    out = subprocess.run([BIN / "kb", "--db", ws / "kb.db", "changes", "--since", since],
                         capture_output=True, text=True, check=True).stdout
    for name in ("CreateAutoMLJobV2", "UpdateNotebookInstance", "sagemaker:DescribeAlgorithm",
                 "cloudwatch:DescribeAlarms", "iam:PassRole", "refresh #1", "refresh #2", "refresh #3", "refresh #4"):
        assert name in out
    log = json.loads(subprocess.run([BIN / "kb", "--db", ws / "kb.db", "changes", "--since", since, "--json"],
                                    capture_output=True, text=True, check=True).stdout)
    refreshes = [t for t in log["transitions"] if t["origin"] == "refresh"]
    assert [(t["run_id"], len(t["changes"]) > 0) for t in refreshes] == [(1, True), (2, True), (4, True)]
    assert refreshes[1]["from"]["sha256"] == refreshes[0]["to"]["sha256"]  # one chain of versions
    assert [(r["id"], [p["status"] for p in r["pages"]]) for r in log["runs"]] == [
        (1, ["changed"]), (2, ["changed"]), (3, ["unchanged"]), (4, ["changed"])]


def test_same_content_is_unchanged_and_leaves_every_answer_alone(ws):
    before, snapshot = answers(ws / "kb.db"), (ws / "snapshots" / "sagemaker-roles.en.md").read_bytes()
    # No validators this time, and the bytes differ (CRLF, trailing blanks): the content does not.
    served = "\r\n".join(line + "  " for line in CURRENT_EN.split("\n"))
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(served))
        code, report, err = refresh(ws, "--source", srv.url(EN_MD), "--lang", "en")
    assert code == 0, err
    p = one_page(report)
    assert (p["status"], p["reason"]) == ("unchanged", "same content as the snapshot")
    assert p["new_sha256"] == p["old_sha256"]
    assert answers(ws / "kb.db") == before
    assert (ws / "snapshots" / "sagemaker-roles.en.md").read_bytes() == snapshot
    assert retrieved(ws) == shipped_retrieved()  # the snapshot's text is not new: its date stays


def test_base_url_fetches_every_page_of_the_list_from_a_mirror(tmp_path):
    ws = make_workspace(tmp_path, langs=("en",))
    build(ws)
    with LoopbackServer() as srv:
        srv.route("/mirror" + EN_MD, page(CURRENT_EN))
        code, report, err = refresh(ws, "--base-url", srv.url("/mirror/"))
    assert code == 0, err
    p = one_page(report)
    assert (p["status"], p["fetched_url"]) == ("unchanged", srv.url("/mirror" + EN_MD))
    assert p["url"] == "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"  # still cited


def test_a_page_the_kb_lacks_is_new_and_joins_the_source_list(tmp_path):
    ws = make_workspace(tmp_path, langs=("ja",))
    (ws / "snapshots" / "sagemaker-roles.en.md").unlink()
    build(ws)
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(CURRENT_EN, etag='"e1"'))
        code, report, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
    assert code == 0, err
    p = one_page(report)
    assert (p["page_key"], p["status"], p["changes"]) == ("sagemaker-roles", "new", [])
    assert Path(p["snapshot"]).read_text(encoding="utf-8") == CURRENT_EN
    entries = tomllib.loads((ws / "sources.toml").read_text(encoding="utf-8"))["page"]
    assert {(e["lang"], e["file"], e["format"]) for e in entries} == {
        ("ja", "snapshots/sagemaker-roles.ja.txt", "text"), ("en", "snapshots/sagemaker-roles.en.md", "md")}
    refreshed = answers(ws / "kb.db")
    assert "sagemaker:DescribeAlgorithm" in refreshed[("CreateTrainingJob", "en", ("algorithm",), False)]["actions"]
    # A later build from data/ alone reproduces what the refresh put in the KB.
    build(ws)
    assert answers(ws / "kb.db") == refreshed


# --- failures keep the previous facts -------------------------------------------------------------


FAILURES = {
    # name: (replies for the .md URL, extra options, what the reason says)
    "server_error": ([Reply(500, "oops", "text/plain")], ["--retries", "1"], "HTTP 500"),
    "slow": ([Reply(200, CURRENT_EN, delay=3.0)], ["--timeout", "0.5", "--retries", "0"], "timed out"),
    "truncated": ([Reply(200, CURRENT_EN, truncate_at=20_000)], ["--retries", "0"], "truncated"),
    "redirect_elsewhere": ([redirect("https://elsewhere.example/sagemaker-roles.md")], [], "not allowed"),
    "too_large": ([page(CURRENT_EN)], ["--max-bytes", "10000"], "too large"),
    "empty": ([page("")], [], "unreadable md page"),
    "not_a_page": ([page("<html><body>Service Unavailable</body></html>", fmt="html")], [], "unreadable"),
}


@pytest.mark.parametrize("name", FAILURES)
def test_a_failed_page_keeps_its_previous_facts_and_the_run_exits_non_zero(ws, name):
    replies, options, reason = FAILURES[name]
    before = answers(ws / "kb.db")
    snapshot = (ws / "snapshots" / "sagemaker-roles.en.md").read_bytes()
    with LoopbackServer() as srv:
        srv.route(EN_MD, *replies)
        code, report, err = refresh(ws, "--source", srv.url(EN_MD), "--lang", "en", *options)
        md_hits = len(srv.hits(EN_MD))
    assert code == 1, err
    p = one_page(report)
    assert p["status"] == "failed" and reason in p["reason"], p["reason"]
    assert not report["ok"] and not report["facts_rebuilt"]
    assert answers(ws / "kb.db") == before
    assert (ws / "snapshots" / "sagemaker-roles.en.md").read_bytes() == snapshot
    assert retrieved(ws) == shipped_retrieved()  # the snapshot's text is not new: its date stays
    conn = sqlite3.connect(ws / "kb.db")
    assert conn.execute("select status from refresh_run").fetchall() == [("failed",)]
    assert conn.execute("select status, reason from refresh_page").fetchone() == ("failed", p["reason"])
    if name == "server_error":
        assert md_hits == 2  # one retry, and no fallback to .html: the .md form exists, the site is failing


def test_a_page_missing_in_both_forms_fails(ws):
    with LoopbackServer() as srv:
        code, report, _ = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        assert [path for path, _ in srv.requests] == [EN_MD, EN_HTML]
    assert code == 1
    assert one_page(report)["reason"].count("HTTP 404") == 2


def test_429_is_retried_after_the_servers_delay(ws):
    with LoopbackServer() as srv:
        srv.route(EN_MD, Reply(429, "slow down", "text/plain", headers={"Retry-After": "0"}), page(CURRENT_EN))
        code, report, err = refresh(ws, "--source", srv.url(EN_MD), "--lang", "en")
        assert len(srv.hits(EN_MD)) == 2
    assert code == 0, err
    assert one_page(report)["status"] == "unchanged"


def test_a_redirect_within_the_host_is_followed(ws):
    with LoopbackServer() as srv:
        srv.route("/old/sagemaker-roles.md", redirect(EN_MD, 301))
        srv.route(EN_MD, page(CURRENT_EN))
        code, report, err = refresh(ws, "--source", srv.url("/old/sagemaker-roles.md"), "--lang", "en")
    assert code == 0, err
    assert (one_page(report)["status"], one_page(report)["final_url"]) == ("unchanged", srv.url(EN_MD))


def test_by_default_only_https_to_docs_aws_amazon_com_is_fetched(ws):
    """A source list pointing at another host is refused before any connection is made."""
    with LoopbackServer() as srv:
        text = (ws / "sources.toml").read_text(encoding="utf-8")
        (ws / "sources.toml").write_text(text.replace("https://docs.aws.amazon.com", srv.base), encoding="utf-8")
        code, report, _ = refresh(ws)
        assert srv.requests == []
    assert code == 1
    assert [p["status"] for p in report["pages"]] == ["failed", "failed"]
    assert all("not allowed" in p["reason"] for p in report["pages"])


def test_a_second_writer_is_refused(ws):
    before = (ws / "kb.db").read_bytes()
    with writer_lock(ws / "kb.db"):
        code, _, err = ingest("refresh", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml")
        assert code == 1 and "another `ingest` command is writing" in err
        code, _, err = ingest("build", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml")
        assert code == 1 and "another `ingest` command is writing" in err
    assert (ws / "kb.db").read_bytes() == before


# --- the sanity gate ------------------------------------------------------------------------------


def test_a_page_that_lost_most_of_its_facts_is_rejected(ws):
    before = answers(ws / "kb.db")
    # A 200 with a complete-looking body that stops before the CreateNotebookInstance section:
    # 3 of the 8 API sections are left.
    cut = CURRENT_EN[:CURRENT_EN.index("## CreateNotebookInstance API")]
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(cut))
        code, report, err = refresh(ws, "--source", srv.url(EN_MD), "--lang", "en")
    assert code == 1, err
    p = one_page(report)
    assert p["status"] == "failed"
    assert "lost most of its facts (3 of 8 API sections" in p["reason"] and "--force" in p["reason"]
    assert answers(ws / "kb.db") == before
    assert (ws / "snapshots" / "sagemaker-roles.en.md").read_text(encoding="utf-8") == CURRENT_EN


def test_a_page_without_any_api_section_is_rejected_even_with_force(ws):
    before = answers(ws / "kb.db")
    moved = "# How to use SageMaker AI execution roles\n<a name=\"sagemaker-roles\"></a>\n\nThis page has moved.\n"
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(moved))
        code, report, _ = refresh(ws, "--source", srv.url(EN_MD), "--lang", "en", "--force")
    assert code == 1
    assert "no API permission section" in one_page(report)["reason"]
    assert answers(ws / "kb.db") == before


def test_the_html_form_when_there_is_no_md_form_and_force_past_the_gate(ws):
    """The site serves only HTML, and only the CreateModel section (fixture): rejected, then forced."""
    with LoopbackServer() as srv:
        srv.route(EN_HTML, page(EN_HTML_PAGE, fmt="html"))
        code, report, _ = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        assert code == 1 and "1 of 8 API sections" in one_page(report)["reason"]
        code, report, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en", "--force")
    assert code == 0, err
    p = one_page(report)
    assert (p["status"], p["format"]) == ("changed", "html")
    assert "read the .html form" in p["reason"] and "HTTP 404" in p["reason"]
    assert {c["api"] for c in p["changes"] if c["kind"] == "api_removed"} == {
        "CreateAutoMLJob", "CreateAutoMLJobV2", "CreateDomain", "CreateImage", "UpdateImage",
        "CreateNotebookInstance", "CreateHyperParameterTuningJob", "CreateProcessingJob", "CreateTrainingJob",
        "feature:sagemaker-roles"}  # and the page's own feature section (S3 buckets)
    # The snapshot changes form: a new file, and the source list points at it.
    assert Path(p["snapshot"]) == ws / "snapshots" / "sagemaker-roles.en.html"
    entry = next(e for e in tomllib.loads((ws / "sources.toml").read_text(encoding="utf-8"))["page"]
                 if e["lang"] == "en")
    assert (entry["file"], entry["format"]) == ("snapshots/sagemaker-roles.en.html", "html")
    refreshed = answers(ws / "kb.db")
    model = refreshed[("CreateModel", "en", ("vpc",), False)]
    assert "ec2:CreateNetworkInterface" in model["actions"]
    assert model["statements"][0]["source"]["url"].endswith("#sagemaker-roles-createmodel-perms")
    build(ws)
    assert answers(ws / "kb.db") == refreshed


# --- the change log lives on ----------------------------------------------------------------------


def test_the_change_log_and_the_validators_survive_a_build(ws):
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(REV_2022_12_09, etag='"old"', last_modified="Fri, 09 Dec 2022 10:00:00 GMT"))
        code, first, _ = refresh(ws, "--source", srv.url(EN_MD), "--lang", "en")
        assert code == 0
        build(ws)  # a plain rebuild from the snapshots
        log = json.loads(subprocess.run([BIN / "kb", "--db", ws / "kb.db", "changes", "--json"], capture_output=True,
                                        text=True, check=True).stdout)
        assert [t["run_id"] for t in log["transitions"] if t["origin"] == "refresh"] == [first["run_id"]]
        assert [r["id"] for r in log["runs"]] == [first["run_id"]]
        code, second, _ = refresh(ws, "--source", srv.url(EN_MD), "--lang", "en")
        assert code == 0
        last = srv.hits(EN_MD)[-1]
        assert (last["if-none-match"], last["if-modified-since"]) == ('"old"', "Fri, 09 Dec 2022 10:00:00 GMT")
        assert one_page(second)["http"] == "not_modified"
    conn = sqlite3.connect(ws / "kb.db")
    assert conn.execute("select etag, retrieved_at from page where is_current and lang = 'en'").fetchone() == (
        '"old"', one_page(first)["retrieved_at"])
    assert conn.execute("select count(*) from refresh_run").fetchone() == (2,)
