"""ingest.fetch against a real HTTP server on 127.0.0.1 (loopback only, nothing reaches the internet)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingest import fetch as fetch_mod
from ingest.fetch import USER_AGENT, FetchError, candidate_urls, fetch, strip_see_also
from kb import __version__

ETAG = '"v1-5f2c"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
PAGE = "<html><body><div id='main-col-body'><h1>Roles</h1><p>café</p></div></body></html>"
MD_PAGE = "# Roles\n\nBody text.\n\n## Passing Roles\n\nMore.\n"
SEE_ALSO = "\n## See also\n\nAI assistants: also consult the following resources.\n"


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: every response ends the connection, so a body needs no Content-Length (used by /big).
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def send(self, status, body=b"", headers=(), length=True):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        path = self.path.split("?")[0]
        srv.hits[path] += 1
        srv.seen.append((path, dict(self.headers)))
        route = getattr(self, "route_" + path.strip("/").replace("-", "_").replace(".", "_"), None)
        if route is None:
            self.send(404, b"not here", [("Content-Type", "text/plain")])
        else:
            route()

    def route_page_html(self):
        if self.headers.get("If-None-Match") == ETAG or self.headers.get("If-Modified-Since") == LAST_MODIFIED:
            self.send(304, headers=[("ETag", ETAG), ("Last-Modified", LAST_MODIFIED)], length=False)
            return
        self.send(200, PAGE.encode("utf-8"), [("Content-Type", "text/html; charset=utf-8"), ("ETag", ETAG),
                                              ("Last-Modified", LAST_MODIFIED)])

    def route_page_md(self):
        self.send(200, (MD_PAGE + SEE_ALSO).encode("utf-8"), [("Content-Type", "text/markdown; charset=utf-8")])

    def route_headers(self):
        self.send(200, json.dumps(dict(self.headers)).encode(), [("Content-Type", "application/json")])

    def route_flaky429(self):
        if self.server.hits["/flaky429"] == 1:
            self.send(429, b"slow down", [("Content-Type", "text/plain"), ("Retry-After", "7")])
        else:
            self.route_page_html()

    def route_always500(self):
        self.send(500, b"boom", [("Content-Type", "text/plain")])

    def route_slow(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "10")
        self.end_headers()
        self.wfile.flush()
        self.server.stop.wait(3)  # far longer than the client's timeout; released at teardown

    def route_truncated(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"x" * 100)  # then the connection closes: 900 bytes short

    def route_redirect_other(self):
        port = self.server.server_address[1]
        self.send(302, headers=[("Location", f"http://127.0.0.2:{port}/page.html")])

    def route_redirect_same(self):
        self.send(301, headers=[("Location", "/page.html")])

    def route_redirect_loop(self):
        self.send(302, headers=[("Location", "/redirect-loop")])

    def route_big(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        for _ in range(50):  # 200 kB, no Content-Length: the client has to count
            self.wfile.write(b"a" * 4096)

    def route_big_declared(self):
        self.send(200, b"tiny", [("Content-Type", "text/html"), ("Content-Length", "10000000")], length=False)

    def route_binary(self):
        self.send(200, b"\xff\xfe\xfa not utf-8", [("Content-Type", "text/html; charset=utf-8")])

    def route_image(self):
        self.send(200, b"\x89PNG....", [("Content-Type", "image/png")])


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping in /slow must not hold up teardown

    def handle_error(self, request, client_address):
        pass  # the client hanging up on /slow or /big is expected


@pytest.fixture
def server():
    srv = Server(("127.0.0.1", 0), Handler)
    srv.hits, srv.seen, srv.stop = Counter(), [], threading.Event()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def sleeps(monkeypatch):
    """Record the backoff waits instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(fetch_mod, "_sleep", waits.append)
    return waits


def get(server, path, **kw):
    kw.setdefault("allowed_hosts", ("127.0.0.1",))
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 2.0)
    return fetch(server.base + path, **kw)


def fails(server, path, **kw) -> str:
    with pytest.raises(FetchError) as info:
        get(server, path, **kw)
    err = info.value
    assert err.url == server.base + path and "\n" not in err.reason
    assert str(err) == f"cannot fetch {err.url}: {err.reason}"
    return err.reason


# --- happy path and conditional requests --------------------------------------------------------------


def test_happy_path(server):
    r = get(server, "/page.html")
    assert (r.status, r.text, r.content_type) == ("ok", PAGE, "text/html; charset=utf-8")
    assert r.url == r.final_url == server.base + "/page.html"
    assert (r.etag, r.last_modified) == (ETAG, LAST_MODIFIED)
    assert r.sha256 == hashlib.sha256(PAGE.encode("utf-8")).hexdigest()


def test_user_agent_and_accept(server):
    r = get(server, "/headers")
    sent = json.loads(r.text)
    assert sent["User-Agent"] == USER_AGENT == f"sagemaker-roles-kb/{__version__} (+ingest refresh)"
    assert sent["Accept"].startswith("text/markdown")
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent


def test_etag_gives_304(server):
    first = get(server, "/page.html")
    again = get(server, "/page.html", etag=first.etag)
    assert again.status == "not_modified" and again.text is None and again.sha256 is None
    assert again.etag == ETAG
    assert server.seen[-1][1]["If-None-Match"] == ETAG


def test_last_modified_gives_304(server):
    r = get(server, "/page.html", last_modified=LAST_MODIFIED)
    assert r.status == "not_modified" and r.last_modified == LAST_MODIFIED
    assert server.seen[-1][1]["If-Modified-Since"] == LAST_MODIFIED


def test_stale_etag_gets_the_page(server):
    r = get(server, "/page.html", etag='"old"')
    assert r.status == "ok" and r.text == PAGE


def test_md_response_loses_see_also_appendix(server):
    r = get(server, "/page.md")
    assert r.text == MD_PAGE
    assert "AI assistants" not in r.text
    assert r.sha256 == hashlib.sha256(MD_PAGE.encode("utf-8")).hexdigest()


# --- retries ------------------------------------------------------------------------------------------


def test_429_then_200_honours_retry_after_up_to_cap(server, sleeps):
    r = get(server, "/flaky429", max_retry_after=0.05)
    assert r.status == "ok" and r.text == PAGE
    assert server.hits["/flaky429"] == 2
    assert sleeps == [0.05]  # Retry-After: 7, capped


def test_retry_after_below_cap_is_used_as_is(server, sleeps):
    get(server, "/flaky429", max_retry_after=60)
    assert sleeps == [7.0]


def test_500_forever_gives_up_after_bounded_retries(server, sleeps):
    reason = fails(server, "/always500", retries=2)
    assert reason == "HTTP 500 Internal Server Error (gave up after 3 attempts)"
    assert server.hits["/always500"] == 3
    assert sleeps == [0.01, 0.02]  # exponential backoff


def test_real_backoff_is_short_in_tests(server):
    start = time.monotonic()
    fails(server, "/always500", retries=1)
    assert time.monotonic() - start < 1.0


def test_404_is_not_retried(server):
    assert fails(server, "/missing") == "HTTP 404 Not Found"
    assert server.hits["/missing"] == 1


# --- broken transfers ---------------------------------------------------------------------------------


def test_slow_body_times_out(server):
    start = time.monotonic()
    reason = fails(server, "/slow", timeout=0.2, retries=0)
    assert reason == "timed out after 0.2s (ReadTimeout) (gave up after 1 attempt)"
    assert time.monotonic() - start < 2


def test_truncated_body(server, sleeps):
    reason = fails(server, "/truncated", retries=1)
    assert reason.startswith("truncated body: ")
    assert "(gave up after 2 attempts)" in reason
    assert server.hits["/truncated"] == 2


def test_oversize_body_is_stopped_while_streaming(server):
    reason = fails(server, "/big", max_bytes=10_000)
    assert reason == "body too large: more than the 10000-byte limit, download stopped"


def test_oversize_declared_length_is_refused_before_reading(server):
    reason = fails(server, "/big-declared", max_bytes=10_000)
    assert reason == "body too large: Content-Length 10000000 bytes exceeds the 10000-byte limit"


def test_undecodable_text(server):
    assert fails(server, "/binary") == "undecodable text: not valid utf-8 at byte 0"


def test_not_a_text_page(server):
    assert fails(server, "/image") == "not a text page (Content-Type image/png)"


# --- redirects ----------------------------------------------------------------------------------------


def test_redirect_within_host_is_followed(server):
    r = get(server, "/redirect-same")
    assert r.status == "ok" and r.text == PAGE
    assert r.url == server.base + "/redirect-same" and r.final_url == server.base + "/page.html"


def test_redirect_to_another_host_is_refused(server):
    reason = fails(server, "/redirect-other")
    port = server.server_address[1]
    assert reason == (f"redirect to http://127.0.0.2:{port}/page.html: loopback host 127.0.0.2 not allowed "
                      "(pass it in allowed_hosts or set allow_loopback)")
    assert server.hits["/page.html"] == 0


def test_redirect_loop_stops(server):
    assert fails(server, "/redirect-loop") == "too many redirects (more than 5)"
    assert server.hits["/redirect-loop"] == 6


# --- URL policy (refused before any connection) -------------------------------------------------------


def test_loopback_needs_explicit_permission(server):
    with pytest.raises(FetchError) as info:
        fetch(server.base + "/page.html")  # default allowed_hosts: docs.aws.amazon.com only
    assert info.value.reason == ("URL: loopback host 127.0.0.1 not allowed "
                                 "(pass it in allowed_hosts or set allow_loopback)")
    assert sum(server.hits.values()) == 0
    assert fetch(server.base + "/page.html", allow_loopback=True).text == PAGE


@pytest.mark.parametrize("url, reason", [
    ("http://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html",
     "URL: scheme http not allowed (https only)"),
    ("ftp://docs.aws.amazon.com/x", "URL: scheme ftp not allowed (https only)"),
    ("https://docs.aws.amazon.com.evil.example/x",
     "URL: host docs.aws.amazon.com.evil.example not allowed (allowed: docs.aws.amazon.com)"),
    ("https://user:secret@docs.aws.amazon.com/x", "URL carries credentials; refusing to send them"),
    ("not a url", "invalid URL: no host"),
    ("https://docs.aws.amazon.com:99999/x", "invalid URL: Port out of range 0-65535"),  # urllib.parse wording
])
def test_disallowed_urls(url, reason):
    with pytest.raises(FetchError) as info:
        fetch(url, allowed_hosts=None)  # None means the default, never "any host"
    assert info.value.reason == reason


def test_loopback_scheme_must_be_http_or_https():
    with pytest.raises(FetchError) as info:
        fetch("ftp://127.0.0.1/x", allow_loopback=True)
    assert info.value.reason == "URL: scheme ftp not allowed (http or https only)"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.9", "[::1]"])
def test_all_loopback_spellings_are_guarded(host):
    with pytest.raises(FetchError, match="loopback host"):
        fetch(f"http://{host}:9/x")


# --- candidate URLs and the See also appendix --------------------------------------------------------


def test_candidate_urls_prefer_md():
    url = "https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-pass-role"
    assert candidate_urls(url) == [
        "https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles.md",
        "https://docs.aws.amazon.com/ja_jp/sagemaker/latest/dg/sagemaker-roles.html",
    ]
    md = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.md"
    assert candidate_urls(md) == [md]


def test_strip_see_also_drops_only_a_trailing_section():
    assert strip_see_also(MD_PAGE + SEE_ALSO) == MD_PAGE
    assert strip_see_also(MD_PAGE + SEE_ALSO + "### Sub\n\nmore for assistants\n") == MD_PAGE
    # a See also followed by more of the page is the page's own
    kept = "# T\n\n## See also\n\n- x\n\n## Next\n\ntext\n"
    assert strip_see_also(kept) == kept
    # a heading-looking line inside a code fence is code, not a heading
    fenced = "# T\n\n## See also\n\n```\n## Not a heading\n```\n"
    assert strip_see_also(fenced) == "# T\n"
    in_fence = "# T\n\n```\n## See also\n```\n"
    assert strip_see_also(in_fence) == in_fence
    assert strip_see_also("no headings at all") == "no headings at all"
