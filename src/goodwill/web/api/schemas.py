"""Request bodies of the JSON API. Validation errors come back as 422 with the field's path."""

from __future__ import annotations

import re
from datetime import datetime
from typing import NoReturn, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from goodwill.events.service import check_kind
from goodwill.money import CURRENCY_EXPONENTS
from goodwill.people.model import Channel, PersonKind
from goodwill.team.model import Role

AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")


def field_error(field: str, message: str) -> NoReturn:
    """A 422 naming one body field, for checks that need the database or the settings."""
    raise RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def _email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        # Deliverability is not checked (no network in a request); .test (RFC 2606) is allowed for demos.
        validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc
    return value.strip()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonIn(Strict):
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    preferred_name: str | None = Field(default=None, max_length=100)
    kind: PersonKind = PersonKind.prospect
    preferred_channel: Channel | None = None
    time_zone: str | None = Field(default=None, max_length=64)
    consent: dict[Channel, bool] = Field(default_factory=dict)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("time_zone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Europe/Paris'") from exc
        return value

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if not self.name and not self.email:
            raise ValueError("give at least a name or an email")
        return self


class FactIn(Strict):
    text: str = Field(min_length=1, max_length=500)


class ConsentIn(Strict):
    channel: Channel
    granted: bool
    note: str | None = Field(default=None, max_length=1000)


class EventIn(Strict):
    person_id: int | None = Field(default=None, ge=1)
    email: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=200, description="Used when the email is new.")
    kind: str = Field(description="One of the event kinds Goodwill knows (see docs/api.md).")
    occurred_at: datetime = Field(description="ISO 8601 with a UTC offset, e.g. 2025-05-01T14:30:00+02:00")
    amount: str | None = Field(default=None, description='A decimal string such as "53.90", never a number.')
    currency: str | None = Field(default=None, description="ISO 4217; the business currency if left out.")
    channel: str | None = Field(default=None, max_length=40)
    text: str | None = Field(default=None, max_length=5000)
    staff_email: str | None = Field(default=None, max_length=320)
    source_id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        return check_kind(value)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "occurred_at needs a UTC offset (e.g. 2025-05-01T14:30:00+02:00 or ...Z); "
                "a time without one is ambiguous"
            )
        return value

    @field_validator("amount")
    @classmethod
    def _decimal_text(cls, value: str | None) -> str | None:
        if value is not None and not AMOUNT.match(value):
            raise ValueError('amount must be a decimal string like "53.90" (no symbols or separators)')
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if code not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown currency {value!r}; use an ISO 4217 code like 'EUR'")
        return code

    @model_validator(mode="after")
    def _whose(self) -> Self:
        if self.person_id is None and not self.email:
            raise ValueError("give person_id or email to say whose event this is")
        return self


class UserIn(Strict):
    email: str = Field(max_length=320)
    role: Role
    name: str = Field(default="", max_length=200)
    password: str = Field(min_length=1, max_length=1024)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        return _email(value)
