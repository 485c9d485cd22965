"""`make fuzz`: a long fuzzing campaign over tests/fuzz_targets.py — each reader, the snippet
parser and the extractor — with atheris (coverage-guided, our modules instrumented) when it is
installed, else a long hypothesis run. Seeds are the shipped pages and the kept inputs; each
target runs in a process of its own. A crash (any exception but ReaderError) or an input over the
time limit is written to tests/fixtures/fuzz/<target>/ as a regression input and fails the run.
Prints, per target: inputs run, crashes, the slowest input and its time.

    python -m tests.fuzz_campaign [--runs 100000] [--targets markdown,html] [--max-len 2048]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "fuzz"
TARGET_NAMES = ("markdown", "html", "text", "snippet", "extractor")


def _seeds(target: str, max_len: int) -> list[str]:
    """Pieces of the real pages in the target's form, and the kept inputs, each at most max_len."""
    data = ROOT / "data" / "snapshots"
    if target in ("markdown", "extractor"):
        text = (data / "sagemaker-roles.en.md").read_text(encoding="utf-8")
    elif target == "text":
        text = (data / "sagemaker-roles.ja.txt").read_text(encoding="utf-8")
    elif target == "html":
        text = (ROOT / "tests" / "fixtures" / "refresh" / "sagemaker-roles.en.html").read_text(encoding="utf-8")
    else:
        page = (data / "sagemaker-roles.en.md").read_text(encoding="utf-8")
        return [m.group(1) for m in re.finditer(r"```\n(.*?)\n```", page, re.S)][:40]
    step = max_len // 2
    pieces = [text[i:i + max_len] for i in range(0, len(text), step)][:60]
    kept = [p.read_text(encoding="utf-8", errors="replace")[:max_len] for p in sorted((FIXTURES / target).glob("*"))]
    return pieces + kept


def child_atheris(target: str, runs: int, max_len: int, timeout: int, stats: Path, corpus: Path, artifacts: Path) -> None:
    import atheris

    # Libraries first, uninstrumented (fast); then our modules with coverage instrumentation.
    import botocore  # noqa: F401
    import bs4  # noqa: F401
    import pyromark  # noqa: F401

    with atheris.instrument_imports(include=["ingest", "kb", "tests.fuzz_targets"]):
        from tests import fuzz_targets
    fn = fuzz_targets.TARGETS[target]
    if target == "extractor":
        fuzz_targets._api_model()
    fn("# T\n\nwarm up\n")  # lazy imports and lexicons load here, not in the first input's time
    state = {"n": 0, "slowest": 0.0, "input": ""}

    def one(data: bytes) -> None:
        value = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
        t = time.perf_counter()
        fn(value)
        took = time.perf_counter() - t
        state["n"] += 1
        if took > state["slowest"]:
            state["slowest"], state["input"] = took, value
        if state["n"] % 250 == 0:
            stats.write_text(json.dumps(state), encoding="utf-8")

    atheris.Setup([sys.argv[0], f"-runs={runs}", f"-max_len={max_len}", f"-timeout={timeout}", "-print_final_stats=1",
                   f"-artifact_prefix={artifacts}/", str(corpus)], one)
    atheris.Fuzz()


def child_hypothesis(target: str, runs: int, stats: Path) -> None:
    from hypothesis import HealthCheck, given, settings

    from tests import fuzz_targets, test_fuzz

    strategy = {"markdown": test_fuzz.doc(test_fuzz.MD), "html": test_fuzz.doc(test_fuzz.HTML),
                "text": test_fuzz.doc(test_fuzz.TEXT), "snippet": test_fuzz.doc(test_fuzz.JSON),
                "extractor": test_fuzz.doc(test_fuzz.MD)}[target]
    fn = fuzz_targets.TARGETS[target]
    state = {"n": 0, "slowest": 0.0, "input": ""}

    @settings(max_examples=runs, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value):
        t = time.perf_counter()
        fn(value)
        took = time.perf_counter() - t
        state["n"] += 1
        if took > state["slowest"]:
            state["slowest"], state["input"] = took, value

    try:
        run()
    finally:
        stats.write_text(json.dumps(state), encoding="utf-8")


def _keep(target: str, artifacts: Path) -> list[Path]:
    """Crash and timeout inputs of a run, decoded as the target saw them, kept as regression inputs."""
    kept = []
    for art in sorted(artifacts.glob("*")):
        data = art.read_bytes()
        try:
            import atheris

            value = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
        except ImportError:
            value = data.decode("utf-8", "replace")
        dest = FIXTURES / target / f"{art.name.split('-')[0]}-{hashlib.sha256(data).hexdigest()[:12]}.txt"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(value, encoding="utf-8", errors="surrogateescape")
        kept.append(dest)
    return kept


def campaign(targets: list[str], runs: int, max_len: int, timeout: int) -> int:
    try:
        import atheris  # noqa: F401

        engine = "atheris"
    except ImportError:
        engine = "hypothesis"
    print(f"fuzzing with {engine}: {runs} inputs per target, inputs up to {max_len} characters, "
          f"{timeout} s per input at most", flush=True)
    failed = 0
    for target in targets:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as tmp:
            work = Path(tmp)
            corpus, artifacts, stats = work / "corpus", work / "artifacts", work / "stats.json"
            corpus.mkdir()
            artifacts.mkdir()
            for i, seed in enumerate(_seeds(target, max_len)):
                (corpus / f"seed-{i}").write_bytes(seed.encode("utf-8", "surrogatepass"))
            mode = [engine, target, str(runs), str(max_len), str(timeout), str(stats), str(corpus), str(artifacts)]
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "tests.fuzz_campaign", "--child", *mode], cwd=ROOT,
                                  capture_output=True, text=True, errors="replace")
            wall = time.perf_counter() - started
            state = json.loads(stats.read_text(encoding="utf-8")) if stats.is_file() else {"n": 0, "slowest": 0.0,
                                                                                           "input": ""}
            done = re.search(r"Done (\d+) runs", proc.stderr)
            count = int(done.group(1)) if done else state["n"]
            kept = _keep(target, artifacts)
            crashed = proc.returncode != 0 or kept
            failed += bool(crashed)
            slow = state["input"]
            saved = Path(tempfile.gettempdir()) / "kb-fuzz" / f"{target}-slowest.txt"
            saved.parent.mkdir(exist_ok=True)
            saved.write_text(slow, encoding="utf-8", errors="surrogateescape")
            print(f"{target:<10} {count:>8} inputs in {wall:6.0f} s · {len(kept) if crashed else 0} crashes · slowest "
                  f"{state['slowest'] * 1000:.0f} ms on {len(slow)} chars: {slow[:60]!r} (all of it: {saved})", flush=True)
            if crashed:
                tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
                print(f"  exit {proc.returncode}; kept {[str(k.relative_to(ROOT)) for k in kept]}\n{tail}", flush=True)
    print("fuzz: " + ("no crash" if not failed else f"{failed} target(s) crashed: see above"), flush=True)
    return 1 if failed else 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        engine, target, runs, max_len, timeout, stats, corpus, artifacts = sys.argv[2:10]
        sys.argv = sys.argv[:1]
        if engine == "atheris":
            child_atheris(target, int(runs), int(max_len), int(timeout), Path(stats), Path(corpus), Path(artifacts))
        else:
            child_hypothesis(target, int(runs), Path(stats))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--targets", default=",".join(TARGET_NAMES), help="comma-separated, of " + ", ".join(TARGET_NAMES))
    parser.add_argument("--max-len", type=int, default=2048, help="longest input, in bytes")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take before it counts as a hang")
    args = parser.parse_args()
    sys.exit(campaign([t for t in args.targets.split(",") if t], args.runs, args.max_len, args.timeout))


if __name__ == "__main__":
    main()
