"""Requests in the files people already have (ingest/facts/iam.toml request_inputs): a CloudTrail
log file or event gives each creating event's request parameters; a SageMaker Pipeline definition
gives each step's arguments, as the request of the API its type names, its parameters' default
values in place of the references to them. Anything else is a request body itself."""

from __future__ import annotations

from ..limits import MAX_DEPTH
from ..query import KBError
from .catalogue import Catalogue
from .words import Words

Spec = tuple[str | None, object, str]  # (API or None, request body, where it came from)


def expand(conn, cat: Catalogue, specs: list[Spec], w: Words) -> tuple[list[Spec], list[str]]:
    """The requests the files hold, and notes on the steps that hold none."""
    shapes = cat.rules.get("request_inputs", {})
    verbs = tuple(cat.rules["creating_verbs"])
    apis = {r[0] for r in conn.execute("select name from api")}
    out: list[Spec] = []
    notes: list[str] = []
    for api, body, source in specs:
        trail, pipe = shapes.get("cloudtrail"), shapes.get("pipeline")
        if trail and isinstance(body, dict) and (trail["records"] in body or trail["parameters"] in body):
            out += _events(trail, body, source, verbs, w)
        elif pipe and isinstance(body, dict) and isinstance(body.get(pipe["steps"]), list):
            params = _parameters(pipe, body)
            refs: list[tuple[str, str, str]] = []
            found = _steps(pipe, body[pipe["steps"]], params, source, verbs, apis, refs)
            notes += [w("step_reference", step=where, member=member, ref=ref) for where, member, ref in refs]
            notes += [w("step_no_api", step=where, type=kind) for kind, _, where in found if kind and kind not in apis]
            out += [(a, b, where) for a, b, where in found if a in apis]
        else:
            out.append((api, body, source))
    return out, notes


def _events(trail: dict, body: dict, source: str, verbs: tuple[str, ...], w: Words) -> list[Spec]:
    events = body.get(trail["records"], [body])
    if not isinstance(events, list):
        raise KBError(w("trail_not_list", source=source, records=trail["records"]))
    out: list[Spec] = []
    for i, event in enumerate(events):
        name = event.get(trail["name"]) if isinstance(event, dict) else None
        params = event.get(trail["parameters"]) if isinstance(event, dict) else None
        if isinstance(name, str) and name.startswith(verbs) and isinstance(params, dict):
            if trail.get("members_first_lower"):
                params = _first_upper(params, w)
            out.append((name, params, f"{source}: event {i + 1} ({name})"))
    if not out:
        raise KBError(w("trail_no_event", source=source, name=trail["name"], verbs=", ".join(verbs)))
    return out


def _first_upper(node: object, w: Words, depth: int = 0) -> object:
    if depth > MAX_DEPTH:  # documents are depth-checked when parsed (kb/limits.py): this is a second bound
        raise KBError(w("request_too_deep", limit=MAX_DEPTH))
    if isinstance(node, dict):
        return {(k[:1].upper() + k[1:] if isinstance(k, str) else k): _first_upper(v, w, depth + 1)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_first_upper(v, w, depth + 1) for v in node]
    return node


def _parameters(pipe: dict, body: dict) -> dict[str, object]:
    params = body.get(pipe["parameters"]) or []
    return {p[pipe["parameter_name"]]: p[pipe["default"]] for p in params
            if isinstance(p, dict) and pipe["parameter_name"] in p and pipe["default"] in p}


def _steps(pipe: dict, steps: list, params: dict, source: str, verbs: tuple[str, ...], apis: set[str],
           refs: list[tuple[str, str, str]], depth: int = 0) -> list[Spec]:
    out: list[Spec] = []
    for step in steps:
        if not isinstance(step, dict) or depth > 16:
            continue
        args = step.get(pipe["arguments"])
        if not isinstance(args, dict):
            continue
        for nested in pipe["nested"]:
            if isinstance(args.get(nested), list):
                out += _steps(pipe, args[nested], params, source, verbs, apis, refs, depth + 1)
        kind = step.get(pipe["type"])
        if any(n in args for n in pipe["nested"]) or not isinstance(kind, str):
            continue
        # the API of the step's type, else the type itself (named in a note: no request the KB knows)
        api = next((f"{v}{kind}{end}" for v in verbs for end in ("Job", "") if f"{v}{kind}{end}" in apis), kind)
        where = f"{source}: step {step.get(pipe['step_name'], '?')}"
        left: list[tuple[str, str]] = []
        out.append((api, _resolved(pipe, args, params, "", left), where))
        refs += [(where, member, ref) for member, ref in left]
    return out


def _resolved(pipe: dict, node: object, params: dict, path: str, left: list[tuple[str, str]]) -> object:
    """References to the definition's parameters replaced by their defaults; references to what
    another step produces left out, listed in `left` (that step's own grant covers where it writes)."""
    if isinstance(node, dict):
        if set(node) == {pipe["get"]}:
            ref = node[pipe["get"]]
            prefix = pipe["parameter_prefix"]
            name = ref[len(prefix):] if isinstance(ref, str) and ref.startswith(prefix) else None
            if name in params:
                return params[name]
            left.append((path, str(ref)))
            return None
        out = {k: _resolved(pipe, v, params, f"{path}.{k}" if path else str(k), left) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(node, list):
        items = (_resolved(pipe, v, params, f"{path}[{i}]", left) for i, v in enumerate(node))
        return [v for v in items if v is not None]
    return node
