"""The call list's rules, as plain functions: the window, the state, who may be called, safe CSV cells.

Nothing here touches a database; ``goodwill.outbox.calls`` gathers the facts and applies them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from goodwill.people.suppression import normalise_phone
from goodwill.planner.policy import contact_window, local_day

CALL_NOW = "call now"
TOO_EARLY = "too early"
TOO_LATE = "too late today"
BLOCKED = "blocked"
STATES = (CALL_NOW, TOO_EARLY, TOO_LATE, BLOCKED)  # the order the list is grouped in

DONE = "done"
NO_ANSWER = "no answer"
WRONG_NUMBER = "wrong number"
DECLINED = "asked not to be called"
CANCEL = "cancel"
OUTCOMES = (DONE, NO_ANSWER, WRONG_NUMBER, DECLINED, CANCEL)
NO_ANSWER_LIMIT = 3
DECLINED_SOURCE = "asked on a call"
SUMMARY_MAX = 1000

# Cells a spreadsheet would read as a formula (and tab / carriage return, which some strip first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "message_id",
    "name",
    "phone",
    "window_start",
    "window_end",
    "time_zone",
    "state",
    "moment",
    "why_now",
    "reason",
    "note",
)


def call_state(now: datetime, start: datetime, end: datetime) -> str:
    """Where ``now`` falls against a call window (``end`` excluded); all three are aware datetimes."""
    if now < start:
        return TOO_EARLY
    if now < end:
        return CALL_NOW
    return TOO_LATE


def window_day(day: date, *, now: datetime, zone: tzinfo, business_zone: tzinfo) -> date:
    """The person's calendar day whose window the list shows.

    For the business's today it is the person's own today (in Tokyo it may already be tomorrow);
    for any other day asked for, that day on their calendar, as the planner reads a plan day.
    """
    if day == local_day(now, business_zone):
        return local_day(now, zone)
    return day


def call_window(day: date, zone: tzinfo, from_hour: int, until_hour: int) -> tuple[datetime, datetime]:
    """The contact hours on ``day`` in ``zone``, as aware datetimes in ``zone`` (end excluded)."""
    start, end = contact_window(day, zone, from_hour, until_hour)
    return start.astimezone(zone), end.astimezone(zone)


def call_blocker(
    *, phone: str | None, consent: bool | None, planned_as_call: bool, on_suppression_list: bool
) -> str | None:
    """Why this person may not be called now, or None.

    A call needs call consent in force, or (with no consent ever given) a plan that chose a call
    because they asked for one; a withdrawn consent always wins.
    """
    if not phone or not normalise_phone(phone).lstrip("+"):
        return "no phone number on file"
    if consent is False:
        return "they withdrew consent for calls"
    if consent is None and not planned_as_call:
        return "they have not consented to calls"
    if on_suppression_list:
        return "the number is on the suppression list"
    return None


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (OWASP's leading quote)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def offset_label(at: datetime) -> str:
    """``UTC+09:00`` for an aware datetime."""
    offset = at.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"
