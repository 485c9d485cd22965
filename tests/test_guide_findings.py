"""Findings across the guide's pages (ingest/validate.py across_pages), against the shipped KB:
pages that state one API × condition differently, and the PassRole lists against the caller table."""


from kb import query


def test_pages_disagree_is_reported_on_the_page_that_lists_more(conn):
    """host-vpc.md "Add Permissions for Endpoint Access for Containers Running in a VPC to Custom IAM
    Policies" grants ec2:DescribeVpcEndpoints for CreateModel's VPC access, which neither the roles page
    nor batch-vpc.md lists: one finding per pair, both on host-vpc (the roles page is later by key,
    but it lists nothing host-vpc does not), each naming both pages."""
    found = [f for f in query.findings(conn, "en", kind="pages_disagree") if f["subject"] == "CreateModel / vpc"]
    assert sorted(f["detail"] for f in found) == [
        "CreateModel / vpc: host-vpc (line 107) lists ec2:DescribeVpcEndpoints, which batch-vpc does not",
        "CreateModel / vpc: host-vpc (line 107) lists ec2:DescribeVpcEndpoints, which sagemaker-roles does not"]
    assert {(f["page_key"], f["section"], f["line"]) for f in found} == {("host-vpc", "host-vpc-endpoints", 107)}


def test_pages_that_agree_are_no_finding(conn):
    # batch-vpc.md lists the roles page's nine VPC actions for CreateModel, no more, no fewer
    details = [f["detail"] for f in query.findings(conn, "en", kind="pages_disagree")]
    assert not any("batch-vpc" in d and "sagemaker-roles" in d for d in details)
    assert query.findings(conn, "ja", kind="pages_disagree") == []  # one Japanese page: nothing to compare


def test_passrole_lists_against_the_caller_table(conn):
    found = {(f["page_key"], f["subject"]) for f in query.findings(conn, "en", kind="passrole_lists_disagree")}
    # api-permissions-reference.md requires iam:PassRole for CreatePipeline; the roles page's list omits it
    assert ("api-permissions-reference", "CreatePipeline") in found
    # the roles page lists CreateCompilationJob, for which the caller table has no row at all
    assert ("sagemaker-roles", "CreateCompilationJob") in found
    # CreateTrainingJob is in both
    assert not any(subject == "CreateTrainingJob" for _, subject in found)
