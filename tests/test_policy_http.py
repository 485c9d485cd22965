"""The policy and audit routes, through Datasette's in-process client over a real KB: the same
answers as kb.policy (one answer, three doors), and a clear 4xx for bad input."""

import asyncio
import json
import re
from pathlib import Path

import pytest
from datasette.app import Datasette

from kb import policy as P
from kb.web.routes import MAX_BODY

FIXTURES = Path(__file__).parent / "fixtures"


def load(kind: str, name: str):
    return json.loads((FIXTURES / kind / name).read_text())


@pytest.fixture(scope="module")
def call(kb_db):
    """call(method, path, **httpx kwargs) → response, from a Datasette serving the KB as `kb`."""
    assert kb_db.name == "kb.db"

    def run(method, path, **kwargs):
        async def go():
            ds = Datasette([str(kb_db)])
            await ds.invoke_startup()
            return await getattr(ds.client, method)(path, **kwargs)
        return asyncio.run(go())
    return run


def test_get_policy_is_the_library_answer(call, conn):
    r = call("get", "/-/policy?api=CreateTrainingJob&api=CreateModel&conditions=vpc,kms_output&lang=ja&scoped=1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    got = r.json()
    want = P.compose(conn, ["CreateTrainingJob", "CreateModel"], ["vpc", "kms_output"], scoped=True, lang="ja")
    assert got["policy"] == want["policy"] and got["notes"] == want["notes"]
    assert got["explain"][0]["sources"][0]["lang"] == "ja"


def test_post_policy_with_a_request(call, conn):
    body = load("requests", "create-training-job.json")
    r = call("post", "/-/policy", json={"apis": ["CreateTrainingJob"], "request": body, "region": "eu-west-1"})
    assert r.status_code == 200, r.text
    want = P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "request")], region="eu-west-1")
    assert r.json()["policy"] == want["policy"]
    assert {c["key"] for c in r.json()["conditions"]["CreateTrainingJob"]} == {"vpc", "kms_output", "kms_volume"}


def test_post_policy_with_several_named_requests(call):
    r = call("post", "/-/policy", json={"api": "CreateNotebookInstance", "requests": [
        {"body": load("requests", "create-training-job.json")},
        {"api": "CreateModel", "body": load("requests", "create-model-pipeline.json")}]})
    assert r.status_code == 200, r.text
    arns = {res for s in r.json()["policy"]["Statement"] for res in s["Resource"]}
    assert "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn" in arns


def test_post_audit(call, conn):
    policy = load("policies", "training-role-deny-wildcards.json")
    r = call("post", "/-/audit", json={"apis": ["CreateTrainingJob"], "policy": policy})
    assert r.status_code == 200, r.text
    want = P.audit(conn, [(policy, "policy")], ["CreateTrainingJob"])
    assert r.json() == json.loads(json.dumps(want))
    assert {m["action"] for m in r.json()["missing"]} == {"ecr:BatchCheckLayerAvailability", "s3:PutObject"}


def test_post_audit_with_a_request_and_a_cookie(call):
    # a browser with Datasette's CSRF cookie: JSON routes skip the token, the content type guards
    r = call("post", "/-/audit", cookies={"ds_csrftoken": "x"}, json={
        "apis": ["CreateModel"], "policy": load("policies", "get-role-policy-output.json"),
        "request": load("requests", "create-model-pipeline.json")})
    assert r.status_code == 200, r.text
    assert len(r.json()["missing"]) == 4


def test_options_and_panel_script(call):
    r = call("get", "/-/policy/options?lang=ja")
    # every role context (kb roles): the Japanese pages' own, and those only the English pages document,
    # answered from them (CreateAutoMLJobV2), then the features
    by_name = {a["name"]: a for a in r.json()["apis"]}
    assert (by_name["CreateTrainingJob"]["lang"], by_name["CreateTrainingJob"]["kind"]) == ("ja", "api")
    assert (by_name["CreateAutoMLJobV2"]["lang"], by_name["CreateAutoMLJobV2"]["kind"]) == ("en", "api")
    assert by_name["feature:data-wrangler-import"]["kind"] == "feature"
    assert r.json()["prevailing"] == "en"
    ctj = next(a for a in r.json()["apis"] if a["name"] == "CreateTrainingJob")
    assert [c["key"] for c in ctj["conditions"]] == ["vpc", "kms_input", "kms_output", "kms_volume"]



def test_home_page_loads_the_panel_script_beside_its_section(call):
    home = call("get", "/")
    assert 'id="policy-panel"' in home.text
    src = re.search(r'<script src="([^"]+/policy-panel\.js)"', home.text).group(1)
    js = call("get", src)
    assert js.status_code == 200 and js.headers["content-type"].startswith(("application/javascript", "text/javascript"))
    assert 'getElementById("policy-panel")' in js.text


@pytest.mark.parametrize("method,path,kwargs,status,message", [
    ("get", "/-/policy", {}, 400, "name at least one API"),
    ("get", "/-/policy?api=CreateTrainingJobs", {}, 400, "'CreateTrainingJobs' has no permissions section"),
    ("get", "/-/policy?api=CreateModel&conditions=kms_output", {}, 400,
     "valid keys: guardrails, unclassified_jumpstart_deploy, vpc"),
    ("get", "/-/policy?api=CreateModel&lang=fr", {}, 400, "no language 'fr' in this KB; languages: en, ja"),
    ("post", "/-/policy", {"content": b"{oops", "headers": {"content-type": "application/json"}}, 400,
     "body is not valid JSON"),
    ("post", "/-/policy", {"content": b"[]", "headers": {"content-type": "application/json"}}, 400,
     "body must be a JSON object"),
    ("post", "/-/policy", {"data": {"apis": "CreateModel"}}, 415, "Content-Type: application/json"),
    ("post", "/-/policy", {"content": b" " * (MAX_BODY + 1), "headers": {"content-type": "application/json"}}, 413,
     "body larger than"),
    ("post", "/-/policy", {"json": {"apis": ["CreateTrainingJob"], "request": {"VpcConfg": {}}}}, 400,
     "request: CreateTrainingJob's request has no member 'VpcConfg'"),
    ("post", "/-/policy", {"json": {"apis": [3]}}, 400, "apis must be a list of strings"),
    ("get", "/-/audit", {}, 405, "POST a JSON body"),
    ("post", "/-/audit", {"json": {"apis": ["CreateModel"]}}, 400, "the body needs \"policy\""),
    ("post", "/-/audit", {"json": {"apis": ["CreateModel"], "policy": {"Statement": [{"Effect": "Allow"}]}}}, 400,
     "policy: Statement[0] must have exactly one of Action and NotAction"),
])
def test_bad_input_is_a_clear_4xx(call, method, path, kwargs, status, message):
    r = call(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


@pytest.mark.parametrize("method,path,kwargs,status,message", [
    # refused before the body is read: the language of ?lang=
    ("post", "/-/policy?lang=ja", {"data": {"apis": "CreateModel"}}, 415, "本文は JSON で"),
    ("post", "/-/audit?lang=ja", {"content": b" " * (MAX_BODY + 1), "headers": {"content-type": "application/json"}},
     413, f"本文が {MAX_BODY} バイトを超えています"),
    ("get", "/-/audit?lang=ja", {}, 405, "JSON 本文を POST してください"),
    ("get", "/-/policy?lang=ja", {}, 400, "API を少なくとも 1 つ指定してください"),
    # refused once the body is read: the body's lang, where ?lang= gives none
    ("post", "/-/audit", {"json": {"apis": ["CreateModel"], "lang": "ja"}}, 400, "本文に \"policy\""),
    ("post", "/-/policy", {"json": {"apis": [3], "lang": "ja"}}, 400, "apis は文字列のリストにしてください"),
    ("post", "/-/audit", {"json": {"apis": ["CreateModel"], "lang": "ja", "policy": {"Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}] * 201}}}, 413,
     "ポリシーのステートメントが 201 個あり"),
    # a language the KB does not have: the prevailing language's words
    ("post", "/-/policy?lang=fr", {"data": {"apis": "CreateModel"}}, 415, "send the body as JSON"),
])
def test_a_refusal_before_the_kb_is_asked_speaks_the_language_asked(call, method, path, kwargs, status, message):
    r = call(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert message in r.json()["error"], r.json()["error"]


# --------------------------------------------------------------- the panel, in a browser ----

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian's chromium; `make browser` installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the python package) is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def test_panel_writes_and_audits_a_policy(browser, kb_db, kb_server, conn):
    from playwright.sync_api import expect  # waits without eval: the page's CSP forbids it

    server = kb_server(kb_db)
    context = browser.new_context()
    outside = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url)
                  else (outside.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(server.url + "/?api=CreateModel&conditions=vpc")
    assert page.query_selector("#policy-panel"), "the home page has no policy panel"
    # the panel starts from the home page's own choice (data-api, data-conditions)
    page.wait_for_selector("#policy-panel select[name=apis] option:checked")
    assert page.eval_on_selector("#policy-panel select[name=apis]", "s => [...s.selectedOptions].map(o => o.value)") \
        == ["CreateModel"]
    assert page.is_checked("#policy-panel input[name=condition][value=vpc]")
    page.click("#policy-panel button[name=compose]")
    expect(page.locator("#policy-panel .pp-output")).to_contain_text("Statement")
    shown = json.loads(page.inner_text("#policy-panel .pp-output"))
    assert shown == P.compose(conn, ["CreateModel"], ["vpc"])["policy"]
    # with a request: POST /-/policy, the request's ARNs
    page.fill("#policy-panel textarea[name=request]", (FIXTURES / "requests" / "create-model-pipeline.json").read_text())
    page.click("#policy-panel button[name=compose]")
    expect(page.locator("#policy-panel .pp-output")).to_contain_text("sagemaker-scikit-learn")
    # an audit of a role that misses the sklearn image (4) and, vpc still ticked, the VPC actions (the
    # roles page's 9 and host-vpc.md's ec2:DescribeVpcEndpoints)
    page.fill("#policy-panel textarea[name=policy]", (FIXTURES / "policies" / "get-role-policy-output.json").read_text())
    page.click("#policy-panel button[name=audit]")
    expect(page.locator("#policy-panel .pp-status")).to_contain_text("missing")
    assert page.inner_text("#policy-panel .pp-status") == \
        "14 missing, 0 granted in excess, 2 broader than needed, 0 unknown actions."  # churn/*, models/*
    # a bad request: the server's one-line error, shown as text
    page.fill("#policy-panel textarea[name=request]", '{"VpcConfg": {}}')
    page.click("#policy-panel button[name=compose]")
    expect(page.locator("#policy-panel .pp-status")).to_contain_text("VpcConfg")
    context.close()
    assert outside == []
