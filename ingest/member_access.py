"""What SageMaker does with the S3 location each request member names, as the member's API
reference description (botocore's documentation strings) says it, in the prevailing lexicon's
words ([request_members]): stored with the request shapes, for the policy writer.

A string member gets `access` (object, reads_and_writes, writes, reads) and `access_phrase` (the
lexicon phrase that matched); a structure gets `access_when`, the values of a type member that
make a sibling name one object that lists others ({"member": "S3Uri", "by": "S3DataType", "value":
"ManifestFile", "access": "manifest"})."""

from __future__ import annotations

import json

from .lexicon import Lexicon


def annotate(rows: list[dict], lex: Lexicon) -> None:
    """Add the access facts to request_shape rows (in place)."""
    # a location is a free string: not an enumeration (S3DataType, a status, a compression type)
    locations = {(r["service"], r["name"]) for r in rows if r["type"] == "string" and not r["members_json"]}
    for row in rows:
        row["access_when_json"] = None
        if row["type"] != "structure" or not row["members_json"]:
            continue
        members = json.loads(row["members_json"])
        names = {m["name"] for m in members}
        when = []
        for m in members:
            doc = m.get("doc") or ""
            if (row["service"], m["shape"]) in locations:
                found = lex.member_access(doc)
                if found:
                    m["access"], m["access_phrase"] = found
            for value, target in lex.access_when(doc):
                if target in names and target != m["name"]:
                    when.append({"member": target, "by": m["name"], "value": value, "access": "manifest"})
        row["members_json"] = json.dumps(members, ensure_ascii=False)
        if when:
            row["access_when_json"] = json.dumps(when, ensure_ascii=False)
