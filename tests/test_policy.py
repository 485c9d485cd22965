"""`kb policy`: the page's policies composed per API and condition, and least-privilege policies
filled from real request bodies (tests/fixtures/requests), checked against facts read off the
pages (tests/expectations.py), botocore's request model and parliament."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from parliament import analyze_policy_string
from parliament import config as parliament_config

from kb import policy as P
from kb import query
from kb.policy.plan import _all_documented
from tests import expectations as X

REQUESTS = Path(__file__).parent / "fixtures" / "requests"
ACCOUNT = "480912345678"  # the fixtures' account (their role ARNs)
PAGES = X.PAGES


def load(name: str):
    path = REQUESTS / name
    return P.parse_document(path.read_text(encoding="utf-8"), str(path))


def req(name: str, api: str | None = None):
    return (api, load(name), name)


def granted(policy: dict) -> set[str]:
    return {a for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}


def resources_of(policy: dict, action: str) -> set[str]:
    """Resources an action is granted on, across statements."""
    return {r for s in policy["Statement"] if action in s["Action"] for r in s["Resource"]}


def assert_well_formed(policy: dict) -> None:
    assert policy["Version"] == "2012-10-17" and set(policy) == {"Version", "Statement"}
    sids = [s["Sid"] for s in policy["Statement"]]
    assert all(sid.isalnum() for sid in sids) and len(set(sids)) == len(sids)
    seen: set[tuple] = set()
    for s in policy["Statement"]:
        assert s["Action"] == sorted(s["Action"], key=str.lower)
        assert len(set(s["Resource"])) == len(s["Resource"])
        for a in s["Action"]:  # merged: an action appears once per (effect, condition block)
            key = (s["Effect"], json.dumps(s.get("Condition"), sort_keys=True), a)
            assert key not in seen, a
            seen.add(key)


def findings(policy: dict, severities: set[str]) -> list:
    result = analyze_policy_string(json.dumps(policy), include_community_auditors=False)
    return [(f.issue, f.detail) for f in result.findings if parliament_config[f.issue]["severity"] in severities]


# --------------------------------------------------------------- the page's policies -------

@pytest.mark.parametrize("lang,api,facts", list(X.page_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_policy_grants_exactly_the_documented_actions(conn, lang, api, facts):
    base = [facts["main_condition"]] if "main_condition" in facts else []
    for scoped in (False, True):
        main = facts["scoped"] if scoped and facts["scoped"] else facts["default"]
        got = P.compose(conn, [api], base, scoped=scoped, lang=lang)
        assert_well_formed(got["policy"])
        assert granted(got["policy"]) == main
        for key, additions in facts["conditions"].items():
            got = P.compose(conn, [api], [*base, key], scoped=scoped, lang=lang)
            assert granted(got["policy"]) == main | additions | X.across_pages(lang, api, [key]), (key, scoped)
            assert_well_formed(got["policy"])
        everything = P.compose(conn, [api], base + list(facts["conditions"]), scoped=scoped, lang=lang)
        assert granted(everything["policy"]) == main.union(*facts["conditions"].values()) | X.across_pages(
            lang, api, facts["conditions"])
        # the page's own policies are valid IAM: placeholders at most (INVALID_ARN), no error
        assert not findings(everything["policy"], {"CRITICAL", "HIGH"})


def test_a_condition_without_resource_gets_star_and_a_note(conn):
    got = P.compose(conn, ["CreateTrainingJob"], ["vpc", "kms_input"])
    vpc = [s for s in got["policy"]["Statement"] if "ec2:CreateNetworkInterface" in s["Action"]]
    assert vpc == [{"Sid": "VpcEc2Any", "Effect": "Allow", "Action": sorted(X.VPC, key=str.lower), "Resource": ["*"]}]
    assert resources_of(got["policy"], "kms:Decrypt") == {"*"}
    stars = [n for n in got["notes"] if "the page gives this addition without a Resource" in n]
    assert [n.split(":")[0] for n in stars] == ["VpcEc2Any", "KmsInputDecrypt"]


def test_explain_cites_the_page_sentence_and_section_in_the_chosen_language(conn):
    got = P.compose(conn, ["CreateModel"], ["vpc"], lang="ja")
    vpc = next(e for e in got["explain"] if e["condition"] == "vpc")
    assert vpc["sources"][0]["text"] == "モデルにプライベート VPC を指定する場合は、次のアクセス許可を追加します。"
    assert vpc["sources"][0]["url"] == ("https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles.html"
                                        "#sagemaker-roles-createmodel-perms")


def test_placeholders_without_a_request_are_kept_and_listed(conn):
    got = P.compose(conn, ["CreateTrainingJob"], scoped=True)
    assert resources_of(got["policy"], "s3:ListBucket") == {"arn:aws:s3:::{{inputbucket}}"}
    assert any("arn:aws:s3:::{{inputbucket}}: the page's example (pass --request FILE" in n for n in got["notes"])


def test_several_apis_make_one_merged_role(conn):
    one = P.compose(conn, ["CreateTrainingJob", "CreateModel"], ["vpc"])
    assert granted(one["policy"]) == X.JOB_MAIN | X.MODEL_MAIN | X.HOST_VPC  # CreateModel's VPC: host-vpc.md adds one
    assert_well_formed(one["policy"])
    # the page's main policies both grant on "*": one statement, plus the VPC addition
    assert [(s["Sid"], s["Resource"]) for s in one["policy"]["Statement"]] == [
        ("CloudwatchEcrLogsS3Any", ["*"]), ("VpcEc2Any", ["*"])]


def test_unknown_condition_is_refused_and_partial_ones_noted(conn):
    with pytest.raises(query.KBError, match="no en page documents for CreateModel the condition 'kms_output'"):
        P.compose(conn, ["CreateModel"], ["kms_output"])
    got = P.compose(conn, ["CreateTrainingJob", "CreateModel"], ["kms_output"])
    assert "CreateModel: no page documents the condition 'kms_output' for it; not applied to it" in got["notes"]


def test_a_condition_only_policy_is_an_error_until_the_condition_is_chosen(conn):
    with pytest.raises(query.KBError, match=r"only for .*\(kms_domain\)"):
        P.compose(conn, ["CreateDomain"])
    got = P.compose(conn, ["CreateDomain"], ["kms_domain"], region="eu-west-1", account=ACCOUNT)
    assert resources_of(got["policy"], "kms:CreateGrant") == {f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{{{{kms-key-id}}}}"}


# --------------------------------------------------------------- from requests ------------

def test_training_job_request(conn):
    got = P.compose(conn, ["CreateTrainingJob"], requests=[req("create-training-job.json")])
    pol = got["policy"]
    assert_well_formed(pol)
    assert {c["key"] for c in got["conditions"]["CreateTrainingJob"]} == {"vpc", "kms_output", "kms_volume"}
    assert granted(pol) == X.JOB_MAIN | X.VPC | X.KMS["kms_output"] | X.KMS["kms_volume"]
    assert resources_of(pol, "s3:ListBucket") == {"arn:aws:s3:::acme-ml-data", "arn:aws:s3:::acme-shared-features"}
    objects = {"arn:aws:s3:::acme-ml-data/datasets/churn/train/*", "arn:aws:s3:::acme-ml-data/datasets/churn/validation*",
               "arn:aws:s3:::acme-shared-features/churn/2024-06/*",
               "arn:aws:s3:::acme-ml-artifacts/churn/models/*"}  # SageMaker writes models/<job name>/…
    assert resources_of(pol, "s3:GetObject") == resources_of(pol, "s3:PutObject") == objects
    for a in X.ECR_PULL:
        assert resources_of(pol, a) == {f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/churn/xgboost"}
    # a key id: region from the request's other key ARN, account from its RoleArn
    assert resources_of(pol, "kms:Encrypt") == {
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
    assert resources_of(pol, "kms:CreateGrant") == {
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"}
    assert resources_of(pol, "ec2:CreateNetworkInterface") == {"*"}
    assert resources_of(pol, "logs:PutLogEvents") == {"*"}  # the page: "applicable for * resources"
    assert "CreateTrainingJob: a request cannot show condition 'kms_input' (Input encrypted with SSE-KMS); if it " \
           "applies, choose it (--condition kms_input) or give the key it stands for (--input-kms-key KEY)" in got["notes"]
    assert not findings(pol, {"CRITICAL", "HIGH", "MEDIUM"})


def test_processing_job_request_in_yaml(conn):
    got = P.compose(conn, ["CreateProcessingJob"], requests=[req("create-processing-job.yaml")])
    pol = got["policy"]
    assert {c["key"] for c in got["conditions"]["CreateProcessingJob"]} == {"vpc", "kms_output"}
    assert resources_of(pol, "s3:ListBucket") == {"arn:aws:s3:::acme-ml-artifacts", "arn:aws:s3:::acme-ml-data"}
    assert resources_of(pol, "s3:GetObject") == {
        "arn:aws:s3:::acme-ml-artifacts/churn/code/preprocess.py*", "arn:aws:s3:::acme-ml-data/raw/churn/2024-06/*",
        "arn:aws:s3:::acme-ml-data/datasets/churn/train/*", "arn:aws:s3:::acme-ml-data/datasets/churn/test/*"}  # outputs
    assert resources_of(pol, "ecr:BatchGetImage") == {
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn"}
    assert resources_of(pol, "kms:Encrypt") == {
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/5c3f1e2a-7b8d-4e6f-9a0b-1c2d3e4f5a6b"}
    assert any("in account 141502667606, not the role's" in n for n in got["notes"])
    prov = {r["field"] for e in got["explain"] for r in e["resources"] if "field" in r}
    assert "ProcessingInputs[1].S3Input.S3Uri" in prov and "ProcessingOutputConfig.Outputs[0].S3Output.S3Uri" in prov
    assert not findings(pol, {"CRITICAL", "HIGH", "MEDIUM"})


def test_tuning_job_request_reads_the_training_job_definition(conn):
    got = P.compose(conn, ["CreateHyperParameterTuningJob"], requests=[req("create-hyper-parameter-tuning-job.json")])
    pol = got["policy"]
    assert {c["key"] for c in got["conditions"]["CreateHyperParameterTuningJob"]} == {"kms_volume"}
    assert resources_of(pol, "s3:ListBucket") == {"arn:aws:s3:::acme-ml-data-use1"}
    assert resources_of(pol, "s3:PutObject") == {
        "arn:aws:s3:::acme-ml-data-use1/churn/train/*", "arn:aws:s3:::acme-ml-data-use1/churn/validation/*",
        "arn:aws:s3:::acme-ml-artifacts-use1/churn/hpo/*"}
    assert resources_of(pol, "ecr:GetDownloadUrlForLayer") == {
        "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training"}
    # the page's log-group pattern, its example region and account replaced by the request's
    assert resources_of(pol, "logs:CreateLogStream") == {
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs*"}
    assert resources_of(pol, "kms:CreateGrant") == {
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/mrk-1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"}
    assert got["context"]["from"]["region"].endswith(
        "TrainingJobDefinition.AlgorithmSpecification.TrainingImage (image registry)")
    assert any("the page's AlgorithmSpecification.TrainingImage is read at "
               "TrainingJobDefinition.AlgorithmSpecification.TrainingImage" in n for n in got["notes"])
    assert not findings(pol, {"CRITICAL", "HIGH", "MEDIUM"})


def test_tuning_job_with_several_definitions_walks_every_one(conn):
    body = load("create-hyper-parameter-tuning-job.json")
    first = body.pop("TrainingJobDefinition")
    second = json.loads(json.dumps(first))
    second["AlgorithmSpecification"]["TrainingImage"] = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/churn/lgbm:4"
    second["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://acme-other/train"
    second["VpcConfig"] = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    body["TrainingJobDefinitions"] = [dict(first, DefinitionName="torch"), dict(second, DefinitionName="lgbm")]
    got = P.compose(conn, ["CreateHyperParameterTuningJob"], requests=[(None, body, "hpo.json")])
    assert resources_of(got["policy"], "ecr:BatchGetImage") == {
        "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training",
        f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/churn/lgbm"}
    assert resources_of(got["policy"], "s3:ListBucket") == {"arn:aws:s3:::acme-ml-data-use1", "arn:aws:s3:::acme-other"}
    assert "vpc" in {c["key"] for c in got["conditions"]["CreateHyperParameterTuningJob"]}


def test_model_with_primary_container(conn):
    got = P.compose(conn, ["CreateModel"], requests=[req("create-model-primary.json")])
    pol = got["policy"]
    assert granted(pol) == X.MODEL_SCOPED | X.HOST_VPC  # the scoped variant has no s3:ListBucket
    assert resources_of(pol, "s3:GetObject") == {  # ModelDataUrl names one object
        "arn:aws:s3:::acme-ml-artifacts/churn/models/churn-xgb-2024-06-14-09-30/output/model.tar.gz"}
    # the digest is not part of the repository
    assert resources_of(pol, "ecr:BatchGetImage") == {f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/churn/xgboost-inference"}
    assert any("SecondaryContainer.Image in a CreateModel request, a member its request model does not have" in n
               for n in got["notes"])
    assert not findings(pol, {"CRITICAL", "HIGH", "MEDIUM"})


def test_model_with_containers_uses_the_primary_container_rules(conn):
    got = P.compose(conn, ["CreateModel"], requests=[req("create-model-pipeline.json")])
    pol = got["policy"]
    assert granted(pol) == X.MODEL_SCOPED
    assert resources_of(pol, "s3:GetObject") == {
        "arn:aws:s3:::acme-ml-artifacts/churn/preprocessor/model.tar.gz",
        "arn:aws:s3:::acme-ml-artifacts/churn/models/churn-xgb-2024-06-14-09-30/output/model.tar.gz"}
    assert resources_of(pol, "ecr:BatchCheckLayerAvailability") == {
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn",
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/churn/xgboost-inference"}
    assert any("the page's PrimaryContainer.Image is read at Containers.Image" in n for n in got["notes"])
    assert not findings(pol, {"CRITICAL", "HIGH", "MEDIUM"})


def test_notebook_role_that_trains_and_deploys(conn):
    """CreateNotebookInstance's rules name CreateTrainingJob and CreateModel requests."""
    got = P.compose(conn, ["CreateNotebookInstance"], requests=[
        req("create-training-job.json"), req("create-model-pipeline.json", "CreateModel")])
    pol = got["policy"]
    assert granted(pol) == X.NOTEBOOK_SCOPED
    assert resources_of(pol, "s3:DeleteObject") == {
        "arn:aws:s3:::acme-ml-data/datasets/churn/train/*", "arn:aws:s3:::acme-ml-data/datasets/churn/validation*",
        "arn:aws:s3:::acme-shared-features/churn/2024-06/*", "arn:aws:s3:::acme-ml-artifacts/churn/models/*",
        "arn:aws:s3:::acme-ml-artifacts/churn/preprocessor/model.tar.gz"}  # the models/…tar.gz is inside models/*
    assert resources_of(pol, "s3:ListBucket") == {"arn:aws:s3:::acme-ml-data", "arn:aws:s3:::acme-shared-features"}
    assert len(resources_of(pol, "ecr:BatchGetImage")) == 3
    assert resources_of(pol, "iam:PassRole") == {"*"}
    assert any("CreateTrainingJob is not among the APIs composed" in n for n in got["notes"])


def test_training_and_model_requests_for_one_role_merge(conn):
    got = P.compose(conn, ["CreateTrainingJob", "CreateModel"],
                    requests=[req("create-training-job.json"), req("create-model-primary.json")])
    pol = got["policy"]
    assert_well_formed(pol)
    assert granted(pol) == X.JOB_MAIN | X.HOST_VPC | X.KMS["kms_output"] | X.KMS["kms_volume"]
    assert resources_of(pol, "ecr:BatchGetImage") == {
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/churn/xgboost",
        f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/churn/xgboost-inference"}
    # s3:GetObject from both APIs, the model's object already inside the training output prefix
    assert "arn:aws:s3:::acme-ml-artifacts/churn/models/*" in resources_of(pol, "s3:GetObject")
    assert not any("model.tar.gz" in r for r in resources_of(pol, "s3:GetObject"))


def test_japanese_page_fills_its_plain_placeholders(conn):
    got = P.compose(conn, ["CreateTrainingJob"], requests=[req("create-training-job.json")], lang="ja")
    en = P.compose(conn, ["CreateTrainingJob"], requests=[req("create-training-job.json")])
    assert got["policy"] == en["policy"]
    assert got["explain"][1]["sources"][0]["text"].startswith('"Resource": "*" を指定する代わりに')


def test_algorithm_condition_and_its_resource(conn):
    body = load("create-training-job.json")
    body["AlgorithmSpecification"] = {
        "AlgorithmName": "arn:aws:sagemaker:eu-west-1:865070037744:algorithm/xgboost-marketplace-1-2",
        "TrainingInputMode": "File"}
    got = P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "train.json")])
    assert "algorithm" in {c["key"] for c in got["conditions"]["CreateTrainingJob"]}
    assert resources_of(got["policy"], "sagemaker:DescribeAlgorithm") == {
        "arn:aws:sagemaker:eu-west-1:865070037744:algorithm/xgboost-marketplace-1-2"}
    # no TrainingImage: no example reaches the policy; the page's unscoped form, the member that would scope it
    assert resources_of(got["policy"], "ecr:BatchGetImage") == {"*"}
    assert {"sid": "CloudwatchEcrLogsAny", "resource": "*", "field": "AlgorithmSpecification.TrainingImage",
            "actions": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "placeholder": False} in got["unresolved"]
    assert any(n.startswith("CloudwatchEcrLogsAny: ecr:BatchCheckLayerAvailability, ecr:BatchGetImage, "
                            "ecr:GetDownloadUrlForLayer on *, the page's unscoped form")
               and "(AlgorithmSpecification.TrainingImage would scope it)" in n for n in got["notes"])
    assert "{{" not in json.dumps(got["policy"])
    ja = P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "train.json")], lang="ja")
    assert "sagemaker:DescribeAlgorithm" not in granted(ja["policy"])
    # the note in the language asked (the lexicon's policy_condition_elsewhere)
    assert any("条件 'algorithm' に当たります" in n and "ページは CreateTrainingJob についてこの条件を説明していない" in n
               for n in ja["notes"])


def test_a_cli_skeleton_with_empty_members_shows_no_condition(conn):
    body = load("create-model-primary.json")
    body["VpcConfig"] = {"SecurityGroupIds": [], "Subnets": []}
    got = P.compose(conn, ["CreateModel"], requests=[(None, body, "skeleton.json")])
    assert got["conditions"]["CreateModel"] == []


def test_input_kms_key_flag_and_aliases(conn):
    got = P.compose(conn, ["CreateTrainingJob"], requests=[req("create-training-job.json")],
                    input_kms_keys=["alias/ml-input"])
    # IAM matches kms:Decrypt against the key's ARN: any key of the account the alias names
    decrypt = [s for s in got["policy"]["Statement"] if "kms:Decrypt" in s["Action"]]
    assert [(s["Resource"], s["Condition"]) for s in decrypt] == [
        ([f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"], {"ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/ml-input"]}})]
    assert any("alias/ml-input is a KMS alias, and IAM matches kms:Decrypt against the key's ARN" in n for n in got["notes"])
    KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/"
    given = P.compose(conn, ["CreateTrainingJob"], requests=[req("create-training-job.json")],
                      input_kms_keys=["alias/ml-input"],
                      kms_key_arns={"alias/ml-input": f"{KEY_ARN}aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb"})
    assert resources_of(given["policy"], "kms:Decrypt") == {
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/aaaaaaaa-1111-2222-3333-bbbbbbbbbbbb"}
    assert {"key": "kms_input", "label": "Input encrypted with SSE-KMS", "why": "--input-kms-key", "by": "option",
            "option": "input-kms-key"} in got["conditions"]["CreateTrainingJob"]
    inferred = {c["key"]: c for c in got["conditions"]["CreateTrainingJob"]}["vpc"]
    assert (inferred["by"], inferred["request"], inferred["field"]) == ("request", "create-training-job.json", "VpcConfig")


def test_what_a_request_does_not_show_is_a_wildcard_and_unresolved_never_notation(conn):
    body = {"ModelName": "m", "PrimaryContainer": {"Image": "not-ecr.example.com/team/model:1"}}
    got = P.compose(conn, ["CreateModel"], requests=[(None, body, "m.json")])
    assert resources_of(got["policy"], "ecr:BatchGetImage") == {"*"}
    assert "PrimaryContainer.Image" in {f for u in got["unresolved"] for f in (u["field"] or "").split(", ")}
    assert any("names no resource for ecr:" in n and "not an Amazon ECR image URI" in n for n in got["notes"])
    assert not any(n.startswith("no region in the request") for n in got["notes"])  # no ARN needed one
    training = load("create-training-job.json")
    del training["ResourceConfig"]["VolumeKmsKeyId"]  # the only regional ARN…
    training["AlgorithmSpecification"]["TrainingImage"] = "registry.example.com/churn/xgb:1"  # …and registry
    got = P.compose(conn, ["CreateTrainingJob"], requests=[(None, training, "t.json")])
    assert resources_of(got["policy"], "kms:Encrypt") == {
        f"arn:aws:kms:*:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}  # a key id is one key in any region
    assert "no region in the request: ARNs carry *; pass --region" in got["notes"]
    assert {"sid": None, "resource": None, "field": "--region", "actions": [], "placeholder": False} in got["unresolved"]
    got = P.compose(conn, ["CreateTrainingJob"], requests=[(None, training, "t.json")], region="ap-northeast-1")
    assert resources_of(got["policy"], "kms:Encrypt") == {
        f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"}


def test_a_location_no_page_rule_names_is_granted_as_its_api_reference_describes_it(conn):
    body = load("create-training-job.json")
    body["CheckpointConfig"] = {"S3Uri": "s3://acme-ml-artifacts-ckpt/churn/"}
    got = P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "t.json")])
    # SageMaker reads and writes checkpoints there (CheckpointConfig.S3Uri's description)
    assert "arn:aws:s3:::acme-ml-artifacts-ckpt/churn/*" in resources_of(got["policy"], "s3:GetObject")
    assert "arn:aws:s3:::acme-ml-artifacts-ckpt/churn/*" in resources_of(got["policy"], "s3:PutObject")
    assert "arn:aws:s3:::acme-ml-artifacts-ckpt" in resources_of(got["policy"], "s3:ListBucket")
    assert not any("ckpt" in n and "used by no statement" in n for n in got["notes"])


@pytest.mark.parametrize("flags,message", [
    ({"region": "Europe"}, "'Europe' is not a region name"),
    ({"account": "4809-1234"}, "'4809-1234' is not a 12-digit AWS account ID"),
    ({"region": "Europe", "account": "4809-1234", "lang": "ja"},
     "'Europe' はリージョン名 .* '4809-1234' は 12 桁の AWS アカウント ID ではありません"),
])
def test_bad_region_or_account_flags(conn, flags, message):
    """Said as `kb trust-policy` says it (kb.checks), both at once, in the language asked."""
    with pytest.raises(query.KBError, match=message):
        P.compose(conn, ["CreateDomain"], ["kms_domain"], **flags)


@pytest.mark.parametrize("body,lang,message", [
    ({"TrainingJobName": "x", "VpcConfg": {}}, "en", "has no member 'VpcConfg' (did you mean 'VpcConfig'?)"),
    ({"InputDataConfig": {"ChannelName": "train"}}, "en", "InputDataConfig must be a list, not an object"),
    (["not", "an", "object"], "en", "a request must be a JSON object"),
    ({"TrainingJobName": "x", "VpcConfg": {}, "Foo": 1}, "ja",
     "r.json: CreateTrainingJob のリクエストにメンバー 'VpcConfg' はありません (もしかして 'VpcConfig'?) ほか 1 件"),
    ({"InputDataConfig": {"ChannelName": "train"}}, "ja", "InputDataConfig はリストでなければなりません (オブジェクトです)"),
])
def test_bad_requests_are_one_clear_error_in_the_language_asked(conn, body, lang, message):
    with pytest.raises(query.KBError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "r.json")], lang=lang)


def test_a_bad_kms_key_arn_is_refused_in_the_language_asked(conn):
    with pytest.raises(query.KBError, match=r"'arn:bad' は KMS キーの ARN .* ではありません"):
        P.compose(conn, ["CreateTrainingJob"], lang="ja", kms_key_arns={"alias/x": "arn:bad"})


def test_condition_fields_exist_in_every_api_that_documents_the_condition(conn):
    """The lexicon's request_fields, as stored in the KB, must each reach a real request member
    of every API whose section documents the condition (botocore's shapes)."""
    from ingest.catalog import ApiModel
    from kb.query import condition_fields

    model = ApiModel()
    fields = condition_fields(conn)
    assert fields["vpc"] == ("VpcConfig",) and fields["kms_input"] == () and fields["guardrails"] == ()
    for lang in ("en", "ja"):
        for api, conds in _all_documented(conn, lang).items():
            paths = model.request_paths(api)
            for cond in conds:
                hit = [p for p in paths for pat in fields[cond]
                       if (p == pat[1:] if pat.startswith("/") else p == pat or p.endswith("." + pat))]
                assert hit or not fields[cond], (lang, api, cond)


# --------------------------------------------------------------- the command -------------

def kb(db, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "kb", "--db", str(db), *args], capture_output=True, text=True,
                          input=stdin)


def test_cli_json_is_the_policy_document_alone(kb_db):
    run = kb(kb_db, "policy", "CreateTrainingJob", "--request", str(REQUESTS / "create-training-job.json"), "--json")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert set(doc) == {"Version", "Statement"} and all("Sid" in s for s in doc["Statement"])
    assert "note: CreateTrainingJob: a request cannot show condition 'kms_input'" in run.stderr
    # Without --json too, standard output is the document alone: the summary and notes are on stderr.
    plain = kb(kb_db, "policy", "CreateTrainingJob", "--request", str(REQUESTS / "create-training-job.json"))
    assert plain.returncode == 0 and json.loads(plain.stdout) == doc
    assert "# resource-scoped policy · en page · conditions — CreateTrainingJob: kms_output (inferred from" in plain.stderr
    assert "# note: CreateTrainingJob: a request cannot show condition 'kms_input'" in plain.stderr


def test_cli_explain_and_stdin(kb_db):
    body = (REQUESTS / "create-model-primary.json").read_text()
    run = kb(kb_db, "policy", "CreateModel", "--request", "-", "--explain", "--lang", "ja", stdin=body)
    assert run.returncode == 0, run.stderr
    assert "// CreateModel · vpc: “モデルにプライベート VPC を指定する場合は、次のアクセス許可を追加します。”" in run.stdout
    assert "#sagemaker-roles-createmodel-perms" in run.stdout
    assert "← <stdin>: PrimaryContainer.ModelDataUrl = s3://acme-ml-artifacts/" in run.stdout
    both = json.loads(kb(kb_db, "policy", "CreateModel", "--explain", "--json").stdout)
    assert set(both) == {"policy", "conditions", "explain", "notes"}


@pytest.mark.parametrize("content,suffix,message,japanese", [
    ('{"TrainingJobName": "x",\n', ".json", "the request is not valid JSON: Expecting property name enclosed in double "
                                            "quotes (line 2, column 1)",
     "リクエストが正しい JSON ではありません: Expecting property name enclosed in double quotes (2 行 1 列)"),
    ("TrainingJobName: [x\n", ".yaml", "not valid YAML: expected ',' or ']', but got '<stream end>' (line 2, column 1)",
     "正しい YAML ではありません: expected ',' or ']', but got '<stream end>' (2 行 1 列)"),
    ("", ".json", "the request is empty", "リクエストが空です"),
    (b"\xff\xfe{}", ".json", "the request is not UTF-8 text", "リクエストが UTF-8 のテキストではありません"),
])
def test_cli_malformed_request_file_is_one_line(kb_db, tmp_path, content, suffix, message, japanese):
    path = tmp_path / f"r{suffix}"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    for lang, said in (("en", message), ("ja", japanese)):
        run = kb(kb_db, "policy", "CreateTrainingJob", "--request", str(path), "--lang", lang)
        assert run.returncode == 1 and run.stdout == ""
        assert run.stderr == f"kb: {path}: {said}\n", lang


def test_cli_malformed_option_and_manifest_in_the_language_asked(kb_db, tmp_path):
    run = kb(kb_db, "policy", "CreateTrainingJob", "--kms-key-arn", "alias/x", "--lang", "ja")
    assert run.returncode == 1 and run.stderr.startswith("kb: --kms-key-arn 'alias/x': ALIAS=ARN の形で指定してください")
    manifest = tmp_path / "m.json"
    manifest.write_text("[1, 2]")
    run = kb(kb_db, "policy", "CreateTrainingJob", "--request", str(REQUESTS / "create-training-job.json"),
             "--manifest", str(manifest), "--lang", "ja")
    assert run.returncode == 1 and run.stderr == f"kb: {manifest}: SageMaker のマニフェストではありません (JSON のリスト: " \
                                                 '{"prefix": "s3://…/"} に続けてキー)\n'
    run = kb(kb_db, "policy", "CreateTrainingJob", "--request", "/nonexistent/r.json", "--lang", "ja")
    assert run.returncode == 1
    assert run.stderr == "kb: /nonexistent/r.json: リクエストを読み込めません: No such file or directory\n"


def test_cli_missing_file_and_unknown_api(kb_db):
    run = kb(kb_db, "policy", "CreateTrainingJob", "--request", "/nonexistent/r.json")
    assert run.returncode == 1 and run.stderr == "kb: /nonexistent/r.json: cannot read the request: No such file or directory\n"
    run = kb(kb_db, "policy", "CreateTrainingJobs")
    assert run.returncode == 1 and run.stderr.startswith("kb: 'CreateTrainingJobs' has no permissions section")
