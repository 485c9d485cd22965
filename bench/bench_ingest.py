"""`ingest build` of everything (the roles pages, the 1,284 guide pages, the history) beside the time
markdown-it-py alone takes to parse the guide's pages; a rebuild after one page changed beside
that full build; `kb requirements` start-up on the whole-guide KB beside policy_sentry's `query`;
the KB's size. Builds run on a scratch copy of data/ with an empty extraction cache of their own."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import BIN, ROOT, summary, wall_times

GUIDE = ROOT / "data" / "guide" / "sagemaker-dg" / "en" / "doc_source"
MARKDOWN_IT = """
import pathlib, sys
from markdown_it import MarkdownIt
md = MarkdownIt("commonmark").enable("table")
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.md")):
    md.parse(path.read_text(encoding="utf-8"))
"""


def timed(cmd: list, env: dict | None = None) -> tuple[float, float]:
    """(wall s, CPU s of the process and its children) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([str(c) for c in cmd], capture_output=True, check=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fmt(sample: tuple[float, float]) -> str:
    return f"{sample[0]:6.2f} s wall, {sample[1]:6.2f} s CPU"


def main() -> None:
    pages = len(list(GUIDE.glob("*.md")))
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "data"
        shutil.copytree(ROOT / "data", ws, ignore=shutil.ignore_patterns("kb.db*"))
        for path in ws.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        env = {**os.environ, "KB_CACHE_DIR": str(Path(tmp) / "cache")}
        db = ws / "kb.db"
        build = [BIN / "ingest", "build", "--db", db, "--sources-file", ws / "sources.toml"]

        mdit = timed([sys.executable, "-c", MARKDOWN_IT, GUIDE])
        full = timed(build, env)  # an empty cache: every page read, extracted and saved
        mdit2 = timed([sys.executable, "-c", MARKDOWN_IT, GUIDE])
        base = min(mdit[0], mdit2[0]), min(mdit[1], mdit2[1])
        print(f"markdown-it-py parse of the {pages} guide pages (best of 2): {fmt(base)}")
        print(f"ingest build of everything, empty cache:              {fmt(full)}")
        print(f"  build / markdown-it-py: {full[0] / base[0]:.2f}x wall, {full[1] / base[1]:.2f}x CPU (target <= 1.5x)")

        same = timed(build, env)
        print(f"ingest build again, nothing changed:                  {fmt(same)}")
        page = ws / "guide" / "sagemaker-dg" / "en" / "doc_source" / "sms-streaming-labeling-job.md"
        page.write_text(page.read_text(encoding="utf-8") + "\nOne more sentence, for the bench.\n", encoding="utf-8")
        one = timed(build, env)
        print(f"ingest build after one page changed:                  {fmt(one)}")
        print(f"  one-page rebuild / full build: {one[0] / full[0]:.0%} wall, {one[1] / full[1]:.0%} CPU (target <= 10%)")
        print(f"KB file size (whole guide + history): {db.stat().st_size / 1e6:.1f} MB")

        kb = wall_times([str(BIN / "kb"), "--db", str(db), "requirements", "CreateModel", "--condition", "vpc",
                         "--json"], runs=20)
        print(f"kb requirements CreateModel --condition vpc --json (whole-guide KB): {summary(kb)}")
    sentry = BIN / "policy_sentry"
    if sentry.exists():
        ps = wall_times([str(sentry), "query", "action-table", "--service", "ecr", "--name", "BatchGetImage"], runs=20)
        print(f"policy_sentry query action-table --service ecr --name BatchGetImage: {summary(ps)}")
        print(f"  kb / policy_sentry median start-up ratio: {sorted(kb)[len(kb) // 2] / sorted(ps)[len(ps) // 2]:.2f} "
              "(target <= 0.2)")
    else:
        print("policy_sentry not installed (pip install -e '.[bench]'): no comparison run")


if __name__ == "__main__":
    main()
