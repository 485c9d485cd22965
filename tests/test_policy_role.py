"""The whole role (`kb policy --format role|cloudformation|terraform|cli`): the trust policy the
confused-deputy page prints for the kind of job, filled with the request's region and account; the
caller's statement from the caller table (api-permissions-reference.md) and the guide's caller
policies' iam:PassRole condition; IAM's size quotas; and the requests people already have
(CloudTrail events, a Pipeline definition). cfn-lint checks the CloudFormation."""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kb import policy as P
from kb.policy.documents import parse_document
from kb.policy.formats import render
from kb.policy.role import policy_size, whole_role

FIXTURES = Path(__file__).parent / "fixtures" / "requests"
ROOT = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::480912345678:role/service-role/SageMakerFraudTraining"


def load(name: str) -> object:
    return parse_document((FIXTURES / name).read_text(encoding="utf-8"), name, "request")


@pytest.fixture(scope="module")
def training_role(conn):
    composed = P.compose(conn, ["CreateTrainingJob"], requests=[(None, load("training-full.json"), "t.json")])
    return whole_role(conn, composed, "en")


def test_the_trust_policy_is_the_training_jobs_with_the_requests_region_and_account(training_role):
    trust = training_role["trust_policy"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sagemaker.amazonaws.com"}]
    assert trust[0]["Condition"] == {"ArnLike": {"aws:SourceArn": "arn:aws:sagemaker:eu-west-1:480912345678:training-job/*"}}
    assert training_role["sources"]["trust"]["page"] == "security-confused-deputy-prevention"
    assert (training_role["role_name"], training_role["role_path"]) == ("SageMakerFraudTraining", "/service-role/")


def test_the_caller_creates_that_job_passes_that_role_and_grants_on_the_volume_key(training_role):
    by_sid = {s["Sid"]: s for s in training_role["caller_policy"]["Statement"]}
    assert by_sid["CallerSagemaker"]["Action"] == ["sagemaker:CreateTrainingJob"]
    assert by_sid["CallerSagemaker"]["Resource"] == ["arn:aws:sagemaker:eu-west-1:480912345678:training-job/fraud-xgb-2024-11-20"]
    # "kms:CreateGrant (required only if the associated ResourceConfig has a specified VolumeKmsKeyId …)"
    assert by_sid["CallerKms"]["Action"] == ["kms:CreateGrant"]
    assert by_sid["CallerKms"]["Resource"] == ["arn:aws:kms:eu-west-1:480912345678:key/0987dcba-09fe-87dc-65ba-ab0987654321"]
    # the guide's caller policies: iam:PassRole conditioned on iam:PassedToService
    assert by_sid["CallerPassesTheRole"] == {
        "Sid": "CallerPassesTheRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [ROLE],
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}


def test_cloudformation_passes_cfn_lint_and_carries_the_same_documents(training_role, tmp_path):
    text = render("cloudformation", training_role)
    path = tmp_path / "role.yaml"
    path.write_text(text)
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    template = yaml.safe_load(text)
    role = template["Resources"]["ExecutionRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"] == training_role["trust_policy"]
    assert role["Policies"][0]["PolicyDocument"] == training_role["permissions"][0]["document"]
    assert template["Resources"]["CallerPolicy"]["Properties"]["PolicyDocument"] == training_role["caller_policy"]


def test_terraform_escapes_policy_variables_and_cli_commands_parse(training_role):
    role = copy.deepcopy(training_role)
    role["permissions"][0]["document"]["Statement"][0]["Resource"] = ["arn:aws:s3:::b/${aws:username}/a${*}b"]
    tf = render("terraform", role)
    assert 'resource "aws_iam_role" "execution"' in tf and 'resource "aws_iam_role_policy"' in tf
    assert "$${aws:username}/a$${*}b" in tf and "${aws" not in tf.replace("$${", "")
    commands = [shlex.split(line) for line in render("cli", training_role).splitlines() if not line.startswith("#")]
    assert [c[:3] for c in commands] == [["aws", "iam", "create-role"], ["aws", "iam", "put-role-policy"],
                                         ["aws", "iam", "create-policy"]]
    assert json.loads(commands[0][commands[0].index("--assume-role-policy-document") + 1]) == role["trust_policy"]
    assert json.loads(commands[1][-1]) == training_role["permissions"][0]["document"]


def test_over_the_inline_quota_the_permissions_split_into_managed_policies_within_theirs(conn):
    body = load("training-full.json")
    channel = body["InputDataConfig"][0]
    body["InputDataConfig"] = [json.loads(json.dumps(channel).replace("train", f"train-{i:03d}")) | {"ChannelName": f"c{i}"}
                               for i in range(200)]
    composed = P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "big.json")])
    assert policy_size(composed["policy"]) > 10240
    role = whole_role(conn, composed, "en")
    assert role["managed"] and len(role["permissions"]) > 1
    assert all(policy_size(p["document"]) <= 6144 for p in role["permissions"])
    def grants(statements):
        return sorted((a, r) for s in statements for a in s["Action"] for r in s["Resource"])

    # every grant once: a statement too big for one managed policy is cut along its resources
    assert grants(s for p in role["permissions"] for s in p["document"]["Statement"]) == grants(composed["policy"]["Statement"])
    assert any("over IAM's 10240 for a role's inline policies" in n for n in role["notes"])
    template = yaml.safe_load(render("cloudformation", role))
    assert len(template["Resources"]["ExecutionRole"]["Properties"]["ManagedPolicyArns"]) == len(role["permissions"])


def test_a_pipeline_definition_yields_one_policy_for_its_processing_training_and_model_steps(conn):
    got = P.compose(conn, [], requests=[(None, load("pipeline-churn.json"), "pipeline.json")])
    assert got["apis"] == ["CreateProcessingJob", "CreateTrainingJob", "CreateModel"]
    assert [r["source"] for r in got["requests"]] == [
        "pipeline.json: step PreprocessChurn", "pipeline.json: step TrainChurn", "pipeline.json: step CreateChurnModel"]
    steps = {p["request"].split(": step ")[1] for ex in got["explain"] for p in ex["resources"] if "request" in p}
    assert steps == {"PreprocessChurn", "TrainChurn", "CreateChurnModel"}  # each statement says whose it is
    # the parameter's default stands for the reference to it
    assert any("arn:aws:s3:::acme-ml-data/raw/churn/2024-06/*" in s["Resource"] for s in got["policy"]["Statement"])
    assert ("pipeline.json: step CreateChurnModel: PrimaryContainer.ModelDataUrl is "
            "Steps.TrainChurn.ModelArtifacts.S3ModelArtifacts, what another step produces") in " ".join(got["notes"])
    assert any("step ChurnAucTooLow: a step of type Fail" in n for n in got["notes"])


def test_a_cloudtrail_file_gives_its_creating_events_requests(conn):
    got = P.compose(conn, [], requests=[(None, load("cloudtrail-create-training-job.json"), "trail.json")])
    assert got["apis"] == ["CreateTrainingJob"]
    assert [r["source"] for r in got["requests"]] == ["trail.json: event 2 (CreateTrainingJob)"]
    ecr = {r for s in got["policy"]["Statement"] if "ecr:BatchGetImage" in s["Action"] for r in s["Resource"]}
    assert ecr == {"arn:aws:ecr:eu-west-1:480912345678:repository/fraud/xgboost"}


def test_the_cli_writes_each_format_and_refuses_an_unknown_one(kb_db, tmp_path):
    def kb(*args):
        return subprocess.run([sys.executable, "-m", "kb", "--db", str(kb_db), *args], capture_output=True,
                              text=True, cwd=ROOT)

    out = kb("policy", "--request", str(FIXTURES / "training-full.json"), "--format", "role")
    assert out.returncode == 0, out.stderr
    role = json.loads(out.stdout)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"] \
        == "arn:aws:sagemaker:eu-west-1:480912345678:training-job/*"
    assert role["CallerPolicy"]["Statement"][-1]["Resource"] == [ROLE]
    bad = kb("policy", "CreateTrainingJob", "--format", "pulumi")
    assert bad.returncode == 2 and "'pulumi' is not one of 'json', 'role', 'cloudformation'" in bad.stderr
    none = kb("policy")
    assert none.returncode == 1 and "name the API(s) the role is passed to" in none.stderr


def test_the_panels_downloads_are_the_clis_formats(kb_db, conn):
    """One answer: POST /-/policy carries the whole role in each --format, as `kb policy` writes it."""
    from kb.serve import make_datasette
    from tests.helpers import Client

    body = load("training-full.json")
    client = Client(make_datasette(kb_db))
    try:
        r = client.loop.run_until_complete(client.ds.client.post(
            "/-/policy", json={"apis": ["CreateTrainingJob"], "request": body}))
    finally:
        client.close()
    assert r.status_code == 200, r.text
    for fmt in ("role", "cloudformation", "terraform", "cli"):
        cli = subprocess.run([sys.executable, "-m", "kb", "--db", str(kb_db), "policy", "CreateTrainingJob", "--request",
                              str(FIXTURES / "training-full.json"), "--format", fmt], capture_output=True, text=True)
        assert cli.returncode == 0, cli.stderr
        route = r.json()["formats"][fmt]
        # the sources name the request as each door received it; everything else is the same
        assert route.replace('"request"', "R") == cli.stdout.replace(f'"{FIXTURES / "training-full.json"}"', "R"), fmt


def test_an_audit_reads_the_request_files_as_the_writer_does_and_needs_no_api(conn, kb_db, tmp_path):
    pipeline = (None, load("pipeline-churn.json"), "pipeline.json")
    composed = P.compose(conn, [], requests=[pipeline])
    got = P.audit(conn, [(composed["policy"], "p.json")], [], requests=[pipeline])
    assert got["apis"] == ["CreateProcessingJob", "CreateTrainingJob", "CreateModel"]
    assert (got["missing"], got["excess"], got["broader"]) == ([], [], [])
    path = tmp_path / "p.json"
    path.write_text(json.dumps(composed["policy"]))
    run = subprocess.run([sys.executable, "-m", "kb", "--db", str(kb_db), "audit", str(path), "--request",
                          str(FIXTURES / "pipeline-churn.json"), "--strict"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
