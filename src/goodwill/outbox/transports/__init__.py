"""One transport per channel, behind a small registry.

The worker asks ``open_transports(settings)`` for the channels it can deliver: email when
``smtp_url`` is set, SMS when ``sms_url`` is set. Cards are printed (``goodwill cards print``) and
calls are made by people (the Calls page); the worker never claims those.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from goodwill.config import Settings
from goodwill.outbox.transports.base import Transport
from goodwill.outbox.transports.email import EmailTransport, Sender, parse_smtp_url
from goodwill.outbox.transports.sms import SmsTransport


def from_email(settings: Settings) -> str:
    if settings.delivery.from_email:
        return settings.delivery.from_email
    host = urlsplit(settings.delivery.public_url).hostname or "localhost"
    return f"noreply@{host}"


def _email(settings: Settings) -> Transport | None:
    if not settings.smtp_url:
        return None
    sender = Sender(
        from_email=from_email(settings),
        from_name=settings.delivery.from_name or settings.business.name,
        business_name=settings.business.name,
        postal_address=settings.business.postal_address,
    )
    return EmailTransport(parse_smtp_url(settings.smtp_url), sender)


def _sms(settings: Settings) -> Transport | None:
    if not settings.sms_url:
        return None
    return SmsTransport(settings.sms_url, settings.sms_token, settings.delivery.sms_from)


REGISTRY: dict[str, Callable[[Settings], Transport | None]] = {"email": _email, "sms": _sms}


def open_transports(settings: Settings, channels: tuple[str, ...] | None = None) -> dict[str, Transport]:
    """The configured transports (optionally only these channels), ready to send."""
    opened: dict[str, Transport] = {}
    for channel, factory in REGISTRY.items():
        if channels is not None and channel not in channels:
            continue
        transport = factory(settings)
        if transport is not None:
            opened[channel] = transport
    return opened


def configured_channels(settings: Settings) -> tuple[str, ...]:
    return tuple(c for c, on in (("email", settings.smtp_url), ("sms", settings.sms_url)) if on)
