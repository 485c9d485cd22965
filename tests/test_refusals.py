"""Every door refuses what the CLI refuses (issue 14, item 2): a canned query (JSON, CSV, its HTML
page), the home page, /-/policy and `kb requirements` answer a question naming what the KB does not
know — an API, a condition, a language, a page, a kind, a date — with the same sentence, every
problem named at once, and in JSON an error object; never an empty or a wrong answer. Against the
KB built from the shipped sources, served by a real Datasette."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup

from kb import query, roles
from kb.canned import load_queries

BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"
ASKED = {"api": "CreateModle", "conditions": "vcp", "lang": "fr"}
SAID = ("no language 'fr' in this KB; languages: en, ja; 'CreateModle' has no permissions section on any en page "
        "(did you mean CreateModel?); no en page documents the condition 'vcp' (did you mean vpc?) for any API")
# a value of each kind of parameter (queries/metadata.yml's `checks`) that the shipped KB does not know
BAD = {"lang": "fr", "page": "sagemaker-role", "page_any": "sagemaker-role", "page_versions": "sagemaker-role",
       "context": "CreateModle", "conditions": "vcp", "subject": "CreateModle", "subject_condition": "vcp",
       "finding_kind": "drfit", "change_kind": "api_addded", "date": "2023-13-01", "flag": "yes",
       "action": "ec2:DescribeVcps", "caller_api": "CreateTrainigJob"}


def test_the_issue_example_is_an_error_naming_all_three(client):
    r = client.get("/kb/requirements.json?" + urlencode(ASKED))
    assert r.status_code == 400
    body = r.json()
    assert (body["ok"], body["status"], body["error"]) == (False, 400, SAID)
    assert [(p["param"], p["value"], p["suggestion"]) for p in body["problems"]] == [
        ("lang", "fr", None), ("api", "CreateModle", "CreateModel"), ("conditions", "vcp", "vpc")]
    csv = client.get("/kb/requirements.csv?" + urlencode(ASKED))
    assert csv.status_code == 400 and csv.text == SAID + "\n"


def test_every_door_says_the_same_sentence(client, conn, kb_db):
    with pytest.raises(query.Invalid) as library:
        query.requirements(conn, "CreateModle", ["vcp"], lang="fr")
    cli = subprocess.run([BIN / "kb", "--db", kb_db, "requirements", "CreateModle", "--condition", "vcp", "--lang", "fr"],
                         capture_output=True, text=True)
    policy = client.get("/-/policy?" + urlencode(ASKED))
    page = client.get("/kb/requirements?" + urlencode(ASKED))
    home = client.get("/?" + urlencode(ASKED))
    assert str(library.value) == SAID and cli.returncode == 1 and cli.stderr == f"kb: {SAID}\n"
    assert policy.status_code == 400 and policy.json()["error"] == SAID
    assert page.status_code == 400 and home.status_code == 400
    assert BeautifulSoup(page.text, "lxml").select_one(".kb-refusal-message").get_text() == SAID
    home_soup = BeautifulSoup(home.text, "lxml")
    assert home_soup.select_one(".refusal .error").get_text() == SAID and not home_soup.select("#answer")


def test_the_canned_page_refuses_in_the_language_asked_with_what_would_answer(client):
    soup = BeautifulSoup(client.get("/kb/requirements?" + urlencode({**ASKED, "lang": "ja"})).text, "lxml")
    assert soup.select_one(".kb-refusal-message").get_text() == (
        "'CreateModle' のアクセス許可セクションは ja のどのページにもありません (もしかして CreateModel?); "
        "ja のページは、どの API についても条件 'vcp' (もしかして vpc?) を説明していません")
    assert soup.select_one("section.kb-refusal-body")["lang"] == "ja"
    marked = {i["name"] for i in soup.select("form.sql input.kb-invalid")}
    assert marked == {"api", "conditions"}
    # the link asks with the values the KB knows nearest; it answers
    fixed = soup.select_one(".kb-refusal-try a")["href"]
    assert {k: v[0] for k, v in parse_qs(urlsplit(fixed).query).items()} == {"api": "CreateModel", "conditions": "vpc",
                                                                              "lang": "ja"}
    answer = client.get(fixed.replace("/kb/requirements?", "/kb/requirements.json?") + "&_shape=array")
    assert answer.status_code == 200 and {r["condition"] for r in answer.json()} == {None, "vpc"}
    # a language at fault with nothing near it is left out of the link (the prevailing one answers)
    en = BeautifulSoup(client.get("/kb/requirements?" + urlencode(ASKED)).text, "lxml")
    assert parse_qs(urlsplit(en.select_one(".kb-refusal-try a")["href"]).query).get("lang") is None


def _cases():
    for name, q in load_queries().items():
        for param, kind in q["checks"].items():
            if kind != "text":
                yield name, param, kind


@pytest.mark.parametrize("name,param,kind", list(_cases()))
def test_every_checked_parameter_of_every_canned_query_refuses_an_unknown_value(client, name, param, kind):
    example = load_queries()[name]["example"]
    assert client.get(f"/kb/{name}.json?" + urlencode(example)).status_code == 200  # the example answers
    asked = {**example, param: BAD[kind]}
    if kind == "conditions":
        asked["api"] = asked.get("api") or "CreateModel"
    r = client.get(f"/kb/{name}.json?" + urlencode(asked))
    assert r.status_code == 400, (name, param, r.text)
    problems = r.json()["problems"]
    assert [p["param"] for p in problems] == [param] and problems[0]["value"] == BAD[kind], problems
    assert r.json()["error"] == problems[0]["error"]


def test_an_empty_parameter_asks_for_everything(client):
    assert client.get("/kb/requirements.json?api=CreateModel&conditions=&lang=&scoped=&page=").status_code == 200
    assert client.get("/kb/findings.json?lang=&kind=&page=").status_code == 200
    assert client.get("/kb/requirements").status_code == 200  # the form, nothing asked yet


def test_the_home_page_in_japanese_offers_every_role_context(client, conn):
    r = client.get("/?lang=ja")
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "lxml")
    assert [g["label"] for g in soup.select("#api optgroup")] == ["API", "機能 (API のないガイドのページ)"]
    offered = {o["value"]: o for o in soup.select("#api option") if o["value"]}
    assert {r["key"] for r in roles.roles(conn)} <= set(offered)
    # a feature only the English pages document: answered from them, and said so
    feature = client.get("/?" + urlencode({"lang": "ja", "api": "feature:data-wrangler-import"}))
    assert feature.status_code == 200
    answer = BeautifulSoup(feature.text, "lxml")
    assert answer.select_one("#answer-title").get_text().startswith("Import (data-wrangler-import) に必要なアクセス許可")
    assert answer.select_one(".note-prevailing_only").get_text() == (
        "日本語のページは Import (data-wrangler-import) を説明していません。英語のページの回答を、その言葉のまま"
        "示します (英語版が優先)。")


def test_the_policy_options_and_feed_refuse_the_same_way(client):
    options = client.get("/-/policy/options?lang=fr")
    assert options.status_code == 400 and options.json()["problems"][0]["param"] == "lang"
    feed = client.get("/-/changes.atom?" + urlencode({"lang": "fr", "api": "CreateModle"}))
    assert feed.status_code == 400
    assert [p["param"] for p in feed.json()["problems"]] == ["lang", "api"]
    assert json.dumps(feed.json(), ensure_ascii=False).count("did you mean CreateModel?") == 2  # error and problem


def test_a_huge_name_is_refused_without_a_suggestion_and_a_slip_still_gets_one():
    """The did-you-mean of every refusal: a swap of two letters is tried only for a name as long as
    some candidate (a 100,000-character name made 100,000 copies of itself)."""
    assert query.closest("vcp", ["vpc", "kms"]) == "vpc"
    assert query.closest("CreateModle", ["CreateModel", "CreateDomain"]) == "CreateModel"
    assert query.closest("Create" * 20000, ["CreateModel", "CreateDomain"]) is None
