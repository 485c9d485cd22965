"""Small shared pieces of the benchmarks: the machine line and wall-time sampling."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()} · {cpu or platform.processor()} · {os.cpu_count()} cores · Python {platform.python_version()}"


def wall_times(cmd: list[str], runs: int, env: dict | None = None) -> list[float]:
    """Wall time of whole processes, as a user waits for them (one warm-up run first)."""
    subprocess.run(cmd, capture_output=True, check=True, env=env)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        out.append(time.perf_counter() - t0)
    return out


def summary(samples: list[float]) -> str:
    qs = statistics.quantiles(samples, n=20) if len(samples) >= 2 else samples * 19
    return f"median {statistics.median(samples) * 1000:7.1f} ms · p95 {qs[18] * 1000:7.1f} ms · n={len(samples)}"
