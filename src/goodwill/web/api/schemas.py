"""Request bodies of the JSON API. Validation errors come back as 422 with the field's path."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, NoReturn, Self, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from goodwill.events.service import check_kind
from goodwill.money import CURRENCY_EXPONENTS
from goodwill.people.model import Channel, PersonKind
from goodwill.team.model import Role

AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")
# Pages past this are refused (422) up front: their offset would not fit the database's 64-bit integers.
MAX_PAGE = 1_000_000_000
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _iso_text(pattern: re.Pattern[str], kind: type, what: str) -> Callable[[object], object]:
    """Pydantic's lax mode reads a number (0, "0") as seconds since 1970; the API documents ISO 8601 text
    (format date / date-time), so anything else is refused instead of silently meaning 1970."""

    def check(value: object) -> object:
        if isinstance(value, kind) or (isinstance(value, str) and pattern.match(value.strip())):
            return value
        raise ValueError(f"give {what} in ISO 8601 form")

    return check


IsoDate = Annotated[date, BeforeValidator(_iso_text(ISO_DATE, date, "a date (YYYY-MM-DD)"))]
IsoDateTime = Annotated[
    datetime, BeforeValidator(_iso_text(ISO_DATETIME, datetime, "a date and time (YYYY-MM-DDTHH:MM:SSZ)"))
]


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


def _accepts_bool(annotation: object) -> bool:
    return annotation is bool or any(_accepts_bool(arg) for arg in get_args(annotation))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        """Pydantic's lax mode reads true/false as 1/0 for a number field; the schema says integer."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and not _accepts_bool(field.annotation):
            raise ValueError("true or false is not a value this field takes")
        return value


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
    email: str = Field(min_length=3, max_length=320, json_schema_extra={"format": "email"})
    role: Role
    name: str = Field(default="", max_length=200)
    # The policy (12+ characters, not a common one) is goodwill.team.service.check_password's, with its
    # own message naming the rule.
    password: str = Field(min_length=1, max_length=1024)

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        # A staff account needs an address (an empty one used to reach the service as None: a 500).
        checked = _email(value)
        if checked is None:
            raise ValueError("an email address is required")
        return checked


class FieldProblem(BaseModel):
    """One reason a request was refused: where (``loc``), why (``msg``) and a machine-readable ``type``."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Every error answer of the API: a message, a list of field problems (422) or structured details."""

    detail: str | list[FieldProblem] | dict[str, object]
