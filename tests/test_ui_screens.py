"""Readable everywhere, in every language: headless Chromium (Debian's /usr/bin/chromium) against a
real `kb serve`, at 1,280 px and at a 390 px phone, in English and Japanese. For each: the home page,
a requirements answer, the policy panel with a written policy and with an audit, and a canned query —
each saved as a screenshot (under pytest's tmp dir, `screenshots/`), none wider than the window, the
panel showing what the routes answer, and no English word left on the Japanese pages."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from kb import policy as P
from kb import query
from tests.conftest import KBServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = {"desktop": 1280, "phone": 390}
REQUEST = FIXTURES / "requests" / "create-training-job.json"
ROLE_POLICY = FIXTURES / "policies" / "training-role-deny-wildcards.json"
KMS_KEY = "alias/ml-input"
# The one word the two languages share: "API" is what the Japanese page calls an API too.
SAME_IN_BOTH = {"api"}
CASES = [(lang, device) for lang in ("en", "ja") for device in WIDTHS]


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian's chromium; `make browser` installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the python package) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(kb_db, tmp_path_factory):
    srv = KBServer(kb_db, tmp_path_factory.mktemp("serve") / "serve.log").wait_ready()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """One directory for every worker's screenshots: screenshots/ in this run's pytest tmp dir."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "screenshots"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def page_at(chromium, server):
    """A page of the given width; anything not asked of the server is refused and recorded."""
    contexts, outside = [], []

    def open_page(lang: str, device: str):
        context = chromium.new_context(viewport={"width": WIDTHS[device], "height": 900}, accept_downloads=True,
                                       locale="ja-JP" if lang == "ja" else "en-US")
        contexts.append(context)
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url)
                      else (outside.append(route.request.url), route.abort()))
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page, errors

    yield open_page
    for context in contexts:
        context.close()
    assert outside == [], f"the page tried to reach {outside}"


def fits(page, what: str) -> None:
    """No horizontal overflow: neither the document nor any answer table is wider than the window."""
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{what}: the page is {width[0]} px wide in a {width[1]} px window"
    wide = page.evaluate("""w => [...document.querySelectorAll('table')]
        .map(t => [t.className, Math.ceil(t.getBoundingClientRect().right)]).filter(([, r]) => r > w)""", width[1])
    assert wide == [], f"{what}: tables wider than the window: {wide}"


def shoot(page, shots: Path, name: str) -> Path:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


# --- the words of the Japanese pages --------------------------------------------------------------


def lexicon_ui(lang: str) -> dict[str, str]:
    return tomllib.loads((ROOT / "ingest" / "lexicon" / f"{lang}.toml").read_text(encoding="utf-8"))["ui"]


def template_keys() -> set[str]:
    html = (ROOT / "kb" / "web" / "templates" / "kb_home.html").read_text(encoding="utf-8")
    return set(re.findall(r"(?<![\w.])t\.(\w+)", html))


def english_patterns(conn) -> list[re.Pattern]:
    """Every English interface word that differs in Japanese, as a pattern of a whole text (its
    {placeholders} stand for anything)."""
    en, ja = query.ui(conn, "en"), query.ui(conn, "ja")
    return [re.compile(r"\s*" + ".*".join(re.escape(part) for part in re.split(r"\{\w+\}", text)) + r"\s*", re.S)
            for key, text in en.items() if ja.get(key) != text]


CHROME_TEXTS = """() => {
  const own = (el) => [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
  const texts = [...document.querySelectorAll(
      'h1, h2, h3, h4, legend, label, button, th, caption, summary, .pp-hint, .pp-status, .pp-intro, .pp-why, '
      + '.pp-none, .pp-download, .page-changes li, .feed-link, .intro p, footer p, .lang-switch a')]
    .map(own).filter(Boolean);
  const holders = [...document.querySelectorAll('[placeholder]')].map(el => el.getAttribute('placeholder'));
  return [...texts, ...holders];
}"""


def untranslated(page, patterns: list[re.Pattern]) -> list[str]:
    return [text for text in page.evaluate(CHROME_TEXTS) if any(p.fullmatch(text) for p in patterns)]


def test_every_word_the_japanese_page_uses_is_japanese(conn):
    """The keys the home page and the panel use have a Japanese word of their own, not English."""
    en, ja = lexicon_ui("en"), lexicon_ui("ja")
    panel = {k for k in en if k.startswith("panel_")} | {"conditions", "scoped", "copy_label", "copied_label",
                                                          "variant_scoped", "variant_default", "col_action"}
    used = template_keys() | panel
    assert used - set(en) == set(), "the page uses words no lexicon defines"
    assert {k for k in used if k not in ja} == set()
    assert {k for k in used if ja[k] == en[k]} == SAME_IN_BOTH
    stored = {r[0]: r[1] for r in conn.execute("select key, text from ui_text where lang = 'ja'")}
    assert {k: stored.get(k) for k in used} == {k: ja[k] for k in used}  # as `ingest build` stored them


# --- the pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang,device", CASES)
def test_home_page_and_a_requirements_answer(page_at, server, shots, conn, lang, device):
    page, errors = page_at(lang, device)
    page.goto(f"{server.url}/?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    page.wait_for_selector("#policy-panel select[name=apis] option")  # the panel is drawn
    fits(page, "home page")
    shoot(page, shots, f"home-{lang}-{device}")
    page.goto(f"{server.url}/?lang={lang}&api=CreateModel&conditions=vpc")
    rows = page.eval_on_selector_all("#requirements tbody tr", "rows => rows.map(tr => tr.dataset.statement)")
    want = query.requirements(conn, "CreateModel", ["vpc"], False, lang)
    assert len(rows) == sum(len(st["actions"]) for st in want["statements"])
    links = page.eval_on_selector_all("#requirements a", "links => links.map(a => a.href)")
    # one link per section the answer comes from (in English the guide's VPC pages too), in order
    assert links == list(dict.fromkeys(st["source"]["url"] for st in want["statements"]))
    fits(page, "requirements answer")
    shoot(page, shots, f"answer-{lang}-{device}")
    if lang == "ja":
        assert untranslated(page, english_patterns(conn)) == []
    assert errors == []


def _write_and_audit(page, server, lang):
    page.goto(f"{server.url}/?lang={lang}&api=CreateTrainingJob")
    page.wait_for_selector("#policy-panel select[name=apis] option:checked")
    page.fill("#pp-request", REQUEST.read_text())
    page.fill("#pp-kms", KMS_KEY)
    page.click("#policy-panel button[name=compose]")
    page.wait_for_selector("#policy-panel .pp-output")


@pytest.mark.parametrize("lang,device", CASES)
def test_the_panel_writes_and_audits_a_policy(page_at, server, shots, conn, lang, device):
    page, errors = page_at(lang, device)
    words = query.ui(conn, lang)
    request = json.loads(REQUEST.read_text())
    composed = P.compose(conn, ["CreateTrainingJob"], lang=lang, requests=[(None, request, "request")],
                         input_kms_keys=[KMS_KEY])
    _write_and_audit(page, server, lang)
    # the route's policy, as shown and as the file downloaded
    assert json.loads(page.inner_text("#policy-panel .pp-output")) == composed["policy"]
    with page.expect_download() as download:
        page.click("#policy-panel a.pp-download[data-format=json]")
    assert download.value.suggested_filename == "CreateTrainingJob-role-policy.json"
    assert json.loads(Path(download.value.path()).read_text()) == composed["policy"]
    # the conditions applied, ticked, each with where it came from
    used = page.eval_on_selector_all("#policy-panel .pp-used li", """items => items.map(li => ({
        key: li.querySelector('input').value, ticked: li.querySelector('input').checked,
        why: li.querySelector('.pp-why').textContent}))""")
    assert {u["key"] for u in used} == {c["key"] for c in composed["conditions"]["CreateTrainingJob"]} \
        == {"vpc", "kms_input", "kms_output", "kms_volume"}
    assert all(u["ticked"] for u in used)
    why = {u["key"]: u["why"] for u in used}
    assert why["kms_input"] == words["panel_why_option"]
    assert why["vpc"] == words["panel_why_request"].format(field="VpcConfig")
    assert why["kms_output"] == words["panel_why_request"].format(field="OutputDataConfig.KmsKeyId")
    assert page.eval_on_selector_all("#policy-panel .pp-notes li", "l => l.map(x => x.textContent)") == composed["notes"]
    fits(page, "panel with a policy")
    page.locator("#policy-panel").scroll_into_view_if_needed()
    shoot(page, shots, f"panel-policy-{lang}-{device}")
    if lang == "ja":
        assert untranslated(page, english_patterns(conn)) == []

    # the audit of a role, as a report of the route's answer
    policy = json.loads(ROLE_POLICY.read_text())
    audited = json.loads(json.dumps(P.audit(conn, [(policy, "policy")], ["CreateTrainingJob"], lang=lang,
                                            requests=[(None, request, "request")], input_kms_keys=[KMS_KEY])))
    page.fill("#pp-policy", ROLE_POLICY.read_text())
    page.click("#policy-panel button[name=audit]")
    page.wait_for_selector("#policy-panel .pp-missing")
    broader = audited["broader"]
    assert page.inner_text("#policy-panel .pp-status") == words["panel_status_audited"].format(
        missing=len(audited["missing"]), excess=len(audited["excess"]), broader=len(broader),
        unknown=len(audited["unknown_actions"]))
    missing = page.eval_on_selector_all("#policy-panel .pp-missing tbody tr", """rows => rows.map(tr => ({
        action: tr.cells[0].querySelector('code').textContent,
        link: tr.cells[3].querySelector('a') && tr.cells[3].querySelector('a').href,
        sentence: tr.cells[3].querySelector('q') && tr.cells[3].querySelector('q').textContent}))""")
    assert [m["action"] for m in missing] == [m["action"] for m in audited["missing"]]
    with_source = [m for m in audited["missing"] if m.get("source")]
    assert with_source and [(m["link"], m["sentence"]) for m in missing if m["link"]] == [
        (m["source"]["url"], m["source"]["text"]) for m in with_source]
    assert "kms:Decrypt" in {m["action"] for m in with_source}  # the input key's condition, from the field
    shown = lambda sel: page.eval_on_selector_all(f"#policy-panel {sel} tbody tr td:first-child code",
                                                  "c => c.map(x => x.textContent)")
    assert shown(".pp-excess") == [x["pattern"] for x in audited["excess"]] and audited["excess"]
    assert shown(".pp-unknown") == [u["action"] for u in audited["unknown_actions"]] == ["s3:GetObjects"]
    assert len(page.query_selector_all("#policy-panel .pp-broader tbody tr")) == len(broader) > 0
    assert page.query_selector("#policy-panel .pp-result pre") is None  # a report, not a JSON dump
    fits(page, "panel with an audit")
    shoot(page, shots, f"panel-audit-{lang}-{device}")
    if lang == "ja":
        assert untranslated(page, english_patterns(conn)) == []
    assert errors == []


@pytest.mark.parametrize("lang,device", CASES)
def test_a_canned_query(page_at, server, shots, conn, lang, device):
    page, errors = page_at(lang, device)
    page.goto(f"{server.url}/kb/requirements?api=CreateModel&conditions=vpc&lang={lang}&scoped=0")
    want = query.requirements(conn, "CreateModel", ["vpc"], False, lang)  # no Resource on these: a row per action
    assert page.locator("table.rows-and-columns tbody tr").count() == sum(len(st["actions"]) for st in want["statements"])
    assert page.locator("pre#sql-query").count() == 0  # the SQL folded away
    assert page.locator('link[rel=stylesheet][href$="/datasette-kb.css"]').count() == 1
    # the query's own words in the asked language: its title and description are bilingual
    assert page.locator(f'p[lang="{lang}"]').count() == 1
    # compact rows (they were ~300 px tall): a line or a few at 1,280 px; on a phone one block per row
    row = page.locator("table.rows-and-columns tbody tr").first.bounding_box()
    assert row["height"] < (120 if device == "desktop" else 600)
    fits(page, "canned query")
    shoot(page, shots, f"canned-{lang}-{device}")
    assert errors == []

