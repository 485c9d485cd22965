"""The policies `kb policy` writes for seven realistic kinds of request, checked by tools nobody
here wrote: moto's IAM enforcement (every S3 read, write and list the job performs is allowed, the
neighbouring keys are denied: tests/fixtures/probes.toml), parliament (no malformed statement, no
RESOURCE_MISMATCH), and no placeholder, no alias ARN on a key action, no output path without its
slash."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from parliament import analyze_policy_string

from kb import policy as P
from kb.policy.documents import parse_document
from tests.moto_server import moto_server, probe

FIXTURES = Path(__file__).parent / "fixtures"
CASES = tomllib.loads((FIXTURES / "probes.toml").read_text(encoding="utf-8"))


def requests_of(case: dict) -> list[tuple[str | None, object, str]]:
    out: list[tuple[str | None, object, str]] = []
    for spec in case["requests"]:
        api, _, name = spec.rpartition("=")
        path = FIXTURES / "requests" / name
        out.append((api or None, parse_document(path.read_text(encoding="utf-8"), str(path), "request"), name))
    return out


def composed(conn, name: str) -> dict:
    case = CASES[name]
    return P.compose(conn, case["apis"], requests=requests_of(case))


@pytest.fixture(scope="module")
def moto():
    with moto_server() as server:
        yield server


@pytest.mark.parametrize("name", list(CASES))
def test_the_job_can_do_what_it_does_and_nothing_beside(conn, moto, name):
    case = CASES[name]
    policy = composed(conn, name)["policy"]
    moto.enforce(False)
    moto.reset()
    s3 = moto.client("s3")
    buckets = {p.split(" ", 1)[1].split("/", 1)[0] for p in case["allow"] + case["deny"]}
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for spec in case["allow"] + case["deny"]:
        verb, _, where = spec.partition(" ")
        bucket, _, key = where.partition("/")
        if verb == "get":
            s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    keys = moto.user_with_policy(f"probe-{name.replace('_', '-')}", policy)
    moto.enforce(True)
    try:
        as_role = moto.client("s3", **keys)
        denied = [p for p in case["allow"] if not probe(as_role, p)]
        allowed = [p for p in case["deny"] if probe(as_role, p)]
    finally:
        moto.enforce(False)
    assert denied == [], f"{name}: the job needs these and the policy denies them"
    assert allowed == [], f"{name}: the policy allows these neighbours"


@pytest.mark.parametrize("name", list(CASES))
def test_no_placeholder_no_alias_arn_no_open_output_prefix(conn, name):
    got = composed(conn, name)
    text = json.dumps(got["policy"])
    assert "{{" not in text and "111122223333" not in text
    assert got["unresolved"] == [], got["unresolved"]
    for st, ex in zip(got["policy"]["Statement"], got["explain"]):
        for r in st["Resource"]:
            assert ":alias/" not in r, (st["Sid"], r)  # a key action never names an alias ARN
        for prov in ex["resources"]:
            if prov.get("access") in ("writes", "reads_and_writes") and prov["resource"].startswith("arn:aws:s3:::"):
                # a location SageMaker writes under is path/*, never path* (which is path-other/ too)
                bucket_only = "/" not in prov["resource"].removeprefix("arn:aws:s3:::")
                assert bucket_only or prov["resource"].endswith("/*"), prov
    writes = [p for ex in got["explain"] for p in ex["resources"] if p.get("access") in ("writes", "reads_and_writes")]
    assert bool(writes) == any(p.startswith("put ") for p in CASES[name]["allow"])  # the output members were seen


@pytest.mark.parametrize("name", list(CASES))
def test_parliament_finds_no_malformed_statement_or_resource_mismatch(conn, name):
    policy = composed(conn, name)["policy"]
    found = analyze_policy_string(json.dumps(policy), include_community_auditors=False)
    bad = [(f.issue, f.detail) for f in found.findings
           if f.issue in ("RESOURCE_MISMATCH", "MALFORMED", "INVALID_ARN", "UNKNOWN_ACTION", "UNKNOWN_PREFIX")
           or f.severity in ("CRITICAL", "HIGH")]
    assert bad == [], bad
