"""The query service under load, on loopback: canned-query JSON latency (500 sequential requests)
and throughput (16 concurrent clients for 20 s) of `kb serve`, beside a plain `datasette -i` on
the same file answering the same SQL as an arbitrary `?sql=` query. Both servers are started and
stopped here, in the same run."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from .common import BIN, ROOT, machine

SEQUENTIAL = 500
CLIENTS = 16
SECONDS = 20.0
PARAMS = {"api": "CreateModel", "conditions": "vpc", "lang": "ja", "scoped": "0"}
# Datasette skips entry-point plugins when this is set: the baseline runs without ours.
PLAIN_DATASETTE = "import sys; sys._called_from_test = True; from datasette.cli import cli; cli()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _server(cmd: list[str], port: int):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
            try:
                if _get(http.client.HTTPConnection("127.0.0.1", port, timeout=2), "/-/versions.json")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(cmd)} did not answer on port {port}") from None
                time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read()


def sequential(port: int, path: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(20):  # warm-up: connections, caches, the first-request hooks
        _get(conn, path)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _ = _get(conn, path)
        out.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
    conn.close()
    return out


def concurrent(port: int, path: str, clients: int, seconds: float) -> dict:
    """`clients` threads, one keep-alive connection each, as fast as answers come, for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start.wait()
        while time.perf_counter() < stop_at[0]:
            t0 = time.perf_counter()
            try:
                status, _ = _get(conn, path)
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            latencies[i].append(time.perf_counter() - t0)
            errors[i] += status != 200
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    done = [x for per in latencies for x in per]
    return {"rps": len(done) / elapsed, "p99": statistics.quantiles(done, n=100)[98] if len(done) > 1 else float("nan"),
            "errors": sum(errors), "requests": len(done)}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:6.2f} ms"


def main() -> None:
    from kb.canned import load_queries

    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "kb.db"  # one file, read by both servers in turn
        source = Path(os.environ.get("KB_DB") or ROOT / "data" / "kb.db")
        if source.is_file():
            shutil.copy(source, served)
        else:
            subprocess.run([str(BIN / "ingest"), "build", "--db", str(served)], check=True, capture_output=True)
        sql = load_queries()["requirements"]["sql"]
        ours, plain = _free_port(), _free_port()
        runs = [
            ("kb serve: canned query", [str(BIN / "kb"), "--db", str(served), "serve", "--port", str(ours)], ours,
             "/kb/requirements.json?" + urlencode({**PARAMS, "_shape": "array"})),
            ("datasette -i: same SQL as ?sql=", [sys.executable, "-c", PLAIN_DATASETTE, "serve", "-i", str(served),
                                                 "--host", "127.0.0.1", "--port", str(plain)], plain,
             "/kb.json?" + urlencode({"sql": sql, **PARAMS, "_shape": "array"})),
        ]
        print(f"requirements {PARAMS}, loopback; {SEQUENTIAL} sequential requests, "
              f"then {CLIENTS} clients for {SECONDS:.0f} s")
        print(f"  {'server':<32} {'median':>9} {'p95':>9} | {'req/s':>7} {'p99':>9} {'errors':>6}")
        answers = []
        for name, cmd, port, path in runs:
            with _server(cmd, port):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                plugins = {p["name"] for p in json.loads(_get(conn, "/-/plugins.json")[1])}
                assert bool(plugins) == (port == ours), plugins  # ours has our plugins, the baseline none
                answers.append(_get(conn, path))
                conn.close()
                lat = sequential(port, path, SEQUENTIAL)
                load = concurrent(port, path, CLIENTS, SECONDS)
            p95 = statistics.quantiles(lat, n=20)[18]
            print(f"  {name:<32} {_ms(statistics.median(lat)):>9} {_ms(p95):>9} | {load['rps']:7.0f} "
                  f"{_ms(load['p99']):>9} {load['errors']:6d}", flush=True)
        rows = [json.loads(body) for _, body in answers]
        print(f"  same answer from both: {rows[0] == rows[1]} ({len(rows[0])} rows, HTTP {answers[0][0]}/{answers[1][0]})")


if __name__ == "__main__":
    print(f"machine: {machine()}")
    main()
