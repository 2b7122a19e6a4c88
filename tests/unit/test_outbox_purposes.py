"""Why a message is written decides which consent it needs: the send-time check per purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from goodwill.outbox.rules import (
    APPRECIATION,
    COMPLAINT_REPLY,
    COMPLAINT_SATISFACTION,
    STAFF,
    Cancel,
    Defer,
    Fail,
    Send,
    SendFacts,
    SendRules,
    decide,
)

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 15:00 in Paris: inside contact hours
RULES = SendRules()


def facts(purpose: str, **changes: object) -> SendFacts:
    base: dict[str, object] = {
        "channel": "email",
        "purpose": purpose,
        "created_at": NOW - timedelta(hours=1),
        "person_exists": True,
        "address": "ana@example.com",
        "consent": None,
        "call_requested": False,
        "suppressed": False,
        "zone": ZoneInfo("Europe/Paris"),
        "other_appreciations": (NOW - timedelta(days=2),),  # the cap is already reached
    }
    base.update(changes)
    return SendFacts(**base)  # type: ignore[arg-type]


def test_a_thank_you_needs_consent_and_respects_the_cap() -> None:
    assert decide(facts(APPRECIATION), now=NOW, rules=RULES) == Cancel("no consent for email")
    assert isinstance(decide(facts(APPRECIATION, consent=True), now=NOW, rules=RULES), Cancel)  # cap
    assert decide(facts(APPRECIATION, consent=True, other_appreciations=()), now=NOW, rules=RULES) == Send(
        "ana@example.com"
    )


@pytest.mark.parametrize("consent", [None, False, True])
def test_a_reply_to_their_own_complaint_needs_no_consent_and_no_cap(consent: bool | None) -> None:
    assert decide(facts(COMPLAINT_REPLY, consent=consent), now=NOW, rules=RULES) == Send("ana@example.com")


def test_a_reply_still_stops_at_the_suppression_list_and_at_erasure() -> None:
    assert decide(facts(COMPLAINT_REPLY, suppressed=True), now=NOW, rules=RULES) == Cancel(
        "the address is on the suppression list"
    )
    assert decide(facts(COMPLAINT_REPLY, person_exists=False), now=NOW, rules=RULES) == Cancel(
        "the person was erased"
    )
    assert isinstance(decide(facts(COMPLAINT_REPLY, address=None), now=NOW, rules=RULES), Fail)


def test_a_text_reply_still_waits_for_contact_hours() -> None:
    night = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    found = decide(
        facts(COMPLAINT_REPLY, channel="sms", address="+33600000000", created_at=night),
        now=night,
        rules=RULES,
    )
    assert isinstance(found, Defer)


def test_the_follow_up_question_goes_unless_consent_was_withdrawn() -> None:
    assert decide(facts(COMPLAINT_SATISFACTION), now=NOW, rules=RULES) == Send("ana@example.com")
    assert decide(facts(COMPLAINT_SATISFACTION, consent=False), now=NOW, rules=RULES) == Cancel(
        "consent for email was withdrawn"
    )


def test_staff_mail_goes_to_the_address_on_the_message_without_a_person() -> None:
    staff = facts(STAFF, person_exists=False, address="manager@shop.example", consent=None, suppressed=True)
    assert decide(staff, now=NOW, rules=RULES) == Send("manager@shop.example")
    assert isinstance(decide(facts(STAFF, address=""), now=NOW, rules=RULES), Fail)
    old = facts(STAFF, created_at=NOW - timedelta(days=RULES.max_age_days + 1))
    assert isinstance(decide(old, now=NOW, rules=RULES), Cancel)
