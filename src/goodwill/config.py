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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from goodwill.money import CURRENCY_EXPONENTS
from goodwill.planner.config import PlannerConfig


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
