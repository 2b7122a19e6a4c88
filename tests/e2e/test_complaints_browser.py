"""A phone complaint in a real browser: staff record it through the form, find it at the top of the
inbox with its clock running, open it, take it and record what was done.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from test_web_browser import log_in, open_page

pytestmark = pytest.mark.e2e

WORDS = "Rang at 10:05: the birthday cake was delivered to the wrong address and nobody called back."


def test_record_take_and_resolve_a_phone_complaint(
    browser: Any, live_server: Callable[..., str], artifacts: Path
) -> None:
    base = live_server()
    context, page, problems = open_page(browser, viewport={"width": 1280, "height": 900})
    log_in(page, base)
    page.goto(f"{base}/complaints")
    page.get_by_role("link", name="Record a complaint").click()
    expect(page.get_by_role("heading", name="Record a complaint")).to_be_visible()

    # A first try without their words: the error is shown by the field and the name is kept.
    page.fill("input[name=name]", "Mme Odile Perrin")
    page.fill("input[name=email]", "odile.perrin@example.test")
    page.select_option("select[name=channel]", "phone")
    page.select_option("select[name=priority]", "high")
    page.evaluate("document.querySelector('textarea[name=body]').removeAttribute('required')")
    page.get_by_role("button", name="Record the complaint").click()
    expect(page.locator("#error-body")).to_be_visible()
    expect(page.locator("input[name=name]")).to_have_value("Mme Odile Perrin")

    page.fill("textarea[name=body]", WORDS)
    page.get_by_role("button", name="Record the complaint").click()
    expect(page.get_by_text("Complaint recorded. Its clocks are running.")).to_be_visible()
    complaint_url = page.url.split("?")[0]
    complaint_id = complaint_url.rsplit("/", 1)[1]

    page.goto(f"{base}/complaints")
    row = page.locator(f"#complaint-{complaint_id}")
    expect(row).to_contain_text("Mme Odile Perrin")
    expect(row).to_contain_text("the birthday cake was delivered")
    expect(row).to_contain_text("high")
    expect(row).to_contain_text("not yet taken")
    expect(row.locator("[data-clock=first_response]")).to_contain_text(
        re.compile(r"first response due in .+ \(business hours\)")
    )
    page.screenshot(path=str(artifacts / "complaints-inbox.png"))

    row.get_by_role("link", name="Mme Odile Perrin").click()
    expect(page.get_by_role("heading", name=f"Complaint #{complaint_id}")).to_be_visible()
    expect(page.locator("blockquote.complaint-body")).to_have_text(WORDS)
    expect(page.get_by_role("link", name="Write the first response")).to_have_attribute(
        "href", f"/complaints/{complaint_id}/reply"
    )
    page.get_by_role("button", name="Take it").click()
    expect(page.get_by_text("Assignment saved.")).to_be_visible()
    expect(page.locator(".complaint-handling")).to_contain_text("Camille Roux")

    page.fill("textarea[name=resolution]", "Redelivered a fresh cake the same afternoon, with our apologies.")
    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_text("Resolved. What was done is recorded.")).to_be_visible()
    expect(page.locator(".complaint-status")).to_have_text("resolved")
    expect(page.locator("[data-clock=resolution]")).to_contain_text("resolved")
    page.screenshot(path=str(artifacts / "complaint-resolved.png"))

    page.goto(f"{base}/complaints?status=resolved")
    expect(page.locator(f"#complaint-{complaint_id}")).to_have_attribute("data-status", "resolved")
    # The one 422 is the refused first try; nothing else (no CSP violation, no script error).
    assert [p for p in problems if "status of 422" not in p] == [], problems
    assert len(problems) == 1, problems
    context.close()
