"""`ingest build` end to end: history revisions, broken snippets, unknown conditions, and the
guarantee that a failed build never replaces a good KB."""

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.build import build
from ingest.sources import DATA_DIR, Source, SourceError, history_sources
from ingest.store import BuildError
from kb import query
from tests import expectations as X

CURRENT_EN = DATA_DIR / "snapshots" / "sagemaker-roles.en.md"
HISTORY = DATA_DIR / "history" / "sagemaker-roles" / "en"


def _api_sections(db: Path) -> dict[str, set[str]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("""select p.revision, m.api_name from api_mention m join page p on p.id = m.page_id
                           where m.context = 'section'""").fetchall()
    out: dict[str, set[str]] = {}
    for rev, api in rows:
        out.setdefault(rev, set()).add(api)
    return out


def test_every_history_revision_builds_with_its_api_sections(tmp_path):
    db = tmp_path / "kb.db"
    sources = history_sources(HISTORY, "en")
    # History pages alone: none is current, so they must still pass the sanity check.
    build(sources, db)
    assert _api_sections(db) == X.HISTORY_APIS


def test_truncated_snippets_in_old_revisions_are_repaired_and_flagged(tmp_path):
    db = tmp_path / "kb.db"
    build([s for s in history_sources(HISTORY, "en") if s.revision == "2020-11-02_2b764d9"], db)
    conn = sqlite3.connect(db)
    repaired = conn.execute("""select f.subject, f.line, s.anchor from finding f join section s on s.id = f.section_id
                               where f.kind = 'repaired_json' order by f.line""").fetchall()
    # The VPC additions of CreateProcessingJob, CreateTrainingJob and CreateModel stop after
    # their last action, without `]` and `}` (lines 531-543, 675-687, 805-817 of the file).
    assert [(line, anchor) for _, line, anchor in repaired] == [
        (542, "sagemaker-roles-createprocessingjob-perms"),
        (686, "sagemaker-roles-createtrainingjob-perms"),
        (816, "sagemaker-roles-createmodel-perms"),
    ]
    vpc = conn.execute("""select count(distinct sa.action) from requirement r
        join statement st on st.snippet_id = r.snippet_id join statement_action sa on sa.statement_id = st.id
        where r.api_name = 'CreateModel' and r.condition_key = 'vpc'""").fetchone()[0]
    assert vpc == len(X.VPC)


def _variant(tmp_path: Path, old: str, new: str, name="page.en.md") -> Path:
    text = CURRENT_EN.read_text(encoding="utf-8")
    assert old in text, "the page no longer prints the text this test changes"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _requirement_table(db: Path) -> set:
    conn = query.connect(db)
    return {(r["api"], r["condition"], r["variant"], r["action"]) for r in
            conn.execute("select api, condition, variant, action from requirement_rows where is_current")}


def test_invalid_json_snippet_gives_a_finding_and_keeps_every_other_fact(tmp_path):
    good, bad = tmp_path / "good.db", tmp_path / "bad.db"
    build([Source(str(CURRENT_EN), "en")], good)
    # Break the CreateModel VPC addition beyond repair: a value that is not JSON at all.
    broken = _variant(tmp_path, '{\n    "Effect": "Allow",\n    "Action": [\n        "ec2:CreateNetworkInterface",',
                      '{\n    "Effect": Allow please,\n    "Action": [\n        "ec2:CreateNetworkInterface",')
    build([Source(str(broken), "en")], bad)
    conn = query.connect(bad)
    invalid = query.findings(conn, kind="invalid_json")
    assert len(invalid) == 1
    f = invalid[0]
    assert (f["lang"], f["section"]) == ("en", "sagemaker-roles-autopilot-perms")
    lines = broken.read_text(encoding="utf-8").splitlines()
    assert "Allow please" in lines[f["line"] - 1]
    lost = _requirement_table(good) - _requirement_table(bad)
    assert lost == {(api, "vpc", None, a) for api in ("CreateAutoMLJob", "CreateAutoMLJobV2") for a in X.VPC}
    assert _requirement_table(bad) <= _requirement_table(good)


def test_extra_braces_around_a_policy_are_repaired_and_flagged(tmp_path):
    text = CURRENT_EN.read_text(encoding="utf-8")
    start = text.index("## CreateImage and UpdateImage APIs")
    fence = text.index("```\n{", start) + 4
    end = text.index("\n```", fence)
    page = tmp_path / "braces.en.md"
    page.write_text(text[:fence] + "{\n" + text[fence:end] + "\n}" + text[end:], encoding="utf-8")
    db = tmp_path / "kb.db"
    build([Source(str(page), "en")], db)
    conn = query.connect(db)
    repaired = query.findings(conn, kind="repaired_json")
    assert len(repaired) == 1 and "extra pair of braces" in repaired[0]["detail"]
    assert set(query.requirements(conn, "CreateImage")["actions"]) == X.IMAGE_EN


def test_a_condition_no_lexicon_knows_is_kept_unclassified(tmp_path):
    page = _variant(tmp_path, "If you specify a volume KMS key in the resource configuration of your training job",
                    "If you turn on managed spot training for your training job")
    db = tmp_path / "kb.db"
    build([Source(str(page), "en")], db)
    conn = query.connect(db)
    conds = {c["key"]: c for c in query.conditions(conn, "CreateTrainingJob")}
    assert "kms_volume" not in conds
    (key,) = [k for k in conds if not conds[k]["classified"]]
    assert key.startswith("unclassified_if_you_turn_on_managed_spot")
    got = query.requirements(conn, "CreateTrainingJob", [key])
    assert set(got["actions"]) == X.JOB_MAIN | {"kms:CreateGrant"}
    unclassified = query.findings(conn, kind="unclassified_condition")
    assert [f["subject"] for f in unclassified if f["section"] == "sagemaker-roles-createtrainingjob-perms"] == [
        "If you turn on managed spot training for your training job, add the following permissions:"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_page_without_permissions_is_a_normal_page_but_a_kb_without_any_fails(tmp_path):
    db = tmp_path / "kb.db"
    other = tmp_path / "other.en.md"
    other.write_text("# Some other page\n\nNothing about execution roles here.\n", encoding="utf-8")
    build([Source(str(CURRENT_EN), "en"), Source(str(other), "en")], db)
    conn = query.connect(db)
    assert conn.execute("select count(*) from page").fetchone()[0] == 2  # searchable, counted by kb coverage
    conn.close()
    before = _digest(db)
    with pytest.raises(BuildError, match="no page yields any execution-role permission"):
        build([Source(str(other), "en")], db)
    assert _digest(db) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kb.db.")]  # no temp file left


def test_missing_source_is_one_clear_line_and_keeps_the_old_kb(tmp_path):
    db = tmp_path / "kb.db"
    build([Source(str(CURRENT_EN), "en")], db)
    before = _digest(db)
    run = subprocess.run([sys.executable, "-m", "ingest", "build", "--db", str(db),
                          "--source", str(tmp_path / "gone.md"), "--lang", "en"], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "gone.md" in run.stderr and "left unchanged" in run.stderr
    assert _digest(db) == before
    with pytest.raises(SourceError):
        build([Source(str(tmp_path / "gone.md"), "en")], db)


def test_a_disk_that_refuses_the_new_file_is_one_line_and_keeps_the_old_kb(tmp_path, monkeypatch):
    """An I/O error while the new file goes to the disk (here fsync's EIO): one line, the old KB kept,
    and a check that fails at the same time is not hidden by it."""
    import errno
    import os

    from click.testing import CliRunner

    from ingest import store, swap
    from ingest.cli import main as ingest_main

    db = tmp_path / "kb.db"
    build([Source(str(CURRENT_EN), "en")], db)
    before = _digest(db)

    def eio(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(swap.os, "fsync", eio)
    run = CliRunner().invoke(ingest_main, ["build", "--db", str(db), "--source", str(CURRENT_EN), "--lang", "en",
                                           "--no-cache"])
    assert run.exit_code == 1 and run.output.count("\n") == 1, run.output
    assert "left unchanged" in run.output and "Input/output error" in run.output
    assert _digest(db) == before and not list(tmp_path.glob("kb.db.*.tmp"))
    with pytest.raises(BuildError, match="pages written"):  # the check's verdict, not the disk's
        swap.replace_atomically(lambda tmp: store.create_tables(tmp), tmp_path / "other.db", 3)


def test_a_language_without_a_lexicon_is_refused_before_anything_is_read(tmp_path):
    db = tmp_path / "kb.db"
    run = subprocess.run([sys.executable, "-m", "ingest", "build", "--db", str(db),
                          "--source", str(CURRENT_EN), "--lang", "fr"], capture_output=True, text=True)
    assert run.returncode == 1 and not db.exists()
    assert run.stderr == ("ingest: --lang fr: no lexicon for language 'fr': known are en, ja "
                          "(a new language is a new ingest/lexicon/fr.toml)\n")
    with pytest.raises(SourceError, match="no lexicon for language 'fr'"):  # a source list saying fr
        build([Source(str(CURRENT_EN), "fr")], db)


def test_build_from_explicit_sources_with_both_languages(tmp_path):
    db = tmp_path / "kb.db"
    run = subprocess.run([sys.executable, "-m", "ingest", "build", "--db", str(db),
                          "--source", str(CURRENT_EN), "--lang", "en",
                          "--source", str(DATA_DIR / "snapshots" / "sagemaker-roles.ja.txt"), "--lang", "ja"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    conn = query.connect(db)
    assert {r[0] for r in conn.execute("select lang from page")} == {"en", "ja"}
    # Japanese sections carry no anchors in plain text: aligned from the English page by their APIs.
    anchors = dict(conn.execute("select heading, anchor_source from section where anchor is not null "
                                "and page_id = (select id from page where lang = 'ja')").fetchall())
    assert anchors["CreateModel API: 実行ロールのアクセス許可"] == "aligned"
