"""Security headers on every response: nosniff and no framing everywhere; on our own pages (the
home page and the /-/policy, /-/audit routes) a strict Content-Security-Policy too — scripts,
styles and everything else from this server's files only, no inline script or style. Datasette's
own pages keep their inline scripts (its SQL editor, table menus), so they get the frame rule only.
"""

from __future__ import annotations

STRICT_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
FRAME_CSP = "frame-ancestors 'none'"
OURS = ("/", "/-/policy", "/-/audit", "/-/policy/options")
ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
          (b"referrer-policy", b"same-origin")]


def csp_for(path: str) -> str:
    return STRICT_CSP if path in OURS else FRAME_CSP


def secure(app):
    async def with_headers(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        extra = [*ALWAYS, (b"content-security-policy", csp_for(scope.get("path", "")).encode())]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *((k, v) for k, v in extra if k not in names)]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return with_headers
