"""A new language is one lexicon file: with tests/fixtures/lexicon/de.toml on $KB_LEXICONS and a
German page, `ingest build` reads it, and the CLI, the home page's language switch, the canned
queries and the policy routes answer in German — no code names the language."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from kb import query
from kb.cli import main as kb_main
from kb.serve import make_datasette
from tests import expectations as X
from tests.helpers import Client

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
BIN = ROOT / ".venv" / "bin"
DE_PAGE = FIXTURES / "pages" / "sagemaker-roles.de.md"
DE_URL = "https://docs.aws.amazon.com/de_de/sagemaker/latest/dg/sagemaker-roles.html"


def ingest_build(db: Path, *sources: tuple[Path, str], lexicons: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "KB_LEXICONS": str(FIXTURES / "lexicon")} if lexicons else dict(os.environ)
    env.pop("KB_LEXICONS", None) if not lexicons else None
    args = [str(BIN / "ingest"), "build", "--db", str(db)]
    for path, lang in sources:
        args += ["--source", str(path), "--lang", lang]
    return subprocess.run(args, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def de_kb(tmp_path_factory):
    db = tmp_path_factory.mktemp("de") / "kb.db"
    run = ingest_build(db, (ROOT / "data" / "snapshots" / "sagemaker-roles.en.md", "en"), (DE_PAGE, "de"))
    assert run.returncode == 0, run.stderr
    return db


def test_without_its_lexicon_the_language_is_refused(tmp_path):
    run = ingest_build(tmp_path / "kb.db", (DE_PAGE, "de"), lexicons=False)
    assert run.returncode == 1 and "no lexicon for language 'de'" in run.stderr
    assert not (tmp_path / "kb.db").exists()


def test_the_kb_knows_the_language_and_its_words(de_kb):
    conn = query.connect(de_kb)
    assert [(x["code"], x["name"]) for x in query.languages(conn)] == [("en", "English"), ("de", "Deutsch"),
                                                                        ("ja", "日本語")]
    assert query.ui(conn, "de")["col_action"] == "Aktion"
    assert query.ui(conn, "de")["col_resource"] == "Resource"  # not in de.toml: the prevailing language's
    assert query.condition_label(conn, "vpc", "de") == "Private VPC (VpcConfig)"
    page = conn.execute("select disclaimer from page where lang = 'de'").fetchone()[0]
    assert page.startswith("Diese Seite wurde maschinell übersetzt")


def test_the_cli_answers_from_the_german_page(de_kb):
    result = CliRunner().invoke(kb_main, ["--db", str(de_kb), "requirements", "CreateModel", "--condition", "vpc",
                                          "--lang", "de", "--json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert set(got["actions"]) == X.MODEL_MAIN | X.VPC
    vpc = next(s for s in got["statements"] if s["requirement"]["condition"] == "vpc")
    assert vpc["source"]["text"] == "Wenn Sie für Ihr Modell eine private VPC angeben, fügen Sie die folgenden " \
                                    "Berechtigungen hinzu:"
    assert vpc["source"]["lang"] == "de"
    bad = CliRunner().invoke(kb_main, ["--db", str(de_kb), "apis", "--lang", "fr"])
    # the languages named are those a page of this KB is in (ja has a lexicon here, but no page)
    assert bad.exit_code == 1 and "no language 'fr' in this KB; languages: en, de\n" in bad.output


def test_the_home_page_switch_and_the_canned_queries_offer_it(de_kb):
    client = Client(make_datasette(de_kb))
    try:
        soup = BeautifulSoup(client.get("/").text, "lxml")
        # the switch offers the languages a page of this KB is in: ja has a lexicon here, but no page
        assert {a["hreflang"]: a.get_text() for a in soup.select(".lang-switch a")} == {
            "en": "English", "de": "Deutsch"}
        # asked for, it is refused as `kb apis --lang ja` refuses it: a visible message, in the prevailing language
        ja = client.get("/?lang=ja")
        assert ja.status_code == 400
        assert BeautifulSoup(ja.text, "lxml").select_one(".error").get_text() == \
            "no page in language 'ja'; languages in this KB: en, de"
        de = BeautifulSoup(client.get("/?" + urlencode({"lang": "de", "api": "CreateModel", "conditions": "vpc"})).text,
                           "lxml")
        assert de.html["lang"] == "de" and de.h1.get_text() == "Berechtigungen von SageMaker-Ausführungsrollen"
        assert de.select_one("#requirements th").get_text() == "Aktion"
        rows = client.rows("requirements", api="CreateModel", conditions="vpc", lang="de", scoped="0")
        assert {r["action"] for r in rows} == X.MODEL_MAIN | X.VPC and {r["lang"] for r in rows} == {"de"}
        assert client.rows("apis", lang="de")[0]["api"] == "CreateModel"
        assert client.get("/-/policy?api=CreateModel&lang=de").status_code == 200
    finally:
        client.close()


def test_a_lexicon_is_parsed_once_per_text_and_again_when_edited(tmp_path, monkeypatch):
    """A lexicon's parse is saved by its bytes (ingest/lexicon's _parsed): the same bytes load the
    saved parse, bytes changed by a comment are parsed again, and a broken file is refused."""
    import tomllib

    from ingest import cache
    from ingest import lexicon as lexicon_module

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    path = lexicon_module.HERE / "en.toml"
    raw = path.read_bytes()
    expected = tomllib.loads(raw.decode("utf-8"))
    assert lexicon_module._parsed(raw, path) == expected
    saved = list((tmp_path / "cache").glob("lexicon-*.pickle"))
    assert len(saved) == 1
    # what a second load returns is the saved parse: here made to say what the file does not
    cache.store_data(saved[0].stem, {**expected, "name": "the saved parse"})
    assert lexicon_module._parsed(raw, path)["name"] == "the saved parse"
    assert lexicon_module._parsed(raw + b"\n# one more comment\n", path) == expected
    assert len(list((tmp_path / "cache").glob("lexicon-*.pickle"))) == 2
    with pytest.raises(lexicon_module.LexiconError, match="not valid TOML"):
        lexicon_module._parsed(raw + b"\n[[[\n", path)
