"""`make bench`: every benchmark module's figures, with the machine they ran on."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from .common import machine


def main() -> None:
    print(f"machine: {machine()}")
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    only = sys.argv[1:]
    for name in names:
        if only and name.removeprefix("bench_") not in only:
            continue
        print(f"\n== {name.removeprefix('bench_')} ==", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()
