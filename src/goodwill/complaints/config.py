"""``[complaints]`` in goodwill.toml: business hours, SLA policies by priority, the mailbox, themes.

SLA times are *business* hours: a complaint that arrives on Friday at 16:30 with a 4-hour first
response is due on Monday at 12:30 when the business works 09:00-17:00 on weekdays.
"""

from __future__ import annotations

from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusinessHours(BaseModel):
    """When the team works, in the business's time zone ([business] timezone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    holidays: tuple[date, ...] = ()  # whole days off (local dates)

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(day.strip().lower()[:3] for day in value)
        unknown = [day for day in days if day not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown day {unknown[0]!r}; use {', '.join(WEEKDAYS)}")
        if not days:
            raise ValueError("at least one working day is needed, or no complaint could ever be due")
        return tuple(sorted(set(days), key=WEEKDAYS.index))

    @model_validator(mode="after")
    def _opens_before_closes(self) -> BusinessHours:
        if self.opens >= self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        """The working days as ``date.weekday()`` numbers (Monday is 0)."""
        return frozenset(WEEKDAYS.index(day) for day in self.days)


class SlaPolicy(BaseModel):
    """How long, in business hours, until the first response and until the resolution are due."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response_hours: float = Field(gt=0, le=1000)
    resolution_hours: float = Field(gt=0, le=5000)

    @model_validator(mode="after")
    def _response_first(self) -> SlaPolicy:
        if self.resolution_hours < self.first_response_hours:
            raise ValueError("resolution_hours must be at least first_response_hours")
        return self


def _default_sla() -> dict[str, SlaPolicy]:
    return {
        "urgent": SlaPolicy(first_response_hours=1, resolution_hours=8),
        "high": SlaPolicy(first_response_hours=4, resolution_hours=16),
        "normal": SlaPolicy(first_response_hours=8, resolution_hours=24),
        "low": SlaPolicy(first_response_hours=16, resolution_hours=40),
    }


class ComplaintsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: BusinessHours = BusinessHours()
    # [complaints.sla.<priority>]: every priority needs a policy (urgent, high, normal, low).
    sla: dict[str, SlaPolicy] = Field(default_factory=_default_sla)
    default_priority: str = "normal"
    # A breached clock escalates the complaint to the assignee's team manager (else any manager).
    escalate_on_breach: bool = True
    # After resolution, one question ("Did we put it right?"), in its own message, this many days later.
    satisfaction_follow_up: bool = True
    satisfaction_after_days: int = Field(default=2, ge=0, le=60)
    # Where `goodwill complaints fetch` reads mail: "maildir:///var/mail/complaints" or
    # "imaps://user:password@imap.example.com/INBOX" (imap:// for plain or STARTTLS on 143).
    mailbox_url: str = ""
    # How many themes the themes run looks for; 0 picks a number from the data.
    themes: int = Field(default=0, ge=0, le=50)

    @field_validator("sla")
    @classmethod
    def _every_priority(cls, value: dict[str, SlaPolicy]) -> dict[str, SlaPolicy]:
        merged = {**_default_sla(), **value}
        unknown = sorted(set(merged) - {"urgent", "high", "normal", "low"})
        if unknown:
            raise ValueError(f"unknown priority {unknown[0]!r}; use urgent, high, normal or low")
        return merged

    @field_validator("default_priority")
    @classmethod
    def _known_priority(cls, value: str) -> str:
        if value not in ("urgent", "high", "normal", "low"):
            raise ValueError("default_priority must be urgent, high, normal or low")
        return value

    @field_validator("mailbox_url")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        if value and not value.startswith(("maildir://", "imap://", "imaps://")):
            raise ValueError("mailbox_url must start with maildir://, imap:// or imaps://")
        return value
