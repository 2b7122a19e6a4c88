"""Signed links to a customer's own loyalty page: no login, the link is the credential.

A token names the person and when it stops working, signed (HMAC-SHA256) with a key derived from the
secret key, so only we can make one and none can be changed to name someone else. Unlike unsubscribe
links these expire (``[loyalty] link_days``): a points page can spend points, so an old link that
turns up in a forwarded email should not work for ever. Staff hand out a fresh link whenever asked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from goodwill.config import Settings

_SIGNATURE_BYTES = 16
_CONTEXT = b"goodwill loyalty link v1\0"  # a different key from every other use of the secret key


class BadLink(ValueError):
    """The link was altered, truncated, signed with another key, or is past its expiry."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class CustomerLink:
    url: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret_key: str, payload: bytes) -> bytes:
    key = hashlib.sha256(_CONTEXT + secret_key.encode()).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def customer_token(*, secret_key: str, person_id: int, expires_at: datetime) -> str:
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be an aware datetime")
    payload = f"{person_id}.{int(expires_at.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_signature(secret_key, payload))}"


def read_customer_token(*, secret_key: str, token: str, now: datetime) -> int:
    """The person id the token was made for; ``BadLink`` if it is not ours, was changed or has expired."""
    try:
        encoded, signature = token.strip().split(".")
        payload = _unb64(encoded)
        given = _unb64(signature)
    except (ValueError, binascii.Error) as exc:
        raise BadLink("this link is not complete") from exc
    # The signature is checked before anything in the payload is believed.
    if not hmac.compare_digest(given, _signature(secret_key, payload)):
        raise BadLink("this link is not one of ours, or it was changed")
    try:
        person, expires = payload.decode().split(".")
        person_id, expires_at = int(person), datetime.fromtimestamp(int(expires), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadLink("this link is not complete") from exc
    if now >= expires_at:
        raise BadLink("this link has expired", expired=True)
    return person_id


def customer_link(*, settings: Settings, person_id: int, now: datetime) -> CustomerLink:
    expires_at = now + timedelta(days=settings.loyalty.link_days)
    token = customer_token(
        secret_key=settings.resolved_secret_key(), person_id=person_id, expires_at=expires_at
    )
    return CustomerLink(
        url=f"{settings.delivery.public_url.rstrip('/')}/my/loyalty/{token}", expires_at=expires_at
    )


def customer_url(*, settings: Settings, person_id: int, now: datetime) -> str:
    """``public_url`` + ``/my/loyalty/<token>``, working for ``[loyalty] link_days`` from ``now``."""
    return customer_link(settings=settings, person_id=person_id, now=now).url
