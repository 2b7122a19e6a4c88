"""All settings in one typed object.

Sources, highest priority first: environment variables (``GOODWILL_*``, nested with ``__``),
then ``goodwill.toml`` in the working directory (or the file named by ``GOODWILL_CONFIG``),
then defaults. Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from goodwill.complaints.config import ComplaintsConfig
from goodwill.impact.config import ImpactConfig
from goodwill.loyalty.config import LoyaltyConfig
from goodwill.money import CURRENCY_EXPONENTS
from goodwill.planner.config import PlannerConfig
from goodwill.team.config import TeamConfig


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it."""


class Business(BaseModel):
    """Who is saying thank you."""

    name: str = "Our shop"
    timezone: str = "UTC"
    currency: str = "USD"
    postal_address: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'Europe/Paris')") from exc
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown currency {value!r} (use an ISO 4217 code like 'EUR')")
        return code

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Web(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # None: Secure cookies everywhere except plain http to a loopback address (local development).
    cookie_secure: bool | None = None
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    login_attempts_per_15_min: int = Field(default=5, ge=1)


class Notes(BaseModel):
    # A directory of the business's own note templates (``<moment>/<name>.j2``); a file with the
    # same name as a built-in template replaces it, new names add variants.
    templates_dir: Path | None = None


class Delivery(BaseModel):
    """How the outbox worker delivers (goodwill.outbox); the transports' addresses are top-level keys."""

    # Who the email is from; "" means noreply@<the host of public_url>.
    from_email: str = ""
    from_name: str = ""
    # The sender shown on text messages (a number or an alphanumeric id, as the provider allows).
    sms_from: str = "Goodwill"
    # Where customers reach the unsubscribe pages: the public address of `goodwill serve`.
    public_url: str = "http://127.0.0.1:8000"
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_base_seconds: int = Field(default=30, ge=1)
    backoff_cap_seconds: int = Field(default=6 * 3600, ge=1)
    # A message claimed longer ago than this by a worker that stopped answering is taken back.
    claim_timeout_seconds: int = Field(default=300, ge=5)
    batch_size: int = Field(default=20, ge=1, le=1000)
    # A thank-you that could not go out within this many days of its approval is cancelled, not sent late.
    max_age_days: int = Field(default=7, ge=1, le=90)
    # How long `goodwill worker` sleeps when there is nothing to send.
    idle_seconds: float = Field(default=2.0, gt=0, le=300)

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("public_url must start with http:// or https://")
        return value.rstrip("/")


def _config_file() -> Path:
    return Path(os.environ.get("GOODWILL_CONFIG", "goodwill.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GOODWILL_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = "sqlite:///goodwill.db"
    secret_key: str = ""
    business: Business = Business()
    web: Web = Web()
    # The relationship bank's [bank] and [bank.rules] tables; validated by goodwill.bank.config,
    # which names the bad key (kept loose here so the bank owns its own rules vocabulary).
    bank: dict[str, Any] = Field(default_factory=dict)
    # [planner.moments] and [planner.policy]: why and how we thank people (goodwill.planner.config).
    planner: PlannerConfig = PlannerConfig()
    notes: Notes = Notes()
    # [loyalty]: points, earning rules, tiers (goodwill.loyalty.config).
    loyalty: LoyaltyConfig = LoyaltyConfig()
    # [complaints]: business hours, SLA by priority, the mailbox (goodwill.complaints.config).
    complaints: ComplaintsConfig = ComplaintsConfig()
    # [team]: kudos allowance, ranking (off), the manager digest (goodwill.team.config).
    team: TeamConfig = TeamConfig()
    # [impact]: the window and confidence of thanked-versus-holdout comparisons (goodwill.impact.config).
    impact: ImpactConfig = ImpactConfig()
    delivery: Delivery = Delivery()
    # smtp://user:password@host:587?starttls=true or smtps://host:465; empty: email is not sent.
    smtp_url: str = ""
    # An HTTP JSON SMS provider's messages endpoint and its bearer token; empty: SMS is not sent.
    sms_url: str = ""
    sms_token: str = ""
    # Inbound SMS webhook: the provider signs each request with this token (docs/unsubscribe.md).
    sms_webhook_token: str = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file()),
        )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg://")):
            raise ValueError("database_url must be sqlite:///PATH or postgresql://USER@HOST/DB")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_address(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("smtp", "smtps") or not parts.hostname):
            raise ValueError(
                "must be smtp://[user:password@]host[:port][?starttls=true] or smtps://host[:port]"
            )
        return value

    @field_validator("sms_url")
    @classmethod
    def _sms_address(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("must be the provider's http:// or https:// messages address")
        return value

    def resolved_secret_key(self) -> str:
        """The signing key; on first use without one, a random key is kept in ``goodwill.secret``."""
        if self.secret_key:
            return self.secret_key
        path = Path("goodwill.secret")
        key = secrets.token_urlsafe(48)
        try:
            # Created readable by the owner only, atomically: two workers starting together
            # must not each write (and use) a different key.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key + "\n")
        return key


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings; a bad value raises ConfigError naming the key."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid settings ({_config_file()} or GOODWILL_* variables): {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def test_postgres_url() -> str:
    """Where the test suite finds PostgreSQL (read here so tests follow rule 9 too)."""
    return os.environ.get("GOODWILL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def fuzz_examples(variable: str = "GOODWILL_FUZZ_EXAMPLES") -> int:
    """How many random examples the fuzz tests run per test; 0 (unset) keeps CI's fixed, bounded set.

    ``GOODWILL_FUZZ_EXAMPLES`` drives the importer, parser and template fuzzing,
    ``GOODWILL_API_FUZZ_EXAMPLES`` the schemathesis run (see docs/testing.md).
    """
    raw = os.environ.get(variable, "").strip() or "0"
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number of examples, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{variable} must not be negative")
    return value
