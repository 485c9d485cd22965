"""Role contexts across the guide (kb roles) against the shipped KB: an API whose request carries
no role member in botocore is never a role context, even where a page is about its jobs."""

import pytest

from kb import query
from kb import roles as kb_roles
from tests import expectations as X


def test_an_api_without_a_role_member_is_no_role_context(conn):
    """batch-vpc.md: "use the `VpcConfig` request parameter of the CreateModel API … Then specify the
    same model in the `ModelName` request parameter of the CreateTransformJob API"; "the IAM execution
    role that you use to create your model must include …": the role is CreateModel's (ExecutionRoleArn);
    CreateTransformJob's request has no role ARN."""
    contexts = {c["key"]: c for c in kb_roles.roles(conn, "en")}
    assert all(c["role_member"] for c in contexts.values() if c["api"])
    assert "CreateTransformJob" not in contexts
    model = contexts["CreateModel"]
    assert model["role_member"] == "ExecutionRoleArn"
    assert {"batch-vpc", "host-vpc", "sagemaker-roles"} <= set(model["pages"]) and "vpc" in model["conditions"]
    assert model["used_by"] == ["CreateTransformJob"]
    for ask in (query.requirements, query.conditions, query.scoping):
        with pytest.raises(query.KBError, match=r"CreateTransformJob's request carries no role .* with "
                                                r"CreateModel's role \(batch-vpc\)"):
            ask(conn, "createtransformjob", lang="en")
    assert "CreateTransformJob" not in {a["name"] for a in query.apis(conn, "en") if a["documented"]}


def test_the_model_vpc_requirement_cites_each_page(conn):
    got = query.requirements(conn, "CreateModel", ["vpc"], lang="en")
    assert got["pages"] == ["batch-vpc", "host-vpc", "sagemaker-roles"]
    by_page: dict[str, set[str]] = {}
    for s in got["statements"]:
        if s["requirement"]["condition"] == "vpc":
            by_page.setdefault(s["source"]["page"], set()).update(s["actions"])
    assert by_page == {"batch-vpc": X.BATCH_VPC, "host-vpc": X.HOST_VPC, "sagemaker-roles": X.VPC}


def test_the_transform_jobs_trust_policy_is_still_that_kind_of_jobs(conn):
    # security-confused-deputy-prevention.md "SageMaker Batch Transform Jobs": the trust policy of the
    # role a transform job runs with, its aws:SourceArn the transform job's
    got = kb_roles.trust_policy(conn, "en", api="CreateTransformJob", region="eu-west-1", account="111122223333")
    assert got["source"]["page"] == "security-confused-deputy-prevention"
    cond = got["policy"]["Statement"][0]["Condition"]
    assert cond == {"ArnLike": {"aws:SourceArn": "arn:aws:sagemaker:eu-west-1:111122223333:transform-job/*"}}
