"""The live SLA timers shown for a complaint: "first response due in 2h 10m", "overdue by 1h".

Counted in business hours, as the clocks are; read from the complaint's stored due times. A "day"
in these words is a working day (the business's opening hours), not 24 hours: 40 business hours
with a 09:00-17:00 day are "5 working days".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from goodwill.complaints.model import Complaint
from goodwill.complaints.sla import business_day_hours, business_seconds_between, describe
from goodwill.config import Settings

SOON_SECONDS = 3600  # a running clock with under an hour of business time left is shown as "soon"


@dataclass(frozen=True)
class Timer:
    clock: str  # "first_response" or "resolution"
    state: str  # running, soon, overdue (clock still running); met, missed (clock stopped)
    text: str
    due_at: datetime
    seconds_left: int | None  # business seconds, negative when overdue; None once stopped


def _local(value: datetime, settings: Settings) -> str:
    return value.astimezone(settings.business.tz).strftime("%d %b %Y, %H:%M").removeprefix("0")


def _business(seconds: int, settings: Settings) -> str:
    return describe(seconds, day_hours=business_day_hours(settings.complaints.hours), working_days=True)


def _running(clock: str, words: str, due: datetime, now: datetime, settings: Settings) -> Timer:
    left = business_seconds_between(now, due, hours_config=settings.complaints.hours, tz=settings.business.tz)
    if due > now:
        state = "soon" if left <= SOON_SECONDS else "running"
        text = f"{words} due in {_business(left, settings)} (business hours)"
    elif left <= -60:
        state, text = "overdue", f"{words} overdue by {_business(left, settings)} (business hours)"
    else:  # past due, but the business has been closed since
        state, text = "overdue", f"{words} overdue (was due {_local(due, settings)})"
    return Timer(clock, state, text, due, left)


def _stopped(clock: str, done: str, at: datetime, due: datetime, settings: Settings) -> Timer:
    state = "met" if at <= due else "missed"
    when = "in time" if state == "met" else "late"
    return Timer(clock, state, f"{done} {_local(at, settings)}, {when}", due, None)


def timers_for(complaint: Complaint, *, now: datetime, settings: Settings) -> list[Timer]:
    timers: list[Timer] = []
    first_due = complaint.first_response_due_at
    if complaint.first_responded_at is not None:
        timers.append(
            _stopped("first_response", "answered", complaint.first_responded_at, first_due, settings)
        )
    elif complaint.resolved_at is None:
        timers.append(_running("first_response", "first response", first_due, now, settings))
    if complaint.resolved_at is not None:
        timers.append(
            _stopped("resolution", "resolved", complaint.resolved_at, complaint.resolution_due_at, settings)
        )
    else:
        timers.append(_running("resolution", "resolution", complaint.resolution_due_at, now, settings))
    return timers


def worst_state(timers: list[Timer]) -> str:
    """The state the row shows: overdue beats soon beats running; a stopped complaint shows "done"."""
    states = {t.state for t in timers}
    for state in ("overdue", "soon", "running"):
        if state in states:
            return state
    return "done"
