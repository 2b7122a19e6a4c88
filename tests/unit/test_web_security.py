"""Pure helpers of the web layer: loopback detection, safe redirects, signing, cookie rule."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from goodwill.config import load_settings
from goodwill.web.pages.auth import safe_next
from goodwill.web.security import cookie_secure, is_loopback_host, same_secret, signed


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("localhost", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("goodwill.example.com", False),
        ("localhost.evil.com", False),
        ("", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("target", "result"),
    [
        ("/people/3", "/people/3"),
        ("//evil.example", "/people"),
        ("/\\evil.example", "/people"),
        ("https://evil.example", "/people"),
        ("", "/people"),
        (None, "/people"),
    ],
)
def test_redirects_stay_on_this_site(target: str | None, result: str) -> None:
    assert safe_next(target) == result


def test_signed_tokens_depend_on_the_key_and_compare_safely() -> None:
    assert signed("k1", "v") != signed("k2", "v")
    assert same_secret(signed("k1", "v"), signed("k1", "v"))
    assert not same_secret(None, "x") and not same_secret("", "") and not same_secret("a", "b")


def _request(scheme: str, host: str) -> Request:
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "server": (host, 80),
            "path": "/",
            "headers": [(b"host", host.encode())],
            "query_string": b"",
        }
    )


@pytest.mark.parametrize(
    ("setting", "scheme", "host", "secure"),
    [
        (None, "http", "127.0.0.1", False),
        (None, "http", "localhost", False),
        (None, "https", "127.0.0.1", True),
        (None, "http", "shop.example", True),
        (False, "http", "shop.example", False),
        (True, "http", "127.0.0.1", True),
    ],
)
def test_cookie_secure_rule(setting: bool | None, scheme: str, host: str, secure: bool) -> None:
    settings = load_settings(database_url="sqlite:///x.db", web={"cookie_secure": setting})
    assert cookie_secure(settings, _request(scheme, host)) is secure
