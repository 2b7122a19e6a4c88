from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from goodwill.config import ConfigError, Settings, load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(_keys(annotation, f"{prefix}{name}."))
        else:
            keys.append(prefix + name)
    return keys


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = [key for key in _keys(Settings) if f"`{key}`" not in text]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "shop.toml"
    config.write_text('[business]\nname = "Café Zoë"\ntimezone = "Europe/Paris"\ncurrency = "eur"\n')
    monkeypatch.setenv("GOODWILL_CONFIG", str(config))
    monkeypatch.setenv("GOODWILL_WEB__PORT", "8123")
    monkeypatch.setenv("GOODWILL_DATABASE_URL", "postgres://u@h/db")
    settings = load_settings()
    assert settings.business.name == "Café Zoë"
    assert settings.business.currency == "EUR"
    assert settings.business.tz.key == "Europe/Paris"
    assert settings.web.port == 8123
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_errors_name_every_bad_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[business]\ntimezone = "Mars/Olympus"\ncurrency = "XXQ"\n[web]\nport = 0\n')
    monkeypatch.setenv("GOODWILL_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    for key in ("business.timezone", "business.currency", "web.port"):
        assert key in message


def test_generated_secret_is_private_and_stable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOODWILL_CONFIG", str(tmp_path / "none.toml"))
    settings = load_settings()
    first = settings.resolved_secret_key()
    assert len(first) > 40
    assert (tmp_path / "goodwill.secret").stat().st_mode & 0o777 == 0o600
    assert load_settings().resolved_secret_key() == first


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("smtp_url", "http://mail.example.com"),
        ("smtp_url", "smtp://"),
        ("smtp_url", "mail.example.com:587"),
        ("sms_url", "ftp://sms.example.com/messages"),
        ("sms_url", "https://"),
    ],
)
def test_a_bad_transport_address_is_a_settings_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    monkeypatch.setenv("GOODWILL_CONFIG", str(tmp_path / "none.toml"))
    with pytest.raises(ConfigError) as caught:
        load_settings(**{key: value})
    assert key in str(caught.value)


def test_good_transport_addresses_and_empty_ones_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOODWILL_CONFIG", str(tmp_path / "none.toml"))
    settings = load_settings(
        smtp_url="smtps://u:p@mail.example.com:465", sms_url="https://sms.example.com/v1"
    )
    assert settings.smtp_url.startswith("smtps://") and settings.sms_url.startswith("https://")
    assert load_settings().smtp_url == load_settings().sms_url == ""


def test_a_settings_error_with_brackets_reaches_the_terminal_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from goodwill.cli import app

    monkeypatch.setenv("GOODWILL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("GOODWILL_SMTP_URL", "http://mail.example.com")
    result = CliRunner().invoke(app, ["outbox", "status"])
    assert result.exit_code == 2
    assert "[user:password@]" in " ".join(result.output.split())
