"""One answer per question, through every door.

For every API × condition × policy variant of both current pages, `kb requirements --json` (the
CLI, in-process), the `requirements` canned query (Datasette, in-process), the same query over a
real `kb serve` on 127.0.0.1, and the home page's table give the same rows: statement, effect,
action, resource (null where the page gives none), condition, variant, section and sentence. The
policy the home page prints is `kb policy`'s and GET /-/policy's. For every timeline subject (every
API, API × condition and action any version names), `kb timeline --json` and the `timeline`
canned query give the same versions, presence, first-seen and last-changed dates.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from kb import query
from kb.cli import main as kb_main
from tests import expectations as X


@pytest.fixture(scope="module")
def server(kb_db, tmp_path_factory):
    from tests.conftest import KBServer

    srv = KBServer(kb_db, tmp_path_factory.mktemp("parity") / "serve.log").wait_ready()
    yield srv
    srv.stop()


def cli(db, *args) -> dict | list:
    result = CliRunner().invoke(kb_main, ["--db", str(db), *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def combinations(db) -> list[tuple[str, str, tuple[str, ...], bool]]:
    """(lang, api, conditions, scoped): no condition and each condition alone, both variants."""
    conn = query.connect(db)
    out = []
    for lang in [x["code"] for x in query.languages(conn)]:
        for api in [a["name"] for a in query.apis(conn, lang) if a["documented"]]:
            keys = [c["key"] for c in query.conditions(conn, api, lang)]
            for chosen in [(), *[(k,) for k in keys], tuple(keys)]:
                for scoped in (False, True):
                    out.append((lang, api, chosen, scoped))
    conn.close()
    return sorted(set(out))


def _shipped_db():
    from tests.conftest import shipped_kb_path

    return shipped_kb_path()


CASES = combinations(_shipped_db())


def rows_of_cli(answer: dict) -> list[tuple]:
    out = []
    for st in answer["statements"]:
        for action, negated in [(a, 0) for a in st["actions"]] + [(a, 1) for a in st["not_actions"]]:
            for resource in dict.fromkeys(st["resources"]) if st["resources"] is not None else [None]:
                out.append((st["statement_id"], st["effect"], action, negated, resource,
                            int(st["resources"] is not None), st["requirement"]["condition"],
                            st["requirement"]["variant"], st["source"]["url"], st["source"]["text"]))
    return out


def rows_of_sql(rows: list[dict]) -> list[tuple]:
    return [(r["statement_id"], r["effect"], r["action"], r["negated"], r["resource"], r["resource_given"],
             r["condition"], r["variant"], r["source_url"], r["source_text"]) for r in rows]


def params(lang, api, chosen, scoped) -> dict:
    return {"api": api, "conditions": ",".join(chosen), "lang": lang, "scoped": "1" if scoped else "0"}


def test_every_combination_is_covered():
    assert len(CASES) > 100
    assert ("ja", "CreateModel", ("vpc",), False) in CASES and ("en", "CreateTrainingJob", ("algorithm",), True) in CASES


@pytest.mark.parametrize("lang,api,chosen,scoped", CASES)
def test_requirements_cli_canned_query_and_home_page_agree(kb_db, client, lang, api, chosen, scoped):
    args = ["requirements", api, "--lang", lang, *[x for c in chosen for x in ("--condition", c)]]
    answer = cli(kb_db, *args, *(["--scoped"] if scoped else []))
    expected = rows_of_cli(answer)
    if not expected:  # only a condition-only API (CreateDomain) without its condition says nothing
        assert {"main_policy_condition", "only_additions"} & {n["kind"] for n in answer["notes"]}
    assert rows_of_sql(client.rows("requirements", **params(lang, api, chosen, scoped))) == expected
    soup = BeautifulSoup(client.get("/?" + urlencode(params(lang, api, chosen, scoped))).text, "lxml")
    shown = [(tr["data-statement"], tr.select_one("td.action").get_text(strip=True)) for tr in
             soup.select("#requirements tbody tr")]
    assert shown == [(str(r[0]), r[2]) for r in expected]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_requirements_over_a_real_server_agree_with_the_cli(kb_db, server, lang):
    for case in [c for c in CASES if c[0] == lang]:
        answer = cli(kb_db, "requirements", case[1], "--lang", lang,
                     *[x for c in case[2] for x in ("--condition", c)], *(["--scoped"] if case[3] else []))
        r = httpx.get(f"{server.url}/kb/requirements.json", params={**params(*case), "_shape": "array"}, timeout=10)
        assert r.status_code == 200 and rows_of_sql(r.json()) == rows_of_cli(answer), case


@pytest.mark.parametrize("lang,api,chosen,scoped", [c for c in CASES if c[2] or not c[3]])
def test_the_home_page_policy_is_kb_policys_and_the_http_routes(kb_db, client, lang, api, chosen, scoped):
    args = ["policy", api, "--lang", lang, *[x for c in chosen for x in ("--condition", c)]]
    result = CliRunner().invoke(kb_main, ["--db", str(kb_db), *args, *(["--scoped"] if scoped else []), "--json"])
    page = BeautifulSoup(client.get("/?" + urlencode(params(lang, api, chosen, scoped))).text, "lxml")
    shown = page.select_one("#policy-json")
    http = client.get("/-/policy?" + urlencode(params(lang, api, chosen, scoped)))
    if result.exit_code != 0:  # a condition-only API without its condition: no policy anywhere
        assert shown is None and http.status_code == 400
        return
    policy = json.loads(result.stdout)
    assert json.loads(shown.get_text()) == policy
    assert http.status_code == 200 and http.json()["policy"] == policy


def timeline_subjects(db) -> list[tuple[str, str, str | None]]:
    """(lang, subject, condition) for everything some version of the page with a history names (the
    page `kb timeline` and the canned query answer from by default)."""
    conn = query.connect(db)
    out = set()
    for lang, page_id in conn.execute("select lang, page_id from page_version where page_key = ?", [X.ROLES]):
        for (api,) in conn.execute("select distinct api_name from api_mention where page_id = ?", [page_id]):
            out.add((lang, api, None))
        for api, cond in conn.execute("select distinct api_name, condition_key from requirement where page_id = ? "
                                      "and condition_key is not null and api_name is not null", [page_id]):
            out.add((lang, api, cond))
        for (action,) in conn.execute(
                """select distinct sa.action from statement_action sa join statement st on st.id = sa.statement_id
                   join requirement r on r.snippet_id = st.snippet_id where r.page_id = ?""", [page_id]):
            out.add((lang, action, None))
    conn.close()
    return sorted(out, key=lambda s: (s[0], s[1], s[2] or ""))


SUBJECTS = timeline_subjects(_shipped_db())


def test_every_timeline_subject_is_covered():
    assert len(SUBJECTS) > 117
    assert ("en", "CreateDomain", None) in SUBJECTS and ("en", "sagemaker:DescribeAlgorithm", None) in SUBJECTS


@pytest.mark.parametrize("lang,subject,condition", SUBJECTS)
def test_timeline_cli_and_canned_query_agree(kb_db, client, lang, subject, condition):
    got = cli(kb_db, "timeline", subject, "--lang", lang, *(["--condition", condition] if condition else []))
    rows = client.rows("timeline", subject=subject, condition=condition or "", lang=lang, page="")
    assert [(r["version_date"], r["version"], bool(r["present"])) for r in rows] == [
        (v["date"], v["label"], v["present"]) for v in got["versions"]]
    first = got["first_seen"]["date"] if got["first_seen"] else None
    last = got["last_changed"]["date"] if got["last_changed"] else None
    assert {(r["first_seen"], r["last_changed"]) for r in rows} == {(first, last)}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_conditions_cli_and_canned_query_give_the_same_conditions_and_sentences(kb_db, client, lang):
    """For every role context a page of the language documents: the same conditions, in the same
    order, each introduced by the same sentence (the first of the pages that give the main policy,
    then of the pages that only add to it)."""
    conn = query.connect(kb_db)
    contexts = query.Checker(conn, lang).documented()
    assert len(contexts) >= (40 if lang == "en" else 8)
    for name in contexts:
        cli = [(c["key"], c["source"]["text"], c["source"]["url"]) for c in query.conditions(conn, name, lang)]
        rows = client.rows("conditions", api=name, lang=lang, page="")
        assert [(r["key"], r["source_text"], r["source_url"]) for r in rows] == cli, name
