"""`ingest build` of everything (the roles pages, the 1,284 guide pages, the history) beside the time
markdown-it-py alone takes to parse the guide's pages; a rebuild after one page changed beside
that full build; `kb requirements` start-up on the whole-guide KB beside policy_sentry's `query`;
the KB's size. Builds run on a scratch copy of data/ with an empty extraction cache of their own."""

from __future__ import annotations

import compileall
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


RUNS = 3


def best(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return min(s[0] for s in samples), min(s[1] for s in samples)


def fmt(sample: tuple[float, float]) -> str:
    return f"{sample[0]:6.2f} s wall, {sample[1]:6.2f} s CPU"


def main() -> None:
    # start-up measured as a user gets it: with bytecode (`make install` writes it; a stale file is
    # written again here, even where PYTHONDONTWRITEBYTECODE is set)
    for package in ("ingest", "kb"):
        compileall.compile_dir(ROOT / package, quiet=1)
    pages = len(list(GUIDE.glob("*.md")))
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "data"
        shutil.copytree(ROOT / "data", ws, ignore=shutil.ignore_patterns("kb.db*"))
        for path in ws.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        db = ws / "kb.db"
        build = [BIN / "ingest", "build", "--db", db, "--sources-file", ws / "sources.toml"]

        # Other work on the machine makes single runs noisy: each figure is the best of its runs,
        # the parser's and the build's taken in turn.
        mdit, full = [], []
        for run in range(RUNS):
            mdit.append(timed([sys.executable, "-c", MARKDOWN_IT, GUIDE]))
            db.unlink(missing_ok=True)  # no KB to patch, an empty cache: every page read, extracted, saved
            env = {**os.environ, "KB_CACHE_DIR": str(Path(tmp) / f"cache-{run}")}
            full.append(timed(build, env))
        base, whole = best(mdit), best(full)
        print(f"markdown-it-py parse of the {pages} guide pages (best of {RUNS}): {fmt(base)}")
        print(f"ingest build of everything, empty cache (best of {RUNS}): {fmt(whole)}")
        print(f"  build / markdown-it-py: {whole[0] / base[0]:.2f}x wall, {whole[1] / base[1]:.2f}x CPU "
              "(target <= 1.5x)")

        same = best([timed(build, env) for _ in range(RUNS)])
        print(f"ingest build again, nothing changed (best of {RUNS}):    {fmt(same)}")
        # a guide page, then the English roles page: the page most others are compared with (its
        # translation aligned to it again, every page with requirements read for the findings between pages)
        for name, page in (("a guide page", ws / "guide" / "sagemaker-dg" / "en" / "doc_source" /
                            "sms-streaming-labeling-job.md"),
                           ("the English roles page", ws / "snapshots" / "sagemaker-roles.en.md")):
            ones = []
            for run in range(RUNS):  # a new sentence each time: the page is read and extracted again
                page.write_text(page.read_text(encoding="utf-8") + f"\nOne more sentence ({run}), for the bench.\n",
                                encoding="utf-8")
                ones.append(timed(build, env))
            one = best(ones)
            print(f"ingest build after {name} changed (best of {RUNS}): {fmt(one)}")
            print(f"  one-page rebuild / full build: {one[0] / whole[0]:.0%} wall, {one[1] / whole[1]:.0%} CPU "
                  "(target <= 10%)")
        print(f"KB file size (whole guide + history): {db.stat().st_size / 1e6:.1f} MB")
        search_beside_merged(db)

        kb_cmd = [str(BIN / "kb"), "--db", str(db), "requirements", "CreateModel", "--condition", "vpc", "--json"]
        sentry = BIN / "policy_sentry"
        if not sentry.exists():
            print(f"kb requirements CreateModel --condition vpc --json (whole-guide KB): "
                  f"{summary(wall_times(kb_cmd, runs=20))}")
            print("policy_sentry not installed (pip install -e '.[bench]'): no comparison run")
            return
        # In turns, one of each: both see the same load on the machine, and each pair gives a ratio.
        ps_cmd = [str(sentry), "query", "action-table", "--service", "ecr", "--name", "BatchGetImage"]
        kb, ps = [], []
        for _ in range(20):
            kb += wall_times(kb_cmd, runs=1)
            ps += wall_times(ps_cmd, runs=1)
        print(f"kb requirements CreateModel --condition vpc --json (whole-guide KB): {summary(kb)}")
        print(f"policy_sentry query action-table --service ecr --name BatchGetImage: {summary(ps)}")
        ratios = sorted(k / p for k, p in zip(kb, ps))
        print(f"  kb / policy_sentry start-up, median of 20 pairs run in turn: {ratios[len(ratios) // 2]:.2f} "
              "(target <= 0.2)")


SEARCHES = ("execution role", "iam:PassRole", "kms:CreateGrant", "VpcConfig", "ロール", "the")


def search_beside_merged(db: Path) -> None:
    """The canned search on the KB as the builds left its full-text index (segments merged only when
    FTS5 must while the rebuild writes, store.ensure_db_shape) beside the same index merged into one."""
    import sqlite3

    sql = (ROOT / "queries" / "search.sql").read_text(encoding="utf-8")
    merged = db.with_name("merged.db")
    shutil.copy(db, merged)
    with sqlite3.connect(merged) as conn:
        conn.execute("insert into section_fts(section_fts) values('optimize')")
    for label, path in (("as built", db), ("merged into one segment", merged)):
        conn = sqlite3.connect(path)
        best = {}
        for q in SEARCHES * 5:  # each query's best of 5: the queries differ a hundredfold in cost
            t0 = time.perf_counter()
            conn.execute(sql, {"q": q, "page": ""}).fetchall()
            best[q] = min(best.get(q, 1e9), time.perf_counter() - t0)
        conn.close()
        each = ", ".join(f"{q!r} {t * 1000:.1f}" for q, t in best.items())
        print(f"search canned query, index {label}: {sum(best.values()) * 1000:.1f} ms for the {len(SEARCHES)} "
              f"queries (best of 5 each: {each} ms)")


if __name__ == "__main__":
    main()
