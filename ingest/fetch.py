"""Fetch one documentation page over HTTPS, politely and defensively (`ingest refresh` only).

Only https to an allowed host is fetched; plain http is accepted for loopback test servers the
caller explicitly allows. Redirects are followed by hand so every hop is checked against the same
rules, bodies are streamed so an oversized page is refused without being held in memory, and a
short or truncated body is an error, never a silently shorter page. Every failure is a FetchError
whose reason is one readable line.

The site serves each page as Markdown too (`.md`, the cleaner source): `candidate_urls` lists that
form first. A fetched page is data, never instructions: the `## See also` appendix some `.md`
responses carry for AI assistants is cut off (`strip_see_also`).
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from kb import __version__

USER_AGENT = f"sagemaker-roles-kb/{__version__} (+ingest refresh)"
DEFAULT_ALLOWED_HOSTS = ("docs.aws.amazon.com",)
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_ACCEPT = "text/markdown, text/html;q=0.9, text/plain;q=0.8"
# Responses we can read as text; anything else (a PDF, an image) is not a page.
_TEXT_TYPES = re.compile(r"^(text/|application/(xhtml\+xml|xml|json)|[^;]*\+xml)", re.IGNORECASE)


@dataclass
class FetchResult:
    url: str  # as asked for
    final_url: str  # after redirects
    status: str  # "ok" or "not_modified"
    text: str | None  # None when not modified
    content_type: str | None
    etag: str | None
    last_modified: str | None
    sha256: str | None  # of `text` as UTF-8; None when not modified


class FetchError(Exception):
    """The page could not be fetched; `reason` says why in one line."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = " ".join(str(reason).split())
        super().__init__(f"cannot fetch {url}: {self.reason}")


class _Retryable(Exception):
    """A failure worth another attempt (429, 5xx, timeouts, dropped connections)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    allowed_hosts: Iterable[str] | None = DEFAULT_ALLOWED_HOSTS,
    allow_loopback: bool = False,
    max_bytes: int = 5_000_000,
    timeout: float = 15.0,
    retries: int = 3,
    backoff: float = 0.5,
    max_retry_after: float = 60.0,
    user_agent: str = USER_AGENT,
    deadline: float | None = None,
) -> FetchResult:
    """GET one page. `allowed_hosts=None` means the default (docs.aws.amazon.com), never "any host".

    `retries` is the number of extra attempts after the first, for 429, 5xx, timeouts and dropped
    connections; the wait doubles from `backoff` seconds, and a server's Retry-After is honoured up to
    `max_retry_after` seconds. `timeout` bounds each read; `deadline` (a time.monotonic() value)
    bounds the whole fetch — attempts, waits and a body dripping in byte by byte: a Retry-After
    past it gives up at once. Raises FetchError.
    """
    if allowed_hosts is None:
        allowed_hosts = DEFAULT_ALLOWED_HOSTS
    elif isinstance(allowed_hosts, str):  # one host name, not an iterable of its characters
        allowed_hosts = (allowed_hosts,)
    hosts = {h.lower() for h in allowed_hosts}
    _check_url(url, url, hosts, allow_loopback)
    headers = {"User-Agent": user_agent, "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    # Proxy settings from the environment are for the internet, not for a loopback test server.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=not _is_loopback(urlsplit(url).hostname),
                      headers=headers) as client:
        attempt = 0
        while True:
            left = _left(url, deadline)
            try:
                return _attempt(client, url, hosts, allow_loopback, max_bytes, min(timeout, left), deadline)
            except _Retryable as exc:
                if attempt >= retries:
                    tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
                    raise FetchError(url, f"{exc.reason} (gave up after {tries})") from None
                delay = backoff * 2**attempt
                if exc.retry_after is not None:
                    delay = min(max(exc.retry_after, 0.0), max_retry_after)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise FetchError(url, f"{exc.reason}; waiting {delay:g}s to retry would pass the fetch's "
                                          f"deadline (gave up after {attempt + 1} attempts)") from None
                _sleep(delay)
                attempt += 1


def _sleep(seconds: float) -> None:  # a seam for tests that record the waits
    time.sleep(seconds)


def _left(url: str, deadline: float | None) -> float:
    """Seconds to the deadline (inf without one); FetchError once it has passed."""
    if deadline is None:
        return float("inf")
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(url, "deadline passed: the fetch took longer than it may")
    return left


def candidate_urls(url: str) -> list[str]:
    """URLs to try for a page, best first: the `.md` form of a `.html` page, then the page itself."""
    parts = urlsplit(url)
    if parts.path.endswith(".html"):
        md = urlunsplit(parts._replace(path=parts.path[: -len(".html")] + ".md", fragment=""))
        return [md, urlunsplit(parts._replace(fragment=""))]
    return [url]


_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_SEE_ALSO = re.compile(r"^##\s++see also\s*+#*+\s*+$", re.IGNORECASE)
_TOP_HEADING = re.compile(r"^#{1,2}\s")


def strip_see_also(md_text: str) -> str:
    """Drop a trailing level-2 `## See also` section (an appendix addressed to AI assistants that
    some `.md` responses carry; it is not part of the page). A `See also` followed by another `#`/`##`
    heading is page content and stays; headings inside code fences are not headings."""
    lines = md_text.splitlines(keepends=True)
    in_fence, cut = False, None
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and _TOP_HEADING.match(line):
            cut = i if _SEE_ALSO.match(line.strip()) else None
    if cut is None:
        return md_text
    return "".join(lines[:cut]).rstrip() + "\n"


# --- one attempt -----------------------------------------------------------------------------------


def _attempt(client: httpx.Client, url: str, hosts: set[str], allow_loopback: bool, max_bytes: int,
             timeout: float, deadline: float | None = None) -> FetchResult:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            read_timeout = min(timeout, _left(url, deadline))
            with client.stream("GET", current, timeout=read_timeout) as resp:
                if resp.status_code in _REDIRECTS:
                    location = resp.headers.get("Location")
                    if not location:
                        raise FetchError(url, f"HTTP {resp.status_code} redirect without a Location header")
                    nxt = urljoin(current, location)
                    _check_url(url, nxt, hosts, allow_loopback, redirect=True)
                    current = nxt
                    continue
                return _response(url, current, resp, max_bytes, deadline)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {timeout:g}s ({type(exc).__name__})") from None
        except httpx.RemoteProtocolError as exc:
            raise _Retryable(f"connection dropped: {exc}") from None
        except (httpx.ConnectError, httpx.ReadError, httpx.WriteError) as exc:
            raise _Retryable(f"connection failed: {exc or type(exc).__name__}") from None
        except httpx.DecodingError as exc:
            raise FetchError(url, f"undecodable body (bad Content-Encoding): {exc}") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
    raise FetchError(url, f"too many redirects (more than {MAX_REDIRECTS})")


def _response(url: str, final_url: str, resp: httpx.Response, max_bytes: int,
              deadline: float | None = None) -> FetchResult:
    status = resp.status_code
    etag, last_mod = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
    content_type = resp.headers.get("Content-Type")
    if status == 304:
        return FetchResult(url, final_url, "not_modified", None, content_type, etag, last_mod, None)
    if status == 429 or status >= 500:
        raise _Retryable(f"HTTP {status} {resp.reason_phrase}".strip(), _retry_after(resp.headers))
    if not 200 <= status < 300:
        raise FetchError(url, f"HTTP {status} {resp.reason_phrase}".strip())
    if content_type and not _TEXT_TYPES.match(content_type.strip()):
        raise FetchError(url, f"not a text page (Content-Type {content_type})")
    body = _read_body(url, resp, max_bytes, deadline)
    text = _decode(url, body, resp)
    if final_url.split("?")[0].endswith(".md") or "markdown" in (content_type or "").lower():
        text = strip_see_also(text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return FetchResult(url, final_url, "ok", text, content_type, etag, last_mod, digest)


def _read_body(url: str, resp: httpx.Response, max_bytes: int, deadline: float | None = None) -> bytes:
    declared = resp.headers.get("Content-Length")
    length = int(declared) if declared and declared.isdigit() else None
    if length is not None and length > max_bytes:
        raise FetchError(url, f"body too large: Content-Length {length} bytes exceeds the {max_bytes}-byte limit")
    chunks, size = [], 0
    try:
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > max_bytes:  # also caps what a compressed body expands to
                raise FetchError(url, f"body too large: more than the {max_bytes}-byte limit, download stopped")
            if deadline is not None and time.monotonic() > deadline:  # a body dripping in: each read in time
                raise FetchError(url, f"body too slow: {size} bytes when the fetch's deadline passed, download stopped")
            chunks.append(chunk)
    except httpx.RemoteProtocolError as exc:
        # h11 notices a body shorter than its Content-Length when the peer closes the connection.
        raise _Retryable(f"truncated body: {exc}") from None
    # Compare on-the-wire bytes: Content-Length counts the encoded body, not the decoded one.
    if length is not None and resp.num_bytes_downloaded != length:
        raise _Retryable(f"truncated body: received {resp.num_bytes_downloaded} of {length} bytes")
    return b"".join(chunks)


def _decode(url: str, body: bytes, resp: httpx.Response) -> str:
    charset = resp.charset_encoding or "utf-8"  # the site serves UTF-8; a page that says so may omit it
    if body.startswith(b"\xef\xbb\xbf") and charset.lower().replace("_", "-") in ("utf-8", "utf8"):
        charset = "utf-8-sig"
    try:
        return body.decode(charset)
    except LookupError:
        raise FetchError(url, f"undecodable text: unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise FetchError(url, f"undecodable text: not valid {charset} at byte {exc.start}") from None


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:  # the other allowed form is an HTTP date
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


# --- URL policy ------------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(url: str, target: str, hosts: set[str], allow_loopback: bool, *, redirect: bool = False) -> None:
    """Raise FetchError unless `target` may be fetched: https to an allowed host, or http(s) to a
    loopback host that the caller allowed by name or with allow_loopback."""
    what = f"redirect to {target}" if redirect else "URL"
    try:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError as exc:
        raise FetchError(url, f"invalid {what}: {exc}") from None
    scheme = parts.scheme.lower()
    if not host:
        raise FetchError(url, f"invalid {what}: no host")
    if parts.username or parts.password:
        raise FetchError(url, f"{what} carries credentials; refusing to send them")
    if _is_loopback(host):
        if not (allow_loopback or host in hosts):
            raise FetchError(url, f"{what}: loopback host {host} not allowed (pass it in allowed_hosts "
                                  "or set allow_loopback)")
        if scheme not in ("http", "https"):
            raise FetchError(url, f"{what}: scheme {scheme or '(none)'} not allowed (http or https only)")
        return
    if scheme != "https":
        raise FetchError(url, f"{what}: scheme {scheme or '(none)'} not allowed (https only)")
    if host not in hosts:
        raise FetchError(url, f"{what}: host {host} not allowed (allowed: {', '.join(sorted(hosts))})")
