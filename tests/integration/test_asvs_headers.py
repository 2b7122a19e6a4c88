"""ASVS V14.4 (security headers on every response, errors and static files included) and V5.3.3 / CSP:
no inline script, event handler or style anywhere in the templates or in what the pages render.

The CSP forbids inline script and style (no 'unsafe-inline'), so one slipped into a template would be
blocked in the browser: a broken page, found here first.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_asvs_csrf import concrete, seed
from test_web_client import BASE_URL, add_user, login, make_client

import goodwill
from goodwill.db import Database
from goodwill.web.api import API_PREFIX
from goodwill.web.deps import role_table
from goodwill.web.security import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

SOURCE = Path(goodwill.__file__).parent
TEMPLATES = sorted(SOURCE.rglob("*.html"))

# What the CSP would block or that runs script without a <script src>: inline <script> bodies, <style>,
# style="", on*="" handlers, javascript: URLs and htmx's own inline-script attributes (hx-on, js: values).
INLINE = {
    "script body": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "hx-on": re.compile(r"\s(?:data-)?hx-on", re.IGNORECASE),
    "js: value": re.compile(r"""hx-(?:vals|headers)\s*=\s*['"]\s*js:""", re.IGNORECASE),
}


def inline_problems(html: str) -> list[str]:
    return [f"{name}: {m.group(0)!r}" for name, pattern in INLINE.items() for m in pattern.finditer(html)]


def test_the_scanner_finds_each_kind_of_inline_code() -> None:
    """The scan can fail: each pattern catches its own example, and a clean page passes."""
    bad = {
        "script body": "<script>alert(1)</script>",
        "style element": "<style>p{}</style>",
        "style attribute": '<p style="color:red">',
        "event handler": '<img src=x onerror="alert(1)">',
        "javascript: URL": '<a href="javascript:alert(1)">',
        "hx-on": '<button hx-on:click="x()">',
        "js: value": "<div hx-vals='js:{a: 1}'>",
    }
    for name, html in bad.items():
        assert any(p.startswith(name) for p in inline_problems(html)), name
    clean = '<script src="/static/htmx.min.js" defer></script><p class="x" data-online="1">'
    assert inline_problems(clean) == []


def test_the_csp_has_no_unsafe_sources_and_forbids_framing() -> None:
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["default-src"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "*" not in CONTENT_SECURITY_POLICY
    assert SECURITY_HEADERS["x-frame-options"] == "DENY"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_no_template_has_inline_script_or_style(template: Path) -> None:
    assert inline_problems(template.read_text(encoding="utf-8")) == []


def test_templates_were_found_in_every_module() -> None:
    assert len(TEMPLATES) > 40
    assert {p.relative_to(SOURCE).parts[0] for p in TEMPLATES} >= {"web"}


def assert_headers(answer: httpx.Response, what: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name == "referrer-policy":
            continue
        assert answer.headers.get(name) == value, (what, answer.status_code, name)
    # Pages whose URL holds a customer's token send no Referer at all, so the token cannot leak to a
    # site they link to; every other page sends only same-origin referrers.
    token_page = answer.url.path.startswith(("/my/", "/unsubscribe/"))
    expected = "no-referrer" if token_page else "same-origin"
    assert answer.headers.get("referrer-policy") == expected, (what, answer.status_code)


def admin_client(db: Database) -> TestClient:
    admin_id = add_user(db, "admin@shop.test", "admin", name="Ada Admin")
    seed(db, admin_id)
    client = make_client(db)
    assert login(client, "admin@shop.test").status_code == 303
    return client


def test_every_page_and_api_read_renders_without_inline_code_and_with_the_headers(db: Database) -> None:
    client = admin_client(db)
    table = role_table(client.app)  # type: ignore[arg-type]
    gets = sorted(p for (m, p) in table if m == "GET")
    pages = 0
    for path in gets:
        answer = client.get(concrete(path), follow_redirects=False)
        assert answer.status_code < 500, (path, answer.status_code)
        assert_headers(answer, path)
        if answer.headers.get("content-type", "").startswith("text/html"):
            pages += 1
            assert inline_problems(answer.text) == [], path
    assert pages > 25  # the walk rendered real pages, not only redirects


def test_errors_redirects_and_static_files_carry_the_headers(db: Database) -> None:
    client = admin_client(db)
    anonymous = make_client(db)
    cases: dict[str, httpx.Response] = {
        "404 page": client.get("/nowhere"),
        "404 api": client.get(f"{API_PREFIX}/nowhere"),
        "405": client.get("/logout"),
        "422 api": client.post(f"{API_PREFIX}/people", json={"name": 5}, headers=_csrf(client)),
        "422 query": client.get(f"{API_PREFIX}/people", params={"limit": "many"}),
        "403 csrf": client.post(f"{API_PREFIX}/people", json={"name": "x"}),
        "401 api": anonymous.get(f"{API_PREFIX}/people"),
        "303 to login": anonymous.get("/people", follow_redirects=False),
        "static css": client.get("/static/app.css"),
        "static js": client.get("/static/htmx.min.js"),
        "static 404": client.get("/static/nothing.js"),
        "login page": anonymous.get("/login"),
        "broken customer link": anonymous.get("/my/loyalty/broken"),
    }
    for what, answer in cases.items():
        assert_headers(answer, what)
        if answer.headers.get("content-type", "").startswith("text/html"):
            assert inline_problems(answer.text) == [], what
    assert cases["404 page"].status_code == 404 and cases["405"].status_code == 405
    assert cases["422 api"].status_code == 422 and cases["static css"].status_code == 200
    assert "no-store" in cases["login page"].headers["cache-control"]


def _csrf(client: TestClient) -> dict[str, str]:
    from test_web_client import session_csrf

    return {"X-CSRF-Token": session_csrf(client)}


def test_an_unexpected_error_answers_500_with_the_headers_and_no_detail(db: Database) -> None:
    app = make_client(db).app
    assert isinstance(app, FastAPI)

    def explode() -> None:
        raise RuntimeError("secret detail: zoe@example.org")

    app.add_api_route("/boom", explode)
    app.add_api_route(f"{API_PREFIX}/boom", explode)
    client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)
    for path in ("/boom", f"{API_PREFIX}/boom"):
        answer = client.get(path)
        assert answer.status_code == 500, path
        assert_headers(answer, path)
        assert answer.headers["cache-control"] == "no-store"
        assert "zoe@example.org" not in answer.text and "RuntimeError" not in answer.text


def test_an_error_on_a_customer_link_logs_the_route_not_the_token(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_client(db).app
    assert isinstance(app, FastAPI)

    def explode(token: str) -> None:
        raise RuntimeError("boom")

    app.add_api_route("/my/boom/{token}", explode)
    client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)
    token = "tok-5f1e2d3c4b5a69788796a5b4c3d2e1f0"
    with caplog.at_level(logging.DEBUG):
        answer = client.get(f"/my/boom/{token}")
    assert answer.status_code == 500
    assert answer.headers["referrer-policy"] == "no-referrer"
    # httpx is the test's own client, logging the URL it asked for.
    logged = "\n".join(
        record.getMessage() + (record.exc_text or "")
        for record in caplog.records
        if not record.name.startswith("httpx")
    )
    assert "/my/boom/{token}" in logged
    assert token not in logged
