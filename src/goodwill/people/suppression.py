"""The suppression list: addresses we must never write to again, whoever they belong to now.

Addresses are kept only as keyed hashes (HMAC-SHA256 under a key derived from the secret key), so
the list survives a person's erasure without keeping their address: the same address imported again
later is still suppressed. Rotating ``secret_key`` makes the list unreadable; keep it stable.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.db import utcnow
from goodwill.people.model import Suppression, normalise_email

KINDS = ("email", "phone")
_NOT_DIGITS = re.compile(r"[^\d+]")


def normalise_phone(phone: str) -> str:
    """Digits with a leading + kept: "+1 (555) 010-0200" and "+15550100200" are one number."""
    cleaned = _NOT_DIGITS.sub("", phone.strip())
    return ("+" + cleaned.replace("+", "")) if cleaned.startswith("+") else cleaned.replace("+", "")


def kind_for_channel(channel: str) -> str | None:
    return {"email": "email", "sms": "phone", "call": "phone"}.get(channel)


def address_hash(secret_key: str, kind: str, address: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown address kind {kind!r}; use email or phone")
    normal = normalise_email(address) if kind == "email" else normalise_phone(address)
    key = hashlib.sha256(b"goodwill suppression v1\0" + secret_key.encode()).digest()
    return hmac.new(key, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()


def suppress(session: Session, *, secret_key: str, kind: str, address: str, reason: str, source: str) -> bool:
    """Add the address to the list; True if it was not on it already (idempotent)."""
    if not address.strip():
        return False
    digest = address_hash(secret_key, kind, address)
    existing = session.scalar(
        select(Suppression.id).where(Suppression.kind == kind, Suppression.address_hash == digest)
    )
    if existing is not None:
        return False
    session.add(Suppression(kind=kind, address_hash=digest, reason=reason, source=source[:80], at=utcnow()))
    session.flush()
    return True


def suppressed(session: Session, *, secret_key: str, kind: str, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses are suppressed (returned as given)."""
    by_hash = {address_hash(secret_key, kind, a): a for a in addresses if a and a.strip()}
    if not by_hash:
        return set()
    found = session.scalars(
        select(Suppression.address_hash).where(
            Suppression.kind == kind, Suppression.address_hash.in_(list(by_hash))
        )
    ).all()
    return {by_hash[h] for h in found}


def is_suppressed(session: Session, *, secret_key: str, kind: str, address: str) -> bool:
    return bool(suppressed(session, secret_key=secret_key, kind=kind, addresses=[address]))
