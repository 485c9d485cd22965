"""The guide's own pages (data/guide/sagemaker-dg/en/doc_source), labelled by reading them: for each
page, every code block the KB counts (policy or not) with its kind, the role contexts it is about and
the condition it applies under, against the shipped KB. The labels are the pages' words (quoted in
each entry), not the program's output: a disagreement is the extractor's bug, or this file's.

Families: per-API sections (sagemaker-geospatial-roles), feature pages (Ground Truth, its KMS page,
Augmented AI, asynchronous inference, notebook jobs), the VPC pages (batch, hosting, Neo, Inference
Recommender, training, processing), the caller table (api-permissions-reference), the confused-deputy
page, a managed-policy page (security-iam-awsmanpol-ground-truth). The roles page itself (both
languages) is labelled in tests/expectations.py (tests/test_requirements.py).
"""

from __future__ import annotations

import pytest

from kb import roles as kb_roles
from kb.query import KBError

EXEC, TRUST, KEY, CALLER, VPCE, OTHER = "execution_role", "trust", "key", "caller", "vpc_endpoint", "other"
MAIN = None  # the context's main policy there (no condition)
GEO = ("StartEarthObservationJob", "StartVectorEnrichmentJob", "ExportEarthObservationJob", "ExportVectorEnrichmentJob")

# page → {line of the code block: (kind or None for no policy, role contexts, conditions)}; contexts are
# API names or "feature:<page>"; conditions: the requirement's condition keys (MAIN for the main policy),
# empty for a snippet that is no role requirement (trust, key, endpoint policies, no policy).
LABELS: dict[str, dict[int, tuple[str | None, set[str], set[str | None]]]] = {
    # Per-API sections: "For an execution role that you can pass in a StartEarthObservationJob API request,
    # you can attach the following minimum permission policy"; the trust policy "is the same for all of the
    # execution roles" of the page's APIs.
    "sagemaker-geospatial-roles": {
        46: (TRUST, set(GEO), set()),
        85: (EXEC, {"StartEarthObservationJob"}, {MAIN}),
        121: (EXEC, {"StartVectorEnrichmentJob"}, {MAIN}),
        157: (EXEC, {"ExportEarthObservationJob"}, {MAIN}),
        193: (EXEC, {"ExportVectorEnrichmentJob"}, {MAIN}),
    },
    # "Create a SageMaker Execution Role for a Ground Truth Labeling Job": built-in task types (main),
    # "If you create a streaming labeling job, you must add …", "If you want to create a custom labeling
    # workflow, add the following statement", "a labeling job with automated data labeling … 2) update
    # the trust policy of the execution role".
    "sms-security-permission-execution-role": {
        32: (EXEC, {"CreateLabelingJob"}, {MAIN}),
        81: (EXEC, {"CreateLabelingJob"}, {"streaming"}),
        196: (EXEC, {"CreateLabelingJob"}, {"custom_workflow"}),
        216: (EXEC, {"CreateLabelingJob"}, {"automated_labeling"}),
        235: (TRUST, {"CreateLabelingJob"}, set()),
    },
    # "replace the IAM service-role ARN in "Principal" with the ARN of the execution role you use to create
    # the labeling job" (a key policy); "Attach a policy similar to the following to the IAM execution role
    # you use to create your labeling job" under "Encrypt Storage Volume" (VolumeKmsKeyId).
    "sms-security-kms-permissions": {
        13: (KEY, set(), set()),
        37: (EXEC, {"CreateLabelingJob"}, {"kms_volume"}),
    },
    # CORS configurations are no policy; "attach these policies to the role that is passed to the `RoleArn`
    # parameter of the `CreateFlowDefinition` operation" and its trust policy; the template preview role:
    # "In the `RenderUiTemplate` operation, use the role's ARN in the `RoleArn` parameter"; a key policy.
    "a2i-permissions-security": {
        39: (None, set(), set()),
        50: (None, set(), set()),
        71: (EXEC, {"CreateFlowDefinition"}, {MAIN}),
        99: (TRUST, {"CreateFlowDefinition"}, set()),
        170: (EXEC, {"RenderUiTemplate"}, {MAIN}),
        197: (KEY, set(), set()),
    },
    # "create an IAM role that can run SageMaker and has permission to access Amazon S3 and Amazon SNS"
    # (no API carries it on the page: the feature's role); SNS "optionally"; an SNS ARN format is no policy.
    "async-inference-create-endpoint-prerequisites": {
        70: (EXEC, {"feature:async-inference-create-endpoint-prerequisites"}, {MAIN}),
        96: (EXEC, {"feature:async-inference-create-endpoint-prerequisites"}, {"sns_notifications"}),
        133: (None, set(), set()),
    },
    # Notebook jobs: the job execution role's trust relationships, "an example policy that you should add
    # to the Studio execution and notebook job roles", "(optional) … to use a custom KMS key".
    "scheduled-notebook-policies": {
        22: (TRUST, {"feature:scheduled-notebook-policies"}, set()),
        50: (EXEC, {"feature:scheduled-notebook-policies"}, {MAIN}),
        169: (EXEC, {"feature:scheduled-notebook-policies"}, {"custom_kms"}),
    },
    # The VPC pages: a VpcConfig example is no policy; "The default endpoint policy …"; "the IAM execution
    # role that you use to create your model must include … the following permissions required for a
    # private VPC" (batch transform runs with the model's role: CreateTransformJob carries none).
    "batch-vpc": {
        13: (None, set(), set()),
        30: (EXEC, {"CreateModel"}, {"vpc"}),
        87: (VPCE, set(), set()),
    },
    "host-vpc": {  # "you must add the following permissions to that policy to use models configured for VPC access"
        12: (None, set(), set()),
        69: (VPCE, set(), set()),
        107: (EXEC, {"CreateModel"}, {"vpc"}),
    },
    "neo-vpc": {  # "These permissions allow SageMaker Neo to create an elastic network interface and attach it to
        # compilation job running in a Amazon VPC"
        10: (None, set(), set()),
        61: (VPCE, set(), set()),
        91: (EXEC, {"CreateCompilationJob"}, {"vpc"}),
    },
    "inference-recommender-vpc-access": {  # "attach it to the inference recommendation job running in an Amazon VPC"
        11: (None, set(), set()),
        61: (EXEC, {"CreateInferenceRecommendationsJob"}, {"vpc"}),
    },
    "train-vpc": {12: (None, set(), set()), 71: (VPCE, set(), set())},
    "process-vpc": {13: (None, set(), set()), 68: (VPCE, set(), set())},
    # Confused deputy: a generic resource-policy example ("service:ActionName"), then one trust policy per
    # kind of job; those that name a job a request creates are that API's role.
    "security-confused-deputy-prevention": {
        28: (OTHER, set(), set()),
        58: (TRUST, {"feature:security-confused-deputy-prevention"}, set()),  # Edge Manager
        80: (TRUST, {"feature:security-confused-deputy-prevention"}, set()),  # Images
        102: (TRUST, {"feature:security-confused-deputy-prevention"}, set()),  # Inference
        124: (TRUST, {"feature:security-confused-deputy-prevention"}, set()),  # batch transform jobs
        150: (TRUST, {"feature:security-confused-deputy-prevention"}, set()),  # Marketplace
        176: (TRUST, {"CreateCompilationJob"}, set()),  # "Neo compilation jobs"
        202: (TRUST, {"StartPipelineExecution"}, set()),  # "pipeline execution records"
        230: (TRUST, {"CreateProcessingJob"}, set()),  # "processing jobs"
        256: (TRUST, {"feature:security-confused-deputy-prevention"}, set()),  # Studio
        282: (TRUST, {"CreateTrainingJob"}, set()),  # "training jobs"
    },
    # A managed-policy page: each "AWS managed policy: …" prints the policy's own document, nobody's to add.
    "security-iam-awsmanpol-ground-truth": {26: (OTHER, set(), set()), 186: (OTHER, set(), set()),
                                            212: (OTHER, set(), set())},
    # The caller table prints no policy: its facts are the caller's rows (below).
    "api-permissions-reference": {},
}


def _read(conn, page: str) -> dict[int, tuple[str | None, set[str], set[str | None]]]:
    """What the KB holds for each code block of the page's current English version."""
    out = {}
    for s in conn.execute("""select s.id, s.line, s.kind from snippet s join page p on p.id = s.page_id
                             where p.page_key = ? and p.lang = 'en' and p.is_current""", [page]):
        contexts = {r[0] for r in conn.execute(
            """select c.key from snippet_context x join role_context c on c.id = x.context_id where x.snippet_id = ?
               union select c.key from requirement r join role_context c on c.id = r.context_id
               where r.snippet_id = ?""", [s["id"], s["id"]])}
        conditions = {r[0] for r in conn.execute("select condition_key from requirement where snippet_id = ?",
                                                  [s["id"]])}
        out[s["line"]] = (s["kind"], contexts, conditions)
    return out


@pytest.mark.parametrize("page", sorted(LABELS))
def test_every_code_block_classified_and_attributed_as_the_page_reads(conn, page):
    assert _read(conn, page) == LABELS[page]


def test_the_ground_truth_managed_policy_reference(conn):
    rows = conn.execute("""select m.policy_name, m.sentence, m.exceptions_json from managed_policy_ref m
                           join page p on p.id = m.page_id where p.page_key = 'sms-security-permission-execution-role'
                           and p.is_current""").fetchall()
    assert [r["policy_name"] for r in rows] == ["AmazonSageMakerGroundTruthExecution"]
    assert "managed policy except" in rows[0]["sentence"]
    # "except: Data and storage volume encryption …; … Lambda functions that do not include `GtRecipe` …;
    # Amazon S3 buckets that do not include …"
    exceptions = rows[0]["exceptions_json"]
    assert "Data and storage volume encryption" in exceptions and "Lambda functions" in exceptions
    assert "Amazon S3 buckets that do not include" in exceptions


@pytest.mark.parametrize("api,always,conditional", [
    # "`sagemaker:CreateTrainingJob` `iam:PassRole` `kms:CreateGrant` (required only if the associated
    # `ResourceConfig` has a specified `VolumeKmsKeyId` …)"
    ("CreateTrainingJob", ["sagemaker:CreateTrainingJob", "iam:PassRole"],
     [("kms:CreateGrant", "ResourceConfig.VolumeKmsKeyId")]),
    # "… `ProcessingResources` has a specified `VolumeKmsKeyId` …"
    ("CreateProcessingJob", ["sagemaker:CreateProcessingJob", "iam:PassRole"], [("kms:CreateGrant", "VolumeKmsKeyId")]),
    ("CreatePipeline", ["sagemaker:CreatePipeline", "iam:PassRole"], []),
    ("CreateEndpointConfig", ["sagemaker:CreateEndpointConfig"], []),
])
def test_the_caller_table_rows(conn, api, always, conditional):
    got = kb_roles.caller(conn, api)
    assert got["actions"] == always and got["source"]["page"] == "api-permissions-reference"
    assert [c["action"] for c in got["conditional"]] == [a for a, _ in conditional]
    for c, (_, field) in zip(got["conditional"], conditional, strict=True):
        assert c["request_field"] == field or c["request_field"].endswith("." + field)
    assert all(c["when"].startswith("required only") for c in got["conditional"])


def test_the_caller_in_japanese_is_the_english_table_said_so_in_japanese(conn, client):
    """No Japanese page has the API permissions table: the English one answers, and says so in Japanese;
    the canned query gives the same rows (with the language of the page that answered)."""
    en, ja = kb_roles.caller(conn, "CreateTrainingJob"), kb_roles.caller(conn, "createtrainingjob", "ja")
    assert en["lang"] == ja["lang"] == "en" and en["notes"] == []
    assert {k: ja[k] for k in ("api", "actions", "conditional", "source")} == \
           {k: en[k] for k in ("api", "actions", "conditional", "source")}
    assert len(ja["notes"]) == 1
    assert ja["notes"][0].startswith("CreateTrainingJob の呼び出し元に必要なアクセス許可の表は日本語のページにありません")
    for lang in ("", "en", "ja"):
        rows = client.rows("caller", api="CreateTrainingJob", lang=lang)
        assert {r["lang"] for r in rows} == {"en"}
        assert [r["action"] for r in rows if r["required_when"] is None] == en["actions"]
        assert [{"action": r["action"], "when": r["required_when"], "request_field": r["request_field"]}
                for r in rows if r["required_when"] is not None] == en["conditional"]
    with pytest.raises(KBError, match="もしかして CreateTrainingJob"):  # refused in the language asked
        kb_roles.caller(conn, "CreateTrainigJob", "ja")
    with pytest.raises(KBError, match="の呼び出し元に必要なアクセス許可を説明しているページはありません"):
        kb_roles.caller(conn, "", "ja")  # no API at all


def test_a_trust_policy_question_is_refused_in_the_language_asked_every_problem_at_once(conn):
    with pytest.raises(KBError) as refused:
        kb_roles.trust_policy(conn, "ja", api="CreateTrainigJob", region="eu-west1", account="12",
                              service="sagemaker.amazonaws.co")
    said = str(refused.value)
    assert "SageMaker の API モデルに API 'CreateTrainigJob' はありません (もしかして CreateTrainingJob?)" in said
    assert "'eu-west1' はリージョン名" in said and "'12' は 12 桁の AWS アカウント ID ではありません" in said
    assert "'sagemaker.amazonaws.co' の信頼ポリシーを示すページはありません" in said
    with pytest.raises(KBError, match=r"no page prints a trust policy for 'sagemaker\.amazonaws\.co' \(did you mean"):
        kb_roles.trust_policy(conn, "en", service="sagemaker.amazonaws.co")


@pytest.mark.parametrize("api,arn", [
    ("CreateProcessingJob", "arn:aws:sagemaker:eu-west-1:111122223333:processing-job/*"),
    ("CreateTrainingJob", "arn:aws:sagemaker:eu-west-1:111122223333:training-job/*"),
    ("CreateCompilationJob", "arn:aws:sagemaker:eu-west-1:111122223333:compilation-job/*"),
])
def test_the_confused_deputy_condition_per_kind_of_job(conn, api, arn):
    got = kb_roles.trust_policy(conn, "en", api=api, region="eu-west-1", account="111122223333")
    assert got["source"]["page"] == "security-confused-deputy-prevention"
    assert got["policy"]["Statement"][0]["Condition"] == {"ArnLike": {"aws:SourceArn": arn}}
