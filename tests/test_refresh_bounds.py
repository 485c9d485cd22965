"""`ingest refresh` bounded and careful (issue 13), against the real loopback server: a fetch ends
by its deadline however slowly the body drips, Retry-After is honoured only up to the deadline, a
page that grew by duplication or conflict is rejected unless --force, a run that fails is logged,
and a KB elsewhere never rewrites the repository's data/."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ingest import refresh as refresh_module
from ingest.fetch import FetchError, fetch
from kb import query
from tests.fixtures.refresh.loopback import LoopbackServer, Reply, page
from tests.test_refresh import CURRENT_EN, EN_HTML, EN_MD, ROOT, build, ingest, make_workspace, one_page, refresh

DATA = ROOT / "data"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    workspace = make_workspace(tmp_path_factory.mktemp("template"))
    build(workspace)
    return workspace


@pytest.fixture
def ws(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "ws"))


def test_a_slow_drip_ends_within_the_deadline():
    with LoopbackServer() as srv:
        srv.route("/drip.md", Reply(200, "# T\n\n" + "x" * 200, drip=0.2))  # 40 s at this pace; no read ever times out
        t = time.monotonic()
        with pytest.raises(FetchError, match="body too slow"):
            fetch(srv.url("/drip.md"), allow_loopback=True, timeout=1.0, retries=3, deadline=time.monotonic() + 2.0)
        took = time.monotonic() - t
    assert took < 2.0 + 1.0 + 0.5, took  # the deadline, plus at most one read in progress


def test_retry_after_is_honoured_only_up_to_the_deadline():
    with LoopbackServer() as srv:
        srv.route("/busy.md", Reply(503, "busy", "text/plain", headers={"Retry-After": "30"}))
        t = time.monotonic()
        with pytest.raises(FetchError, match="would pass the fetch's deadline"):
            fetch(srv.url("/busy.md"), allow_loopback=True, retries=3, deadline=time.monotonic() + 5.0)
        assert time.monotonic() - t < 2.0  # gave up at once instead of waiting 30 s
        assert len(srv.hits("/busy.md")) == 1


def test_refresh_with_a_page_deadline_fails_the_slow_page_and_logs_the_run(ws):
    with LoopbackServer() as srv:
        srv.route(EN_MD, Reply(200, CURRENT_EN.encode() + b"\n", drip=0.05))
        t = time.monotonic()
        code, report, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en", "--timeout", "1",
                                    "--page-deadline", "2")
        took = time.monotonic() - t
    assert code == 1 and took < 20, (took, err)
    p = one_page(report)
    assert p["status"] == "failed" and "too slow" in p["reason"]
    run = sqlite3.connect(ws / "kb.db").execute("select status from refresh_run order by id desc limit 1").fetchone()
    assert run == ("failed",)


def test_the_run_deadline_fails_the_pages_left(ws):
    with LoopbackServer() as srv:
        srv.route(EN_MD, Reply(200, CURRENT_EN, delay=1.5))
        srv.route("/sagemaker/latest/dg/other.md", page(CURRENT_EN))
        code, report, _ = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en",
                                  "--source", srv.url("/sagemaker/latest/dg/other.md"), "--lang", "en",
                                  "--run-deadline", "1", "--concurrency", "1")  # `other` waits its turn
    assert code == 1
    reasons = {p["page_key"]: p["reason"] or "" for p in report["pages"]}
    assert "deadline" in reasons["other"] and not srv.hits("/sagemaker/latest/dg/other.md")


def _api_sections_repeated(text: str, times: int) -> str:
    """The page with every API section printed `times` times (2 → 40 statements, as in the issue)."""
    parts = re.split(r"(?m)^(?=## )", text)
    return "".join(p * times if " API" in p.splitlines()[0] else p for p in parts)


def _findings(db, kinds=("duplicate_section", "conflicting_sections")) -> list[str]:
    return [f["kind"] for f in query.findings(query.connect(db)) if f["kind"] in kinds]


def test_a_page_that_grew_by_duplication_is_rejected_unless_forced(ws):
    grown = _api_sections_repeated(CURRENT_EN, 20)
    before = (ws / "snapshots" / "sagemaker-roles.en.md").read_bytes()
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(grown))
        code, report, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        p = one_page(report)
        assert code == 1 and p["status"] == "failed", err
        assert "grew by duplication or conflict" in p["reason"] and "duplicate_section" in p["reason"]
        assert (ws / "snapshots" / "sagemaker-roles.en.md").read_bytes() == before  # nothing written
        assert _findings(ws / "kb.db") == []
        code, report, err = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en", "--force")
        assert code == 0 and one_page(report)["status"] == "changed", err
    found = _findings(ws / "kb.db")
    assert found and set(found) == {"duplicate_section"}


def test_a_section_documenting_an_api_differently_is_a_conflict_and_is_rejected(ws):
    start = CURRENT_EN.index("## CreateImage and UpdateImage APIs")
    end = CURRENT_EN.index("\n## ", start + 1)
    section = CURRENT_EN[start:end]
    changed = section.replace('"ecr:BatchGetImage",', '"ecr:BatchGetImage",\n                "s3:DeleteBucket",', 1)
    assert changed != section
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(CURRENT_EN[:end] + "\n\n" + changed + CURRENT_EN[end:]))
        code, report, _ = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
        p = one_page(report)
        assert code == 1 and "conflicting_sections" in p["reason"]
        code, report, _ = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en", "--force")
        assert code == 0
    assert _findings(ws / "kb.db") == ["conflicting_sections"]


def test_a_run_that_fails_whatever_failed_is_logged_as_failed(ws, monkeypatch):
    def broken_build(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded (a stand-in for any crash)")

    monkeypatch.setattr(refresh_module, "build", broken_build)
    facts = sqlite3.connect(ws / "kb.db").execute("select count(*) from statement").fetchone()
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(CURRENT_EN + "\nOne more paragraph.\n"))
        with pytest.raises(RecursionError):
            refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
    conn = sqlite3.connect(ws / "kb.db")
    status, = conn.execute("select status from refresh_run order by id desc limit 1").fetchone()
    reason, = conn.execute("select reason from refresh_page order by id desc limit 1").fetchone()
    assert status == "failed" and "RecursionError" in reason
    assert conn.execute("select count(*) from statement").fetchone() == facts


def test_a_page_whose_reading_crashes_fails_alone(ws, monkeypatch):
    def crash(*args, **kwargs):
        raise RecursionError("deep")

    monkeypatch.setattr(refresh_module, "read_page", crash)
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(CURRENT_EN + "\nOne more paragraph.\n"))
        code, report, _ = refresh(ws, "--source", srv.url(EN_HTML), "--lang", "en")
    assert code == 1 and one_page(report)["status"] == "failed" and "RecursionError" in one_page(report)["reason"]
    status, = sqlite3.connect(ws / "kb.db").execute("select status from refresh_run order by id desc").fetchone()
    assert status == "failed"


def _git_status_data() -> str:
    return subprocess.run(["git", "status", "--porcelain", "data/"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def test_refresh_of_a_kb_elsewhere_leaves_the_repository_data_alone(tmp_path):
    assert _git_status_data() == "", "data/ was not clean before the test"
    saved = {p: p.read_bytes() for p in [DATA / "sources.toml", *(DATA / "snapshots").iterdir()]}
    other = tmp_path / "other.db"
    try:
        code, _, err = ingest("build", "--db", other)
        assert code == 0, err
        with LoopbackServer() as srv:
            srv.route(EN_MD, page(CURRENT_EN + "\nA paragraph AWS added.\n"))
            code, out, err = ingest("refresh", "--db", other, "--source", srv.url(EN_HTML), "--lang", "en", "--json")
        assert code == 0, err
        assert '"status": "changed"' in out and '"snapshot": null' in out
        assert _git_status_data() == ""
        text = query.connect(other).execute("select group_concat(body, ' ') from section").fetchone()[0]
        assert "A paragraph AWS added." in text  # the KB elsewhere has the new text all the same
    finally:
        for path, data in saved.items():  # never leave the repository dirty, even when this test fails
            if not path.is_file() or path.read_bytes() != data:
                path.write_bytes(data)
