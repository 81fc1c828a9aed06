"""Safe by default: who may use the dashboard and how actions are guarded.

- Without a token the app answers only loopback clients, and only for a loopback ``Host``
  header (so a web page elsewhere cannot reach it through DNS rebinding).
- With a token every request needs it: a session cookie (signed, SameSite=Strict, HttpOnly)
  after the login form, or an ``Authorization: Bearer`` header for scripts. Tokens are compared
  in constant time; a failed login waits a second.
- Every action is a POST carrying the session's CSRF token (form field or ``X-CSRF-Token``).
- Every response forbids framing, sniffing and any script, style or request not from the app
  itself (Content-Security-Policy), so an injected ``<script>`` could not run even if one got
  through the template's escaping.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qgen import ConfigError

MIN_TOKEN_LENGTH = 16
SESSION_COOKIE = "qgen_dashboard"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
OPEN_PATHS = ("/login", "/static/")  # reachable without a session when a token is set


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (with or without brackets and port for Host)."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token(token: str | None) -> str | None:
    """The token if it is usable; raises ConfigError for one too short to resist guessing."""
    if token is None or token == "":
        return None
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"the dashboard token must have at least {MIN_TOKEN_LENGTH} characters; make one "
            'with: python -c "import secrets; print(secrets.token_urlsafe(24))"'
        )
    return token


def session_secret(token: str | None) -> str:
    """Signing key of the session cookie: derived from the token, so every process serving
    the same token accepts the same sessions; random per process without a token."""
    if token is None:
        return secrets.token_hex(32)
    return hmac.new(token.encode(), b"qgen-dashboard-session", hashlib.sha256).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def csrf_ok(request: Request) -> bool:
    """The POST carries the session's CSRF token (header, or form field ``csrf``)."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str):
        return False
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf")
        given = value if isinstance(value, str) else None
    return same_secret(given, expected)


def _wants_html(headers: Headers) -> bool:
    return "text/html" in headers.get("accept", "")


class Gate:
    """ASGI middleware inside the session middleware: refuses requests that may not reach
    the app, adds the security headers to every response."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        login_page: Callable[[Request], Awaitable[Response]],
    ) -> None:
        self.app, self.token, self.login_page = app, token, login_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    async def _refusal(self, scope: Scope) -> Response | None:
        request = Request(scope)
        if self.token is None:
            client = scope.get("client")
            host = request.headers.get("host", "")
            if client is None or not is_loopback(str(client[0])) or not is_loopback(host):
                return PlainTextResponse(
                    "this qgen dashboard has no token, so it answers loopback requests only "
                    "(start it with --token or $QGEN_DASHBOARD_TOKEN to serve others)",
                    status_code=403,
                )
            return None
        if self._authenticated(request):
            return None
        path = str(scope["path"]).removeprefix(str(scope.get("root_path", "")))
        if path == "/login" or path.startswith("/static/"):
            return None
        if _wants_html(request.headers) and request.method == "GET":
            page = await self.login_page(request)
            page.status_code = 401
            return page
        return JSONResponse({"error": "authentication required"}, status_code=401)

    def _authenticated(self, request: Request) -> bool:
        assert self.token is not None
        if request.session.get("auth") is True:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and same_secret(value.strip(), self.token)


def safe_next(target: Any) -> str:
    """A post-login redirect target: a path on this site only (no open redirect)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return ""
    return "" if any(c in target for c in "\\\r\n") else target
