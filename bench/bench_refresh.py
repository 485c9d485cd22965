"""`ingest refresh` and `ingest history` wall times against a loopback copy of the docs site (a
real HTTP server on 127.0.0.1, serving the real pages), the change-log step of a build, `kb
timeline` / `kb changes` start-up, and the 2022-12-09 → current refresh report in brief."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from kb import history as changelog
from tests.fixtures.refresh.loopback import LoopbackServer, page

from .common import BIN, ROOT, summary, wall_times

DATA = ROOT / "data"
HISTORY = DATA / "history" / "sagemaker-roles" / "en"
EN_MD = "/sagemaker/latest/dg/sagemaker-roles.md"


def _workspace(dest: Path, with_history: bool = True) -> Path:
    """A scratch copy of data/ (refresh writes accepted pages over the snapshots there)."""
    shutil.copytree(DATA, dest, ignore=shutil.ignore_patterns("kb.db*"))
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    if not with_history:
        text = (dest / "sources.toml").read_text(encoding="utf-8")
        (dest / "sources.toml").write_text(text[:text.index("[[history]]")], encoding="utf-8")
    subprocess.run([BIN / "ingest", "build", "--db", dest / "kb.db", "--sources-file", dest / "sources.toml"],
                   capture_output=True, check=True)
    return dest


def _refresh_cmd(ws: Path, url: str) -> list[str]:
    return [str(BIN / "ingest"), "refresh", "--db", str(ws / "kb.db"), "--sources-file", str(ws / "sources.toml"),
            "--source", url, "--lang", "en", "--json"]


def main() -> None:
    current = (DATA / "snapshots" / "sagemaker-roles.en.md").read_text(encoding="utf-8")
    old = (HISTORY / "2022-12-09_53d2932.md").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer() as srv:
        ws = _workspace(Path(tmp) / "ws")
        cmd = _refresh_cmd(ws, srv.url(EN_MD))

        srv.route(EN_MD, page(current, etag='"v-current"'))
        print(f"ingest refresh, en unchanged (304 Not Modified, log only): {summary(wall_times(cmd, runs=10))}")
        srv.route(EN_MD, page(current))
        print(f"ingest refresh, en unchanged (200, same content, log only): {summary(wall_times(cmd, runs=10))}")
        srv.route(EN_MD, *[page(old), page(current)] * 8)
        print(f"ingest refresh, en changed (fetch, rebuild 19 pages, log, swap): {summary(wall_times(cmd, runs=6))}")

        # The report for the closing note: the 2022-12-09 revision is live, then the current page.
        srv.route(EN_MD, page(old, etag='"v-2022-12-09"'))
        subprocess.run(cmd, capture_output=True, check=True)
        srv.route(EN_MD, page(current, etag='"v-current-2"'))
        report = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        p = report["pages"][0]
        print(f"  2022-12-09 → current: {p['status']}, {len(p['changes'])} changes: "
              + ", ".join(f"{k} {n}" for k, n in sorted(Counter(c['kind'] for c in p['changes']).items())))
        for line in changelog.summarize(p["changes"]):
            print(f"    {line[:150]}")

        kb = [str(BIN / "kb"), "--db", str(ws / "kb.db")]
        timeline = wall_times([*kb, "timeline", "CreateProcessingJob", "--condition", "vpc", "--json"], runs=20)
        print(f"kb timeline CreateProcessingJob --condition vpc --json (18 versions): {summary(timeline)}")
        changes = wall_times([*kb, "changes", "--since", "2023-01-01", "--json"], runs=20)
        print(f"kb changes --since 2023-01-01 --json: {summary(changes)}")

    with tempfile.TemporaryDirectory() as tmp:
        base = _workspace(Path(tmp) / "base", with_history=False)
        runs = []
        for n in range(3):
            ws = Path(shutil.copytree(base, Path(tmp) / f"ws{n}"))
            t0 = time.perf_counter()
            subprocess.run([BIN / "ingest", "history", HISTORY, "--lang", "en", "--db", ws / "kb.db",
                            "--sources-file", ws / "sources.toml"], capture_output=True, check=True)
            runs.append(time.perf_counter() - t0)
        print(f"ingest history data/history/sagemaker-roles/en (17 revisions, rebuild, 17 steps logged): {summary(runs)}")

        # The change-log step every build ends with, alone: date 19 versions, diff 17 steps.
        db = ws / "kb.db"
        samples = []
        for _ in range(5):
            conn = sqlite3.connect(db)
            conn.execute("delete from page_change")
            conn.execute("delete from page_transition")
            t0 = time.perf_counter()
            from ingest.versions import record_changes, stamp_versions

            stamp_versions(conn)
            record_changes(conn, None, origin="build")
            samples.append(time.perf_counter() - t0)
            conn.rollback()
            conn.close()
        print(f"  of which dating the versions and diffing the 17 steps (in process): {summary(samples)}")


if __name__ == "__main__":
    main()
