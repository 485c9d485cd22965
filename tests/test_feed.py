"""Told when the docs change: `ingest refresh --exit-code` for a scheduler, the change log as an Atom
feed at /-/changes.atom (read with feedparser), and the date of each page's last change on the home
page — after real refreshes against a loopback server playing the docs site (tests/test_refresh.py):
the current page → the 2022-12-09 revision → the current page again."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import feedparser
import pytest
from bs4 import BeautifulSoup

from kb import history, query
from kb.serve import make_datasette
from tests.fixtures.refresh.loopback import LoopbackServer, Reply, page
from tests.helpers import Client
from tests.test_refresh import CURRENT_EN, EN_HTML, EN_MD, REV_2022_12_09, build, ingest, make_workspace


def refresh(ws, url, *more):
    code, out, err = ingest("refresh", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml", "--source", url,
                            "--lang", "en", "--exit-code", "--json", *more)
    return code, json.loads(out), err


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """A KB (English page with its dated history) refreshed to the 2022-12-09 revision and back to the
    current page, with the exit status of every run."""
    ws = make_workspace(tmp_path_factory.mktemp("feed"), langs=("en",))
    build(ws)
    codes = {}
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(REV_2022_12_09, etag='"rev-2022-12-09"'))
        codes["to_2022"], codes["to_2022_report"], _ = refresh(ws, srv.url(EN_HTML))
        srv.route(EN_MD, page(CURRENT_EN, etag='"rev-current"'))
        codes["to_current"], codes["to_current_report"], _ = refresh(ws, srv.url(EN_HTML))
        codes["unchanged"], codes["unchanged_report"], _ = refresh(ws, srv.url(EN_HTML))
        srv.route(EN_MD, Reply(500, "oops", "text/plain"))
        codes["failed"], codes["failed_report"], _ = refresh(ws, srv.url(EN_HTML), "--retries", "0")
    return ws, codes


def test_exit_code_says_changed_unchanged_or_failed(refreshed):
    _, codes = refreshed
    assert (codes["to_2022"], codes["to_2022_report"]["pages"][0]["status"]) == (3, "changed")
    assert (codes["to_current"], codes["to_current_report"]["pages"][0]["status"]) == (3, "changed")
    assert (codes["unchanged"], codes["unchanged_report"]["pages"][0]["status"]) == (0, "unchanged")
    assert (codes["failed"], codes["failed_report"]["pages"][0]["status"]) == (1, "failed")


def test_without_the_option_a_change_exits_0(tmp_path):
    ws = make_workspace(tmp_path, langs=("en",), with_history=False)
    build(ws)
    with LoopbackServer() as srv:
        srv.route(EN_MD, page(REV_2022_12_09))
        code, out, err = ingest("refresh", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml",
                                "--source", srv.url(EN_HTML), "--lang", "en", "--json")
    assert code == 0 and json.loads(out)["pages"][0]["status"] == "changed", err


@pytest.fixture(scope="module")
def client(refreshed):
    c = Client(make_datasette(refreshed[0] / "kb.db"))
    yield c
    c.close()


def feed(client, **params):
    r = client.get("/-/changes.atom" + ("?" + urlencode(params) if params else ""))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_the_feed_lists_the_refresh_from_2022_12_09_to_the_current_page(client, refreshed):
    parsed = feed(client)
    assert parsed.version == "atom10"
    assert parsed.feed.title == "SageMaker execution role permissions: changes to the pages"
    newest = parsed.entries[0]
    log = history.changes(query.connect(refreshed[0] / "kb.db"))
    step = [t for t in log["transitions"] if t["origin"] == "refresh"][-1]
    # the step from the text of the 2022-12-09 revision (the dated revision's own hash) to the current page
    revision = next(t for t in log["transitions"] if t["to"]["label"] == "2022-12-09_53d2932")
    assert step["from"]["sha256"] == revision["to"]["sha256"] and step["to"]["sha256"] != step["from"]["sha256"]
    assert newest.tags[0].term == "refresh"
    assert newest.title == (f"sagemaker-roles (English): {step['from']['date'][:10]} → {step['to']['date'][:10]}, "
                            f"{len(step['changes'])} changes")
    # the facts the current page has and the 2022-12-09 revision lacks (tests/test_refresh.py reads them)
    lines = newest.summary.split("\n")
    assert "+ iam:PassRole to UpdateNotebookInstance" in lines
    assert "+ condition CreateTrainingJob [algorithm]: sagemaker:DescribeAlgorithm" in lines
    assert "- CreateImage [main policy, default]: iam:PassRole" in lines
    assert any(line.startswith("+ API CreateAutoMLJobV2: ") for line in lines)
    # one line per line of `kb changes`, each change linking the section it was read in
    assert lines == history.summarize(step["changes"])
    content = BeautifulSoup(newest.content[0].value, "lxml")
    assert [li.get_text().split(" — ")[0] for li in content.select("li")] == lines
    assert "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createtrainingjob-perms" \
        in {a["href"] for a in content.select("a")}
    assert newest.link == "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
    # the way there (current → 2022-12-09) is the entry before, the dated revisions after it
    back = parsed.entries[1]
    assert back.tags[0].term == "refresh" and back.title.endswith(f", {len(log['transitions'][-2]['changes'])} changes")
    assert any(line.startswith("- API CreateAutoMLJobV2: ") for line in back.summary.split("\n"))
    assert {e.tags[0].term for e in parsed.entries[2:]} == {"revision"}
    assert [e.updated_parsed for e in parsed.entries] == sorted((e.updated_parsed for e in parsed.entries), reverse=True)
    assert len({e.id for e in parsed.entries}) == len(parsed.entries)


def test_api_and_page_narrow_the_feed(client):
    everything = feed(client)
    training = feed(client, api="createtrainingjob")  # any case, as the CLI takes it
    assert training.feed.title.endswith(" · CreateTrainingJob")
    assert 0 < len(training.entries) < len(everything.entries)
    for entry in training.entries:
        assert all("CreateTrainingJob" in line for line in entry.summary.split("\n")), entry.summary
    assert "+ condition CreateTrainingJob [algorithm]: sagemaker:DescribeAlgorithm" in training.entries[0].summary
    assert [e.id for e in feed(client, page="sagemaker-roles").entries] == [e.id for e in everything.entries]
    assert feed(client, lang="ja").entries == []  # the Japanese page has one version: no change logged
    assert feed(client, lang="ja").feed.title == "SageMaker 実行ロールのアクセス許可: ページの変更"


@pytest.mark.parametrize("params,message", [
    ({"api": "CreateModle"}, "no API 'CreateModle' in this KB's change log or pages (did you mean CreateModel?)"),
    ({"page": "sagemaker-role"}, "no page 'sagemaker-role' in the change log (did you mean sagemaker-roles?)"),
    ({"lang": "fr"}, "no language 'fr' in this KB"),
])
def test_the_feed_refuses_what_it_does_not_know(client, params, message):
    r = client.get("/-/changes.atom?" + urlencode(params))
    assert r.status_code == 400 and message in r.json()["error"]


def test_entry_ids_survive_a_rebuild(refreshed, tmp_path):
    ws, _ = refreshed
    first = Client(make_datasette(ws / "kb.db"))
    try:
        before = [e.id for e in feedparser.parse(first.get("/-/changes.atom").content).entries]
    finally:
        first.close()
    copy = tmp_path / "kb.db"
    copy.write_bytes((ws / "kb.db").read_bytes())
    code, _, err = ingest("build", "--db", copy, "--sources-file", ws / "sources.toml")
    assert code == 0, err
    c = Client(make_datasette(copy))
    try:
        assert [e.id for e in feedparser.parse(c.get("/-/changes.atom").content).entries] == before
    finally:
        c.close()


def test_the_home_page_dates_each_pages_last_change_and_links_the_feed(client, refreshed):
    log = history.changes(query.connect(refreshed[0] / "kb.db"))
    last = [t for t in log["transitions"] if t["changes"]][-1]
    soup = BeautifulSoup(client.get("/?lang=en").text, "lxml")
    item = soup.select_one('.page-changes li[data-lang="en"]').get_text()
    assert item == (f"sagemaker-roles (English): last change to its facts {last['to']['date'][:10]} "
                    f"({len(last['changes'])} changes)")
    assert soup.select_one("a.feed-link")["href"] == "/-/changes.atom"
    assert soup.select_one('link[rel="alternate"][type="application/atom+xml"]')["href"] == "/-/changes.atom"


def test_in_japanese_and_for_a_page_without_a_logged_change(kb_db):
    """The shipped KB: the English page's last change is its step from the 2023-03-10 revision to the
    current page; the Japanese page has one version, so no change is logged."""
    conn = query.connect(kb_db)
    last = [t for t in history.changes(conn, lang="en")["transitions"] if t["changes"]][-1]
    assert last["from"]["label"] == "2023-03-10_0a58b94" and last["to"]["label"] == conn.execute(
        "select label from page_version where lang = 'en' and is_current").fetchone()[0]
    known = conn.execute("select version_date from page_version where lang = 'ja'").fetchone()[0]
    c = Client(make_datasette(kb_db))
    try:
        soup = BeautifulSoup(c.get("/?lang=ja").text, "lxml")
        assert soup.select_one('.page-changes li[data-lang="en"]').get_text() == \
            f"sagemaker-roles (English): 事実の最終変更 {last['to']['date'][:10]} (変更 {len(last['changes'])} 件)"
        assert soup.select_one('.page-changes li[data-lang="ja"]').get_text() == \
            f"sagemaker-roles (日本語): {known[:10]} 以降、変更の記録はありません"
        # the guide's pages, read once, are counted, not listed one by one
        others = conn.execute("select count(*) from page where is_current").fetchone()[0] - 2
        assert soup.select_one(".pages-unchanged").get_text() == \
            f"その他 {others} ページ: 一度読み込んだのみで、変更の記録はまだありません。"
        assert soup.select_one("a.feed-link").get_text() == "変更の Atom フィード"
    finally:
        c.close()
