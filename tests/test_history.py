"""The page's history: versions dated from the shipped revisions, `kb timeline`, the change log
between versions, the canned queries, and `ingest history DIR`. Facts labelled by reading the 17
revision files in data/history/sagemaker-roles/en and the current snapshot."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tomllib
from pathlib import Path

import pytest

from ingest.revisions import skip_repeated_revisions
from ingest.sources import history_sources
from kb import history as changelog
from kb import query
from tests.test_refresh import BIN, HISTORY, build, ingest, make_workspace

QUERIES = Path(__file__).resolve().parent.parent / "queries"
REVISIONS = sorted(p.stem for p in HISTORY.glob("20*.md"))


def _timeline(conn, subject, condition=None, lang="en"):
    t = changelog.timeline(conn, subject, condition, lang)
    present = [v["label"] for v in t["versions"] if v["present"]]
    return t, present


def test_every_revision_and_the_current_page_is_a_dated_version(conn):
    rows = conn.execute("select label, version_date, date_source, is_current from page_version "
                        "where lang = 'en' and page_key = 'sagemaker-roles' order by ord").fetchall()
    assert [r["label"] for r in rows[:-1]] == REVISIONS  # 17, 2020-11-02 … 2023-03-10, none skipped
    assert [r["version_date"] for r in rows[:-1]] == [r[:10] for r in REVISIONS]
    assert rows[-1]["is_current"] and not any(r["is_current"] for r in rows[:-1])
    # The current page is dated by the source list's `retrieved`, not by a clone's file dates.
    declared = tomllib.loads((HISTORY.parents[2] / "sources.toml").read_text(encoding="utf-8"))["page"]
    assert (rows[-1]["version_date"], rows[-1]["date_source"]) == (
        next(p["retrieved"] for p in declared if p["lang"] == "en"), "snapshot_retrieved")
    assert conn.execute("select count(*) from page_version where lang = 'ja' and page_key = 'sagemaker-roles'").fetchone()[0] == 1


def test_a_revision_returning_to_older_text_is_kept_and_a_repeat_is_skipped(tmp_path):
    # 2022-03-11 has the very text of 2022-02-15 (it undoes 2022-03-04): a version, not a repeat.
    kept, skipped = skip_repeated_revisions(history_sources(HISTORY, "en"))
    assert len(kept) == 17 and skipped == []
    for name in ("2023-02-18_e83cf46.md", "2023-03-10_0a58b94.md"):
        shutil.copy(HISTORY / name, tmp_path / name)
    shutil.copy(HISTORY / "2023-02-18_e83cf46.md", tmp_path / "2023-02-20_0000000.md")
    kept, skipped = skip_repeated_revisions(history_sources(tmp_path, "en"))
    assert [s.revision for s in kept] == ["2023-02-18_e83cf46", "2023-03-10_0a58b94"]
    assert [(s.revision, same.revision) for s, same in skipped] == [("2023-02-20_0000000", "2023-02-18_e83cf46")]


def test_timeline_of_createprocessingjobs_vpc_addition(conn):
    """"If you specify a private VPC for your processing job" is in every revision from the first
    (2020-11-02, line 528, where the snippet is cut short and repaired) to the current page."""
    t, present = _timeline(conn, "CreateProcessingJob", "vpc")
    assert present == [*REVISIONS, t["versions"][-1]["label"]]
    assert t["first_seen"] == {"date": "2020-11-02", "label": "2020-11-02_2b764d9"}
    assert t["in_oldest_version"] and t["absent_before"] is None and t["present_now"]
    assert t["versions"][0]["actions"] == sorted(t["versions"][-1]["actions"])
    assert len(t["versions"][0]["actions"]) == 9


def test_timeline_of_the_domain_kms_key_is_unbroken(conn):
    """The CreateDomain KMS paragraph says "customer managed key (CMK) as the KmsKeyId" in four
    revisions (2020-12-10 … 2021-06-25) and "customer managed key as" later; both wordings
    are the same condition, present from CreateDomain's first section (2020-12-10) on."""
    t, present = _timeline(conn, "CreateDomain", "kms_domain")
    assert present == [*REVISIONS[1:], t["versions"][-1]["label"]]
    assert t["absent_before"]["label"] == "2020-11-02_2b764d9"


def test_timeline_of_the_guardrails_note(conn):
    """The deployment guardrails note (cloudwatch:DescribeAlarms) first appears in 2023-03-10."""
    t, present = _timeline(conn, "CreateModel", "guardrails")
    assert present == ["2023-03-10_0a58b94", t["versions"][-1]["label"]]
    assert t["first_seen"]["label"] == "2023-03-10_0a58b94"
    assert t["absent_before"]["label"] == "2023-02-18_e83cf46"
    assert t["versions"][-1]["actions"] == ["cloudwatch:DescribeAlarms"]


@pytest.mark.parametrize("api,named,documented", [
    # The 2020-11-02 PassRole paragraph already lists CreateAutoMLJob and CreateDomain; their
    # permissions sections come later.
    ("CreateDomain", "2020-11-02_2b764d9", "2020-12-10_9396034"),
    ("CreateAutoMLJob", "2020-11-02_2b764d9", "2021-06-25_f5bc5e7"),
    ("CreateProcessingJob", "2020-11-02_2b764d9", "2020-11-02_2b764d9"),
])
def test_timeline_of_an_api(conn, api, named, documented):
    t, _present = _timeline(conn, api)
    assert t["first_seen"]["label"] == named
    assert next(v["label"] for v in t["versions"] if v["documented"]) == documented
    assert t["versions"][0]["passes_role"] and t["present_now"]


@pytest.mark.parametrize("subject", ["CreateAutoMLJobV2", "UpdateNotebookInstance", "CreateFeatureGroup",
                                     "sagemaker:DescribeAlgorithm"])
def test_what_only_the_current_page_states(conn, subject):
    """No revision up to 2023-03-10 has a CreateAutoMLJobV2 section, UpdateNotebookInstance or
    CreateFeatureGroup in its PassRole list, or the AlgorithmArn sentence (sagemaker:DescribeAlgorithm)."""
    t, present = _timeline(conn, subject)
    assert present == [t["versions"][-1]["label"]]
    assert t["absent_before"]["label"] == "2023-03-10_0a58b94"


def test_the_japanese_page_has_one_version(conn):
    t, present = _timeline(conn, "CreateModel", lang="ja")
    assert len(t["versions"]) == 1 and present == [t["versions"][0]["label"]]


def test_timeline_errors_name_what_would_work(conn):
    with pytest.raises(query.KBError, match="did you mean CreateProcessingJob"):
        changelog.timeline(conn, "CreateProcesingJob")
    with pytest.raises(query.KBError, match="conditions seen: guardrails, vpc"):
        changelog.timeline(conn, "CreateModel", "kms_output")


def test_kb_timeline_answers_from_the_shipped_history(shipped_kb):
    out = subprocess.run([BIN / "kb", "--db", shipped_kb, "timeline", "CreateProcessingJob"], capture_output=True,
                         text=True, check=True).stdout
    assert out.splitlines()[0] == "CreateProcessingJob  (sagemaker-roles, en)"
    assert len(out.splitlines()) == 1 + 18 + 1
    assert "first seen 2020-11-02 (2020-11-02_2b764d9)" in out
    data = json.loads(subprocess.run([BIN / "kb", "--db", shipped_kb, "timeline", "CreateModel", "--condition",
                                      "guardrails", "--json"], capture_output=True, text=True, check=True).stdout)
    assert data["first_seen"]["date"] == "2023-03-10"
    bad = subprocess.run([BIN / "kb", "--db", shipped_kb, "timeline", "s3:GetObject", "--condition", "vpc"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("kb: ")


def _steps(conn) -> dict[str, set]:
    out = {}
    for t in changelog.changes(conn, lang="en")["transitions"]:
        out[t["to"]["label"]] = {(c["kind"], c["api"], c["condition"]) for c in t["changes"]}
    return out


def test_the_change_log_between_the_shipped_versions(conn):
    steps = _steps(conn)
    assert len(steps) == 17  # 16 between revisions, 1 from 2023-03-10 to the current page
    assert ("api_added", "CreateDomain", None) in steps["2020-12-10_9396034"]
    assert ("api_added", "CreateAutoMLJob", None) in steps["2021-06-25_f5bc5e7"]
    assert steps["2023-03-10_0a58b94"] == {("condition_added", "CreateModel", "guardrails")}
    current = steps[next(label for label in steps if label not in REVISIONS)]
    assert {("api_added", "CreateAutoMLJobV2", None), ("passrole_added", "UpdateNotebookInstance", None),
            ("passrole_added", "CreateFeatureGroup", None), ("condition_added", "CreateTrainingJob", "algorithm"),
            ("action_removed", "CreateImage", None), ("action_removed", "UpdateImage", None)} <= current
    # Placeholders written {{x}} by the .md endpoint and x by the older source are the same resource.
    s3 = [c for t in changelog.changes(conn, lang="en")["transitions"] for c in t["changes"]
          if c["kind"] == "resource_changed" and c["action"] == "s3:GetObject" and c["api"] == "CreateTrainingJob"]
    assert s3 == []
    # So are example regions and accounts: CreateDomain's key ARN went from region:account-id to
    # {{us-east-1}}:{{111122223333}} without changing; the ECR ARNs gained an account (it was empty).
    resources = {c["api"]: c for c in current_changes(conn) if c["kind"] == "resource_changed"}
    assert "CreateDomain" not in resources
    assert resources["CreateModel"]["before"] == ["arn:aws:ecr:region::repository/my-repo"]
    assert resources["CreateModel"]["after"] == ["arn:aws:ecr:{{us-east-1}}:111122223333:repository/{{my-repo}}"]


def current_changes(conn) -> list[dict]:
    return changelog.changes(conn, lang="en")["transitions"][-1]["changes"]


def test_kb_changes_since_a_date(shipped_kb):
    out = subprocess.run([BIN / "kb", "--db", shipped_kb, "changes", "--since", "2023-03-01"], capture_output=True,
                         text=True, check=True).stdout
    assert "2023-03-10  sagemaker-roles (en)  2023-02-18_e83cf46 → 2023-03-10_0a58b94  [revision]" in out
    assert "+ condition CreateModel [guardrails]: cloudwatch:DescribeAlarms" in out
    assert "+ API CreateAutoMLJobV2" in out
    dated = [line[:10] for line in out.splitlines() if line[:1].isdigit()]
    assert dated and all(d >= "2023-03-01" for d in dated)
    bad = subprocess.run([BIN / "kb", "--db", shipped_kb, "changes", "--since", "March"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr == "kb: 'March' is not a date (YYYY-MM-DD)\n"
    month = subprocess.run([BIN / "kb", "--db", shipped_kb, "changes", "--since", "2023-13-01"], capture_output=True,
                           text=True)
    assert month.returncode == 1 and month.stderr == "kb: '2023-13-01' is not a date (YYYY-MM-DD)\n"


def _canned(conn, name: str, **params):
    return query.run_canned(conn, name, **params)


def test_canned_timeline_query(conn):
    rows = _canned(conn, "timeline", subject="createmodel", condition="guardrails", lang="")
    assert [r["version"] for r in rows if r["present"]] == ["2023-03-10_0a58b94", rows[-1]["version"]]
    assert {(r["first_seen"], r["last_changed"]) for r in rows} == {("2023-03-10", "2023-03-10")}
    rows = _canned(conn, "timeline", subject="sagemaker:DescribeAlgorithm", condition="", lang="en")
    assert [(r["present"], r["apis"]) for r in rows][-2:] == [(0, None), (1, "CreateTrainingJob")]
    rows = _canned(conn, "timeline", subject="UpdateNotebookInstance", condition="", lang="en")
    assert [r["present"] for r in rows] == [0] * 17 + [1]


def test_canned_changes_query(conn):
    rows = _canned(conn, "changes", since="2023-03-01", lang="en", kind="")
    assert {(r["kind"], r["api"], r["condition"]) for r in rows} >= {
        ("condition_added", "CreateModel", "guardrails"), ("api_added", "CreateAutoMLJobV2", None)}
    assert all(r["date"] >= "2023-03-01" for r in rows)
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    guardrails = next(r for r in rows if r["condition"] == "guardrails")
    assert guardrails["source_url"].endswith("#sagemaker-roles-createmodel-perms")
    assert json.loads(guardrails["after"]) == {"both": ["cloudwatch:DescribeAlarms"]}
    apis = _canned(conn, "changes", since="", lang="", kind="api_*")
    assert [(r["api"], r["date"]) for r in apis if not r["api"].startswith("feature:")][1:] == [
        ("CreateAutoMLJob", "2021-06-25"), ("CreateDomain", "2020-12-10")]
    # the page's own S3 example (no API: the role of any request) came with the 2021-06-01 revision
    assert ("feature:sagemaker-roles", "2021-06-01") in [(r["api"], r["date"]) for r in apis]


def test_canned_queries_are_described_in_both_languages():
    meta = (QUERIES / "metadata.yml").read_text(encoding="utf-8")
    import yaml

    entries = yaml.safe_load(meta)
    for name, params in (("changes", ["since", "lang", "kind"]), ("timeline", ["subject", "condition", "lang", "page"])):
        assert set(entries[name]["title"]) == {"en", "ja"} and set(entries[name]["description"]) == {"en", "ja"}
        assert entries[name]["params"] == params


# --- `ingest history DIR` -------------------------------------------------------------------------


def test_ingest_history_registers_a_directory_skips_repeats_and_survives_builds(tmp_path):
    ws = make_workspace(tmp_path / "ws", with_history=False)
    build(ws)
    revs = ws / "more-history"
    revs.mkdir()
    for name in ("2022-12-09_53d2932.md", "2023-02-18_e83cf46.md", "2023-03-10_0a58b94.md"):
        shutil.copy(HISTORY / name, revs / name)
    shutil.copy(HISTORY / "2023-02-18_e83cf46.md", revs / "2023-02-20_0000000.md")  # a commit that changed nothing

    code, out, err = ingest("history", revs, "--lang", "en", "--db", ws / "kb.db", "--sources-file",
                            ws / "sources.toml", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["page_key"], report["registered"], report["revisions"]) == ("sagemaker-roles", True, 4)
    assert (report["versions_from_dir"], report["new_versions"]) == (3, 3)
    assert report["skipped_identical"] == [{"revision": "2023-02-20_0000000", "same_as": "2023-02-18_e83cf46"}]
    assert [v["label"] for v in report["versions"]][:3] == [
        "2022-12-09_53d2932", "2023-02-18_e83cf46", "2023-03-10_0a58b94"]
    assert len(report["versions"]) == 4
    assert [(t["from"], t["to"][:10]) for t in report["new_transitions"]][:2] == [
        ("2022-12-09_53d2932", "2023-02-18"), ("2023-02-18_e83cf46", "2023-03-10")]
    history = tomllib.loads((ws / "sources.toml").read_text(encoding="utf-8"))["history"]
    assert history == [{"key": "sagemaker-roles", "lang": "en",
                        "url": "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html",
                        "dir": "more-history", "format": "md"}]

    def guardrails():
        conn = query.connect(ws / "kb.db")
        t = changelog.timeline(conn, "CreateModel", "guardrails")
        conn.close()
        return t["first_seen"]["label"], t["absent_before"]["label"]

    assert guardrails() == ("2023-03-10_0a58b94", "2023-02-18_e83cf46")
    # Idempotent, and a plain build keeps the versions (the directory is in the source list now).
    code, out, _ = ingest("history", revs, "--db", ws / "kb.db", "--sources-file", ws / "sources.toml", "--json")
    assert code == 0
    again = json.loads(out)
    assert (again["registered"], again["in_source_list"], again["new_transitions"]) == (False, True, [])
    assert (again["versions_from_dir"], again["new_versions"]) == (3, 0)
    build(ws)
    assert guardrails() == ("2023-03-10_0a58b94", "2023-02-18_e83cf46")
    conn = sqlite3.connect(ws / "kb.db")
    assert conn.execute("select count(*) from refresh_run where command = 'history'").fetchone() == (2,)
    assert conn.execute("select count(*) from page_transition where lang = 'en'").fetchone() == (3,)


def test_ingest_history_refuses_a_directory_without_revisions(tmp_path):
    code, _, err = ingest("history", tmp_path, "--db", tmp_path / "kb.db")
    assert code == 1 and "no revision files named YYYY-MM-DD_<commit>.md" in err


def test_ingest_history_of_a_second_copy_adds_no_version_and_registers_nothing(tmp_path):
    """The corpus directory imported beside data/'s copy of the same 17 revisions."""
    ws = make_workspace(tmp_path / "ws")
    build(ws)
    copy = tmp_path / "corpus-history"
    shutil.copytree(HISTORY, copy)
    listed = (ws / "sources.toml").read_bytes()
    code, out, err = ingest("history", copy, "--db", ws / "kb.db", "--sources-file", ws / "sources.toml", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["versions_from_dir"], report["new_versions"], report["registered"]) == (0, 0, False)
    assert report["new_transitions"] == []
    assert [s["revision"] for s in report["skipped_identical"]] == REVISIONS
    assert all(s["same_as"] == s["revision"] and Path(s["same_as_file"]).parent == ws / "history" / "sagemaker-roles"
               / "en" for s in report["skipped_identical"])
    assert [v["label"] for v in report["versions"]][:-1] == REVISIONS  # 17 + the current page, not 34
    assert (ws / "sources.toml").read_bytes() == listed


def test_ingest_history_into_a_scratch_kb_leaves_the_shipped_source_list_alone(tmp_path):
    shipped = (HISTORY.parents[2] / "sources.toml").read_bytes()
    revs = tmp_path / "revs"
    revs.mkdir()
    # A revision the shipped history lacks: the current English text, dated before its snapshot.
    shutil.copy(HISTORY.parents[2] / "snapshots" / "sagemaker-roles.en.md", revs / "2024-06-01_abcdef0.md")
    code, out, err = ingest("history", revs, "--db", tmp_path / "kb.db", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["new_versions"], report["registered"], report["in_source_list"]) == (1, False, False)
    assert report["versions_from_dir"] == 1
    assert [v["label"] for v in report["versions"]][-2:-1] == ["2024-06-01_abcdef0"]
    assert (HISTORY.parents[2] / "sources.toml").read_bytes() == shipped
    code, _, err = ingest("history", revs, "--db", tmp_path / "kb.db")
    assert code == 0 and "--register" in err and "not in" in err


def test_a_missing_history_directory_is_one_line_and_the_kb_stays(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    build(ws)
    before = (ws / "kb.db").read_bytes()
    shutil.rmtree(ws / "history")
    code, _, err = ingest("build", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml")
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "the [[history]] directory 'history/sagemaker-roles/en' (sagemaker-roles, en) does not exist" in err
    assert (ws / "kb.db").read_bytes() == before
    code, _, err = ingest("build", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml", "--no-history")
    assert code == 0, err


def test_a_malformed_retrieved_date_is_refused(tmp_path):
    ws = make_workspace(tmp_path / "ws", with_history=False)
    text = (ws / "sources.toml").read_text(encoding="utf-8")
    (ws / "sources.toml").write_text(text.replace('retrieved = "', 'retrieved = "28/11/', 1), encoding="utf-8")
    code, _, err = ingest("build", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml")
    assert code == 1 and "is not a date written YYYY-MM-DD" in err and not (ws / "kb.db").exists()
