"""Random tokens, their hashes, the cookie ``Secure`` rule and the headers every response carries."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from goodwill.config import Settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


_CUSTOMER_TOKEN_IN_PATH = re.compile(r"^(/my/[a-z]+/|/unsubscribe/)[^/?]+")


def redact_path(path: str) -> str:
    """A request path fit for a log: a customer link's token and the query string are cut out."""
    path, _, query = path.partition("?")
    path = _CUSTOMER_TOKEN_IN_PATH.sub(r"\1[token]", path)
    return f"{path}?[query]" if query else path


class RedactedAccessLog(logging.Filter):
    """On Uvicorn's access logger: keeps tokens (customer links) and queries (searches by name or
    email) out of an access log an operator turns on. ``goodwill serve`` leaves the log off."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactedAccessLog) for f in access.filters):
        access.addFilter(RedactedAccessLog())


def new_token() -> str:
    return secrets.token_urlsafe(32)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_secret(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def signed(secret_key: str, value: str) -> str:
    """HMAC of ``value``: binds a form token to its cookie so a planted cookie alone is useless."""
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def is_loopback_host(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cookie_secure(settings: Settings, request: Request) -> bool:
    """Explicit setting wins; unset means Secure except plain http to a loopback host (local use)."""
    if settings.web.cookie_secure is not None:
        return settings.web.cookie_secure
    return not (request.url.scheme == "http" and is_loopback_host(request.url.hostname or ""))


# Pages whose path holds a customer's signed token: they send no Referer at all, not even to us.
CUSTOMER_LINK_PREFIXES = ("/my/", "/unsubscribe/")


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, and ``no-store`` to everything but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        is_static = path.startswith("/static/")
        is_customer_link = path.startswith(CUSTOMER_LINK_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if is_customer_link:
                    headers["referrer-policy"] = "no-referrer"
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not is_static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
