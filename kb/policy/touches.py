"""What the job touches that no page's scoping rule names: each S3 location of the request that
the pages leave unscoped (a checkpoint path, a Debugger or TensorBoard output, a data-capture
destination…), granted as the member's API reference description says SageMaker uses it
(request_shape access: reads, writes, reads_and_writes, object) with IAM's S3 actions for that
(ingest/facts/iam.toml s3_access), each grant citing the description. A manifest the request
names gives its listed objects when the manifest file is given (--manifest FILE)."""

from __future__ import annotations

from dataclasses import dataclass

from ..query import KBError
from .arns import MANIFEST, OBJECT, Context, ValueRefused, value_to_arn, value_vars
from .catalogue import Catalogue
from .request import Request, Shapes, bare
from .words import Words


@dataclass(frozen=True)
class Touch:
    """One action on one resource, and why: the member and its description."""
    api: str
    action: str
    resource: str
    provenance: dict  # {request, field, value}
    source: dict  # {api, condition, url, lang, heading, text, …} as the page statements' sources


def _actions(cat: Catalogue, access: str) -> list[str]:
    rules = cat.rules.get("s3_access", {})
    read, listing, write = rules.get("read", []), rules.get("list", []), rules.get("write", [])
    return {"reads": read + listing, "writes": write, "reads_and_writes": read + write + listing,
            "object": read, "manifest": read}.get(access, [])


def member_touches(cat: Catalogue, shapes: Shapes, reqs: list[Request], apis: list[str], consumed: set,
                   ctx: Context, w: Words) -> list[Touch]:
    """Grants for the request's S3 locations that nothing else used: of a request of an API
    composed, or of a request that carries no role of its own (a transform job, an endpoint
    configuration: the model's role does their work)."""
    out: list[Touch] = []
    url_of = cat.rules.get("api_reference_url", "")
    for req in reqs:
        if req.api not in apis and carries_role(cat, shapes, req):
            continue
        for path, owner, member, value in req.members:
            access = req.access.get(path)
            if not access or not isinstance(value, str) or (req.source, value.strip()) in consumed:
                continue
            v = value.strip()
            try:
                kind = value_vars(cat, v, access)
            except ValueRefused as exc:
                raise KBError(w("value_refused", source=req.source, path=bare(path), reason=str(exc))) from None
            if kind is None or kind[0] != "s3":
                continue
            doc = shapes.doc(owner, member, shapes.input(req.api).service)
            source = {"api": req.api, "condition": None, "variant": None, "resource_given": True,
                      "url": url_of.format(shape=owner), "lang": "en", "page": None, "page_title": None,
                      "section_anchor": None, "heading": f"{owner}.{member}", "text": doc, "role": "member",
                      "snippet_index": None}
            for action in _actions(cat, access):
                made = value_to_arn(cat, action, v, True, ctx, access)
                if made is None:
                    continue
                out.append(Touch(req.api, action, made.arn,
                                 {"request": req.source, "field": path, "value": v, "access": access}, source))
            consumed.add((req.source, v))
    return out


def manifest_touches(cat: Catalogue, reqs: list[Request], manifests: list[tuple[object, str]], ctx: Context,
                     w: Words) -> tuple[list[Touch], list[str]]:
    """The objects each manifest lists (its first element {"prefix": …}, then keys relative to
    it), for a request that names a manifest (a member that is one object by its type)."""
    named = [(req, path, v) for req in reqs for path, _, _, v in req.members
             if req.access.get(path) == MANIFEST and isinstance(v, str)]
    if not manifests:
        return [], [w("manifest_unlisted", source=req.source, path=bare(path), value=v) for req, path, v in named]
    out: list[Touch] = []
    read = cat.rules.get("s3_access", {}).get("read", [])
    for doc, name in manifests:
        if not (isinstance(doc, list) and doc and isinstance(doc[0], dict) and isinstance(doc[0].get("prefix"), str)
                and all(isinstance(k, str) for k in doc[1:])):
            raise KBError(w("manifest_shape", name=name))
        prefix = doc[0]["prefix"]
        source = {"api": None, "condition": None, "variant": None, "resource_given": True, "url": None,
                  "lang": "en", "page": None, "page_title": None, "section_anchor": None, "heading": name,
                  "text": w("manifest_source", manifest=name), "role": "manifest", "snippet_index": None}
        for i, key in enumerate(doc[1:]):
            uri = prefix + key
            for action in read:
                try:
                    made = value_to_arn(cat, action, uri, True, ctx, OBJECT)
                except ValueRefused as exc:
                    raise KBError(f"{name}[{i + 1}]: {exc}") from None
                if made is not None:
                    out.append(Touch("", action, made.arn, {"request": name, "field": f"[{i + 1}]", "value": uri},
                                     source))
    return out, []


def carries_role(cat: Catalogue, shapes: Shapes, req: Request) -> bool:
    """Whether the request sets a role ARN of its own (a member whose botocore shape name ends with
    the KB's role_shape_suffix, "RoleArn")."""
    suffix = cat.rules.get("role_shape_suffix", "RoleArn")
    service = shapes.input(req.api).service
    for _, owner, member, value in req.members:
        if isinstance(value, str) and value.strip():
            shape = shapes.get(service, owner).members.get(member, {}).get("shape", "")
            if shape.endswith(suffix):
                return True
    return False
