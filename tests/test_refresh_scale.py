"""`ingest refresh` over many guide pages against a real HTTP server on 127.0.0.1: at most two
requests at once, conditional requests, a bounded rate; an unchanged guide costs only 304s, and
one changed page is rebuilt and reported beside the unchanged rest, and becomes a snapshot of its own."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from ingest.sources import DATA_DIR
from tests.fixtures.refresh.loopback import LoopbackServer, page
from tests.test_refresh import ingest

GUIDE = DATA_DIR / "guide" / "sagemaker-dg" / "en" / "doc_source"
PAGES = 60  # guide pages of the scratch source list
RATE = 20.0  # requests per second the runs may start (the most --rate allows)


def _workspace(dest: Path) -> tuple[Path, list[str]]:
    """A source list of the current English roles page and PAGES guide pages (copies)."""
    guide = dest / "guide"
    guide.mkdir(parents=True)
    names = sorted(p.stem for p in GUIDE.glob("*.md") if p.stem != "sagemaker-roles")
    names = names[:: max(1, len(names) // PAGES)][:PAGES]
    for name in names:
        shutil.copy(GUIDE / f"{name}.md", guide / f"{name}.md")
    (dest / "snapshots").mkdir()
    shutil.copy(DATA_DIR / "snapshots" / "sagemaker-roles.en.md", dest / "snapshots" / "sagemaker-roles.en.md")
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (dest / "sources.toml").write_text(
        '[[page]]\nkey = "sagemaker-roles"\nlang = "en"\nformat = "md"\nfile = "snapshots/sagemaker-roles.en.md"\n'
        'url = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"\n\n'
        '[[guide]]\nlang = "en"\ndir = "guide"\nformat = "md"\n'
        'url = "https://docs.aws.amazon.com/sagemaker/latest/dg/{page}.html"\n', encoding="utf-8")
    return dest, ["sagemaker-roles", *names]


def _serve(srv: LoopbackServer, ws: Path, names: list[str], changed: str | None = None) -> None:
    for name in names:
        path = ws / "snapshots" / f"{name}.en.md" if name == "sagemaker-roles" else ws / "guide" / f"{name}.md"
        text = path.read_text(encoding="utf-8")
        if name == changed:
            text += "\n\nThis paragraph was added by the site.\n"
        reply = page(text, etag=f'"{name}-{"v2" if name == changed else "v1"}"')
        # an answer takes five start intervals (1 / RATE): the next request starts while it is under way,
        # however slow the machine, so two are in flight whenever the client allows two
        reply.delay = 5 / RATE
        srv.route(f"/mirror/sagemaker/latest/dg/{name}.md", reply)


def _refresh(ws: Path, srv: LoopbackServer) -> dict:
    code, out, err = ingest("refresh", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml", "--json",
                            "--base-url", srv.url("/mirror/"), "--rate", RATE)
    assert code == 0, err
    return json.loads(out)


def test_refresh_of_many_pages_is_polite_and_an_unchanged_guide_costs_only_304s(tmp_path):
    ws, names = _workspace(tmp_path / "ws")
    code, _, err = ingest("build", "--db", ws / "kb.db", "--sources-file", ws / "sources.toml")
    assert code == 0, err
    with LoopbackServer() as srv:
        _serve(srv, ws, names)
        first = _refresh(ws, srv)
        assert [p["page_key"] for p in first["pages"]] == names  # one report per page, in the list's order
        assert {p["status"] for p in first["pages"]} == {"unchanged"}
        assert {p["http"] for p in first["pages"]} == {"ok"}  # nothing to ask conditionally yet
        assert not first["facts_rebuilt"]
        assert srv.max_in_flight == 2  # two at once, never more
        # The rate bound: the n-th request starts no earlier than n / RATE seconds after the first
        # (one interval allowed for the first request's own way to the server).
        assert srv.arrivals[-1] - srv.arrivals[0] >= (len(srv.arrivals) - 2) / RATE

        srv.requests.clear()
        srv.sent.clear()
        second = _refresh(ws, srv)
        assert len(srv.requests) == len(names)
        assert all(h.get("if-none-match") == f'"{p.rsplit("/", 1)[-1][:-3]}-v1"' for p, h in srv.requests)
        assert set(srv.sent) == {304}
        assert {(p["status"], p["http"]) for p in second["pages"]} == {("unchanged", "not_modified")}
        assert srv.max_in_flight <= 2

        changed = names[len(names) // 2]
        _serve(srv, ws, names, changed=changed)
        srv.sent.clear()
        third = _refresh(ws, srv)
        assert third["facts_rebuilt"]
        assert {p["page_key"]: p["status"] for p in third["pages"] if p["status"] != "unchanged"} == {changed: "changed"}
        assert srv.sent.count(200) == 1 and srv.sent.count(304) == len(names) - 1
        assert srv.max_in_flight <= 2
    # The guide's shipped file stays (an older revision now); the fetched text is the page's own snapshot.
    assert "added by the site" not in (ws / "guide" / f"{changed}.md").read_text(encoding="utf-8")
    assert "added by the site" in (ws / "snapshots" / f"{changed}.en.md").read_text(encoding="utf-8")
    code, _, err = ingest("build", "--db", ws / "rebuilt.db", "--sources-file", ws / "sources.toml")
    assert code == 0, err
    conn = sqlite3.connect(ws / "rebuilt.db")
    rows = conn.execute("select is_current, source from page where page_key = ? order by is_current", [changed]).fetchall()
    conn.close()
    assert [(bool(c), Path(s).parent.name) for c, s in rows] == [(False, "guide"), (True, "snapshots")]


def test_more_than_two_requests_at_once_is_refused():
    """The limit holds whatever is asked: --concurrency above 2 is refused."""
    code, _, err = ingest("refresh", "--db", "x.db", "--concurrency", "3")
    assert code == 2 and "--concurrency" in err
