"""A staff member in a real browser: log in, search live, open a profile, add a fact, read the history.

Waits use ``expect()``: Playwright's string predicates (``wait_for_function``) are an eval, which the
page's CSP rightly refuses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from shop import STAFF_EMAIL, STAFF_PASSWORD

pytestmark = pytest.mark.e2e


def open_page(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(**options)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in {"error", "warning"} else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems


def log_in(page: Any, base: str, password: str = STAFF_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", STAFF_EMAIL)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_search_profile_fact_and_timeline(
    browser: Any, live_server: Callable[..., str], artifacts: Path
) -> None:
    base = live_server()
    context, page, problems = open_page(browser, viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/people")
    assert page.url.startswith(f"{base}/login")
    page.screenshot(path=str(artifacts / "login.png"))

    log_in(page, base)
    page.wait_for_url(f"{base}/people")
    assert page.locator(".usermenu").inner_text().count("Camille Roux") == 1
    assert page.locator("tbody tr").count() == 6
    page.screenshot(path=str(artifacts / "people.png"), full_page=True)

    page.fill("#q", "zoe")  # no Enter: the list follows the typing (HTMX, pushed into the address bar)
    page.wait_for_url(re.compile(r".*/people\?q=zoe.*"))
    expect(page.locator("tbody tr")).to_have_count(1)
    row = page.locator("tbody tr").first
    assert "Zoë Lefèvre" in row.inner_text() and "22" in row.inner_text()
    assert "EUR" in row.inner_text()
    page.screenshot(path=str(artifacts / "search.png"))

    page.click("text=Zoë Lefèvre")
    page.wait_for_url(re.compile(r".*/people/\d+$"))
    assert "Zoë Lefèvre" in page.locator("h1").inner_text()
    assert page.locator(".stat-value").first.inner_text() == "22"
    assert page.locator(".tl-item").count() == 20
    first_item = page.locator(".tl-item").first.inner_text()
    assert "Thank-you card for her tenth order" in first_item  # newest first

    page.fill("#fact-text", "Prefers oat milk in her café crème")
    page.click(".fact-form button")
    expect(page.locator(".facts li")).to_have_count(3)
    assert "Prefers oat milk in her café crème" in page.locator(".facts").inner_text()
    assert page.input_value("#fact-text") == ""

    page.screenshot(path=str(artifacts / "profile.png"))
    page.click("text=Load more")
    expect(page.locator(".tl-item")).to_have_count(26)
    assert page.locator("text=Load more").count() == 0
    assert "EUR 24.50" in page.locator(".tl-item").last.inner_text()  # the oldest order
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "profile-full.png"), full_page=True)

    page.reload()
    assert page.locator("text=Prefers oat milk in her café crème").count() == 1  # it was stored

    mobile, phone, phone_problems = open_page(
        browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        storage_state=context.storage_state(),
    )
    phone.goto(page.url)
    phone.screenshot(path=str(artifacts / "profile-mobile.png"), full_page=True)
    mobile.close()

    page.click(".usermenu summary")
    page.click("text=Log out")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/people")
    assert page.url.startswith(f"{base}/login")
    context.close()
    assert problems == [] and phone_problems == []  # no CSP violations, no script errors


def test_login_page_shows_the_rate_limit_message(
    browser: Any, live_server: Callable[..., str], artifacts: Path
) -> None:
    base = live_server(login_attempts_per_15_min=2)
    context, page, _ = open_page(browser, viewport={"width": 1280, "height": 800})
    for _ in range(2):
        log_in(page, base, password="not-my-password-at-all")
        assert "do not match" in page.locator(".alert").inner_text()
    log_in(page, base)  # even the right password has to wait now
    message = page.locator(".alert").inner_text()
    assert "Too many unsuccessful attempts" in message and "15 minutes" in message
    assert page.url.startswith(f"{base}/login")
    page.screenshot(path=str(artifacts / "login-rate-limited.png"))
    context.close()
