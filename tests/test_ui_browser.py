"""End to end in headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser)
against a real `kb serve`: pick CreateModel and the private VPC in Japanese, read the table."""

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests import expectations as X

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
JA_SECTION = "https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms"
EN_SECTION = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms"
GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/"
# Read on the Japanese page (tests/expectations.py): CreateModel's main policy (11 actions) and
# its VPC additions (9).
CREATE_MODEL_MAIN, CREATE_MODEL_VPC = X.MODEL_MAIN, X.VPC


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian's chromium; `make browser` installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the python package) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_on(chromium, kb_db, kb_server):
    """A fresh page against a real server; any request that is not to the server is refused
    and recorded: nothing may reach the internet."""
    server = kb_server(kb_db)
    outside: list[str] = []
    contexts = []

    def open_page(javascript: bool = True):
        context = chromium.new_context(java_script_enabled=javascript, locale="ja-JP")
        contexts.append(context)

        def gate(route):
            if urlparse(route.request.url).netloc == urlparse(server.url).netloc:
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", gate)
        return context.new_page(), server.url

    yield open_page
    for context in contexts:
        context.close()
    assert outside == [], f"the page tried to reach {outside}"


def _rendered_rows(page):
    return page.eval_on_selector_all("#requirements tbody tr", """rows => rows.map(tr => ({
        action: tr.querySelector("td.action").textContent.trim(),
        condition: tr.querySelector("td.condition").textContent.trim(),
        href: tr.closest("table").querySelector("caption a").href,
    }))""")


def test_pick_create_model_and_vpc_in_japanese(page_on):
    page, base = page_on()
    page.goto(base + "/?lang=ja")
    assert page.get_attribute("html", "lang") == "ja"
    assert page.inner_text("h1") == "SageMaker 実行ロールのアクセス許可"
    with page.expect_navigation():
        page.select_option("#api", "CreateModel")  # the page shows the API's conditions at once
    assert page.inner_text("#conditions legend") == "リクエストで使う機能"
    with page.expect_navigation():
        page.locator("#ask").get_by_label("プライベート VPC (VpcConfig)").check()

    rows = _rendered_rows(page)
    assert {r["action"] for r in rows} == CREATE_MODEL_MAIN | CREATE_MODEL_VPC and len(rows) == 20
    assert {r["condition"] for r in rows if r["action"].startswith("ec2:")} == {"プライベート VPC (VpcConfig)"}
    assert {r["condition"] for r in rows if not r["action"].startswith("ec2:")} == {"メインポリシー"}
    assert {r["href"] for r in rows} == {JA_SECTION}
    assert page.inner_text("#answer-title").startswith("CreateModel に必要なアクセス許可")
    assert page.is_checked("#ask input[name=conditions][value=vpc]")
    assert not page.is_checked("#ask input[name=conditions][value=guardrails]")
    policy = json.loads(page.inner_text("#policy-json"))
    assert [set(s["Action"]) for s in policy["Statement"]] == [CREATE_MODEL_MAIN, CREATE_MODEL_VPC]
    assert page.is_visible("#answer button[data-copy]")  # the copy button appears where JavaScript runs
    assert page.locator("section#policy-panel").count() == 1

    # the language switch keeps the choice and answers from the English page
    with page.expect_navigation():
        page.click(".lang-switch a[hreflang=en]")
    assert page.get_attribute("html", "lang") == "en"
    rows = _rendered_rows(page)
    # in English the guide's hosting and batch VPC pages answer too, each row citing its page
    assert {r["action"] for r in rows} == CREATE_MODEL_MAIN | X.HOST_VPC
    assert {r["href"] for r in rows} == {EN_SECTION, GUIDE + "host-vpc.html#host-vpc-endpoints",
                                         GUIDE + "batch-vpc.html#batch-vpc-configure"}
    assert "Private VPC (VpcConfig)" in page.inner_text("#requirements")


def test_the_form_works_without_javascript(page_on):
    page, base = page_on(javascript=False)
    page.goto(base + "/?lang=ja")
    page.select_option("#api", "CreateModel")
    with page.expect_navigation():
        page.click("#ask button[type=submit]")
    page.check("#ask input[name=conditions][value=vpc]")
    with page.expect_navigation():
        page.click("#ask button[type=submit]")
    rows = _rendered_rows(page)
    assert {r["action"] for r in rows} == CREATE_MODEL_MAIN | CREATE_MODEL_VPC
    assert not page.is_visible("#answer button[data-copy]")  # nothing offered that cannot work
