"""`kb requirements` and friends against a KB built from the shipped pages, compared with
the facts labelled by hand in tests/expectations.py."""

import json
import subprocess
import sys

import pytest

from kb import query
from kb import roles as kb_roles
from tests import expectations as X

PAGES = X.PAGES
ROLES = X.ROLES  # the labels are the roles pages' facts: each test asks that page


@pytest.mark.parametrize("lang,api,facts", list(X.page_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_main_policy_and_each_condition(conn, lang, api, facts):
    base_conditions = [facts["main_condition"]] if "main_condition" in facts else []
    main = query.requirements(conn, api, base_conditions, lang=lang, page=ROLES)
    assert set(main["actions"]) == facts["default"]
    scoped = query.requirements(conn, api, base_conditions, scoped=True, lang=lang, page=ROLES)
    assert set(scoped["actions"]) == (facts["scoped"] or facts["default"])
    assert scoped["variant"] == ("scoped" if facts["scoped"] else "default")
    documented = {c["key"] for c in query.conditions(conn, api, lang, ROLES)}
    assert documented == set(facts["conditions"]) | set(base_conditions)
    for key, additions in facts["conditions"].items():
        for variant, expected_main in (("default", facts["default"]), ("scoped", facts["scoped"] or facts["default"])):
            got = query.requirements(conn, api, [*base_conditions, key], scoped=variant == "scoped", lang=lang,
                                     page=ROLES)
            assert set(got["actions"]) == expected_main | additions, (key, variant)


def test_every_statement_cites_its_page_section_and_sentence(conn):
    got = query.requirements(conn, "CreateModel", ["vpc"], lang="ja")
    vpc = next(s for s in got["statements"] if s["requirement"]["condition"] == "vpc")
    src = vpc["source"]
    assert src["url"] == ("https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles.html"
                          "#sagemaker-roles-createmodel-perms")
    assert src["heading"] == "CreateModel API: 実行ロールのアクセス許可"
    assert src["text"] == "モデルにプライベート VPC を指定する場合は、次のアクセス許可を追加します。"
    assert vpc["resources"] is None and any(n["kind"] == "no_resource" for n in got["notes"])
    assert got["conditions"][0]["label"] == "プライベート VPC (VpcConfig)"


def test_guardrails_requirement_comes_from_the_note(conn):
    got = query.requirements(conn, "CreateModel", ["guardrails"], page=ROLES)
    prose = [s for s in got["statements"] if s["source"]["role"] == "prose"]
    assert [s["actions"] for s in prose] == [["cloudwatch:DescribeAlarms"]]
    assert "deployment guardrails feature" in prose[0]["source"]["text"]


def test_key_policy_is_never_a_role_requirement(conn):
    got = query.requirements(conn, "CreateDomain", ["kms_domain"])
    assert all(s["source"]["role"] != "key_policy" for s in got["statements"])
    assert got["statements"][0]["resources"] == ["arn:aws:kms:{{us-east-1}}:{{111122223333}}:key/{{kms-key-id}}"]


def test_condition_main_policy_is_explained_when_missing(conn):
    got = query.requirements(conn, "CreateDomain")
    assert got["actions"] == [] and any(n["kind"] == "main_policy_condition" and n["condition"] == "kms_domain"
                                        and "kms_domain" in n["text"] for n in got["notes"])


@pytest.mark.parametrize("lang,expected", [("en", X.PASSROLE_EN), ("ja", X.PASSROLE_JA)])
def test_passrole_list(conn, lang, expected):
    got = query.apis(conn, lang, passrole_only=True, page=ROLES)
    assert sorted(a["name"] for a in got) == sorted(expected)
    typo = [a for a in got if a["doc_spelling"] != a["name"]]
    assert [(a["name"], a["doc_spelling"]) for a in typo] == [("CreateFlowDefinition", "CreateFlowDefiniton")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_trust_policy(conn, lang):
    assert kb_roles.trust_policy(conn, lang, page=ROLES)["policy"] == X.TRUST_POLICY
    # across the whole guide, the plain trust policy most pages print is the same
    assert kb_roles.trust_policy(conn, lang)["policy"] == X.TRUST_POLICY


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("api", list(X.SCOPING))
def test_scoping_rules(conn, lang, api):
    got = [(r["request_api"], r["field"], r["actions"]) for r in query.scoping(conn, api, lang, ROLES)]
    assert got == X.SCOPING[api]


def test_scoping_marks_fields_outside_the_api_model(conn):
    rules = {(r["request_api"], r["field"]): r for r in query.scoping(conn, "CreateHyperParameterTuningJob")}
    image = rules[("CreateHyperParameterTuningJob", "AlgorithmSpecification.TrainingImage")]
    assert image["in_api_model"] is False
    assert image["suggested_field"] == "TrainingJobDefinition.AlgorithmSpecification.TrainingImage"
    assert rules[("CreateTrainingJob", "InputDataConfig.DataSource.S3DataSource.S3Uri")]["in_api_model"] is True


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_doc_errata_are_reported(conn, lang):
    found = {(f["kind"], f["subject"]) for f in query.findings(conn, lang, page=ROLES)}
    assert (X.ERRATA_EN if lang == "en" else X.ERRATA) <= found
    assert ("unknown_request_field", "AlgorithmSpecification.TrainingImage") not in {
        (f["kind"], f["subject"]) for f in query.findings(conn, lang, page=ROLES)
        if (f["section"] or "").endswith("createtrainingjob-perms")}
    typo = next(iter(query.findings(conn, lang, kind="api_name_typo", page=ROLES)))
    assert typo["section"] == "sagemaker-roles-pass-role" and typo["line"]


def test_drift_between_english_and_japanese(conn):
    drift = {(f["lang"], f["subject"]) for f in query.findings(conn, kind="drift")}
    assert ("en", "CreateAutoMLJobV2") in drift
    assert ("en", "UpdateNotebookInstance") in drift
    assert ("en", "CreateTrainingJob / algorithm / any") in drift
    assert ("ja", "CreateImage / main policy / default: iam:PassRole") in drift


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_an_api_only_in_the_passrole_list_is_an_error_not_an_empty_answer(conn, lang):
    """CreateCompilationJob (both pages) and UpdateNotebookInstance (en) are named only in the list
    of APIs that pass the role: no section gives them a policy."""
    documented = {a["name"] for a in query.apis(conn, lang, page=ROLES) if a["documented"]}
    only_listed = [a for a in (X.PASSROLE_EN if lang == "en" else X.PASSROLE_JA) if a not in documented]
    assert {"CreateCompilationJob", "CreateLabelingJob"} <= set(only_listed)
    assert ("UpdateNotebookInstance" in only_listed) == (lang == "en")
    # the refusal is in the language asked (the lexicon's error_* sentences)
    said = {"en": "the en page 'sagemaker-roles' documents no permissions for {api}: it names it only among the APIs "
                  "that pass the execution role (iam:PassRole)",
            "ja": "ja のページ 'sagemaker-roles' は {api} のアクセス許可を説明していません。実行ロールを渡す (iam:PassRole) "
                  "API の一覧に名前があるだけです"}[lang]
    for api in only_listed:
        for ask in (query.requirements, query.scoping, query.conditions):
            with pytest.raises(query.KBError) as refused:
                ask(conn, api, lang=lang, page=ROLES)
            assert str(refused.value) == said.format(api=api)


def test_an_api_the_asked_language_only_lists_says_which_pages_document_it(conn):
    # the Japanese roles page lists CreateLabelingJob among the APIs that pass the role; the English
    # Ground Truth page (sms-security-permission-execution-role) gives its policy
    with pytest.raises(query.KBError) as refused:
        query.requirements(conn, "CreateLabelingJob", lang="ja")
    assert str(refused.value) == ("ja のページは CreateLabelingJob のアクセス許可を説明していません。実行ロールを渡す "
                                  "(iam:PassRole) API の一覧に名前があるだけです (en のページが説明しています)")
    # asked of one page, the refusal speaks of that page alone (the test above)


def test_unknown_condition_is_refused_with_the_valid_keys(conn):
    with pytest.raises(query.KBError, match="valid keys: guardrails, vpc"):
        query.requirements(conn, "CreateModel", ["kms_output"], page=ROLES)


def _kb(db, *args):
    return subprocess.run([sys.executable, "-m", "kb", "--db", str(db), *args], capture_output=True, text=True)


def test_cli_json_matches_the_query_and_errors_are_one_line(shipped_kb, conn):
    run = _kb(shipped_kb, "requirements", "CreateModel", "--condition", "vpc", "--lang", "ja", "--page", X.ROLES, "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data["actions"]) == X.MODEL_MAIN | X.VPC
    for args, needle in [(("requirements", "NoSuchApi"), "has no permissions section"),
                         (("requirements", "CreateModel", "--condition", "nope"), "valid keys"),
                         (("requirements", "CreateTraningJob"), "(did you mean CreateTrainingJob?)"),
                         (("requirements", "CreateAutoMLJobV2", "--lang", "ja"), "(en のページが説明しています)"),
                         (("requirements", "CreateAutoMLJobV2", "--page", "nope"), "no current en page 'nope'"),
                         # the roles page names it only in its PassRole list (neo-vpc documents its VPC additions)
                         (("scoping", "createcompilationjob", "--page", X.ROLES), "no permissions for CreateCompilationJob")]:
        bad = _kb(shipped_kb, *args)
        assert bad.returncode == 1 and needle in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "kb", "--db", "/nonexistent/kb.db", "apis"],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "ingest build" in missing.stderr and "Traceback" not in missing.stderr


def test_cli_apis_scoping_check_and_trust_policy(shipped_kb):
    apis = json.loads(_kb(shipped_kb, "apis", "--passrole", "--page", X.ROLES, "--json").stdout)
    assert {a["name"] for a in apis} == set(X.PASSROLE_EN)
    assert set(apis[0]) >= {"name", "doc_spelling", "passes_role"}
    scoping = json.loads(_kb(shipped_kb, "scoping", "CreateModel", "--json").stdout)
    assert set(scoping[0]) >= {"field", "request_api", "actions", "in_api_model"}
    check = json.loads(_kb(shipped_kb, "check", "--json").stdout)
    assert set(check[0]) >= {"kind", "subject", "detail", "page", "lang", "section"}
    assert json.loads(_kb(shipped_kb, "trust-policy", "--json").stdout) == X.TRUST_POLICY
