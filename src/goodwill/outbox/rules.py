"""What the worker decides, as plain functions: send now, wait, or never; and how long to back off.

Nothing here touches a database or a network; ``goodwill.outbox.service`` gathers the facts
(``SendFacts``) in bulk for a claimed batch and applies the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from goodwill.planner.policy import breaks_cap, contact_window, local_day

# Channels the worker delivers; cards are printed and calls are made by people.
WORKER_CHANNELS = ("email", "sms")
QUIET_HOURS_CHANNELS = ("sms", "call")


@dataclass(frozen=True)
class SendRules:
    """The parts of the contact policy and delivery settings the send-time check applies."""

    cap_window_days: int = 30
    cap_per_window: int = 1
    cap_per_year: int = 4
    contact_from_hour: int = 8
    contact_until_hour: int = 21
    max_age_days: int = 7


@dataclass(frozen=True)
class SendFacts:
    """What is true at send time about one message and its person."""

    channel: str
    purpose: str
    created_at: datetime  # queued, or due (not_before) if later: its age counts from here
    person_exists: bool
    address: str | None
    consent: bool | None  # the change in force for the channel: granted, withdrawn, or never given
    call_requested: bool  # a call they asked for (calls only)
    suppressed: bool
    zone: tzinfo
    # Other appreciations already sent to them (or recorded as sent elsewhere), any channel.
    other_appreciations: Sequence[datetime] = ()


@dataclass(frozen=True)
class Send:
    address: str


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Cancel:
    reason: str


@dataclass(frozen=True)
class Fail:
    reason: str


Decision = Send | Defer | Cancel | Fail

ADDRESS_NAMES = {"email": "email address", "sms": "mobile number", "call": "phone number"}
# Why a message is written (outbox_messages.purpose). Only "appreciation" counts against the cap.
APPRECIATION = "appreciation"
COMPLAINT_REPLY = "complaint_reply"  # an answer to the person's own complaint
COMPLAINT_SATISFACTION = "complaint_satisfaction"  # the one question after a complaint was resolved
STAFF = "staff"  # to a member of staff (a digest, an escalation): address on the message, no person
SERVICE_PURPOSES = frozenset({COMPLAINT_REPLY})
FOLLOW_UP_PURPOSES = frozenset({COMPLAINT_SATISFACTION})
PURPOSES = frozenset({APPRECIATION, COMPLAINT_REPLY, COMPLAINT_SATISFACTION, STAFF})


def decide(facts: SendFacts, *, now: datetime, rules: SendRules) -> Decision:
    """Send-time re-check, in this order: the person, the address, consent, suppression, age, cap, hours.

    Consent depends on why we write (``purpose``): a thank-you needs consent given for the channel;
    a reply to the person's own complaint needs none (they asked us), and is stopped only by the
    suppression list; the follow-up question after a complaint needs consent not to be withdrawn.
    Mail to a member of staff (``staff``) goes to the address on the message.
    """
    if facts.purpose == STAFF:
        if not facts.address or not facts.address.strip():
            return Fail("no email address for the member of staff")
        if now - facts.created_at > timedelta(days=rules.max_age_days):
            return Cancel(f"not sent within {rules.max_age_days} days")
        return Send(facts.address.strip())
    if not facts.person_exists:
        return Cancel("the person was erased")
    if not facts.address or not facts.address.strip():
        return Fail(f"no {ADDRESS_NAMES.get(facts.channel, 'address')} on file")
    if facts.purpose not in SERVICE_PURPOSES:
        if facts.consent is False:
            return Cancel(f"consent for {facts.channel} was withdrawn")
        if (
            facts.consent is None
            and facts.purpose not in FOLLOW_UP_PURPOSES
            and not (facts.channel == "call" and facts.call_requested)
        ):
            return Cancel(f"no consent for {facts.channel}")
    if facts.suppressed:
        return Cancel("the address is on the suppression list")
    if now - facts.created_at > timedelta(days=rules.max_age_days):
        return Cancel(f"not sent within {rules.max_age_days} days of approval; a late thank-you is not sent")
    if facts.purpose == "appreciation" and over_cap(facts.other_appreciations, now, facts.zone, rules):
        return Cancel("the contact cap is reached (another thank-you went out in the cap window)")
    if facts.channel in QUIET_HOURS_CHANNELS:
        opens = next_open(now, facts.zone, rules)
        if opens > now:
            return Defer(opens, "quiet hours in the person's time zone")
    return Send(facts.address.strip())


def over_cap(others: Sequence[datetime], now: datetime, zone: tzinfo, rules: SendRules) -> bool:
    today = local_day(now, zone)
    offsets = sorted((local_day(at, zone) - today).days for at in others)
    return breaks_cap(offsets, rules.cap_window_days, rules.cap_per_window) or breaks_cap(
        offsets, 365, rules.cap_per_year
    )


def next_open(now: datetime, zone: tzinfo, rules: SendRules) -> datetime:
    """``now`` if inside today's contact hours in ``zone``, else when they next open (UTC)."""
    today = local_day(now, zone)
    start, end = contact_window(today, zone, rules.contact_from_hour, rules.contact_until_hour)
    if start <= now < end:
        return now
    if now < start:
        return start
    return contact_window(today + timedelta(days=1), zone, rules.contact_from_hour, rules.contact_until_hour)[
        0
    ]


def retry_delay(attempt: int, *, base_seconds: int, cap_seconds: int, draw: float) -> timedelta:
    """Exponential backoff with "equal jitter": half the step fixed, half drawn (``draw`` in [0, 1)).

    Attempt 1 waits base/2..base, attempt 2 base..2·base, and so on up to the cap; the jitter keeps
    many messages failing together (a provider outage) from all retrying in the same second.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0 <= draw < 1:
        raise ValueError("draw must be in [0, 1)")
    step = min(cap_seconds, base_seconds * 2 ** min(attempt - 1, 40))
    return timedelta(seconds=step / 2 + draw * step / 2)
