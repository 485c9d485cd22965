"""The Datasette service in process (datasette.client): every canned query and page, against
facts labelled from the real pages (tests/expectations.py and the sets below) and against
kb.query, which answers `kb requirements`."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from ingest.build import build
from ingest.sources import Source
from kb import canned, query, roles
from kb.canned import QUERIES, load_queries
from kb.serve import make_datasette
from tests import expectations as X
from tests.helpers import Client

EN_URL = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
JA_URL = "https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles.html"
GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/"
CORPUS = Path("/work/shared/corpus/sagemaker-roles")
SNAPSHOTS = Path(__file__).resolve().parent.parent / "data" / "snapshots"

# Read on the pages (tests/expectations.py): CreateModel's main policy prints 11 actions, its
# private-VPC paragraph 9 ec2 actions ("モデルにプライベート VPC を指定する場合は、次のアクセス許可を追加します。").
CREATE_MODEL_MAIN, CREATE_MODEL_VPC = X.MODEL_MAIN, X.VPC
JA_VPC_SENTENCE = "モデルにプライベート VPC を指定する場合は、次のアクセス許可を追加します。"

COLUMNS = {
    "requirements": ["api", "page_key", "lang", "variant", "condition", "condition_label", "statement_id", "effect",
                     "action",
                     "negated", "resource", "resource_given", "condition_block", "section_anchor", "heading",
                     "source_url", "source_text"],
    "apis": ["api", "doc_spelling", "heading", "section_anchor", "source_url", "has_scoped_variant", "conditions",
             "passes_role", "pages"],
    "conditions": ["api", "key", "label", "labels", "applies_to", "source_text", "heading", "section_anchor",
                   "source_url"],
    "apis_for_action": ["api", "page_key", "condition", "condition_label", "variant", "action", "page_grants_wildcard",
                        "heading",
                        "section_anchor", "source_url", "source_text"],
    "scoping": ["api", "actions", "request_api", "field", "in_api_model", "suggested_field", "source_text", "heading",
                "section_anchor", "source_url"],
    "passrole_apis": ["api", "page_spelling", "has_permissions_section", "heading", "section_anchor", "source_url"],
    "search": ["lang", "page_key", "heading", "section_anchor", "source_url", "snippet", "rank"],
    "findings": ["kind", "severity", "subject", "detail", "lang", "page_key", "heading", "section_anchor", "source_url",
                 "line"],
    "drift": ["lang", "page_key", "api", "condition", "variant", "differs", "only_prevailing", "only_translation",
              "prevailing_actions", "translation_actions", "prevailing_heading", "translation_heading",
              "prevailing_text", "translation_text", "prevailing_url", "translation_url"],
}


def allowed(rows):
    return {r["action"] for r in rows if r["effect"] == "Allow" and not r["negated"]}


# ---- every canned query ----------------------------------------------------------------------

def test_the_canned_queries_are_the_sql_files():
    assert set(load_queries()) == {p.stem for p in QUERIES.glob("*.sql")}
    assert set(COLUMNS) <= set(load_queries())


@pytest.mark.parametrize("name", list(load_queries()))
def test_each_canned_query_answers_its_example_with_its_columns(client, name):
    example = load_queries()[name]["example"]
    r = client.get(f"/kb/{name}.json?" + urlencode(example))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["ok"] and data["database"] == "kb" and data["query_name"] == name
    if name in COLUMNS:  # other queries in queries/ are their authors' to test
        assert data["columns"] == COLUMNS[name]
    assert data["rows"], f"{name} answered nothing for its own example {example}"


@pytest.mark.parametrize("name", list(load_queries()))
def test_each_canned_query_page_shows_its_sql_and_both_titles(client, name):
    q = load_queries()[name]
    r = client.get(f"/kb/{name}?" + urlencode(q["example"]))
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "lxml")
    # the SQL is folded away (hide_sql): the form comes first, a link shows the SQL
    assert soup.select_one("pre#sql-query") is None and soup.select_one(".show-hide-sql a").get_text() == "show"
    shown = BeautifulSoup(client.get(f"/kb/{name}?" + urlencode({**q["example"], "_show_sql": 1})).text, "lxml")
    assert shown.select_one("pre#sql-query").get_text() == q["sql"]
    assert q["title"]["en"] in soup.h1.get_text() and q["title"]["ja"] in soup.h1.get_text()
    assert soup.select_one('p[lang="ja"]').get_text() == q["description"]["ja"]
    # the parameters are a form, never text spliced into the SQL
    assert {i["name"] for i in soup.select("form.sql input[type=text]")} == set(q["params"])
    for param in q["params"]:
        assert f":{param}" in q["sql"]


def test_the_database_page_lists_every_canned_query(client):
    soup = BeautifulSoup(client.get("/kb").text, "lxml")
    linked = {a["href"].rsplit("/", 1)[-1] for a in soup.select("a[href^='/kb/']")}
    assert set(load_queries()) <= linked


# ---- requirements: the JSON API --------------------------------------------------------------

def test_create_model_with_vpc_in_japanese(client):
    rows = client.rows("requirements", api="CreateModel", conditions="vpc", lang="ja", page=X.ROLES)
    assert allowed(rows) == CREATE_MODEL_MAIN | CREATE_MODEL_VPC
    assert len(rows) == 20  # one row per statement × action × resource: all on "*" or none given
    assert {r["source_url"] for r in rows} == {JA_URL + "#sagemaker-roles-createmodel-perms"}
    assert {r["heading"] for r in rows} == {"CreateModel API: 実行ロールのアクセス許可"}
    vpc = [r for r in rows if r["condition"] == "vpc"]
    assert {r["action"] for r in vpc} == CREATE_MODEL_VPC
    assert {r["source_text"] for r in vpc} == {JA_VPC_SENTENCE}
    assert {r["condition_label"] for r in vpc} == {"プライベート VPC (VpcConfig)"}
    assert {r["resource_given"] for r in vpc} == {0}  # the page's VPC statement has no Resource


def test_the_json_api_answers_what_kb_requirements_answers(client, kb_db):
    run = subprocess.run([sys.executable, "-m", "kb", "--db", str(kb_db), "requirements", "CreateModel",
                          "--condition", "vpc", "--lang", "ja", "--json"], capture_output=True, text=True, check=True)
    rows = client.rows("requirements", api="CreateModel", conditions="vpc", lang="ja", page=X.ROLES)
    assert allowed(rows) == set(json.loads(run.stdout)["actions"])


def _matrix():
    for lang, apis in (("en", X.EN), ("ja", X.JA)):
        for api, facts in apis.items():
            base = [facts["main_condition"]] if "main_condition" in facts else []
            for scoped in (False, True):
                for extra in [[]] + [[k] for k in facts["conditions"]] + [list(facts["conditions"])]:
                    yield lang, api, base + extra, scoped


@pytest.mark.parametrize("lang,api,conditions,scoped", list(_matrix()),
                         ids=lambda v: ",".join(v) if isinstance(v, list) else str(v))
def test_every_api_condition_and_variant_matches_the_labels_and_kb_query(client, conn, lang, api, conditions, scoped):
    facts = (X.EN if lang == "en" else X.JA)[api]
    rows = client.rows("requirements", api=api, conditions=",".join(conditions), lang=lang, scoped=int(scoped),
                       page=X.ROLES)
    main = (facts["scoped"] or facts["default"]) if scoped else facts["default"]
    expected = main | set().union(*(facts["conditions"].get(k, set()) for k in conditions))
    assert allowed(rows) == expected
    assert allowed(rows) == set(query.requirements(conn, api, conditions, scoped, lang, X.ROLES)["actions"])
    assert {r["variant"] for r in rows} <= {"scoped" if scoped and facts["scoped"] else "default", None}


def test_create_image_carries_iam_passrole_on_the_japanese_page_only(client):
    ja = client.rows("requirements", api="CreateImage", lang="ja", page=X.ROLES)
    en = client.rows("requirements", api="CreateImage", lang="en", page=X.ROLES)
    assert allowed(ja) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "iam:PassRole"}
    assert allowed(en) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    passrole = next(r for r in ja if r["action"] == "iam:PassRole")
    assert json.loads(passrole["condition_block"]) == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_scoped_uses_the_scoped_variant_or_falls_back(client):
    scoped = client.rows("requirements", api="CreateModel", lang="en", scoped="1", page=X.ROLES)
    assert allowed(scoped) == CREATE_MODEL_MAIN - {"s3:ListBucket"}
    assert {r["variant"] for r in scoped} == {"scoped"}
    assert ("s3:GetObject", "arn:aws:s3:::{{inputbucket}}/{{object}}") in {(r["action"], r["resource"]) for r in scoped}
    fallback = client.rows("requirements", api="CreateImage", lang="en", scoped="1", page=X.ROLES)
    assert {r["variant"] for r in fallback} == {"default"} and allowed(fallback) == X.IMAGE_EN


def test_api_is_matched_case_insensitively_and_unknowns_are_refused(client):
    exact = client.rows("requirements", api="CreateModel", conditions="vpc", lang="ja", page=X.ROLES)
    assert client.rows("requirements", api="createmodel", conditions="vpc", lang="ja", page=X.ROLES) == exact
    # what the KB does not know is refused as `kb requirements` refuses it, never an empty answer
    for params, problem in [({"api": "NoSuchApi", "lang": "en"}, "api"), ({"api": "CreateModel", "lang": "fr"}, "lang"),
                            ({"api": "CreateModel", "conditions": "vpc,vp", "lang": "ja"}, "conditions")]:
        r = client.get("/kb/requirements.json?" + urlencode({**params, "page": X.ROLES}))
        assert r.status_code == 400 and r.json()["ok"] is False, r.text
        assert [p["param"] for p in r.json()["problems"]] == [problem]
    near = client.get("/kb/requirements.json?" + urlencode({"api": "CreateModel", "conditions": "vpc,vp", "lang": "ja"}))
    assert near.json()["problems"][0]["suggestion"] == "vpc"


def test_a_parameter_the_query_does_not_take_is_refused_not_ignored(client):
    # `condition=vpc` for `conditions=vpc` was answered with the main policy alone, as if asked nothing
    r = client.get("/kb/requirements.json?" + urlencode({"api": "CreateModel", "condition": "vpc", "_shape": "array"}))
    assert r.status_code == 400, r.text
    assert r.json()["problems"] == [{
        "param": "parameter", "value": "condition", "suggestion": "conditions",
        "error": "the query requirements takes no parameter 'condition' (did you mean conditions?); its parameters: "
                 "api, conditions, lang, scoped, page"}]
    ja = client.get("/kb/requirements.json?" + urlencode({"api": "CreateModel", "condition": "vpc", "lang": "ja"}))
    assert ja.json()["error"].startswith("クエリ requirements にパラメーター 'condition' はありません")
    page = client.get("/kb/requirements?" + urlencode({"api": "CreateModel", "condition": "vpc"}))
    assert page.status_code == 400 and "takes no parameter &#39;condition&#39;" in page.text
    # Datasette's own arguments (`_shape`, `_size`, …) are its business
    assert client.get("/kb/requirements.json?" + urlencode({"api": "CreateModel", "_shape": "array", "_size": "5"})
                      ).status_code == 200


def test_lang_defaults_to_english_and_a_resource_printed_twice_is_one_row(client):
    rows = client.rows("requirements", api="CreateModel", scoped="1", page=X.ROLES)
    assert {r["lang"] for r in rows} == {"en"}
    ecr = [(r["statement_id"], r["action"], r["resource"]) for r in rows if r["action"].startswith("ecr:Batch")]
    assert len(ecr) == len(set(ecr)) == 2


# ---- the other canned queries ----------------------------------------------------------------

def test_apis_for_action_with_a_wildcard(client):
    rows = client.rows("apis_for_action", action="ec2:Describe*", lang="en", page=X.ROLES)
    vpc_apis = {"CreateAutoMLJob", "CreateAutoMLJobV2", "CreateHyperParameterTuningJob", "CreateProcessingJob",
                "CreateTrainingJob", "CreateModel"}
    assert {(r["api"], r["condition"]) for r in rows} == {(a, "vpc") for a in vpc_apis} | {("CreateNotebookInstance", None)}
    # the notebook's main policy prints ec2:DescribeRouteTables; its scoped variant has no ec2 action
    assert {(r["action"], r["variant"]) for r in rows if r["api"] == "CreateNotebookInstance"} == {
        ("ec2:DescribeRouteTables", "default")}
    assert {r["action"] for r in rows} == {a for a in X.VPC | X.NOTEBOOK_MAIN if a.startswith("ec2:Describe")}


def test_apis_for_action_counts_a_wildcard_the_page_grants(client):
    rows = client.rows("apis_for_action", action="SageMaker:createmodel", lang="ja", page=X.ROLES)
    by_api = {(r["api"], r["action"], r["page_grants_wildcard"]) for r in rows}
    assert by_api == {("CreateAutoMLJob", "sagemaker:CreateModel", 0), ("CreateNotebookInstance", "sagemaker:*", 1)}
    assert {r["heading"] for r in rows if r["api"] == "CreateAutoMLJob"} == {"CreateAutoMLJob API: 実行ロールのアクセス許可"}
    assert client.rows("apis_for_action", action="", lang="en", page=X.ROLES) == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_scoping_per_api(client, lang):
    for api, expected in X.SCOPING.items():
        rows = client.rows("scoping", api=api, lang=lang, page=X.ROLES)
        got = [(r["request_api"], r["field"], r["actions"].split() if r["actions"] else []) for r in rows]
        assert got == expected, api
    model = {r["field"]: r for r in client.rows("scoping", api="CreateModel", lang=lang, page=X.ROLES)}
    assert model["SecondaryContainer.Image"]["in_api_model"] == 0
    assert model["PrimaryContainer.Image"]["in_api_model"] == 1


@pytest.mark.parametrize("lang,expected", [("en", X.PASSROLE_EN), ("ja", X.PASSROLE_JA)])
def test_passrole_apis(client, lang, expected):
    rows = client.rows("passrole_apis", lang=lang, page=X.ROLES)
    assert [r["api"] for r in rows] == sorted(expected)
    assert [(r["api"], r["page_spelling"]) for r in rows if r["page_spelling"]] == [
        ("CreateFlowDefinition", "CreateFlowDefiniton")]
    assert {r["source_url"] for r in rows} == {(EN_URL if lang == "en" else JA_URL) + "#sagemaker-roles-pass-role"}


def test_conditions_per_api_with_both_labels(client):
    ja = client.rows("conditions", api="CreateTrainingJob", lang="ja", page=X.ROLES)
    assert [r["key"] for r in ja] == ["vpc", "kms_input", "kms_output", "kms_volume"]  # no AlgorithmArn on ja
    vpc = ja[0]
    assert vpc["label"] == "プライベート VPC (VpcConfig)"
    assert json.loads(vpc["labels"]) == {"en": "Private VPC (VpcConfig)", "ja": "プライベート VPC (VpcConfig)"}
    en = client.rows("conditions", api="CreateTrainingJob", lang="en", page=X.ROLES)
    # in the page's order: the AlgorithmArn paragraph comes before the VPC one
    assert [r["key"] for r in en] == ["algorithm", "vpc", "kms_input", "kms_output", "kms_volume"]
    domain = client.rows("conditions", api="createdomain", lang="en", page=X.ROLES)
    assert [(r["key"], r["applies_to"]) for r in domain] == [("kms_domain", "main policy")]
    every = client.rows("conditions", lang="ja", page=X.ROLES)
    assert {(r["api"], r["key"]) for r in every if r["api"] in X.JA} == {
        (api, key) for api, facts in X.JA.items()
        for key in [*list(facts["conditions"]), facts.get("main_condition")] if key}
    # the page's own feature section (S3 buckets beyond the managed policy's) has the same key in both languages
    for lang in ("en", "ja"):
        page_wide = client.rows("conditions", lang=lang, page=X.ROLES)
        assert {(r["api"], r["key"]) for r in page_wide if r["api"] not in X.EN} == {("feature:sagemaker-roles", "s3_buckets")}


def test_findings_are_the_page_errata_and_drift(client):
    rows = client.rows("findings", lang="en")
    assert {(r["kind"], r["subject"]) for r in rows} >= X.ERRATA
    typo = next(r for r in rows if r["kind"] == "api_name_typo")
    assert typo["source_url"] == EN_URL + "#sagemaker-roles-pass-role"
    drift = client.rows("findings", kind="drift")
    assert {(r["lang"], r["subject"]) for r in drift} == {
        ("en", "CreateAutoMLJobV2"), ("en", "UpdateNotebookInstance"), ("en", "CreateTrainingJob / algorithm / any"),
        ("ja", "CreateImage / main policy / default: iam:PassRole"),
        ("ja", "UpdateImage / main policy / default: iam:PassRole")}
    assert all(r["severity"] == "warning" for r in drift)


def test_drift_side_by_side(client):
    image = client.rows("drift", api="CreateImage")
    assert [(r["lang"], r["condition"], r["variant"], r["differs"], r["only_prevailing"], r["only_translation"])
            for r in image] == [("ja", None, "default", 1, None, "iam:PassRole")]
    assert image[0]["prevailing_heading"] == "CreateImage and UpdateImage APIs: Execution Role Permissions"
    assert image[0]["translation_heading"] == "CreateImage および UpdateImage APIs 実行ロールのアクセス許可"
    assert image[0]["translation_url"] == JA_URL + "#sagemaker-roles-createimage-perms"
    model = client.rows("drift", api="CreateModel")
    assert {(r["condition"], r["variant"]) for r in model} == {
        (None, "default"), (None, "scoped"), ("vpc", None), ("guardrails", None)}
    assert not any(r["differs"] for r in model)
    vpc = next(r for r in model if r["condition"] == "vpc")
    assert set(vpc["prevailing_actions"].split()) == set(vpc["translation_actions"].split()) == CREATE_MODEL_VPC
    assert (vpc["prevailing_text"], vpc["translation_text"]) == (
        "If you specify a private VPC for your model, add the following permissions:", JA_VPC_SENTENCE)
    every = client.rows("drift")
    assert {(r["api"], r["condition"], r["only_prevailing"] is not None) for r in every if r["differs"]} == {
        ("CreateImage", None, False), ("UpdateImage", None, False), ("CreateTrainingJob", "algorithm", True),
        *{("CreateAutoMLJobV2", c, True) for c in (None, "vpc", "kms_input", "kms_output", "kms_volume")}}


@pytest.mark.parametrize("q,lang,marked", [
    ("暗号化", "ja", "⟦暗号化⟧"),      # trigram index
    ("暗号", "ja", "⟦暗号⟧"),          # two characters: LIKE
    ("ロール", "ja", "⟦ロール⟧"),
    ("private VPC", "en", "⟦private VPC⟧"),
])
def test_search_finds_japanese_substrings_of_any_length(client, q, lang, marked):
    rows = client.rows("search", q=q, page=X.ROLES)
    assert rows and any(r["lang"] == lang and marked in r["snippet"] for r in rows)
    assert all(r["source_url"].startswith((EN_URL, JA_URL)) for r in rows)


def test_search_covers_the_whole_guide_unless_one_page_is_asked(client):
    every = client.rows("search", q="private VPC")
    assert {"sagemaker-roles", "host-vpc", "train-vpc", "process-vpc"} <= {r["page_key"] for r in every}
    assert all(r["source_url"].startswith("https://docs.aws.amazon.com/sagemaker/latest/dg/") for r in every)


def test_search_covers_both_languages_and_only_current_pages(client):
    rows = client.rows("search", q="VPC", page=X.ROLES)
    assert {r["lang"] for r in rows} == {"en", "ja"}
    headings = {r["heading"] for r in rows}
    assert "CreateModel API: Execution Role Permissions" in headings
    assert "CreateModel API: 実行ロールのアクセス許可" in headings
    assert len(rows) == len({(r["lang"], r["heading"]) for r in rows})  # no history revision answers
    every = client.rows("search", q="VPC")
    assert len(every) == len({(r["lang"], r["page_key"], r["section_anchor"], r["heading"]) for r in every})


def test_search_text_is_never_syntax(client):
    for q in ['"', 'a"b', "%", "_", "ec2:*", "NEAR(a b)", "x' or '1'='1", ""]:
        r = client.get("/kb/search.json?" + urlencode({"q": q}))
        assert r.status_code == 200 and r.json()["ok"], (q, r.text)
    assert client.rows("search", q="%", page=X.ROLES) == []  # no literal % on either roles page
    assert client.rows("search", q="") == []


def test_search_page_marks_matches_and_escapes_the_rest(client):
    soup = BeautifulSoup(client.get("/kb/search?q=" + "暗号化").text, "lxml")
    marks = soup.select("td mark")
    assert marks and {m.get_text() for m in marks} == {"暗号化"}


# ---- safety ----------------------------------------------------------------------------------

MAIN_ONLY = {"api": "CreateModel", "lang": "ja"}
WITH_VPC = {"api": "CreateModel", "lang": "ja", "conditions": "vpc"}


@pytest.mark.parametrize("params,same_as", [
    ({"api": "CreateModel' OR '1'='1", "lang": "ja"}, None),
    ({"api": "CreateModel\"; drop table page; --"}, None),
    ({"api": "CreateModel", "lang": "ja' or 1=1 --"}, None),
    ({"api": "%", "lang": "ja"}, None),
    ({"api": "CreateModel", "lang": "ja", "conditions": "vpc') or 1=1 --"}, MAIN_ONLY),
    ({"api": "CreateModel", "lang": "ja", "conditions": "vpc", "scoped": "1 or 1=1"}, WITH_VPC),
])
def test_injection_in_a_parameter_is_just_a_value(client, conn, params, same_as):
    pages = client.get("/kb.json?sql=select+count(*)+from+page").json()["rows"]
    # a value the KB does not know is refused before the SQL runs (kb/params.py)…
    r = client.get("/kb/requirements.json?" + urlencode(params))
    assert r.status_code == 400 and r.json()["ok"] is False and r.json()["problems"], r.text
    # …and the SQL itself binds it as a value: it matches nothing, or what the value's known part asks
    got = [tuple(row) for row in canned.run(conn, "requirements", **params, page=X.ROLES)]
    assert got == ([tuple(row) for row in canned.run(conn, "requirements", **same_as, page=X.ROLES)] if same_as else [])
    assert client.get("/kb.json?sql=select+count(*)+from+page").json()["rows"] == pages


@pytest.mark.parametrize("sql", [
    "delete from page",
    "with x as (select 1) insert into page (page_key) select 'x' from x",
    "with x as (select 1) delete from page",
    "update page set title = 'x'",
    "drop table page",
    "pragma writable_schema = 1",
    "attach database '/tmp/kb-attack.db' as a",
])
def test_sql_that_writes_is_refused(client, sql):
    pages = client.get("/kb.json?sql=select+count(*)+from+page+where+title+<>+'x'").json()["rows"]
    r = client.get("/kb.json?" + urlencode({"sql": sql}))
    assert r.status_code == 400 and r.json()["ok"] is False and r.json()["error"]
    assert client.get("/kb.json?sql=select+count(*)+from+page+where+title+<>+'x'").json()["rows"] == pages
    assert not Path("/tmp/kb-attack.db").exists()


def test_served_read_only_as_kb_whatever_the_file_is_called(kb_db, tmp_path):
    other = tmp_path / "elsewhere.sqlite"
    shutil.copy(kb_db, other)
    c = Client(make_datasette(other))
    try:
        assert [d["name"] for d in c.get("/-/databases.json").json()] == ["kb"]
        assert c.get("/-/databases.json").json()[0]["is_mutable"] is False
        assert c.get("/-/settings.json").json()["sql_time_limit_ms"] == 1000
        assert allowed(c.rows("requirements", api="CreateModel", conditions="vpc", lang="ja")) == (
            CREATE_MODEL_MAIN | CREATE_MODEL_VPC)
    finally:
        c.loop.close()


def test_a_runaway_query_is_cut_off_by_the_time_limit(client):
    slow = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
    r = client.get("/kb.json?" + urlencode({"sql": slow}))
    assert r.status_code == 400 and "time limit" in r.json()["error"].lower()


def test_a_missing_kb_is_a_clear_error(tmp_path):
    with pytest.raises(query.KBError, match="ingest build"):
        make_datasette(tmp_path / "nothing.db")


# ---- the home page ---------------------------------------------------------------------------

def _table(soup):
    """The requirements rows as shown: one table per section (its link in the caption), the page's
    sentence once per statement."""
    return [{"action": tr.select_one("td.action").get_text(strip=True),
             "resource": tr.select_one("td.resource").get_text(strip=True),
             "condition": tr.select_one("td.condition").get_text(strip=True),
             "href": tr.find_parent("table").select_one("caption a")["href"]}
            for tr in soup.select("#requirements tbody tr")]


def test_home_page_links_each_section_once_and_each_sentence_once_per_statement(client):
    soup = BeautifulSoup(client.get("/?" + urlencode({"lang": "ja", "api": "CreateModel", "conditions": "vpc"})).text,
                         "lxml")
    tables = soup.select("#requirements table")
    assert [t.select_one("caption a")["href"] for t in tables] == [JA_URL + "#sagemaker-roles-createmodel-perms"]
    assert len(soup.select("#requirements a")) == 1  # not one link per row (20 rows)
    statements = tables[0].select("tbody.statement")
    assert [len(b.select("tr")) for b in statements] == [11, 9]
    assert [[q.get_text() for q in b.select("td.source q")] for b in statements][1] == [JA_VPC_SENTENCE]
    assert statements[0].select_one("td.source")["rowspan"] == "11"


def test_home_page_answers_create_model_with_vpc_in_japanese(client):
    r = client.get("/?" + urlencode({"lang": "ja", "api": "CreateModel", "conditions": "vpc"}))
    assert r.status_code == 200
    soup = BeautifulSoup(r.text, "lxml")
    assert soup.html["lang"] == "ja"
    rows = _table(soup)
    assert {r["action"] for r in rows} == CREATE_MODEL_MAIN | CREATE_MODEL_VPC and len(rows) == 20
    assert {r["href"] for r in rows} == {JA_URL + "#sagemaker-roles-createmodel-perms"}
    assert {r["condition"] for r in rows if r["action"].startswith("ec2:")} == {"プライベート VPC (VpcConfig)"}
    assert JA_VPC_SENTENCE in soup.select_one("#requirements").get_text()
    assert next(th.get_text() for th in soup.select("#requirements th")) == "アクション"
    # the form shows the API chosen and the API's conditions, labelled in Japanese
    assert soup.select_one("#api option[selected]")["value"] == "CreateModel"
    boxes = {i["value"]: i.has_attr("checked") for i in soup.select("#conditions input[name=conditions]")}
    assert boxes == {"vpc": True, "guardrails": False}
    assert "デプロイガードレール (自動ロールバックアラーム)" in soup.select_one("#conditions").get_text()
    # the policy, ready to copy: the page's two statements
    policy = json.loads(soup.select_one("#policy-json").get_text())
    assert policy["Version"] == "2012-10-17"
    assert [set(s["Action"]) for s in policy["Statement"]] == [CREATE_MODEL_MAIN, CREATE_MODEL_VPC]
    assert [s["Resource"] for s in policy["Statement"]] == [["*"], ["*"]]
    # the VPC statement has no Resource on the page: said so, in Japanese, and not invented in the table
    assert "Resource を示していません" in soup.select_one(".notes").get_text()
    assert {r["resource"] for r in rows if r["action"].startswith("ec2:")} == {"(ページに記載なし)"}
    # the same answer as JSON, one click away
    json_link = soup.select_one(".json-link a")["href"]
    assert json_link.startswith("/kb/requirements.json?") and "_shape=array" in json_link
    assert allowed(client.get(json_link).json()) == CREATE_MODEL_MAIN | CREATE_MODEL_VPC


def test_home_page_has_the_empty_policy_panel_placeholder(client):
    for path in ("/", "/?lang=ja&api=CreateModel&conditions=vpc"):
        panel = BeautifulSoup(client.get(path).text, "lxml").select("section#policy-panel")
        assert len(panel) == 1 and panel[0].decode_contents() == ""


def test_home_page_explains_itself_in_both_languages_and_lists_the_apis(client, conn):
    soup = BeautifulSoup(client.get("/").text, "lxml")
    assert soup.html["lang"] == "en"
    assert "execution role" in soup.select_one(".intro p").get_text()
    assert "実行ロール" in BeautifulSoup(client.get("/?lang=ja").text, "lxml").select_one(".intro p").get_text()
    offered = [o["value"] for o in soup.select("#api optgroup[data-group='1'] option")]
    # the roles page's APIs and those the guide's feature pages document (Ground Truth, Augmented AI)
    assert offered == sorted(offered) and set(X.EN) | {"CreateLabelingJob", "CreateFlowDefinition"} <= set(offered)
    # then every feature context: every role context `kb roles` lists is offered
    features = [o["value"] for o in soup.select("#api optgroup[data-group='2'] option")]
    assert features and all(f.startswith("feature:") for f in features)
    assert {r["key"] for r in roles.roles(conn)} <= set(offered) | set(features)
    ja = BeautifulSoup(client.get("/?lang=ja").text, "lxml")
    own = [o["value"] for o in ja.select("#api optgroup[data-group='1'] option[data-lang='ja']")]
    assert own == sorted(X.JA)
    # one only the English pages document is offered too, said to be answered from them
    v2 = ja.select_one("#api option[value='CreateAutoMLJobV2']")
    assert v2["data-lang"] == "en" and v2.get_text() == "CreateAutoMLJobV2 (英語のページのみ)"
    links = {a.get_text(): a["href"] for a in soup.select(".queries a")}
    assert len(links) == len(load_queries())
    for href in links.values():
        assert client.get(href).status_code == 200


def test_home_page_language_switch_keeps_the_choice(client):
    soup = BeautifulSoup(client.get("/?lang=ja&api=CreateModel&conditions=vpc&scoped=1").text, "lxml")
    english = soup.select_one('.lang-switch a[hreflang="en"]')["href"]
    assert "lang=en" in english and "api=CreateModel" in english and "conditions=vpc" in english
    en = BeautifulSoup(client.get(english).text, "lxml")
    assert en.html["lang"] == "en"
    rows = _table(en)
    # every page that documents CreateModel with a VPC, each row citing its own
    assert {r["href"] for r in rows} == {EN_URL + "#sagemaker-roles-createmodel-perms",
                                         GUIDE + "host-vpc.html#host-vpc-endpoints",
                                         GUIDE + "batch-vpc.html#batch-vpc-configure"}
    assert {r["action"] for r in rows} == (CREATE_MODEL_MAIN - {"s3:ListBucket"}) | X.HOST_VPC | X.BATCH_VPC
    assert {r["action"] for r in rows if r["href"].startswith(GUIDE + "host-vpc")} == X.HOST_VPC
    assert en.select_one("#scoped").has_attr("checked")
    assert "Private VPC (VpcConfig)" in en.select_one("#requirements").get_text()


def test_home_page_follows_accept_language(client):
    soup = BeautifulSoup(client.get("/", headers={"Accept-Language": "ja,en;q=0.5"}).text, "lxml")
    assert soup.html["lang"] == "ja" and soup.h1.get_text() == "SageMaker 実行ロールのアクセス許可"


def test_home_page_notes(client):
    domain = BeautifulSoup(client.get("/?api=CreateDomain").text, "lxml")
    assert not domain.select("#requirements") and "Customer managed KMS key" in domain.select_one(".notes").get_text()
    image = BeautifulSoup(client.get("/?api=CreateImage&scoped=1").text, "lxml")
    assert "no resource-scoped policy" in image.select_one(".notes").get_text()
    unknown = BeautifulSoup(client.get("/?lang=ja&api=NoSuchApi").text, "lxml")
    assert "NoSuchApi" in unknown.select_one(".error").get_text() and not unknown.select("#answer")
    assert not unknown.select(".refusal a.suggestion")
    for lang, wording in (("en", "(did you mean CreateTrainingJob?)"), ("ja", "(もしかして CreateTrainingJob?)")):
        typo = BeautifulSoup(client.get(f"/?lang={lang}&api=CreateTraningJob").text, "lxml")
        assert wording in typo.select_one(".error").get_text()
        assert typo.select_one(".refusal a.suggestion")["href"] == f"/?api=CreateTrainingJob&lang={lang}"


def test_static_files_are_served(client):
    """From the plugin package's static/, where Datasette serves every plugin's."""
    soup = BeautifulSoup(client.get("/").text, "lxml")
    css = soup.select_one('link[rel="stylesheet"]')["href"]
    scripts = [s["src"] for s in soup.select("script[src]")]
    assert css.startswith("/-/static-plugins/") and css.endswith("/kb.css")
    assert client.get(css).status_code == 200
    js = client.get(next(s for s in scripts if s.endswith("/kb.js")))
    assert js.status_code == 200 and "requestSubmit" in js.text
    assert client.get(css.replace("kb.css", "../__init__.py")).status_code == 404


def test_doc_text_is_always_shown_escaped(tmp_path):
    """A page carrying markup in its text: the KB keeps it as text, every page shows it as text."""
    attack = '<script>alert("kb")</script><img src=x onerror=alert(1)>'
    ja = (CORPUS / "ja" / "sagemaker-roles.ja.txt").read_text(encoding="utf-8")
    assert JA_VPC_SENTENCE in ja
    poisoned = tmp_path / "sagemaker-roles.ja.txt"
    poisoned.write_text(ja.replace(JA_VPC_SENTENCE, attack + JA_VPC_SENTENCE), encoding="utf-8")
    db = tmp_path / "kb.db"
    build([Source(str(SNAPSHOTS / "sagemaker-roles.en.md"), "en", "md", EN_URL, "sagemaker-roles"),
           Source(str(poisoned), "ja", "text", JA_URL, "sagemaker-roles")], db)
    c = Client(make_datasette(db))
    try:
        rows = c.rows("requirements", api="CreateModel", conditions="vpc", lang="ja")
        assert {r["source_text"] for r in rows if r["condition"] == "vpc"} == {attack + JA_VPC_SENTENCE}
        pages = [c.get("/?lang=ja&api=CreateModel&conditions=vpc").text,
                 c.get("/kb/requirements?api=CreateModel&conditions=vpc&lang=ja").text,
                 c.get("/kb/search?q=" + "alert").text]
        for html in pages:
            assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in pages[0] and "&lt;script&gt;alert(" in pages[1]
        assert "&lt;script&gt;<mark>alert</mark>(" in pages[2]  # only the search marks are markup
        soup = BeautifulSoup(pages[0], "lxml")
        assert not soup.select("img") and all("alert" not in (s.string or "") for s in soup.select("script"))
        assert attack in soup.select_one("#requirements").get_text()
    finally:
        c.loop.close()


def test_without_a_kb_database_the_home_page_is_datasettes_own(tmp_path):
    import sqlite3

    from datasette.app import Datasette

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.commit()
    c = Client(Datasette([str(other)]))
    try:
        home = c.get("/")
        assert home.status_code == 200 and 'id="policy-panel"' not in home.text and "other" in home.text
        assert c.get("/other/requirements.json").status_code == 404  # the canned queries are the KB's only
    finally:
        c.loop.close()
