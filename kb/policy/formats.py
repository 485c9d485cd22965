"""The whole role (kb/policy/role.py) written for the tool that creates it: one JSON document
(`role`), a CloudFormation template (`cloudformation`, YAML), Terraform (`terraform`) or AWS CLI
commands (`cli`). Each carries the same three documents; only the notation differs."""

from __future__ import annotations

import json
import re
import shlex

# `kb policy --format`: json is the permissions policy itself; render() writes the others
FORMATS = ("json", "role", "cloudformation", "terraform", "cli")


def render(fmt: str, role: dict) -> str:
    return {"role": _role, "cloudformation": _cloudformation, "terraform": _terraform, "cli": _cli}[fmt](role)


def _role(role: dict) -> str:
    return json.dumps({
        "RoleName": role["role_name"], "Path": role["role_path"],
        "AssumeRolePolicyDocument": role["trust_policy"],
        ("ManagedPolicies" if role["managed"] else "Policies"):
            [{"PolicyName": p["name"], "PolicyDocument": p["document"]} for p in role["permissions"]],
        "CallerPolicy": role["caller_policy"],
        "Sources": role["sources"], "Notes": role["notes"],
    }, indent=2, ensure_ascii=False)


def _logical(name: str) -> str:
    """A CloudFormation logical id: alphanumerics only."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "Role"


def _cloudformation(role: dict) -> str:
    props: dict = {"AssumeRolePolicyDocument": role["trust_policy"], "Path": role["role_path"]}
    if role["role_name"]:
        props["RoleName"] = role["role_name"]
    resources: dict = {"ExecutionRole": {"Type": "AWS::IAM::Role", "Properties": props}}
    if role["managed"]:
        props["ManagedPolicyArns"] = [{"Ref": _logical(p["name"]) + "Policy"} for p in role["permissions"]]
        for p in role["permissions"]:
            resources[_logical(p["name"]) + "Policy"] = {
                "Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": p["document"]}}
    else:
        props["Policies"] = [{"PolicyName": p["name"], "PolicyDocument": p["document"]} for p in role["permissions"]]
    resources["CallerPolicy"] = {"Type": "AWS::IAM::ManagedPolicy",
                                 "Properties": {"Description": role["texts"]["caller"],
                                                "PolicyDocument": role["caller_policy"]}}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": role["texts"]["description"],
        "Resources": resources,
        "Outputs": {"RoleArn": {"Value": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}},
                    "CallerPolicyArn": {"Value": {"Ref": "CallerPolicy"}}},
    }
    import yaml  # only here: `kb policy` starts without it

    return yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=120)


def _hcl_json(document: dict) -> str:
    """A policy as a Terraform expression: JSON is HCL's object syntax; "${" and "%{" escaped so
    IAM's policy variables and our key escapes stay literal."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return "jsonencode(" + text.replace("${", "$${").replace("%{", "%%{").replace("\n", "\n  ") + ")"


def _tf_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).lower() or "role"


def _terraform(role: dict) -> str:
    name = role["role_name"]
    out = ['resource "aws_iam_role" "execution" {']
    if name:
        out.append(f"  name = {json.dumps(name)}")
    out += [f"  path = {json.dumps(role['role_path'])}",
            f"  assume_role_policy = {_hcl_json(role['trust_policy'])}", "}", ""]
    for p in role["permissions"]:
        label = _tf_name(p["name"])
        if role["managed"]:
            out += [f'resource "aws_iam_policy" "{label}" {{', f"  name   = {json.dumps(p['name'])}",
                    f"  policy = {_hcl_json(p['document'])}", "}", "",
                    f'resource "aws_iam_role_policy_attachment" "{label}" {{',
                    "  role       = aws_iam_role.execution.name", f"  policy_arn = aws_iam_policy.{label}.arn", "}", ""]
        else:
            out += [f'resource "aws_iam_role_policy" "{label}" {{', f"  name   = {json.dumps(p['name'])}",
                    "  role   = aws_iam_role.execution.id", f"  policy = {_hcl_json(p['document'])}", "}", ""]
    out += [f"# {role['texts']['caller']}",
            'resource "aws_iam_policy" "caller" {', f"  name   = {json.dumps((name or 'sagemaker-execution-role') + '-caller')}",
            f"  policy = {_hcl_json(role['caller_policy'])}", "}", ""]
    return "\n".join(out)


def _compact(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _cli(role: dict) -> str:
    name = role["role_name"] or "sagemaker-execution-role"
    out = ["aws iam create-role --role-name " + shlex.quote(name) + " --path " + shlex.quote(role["role_path"])
           + " --assume-role-policy-document " + shlex.quote(_compact(role["trust_policy"]))]
    for p in role["permissions"]:
        if role["managed"]:
            out.append("arn=$(aws iam create-policy --policy-name " + shlex.quote(p["name"]) + " --policy-document "
                       + shlex.quote(_compact(p["document"])) + " --query Policy.Arn --output text)")
            out.append("aws iam attach-role-policy --role-name " + shlex.quote(name) + ' --policy-arn "$arn"')
        else:
            out.append("aws iam put-role-policy --role-name " + shlex.quote(name) + " --policy-name "
                       + shlex.quote(p["name"]) + " --policy-document " + shlex.quote(_compact(p["document"])))
    out.append(f"# {role['texts']['caller']}")
    out.append("aws iam create-policy --policy-name " + shlex.quote(name + "-caller") + " --policy-document "
               + shlex.quote(_compact(role["caller_policy"])))
    return "\n".join(out) + "\n"
