"""People (customers and prospects), how we recognise them, what is unique about them, and consent."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow


class PersonKind(StrEnum):
    customer = "customer"
    prospect = "prospect"


def kind_for_first_event(event_kind: str) -> PersonKind:
    """Someone we first hear of through an event: a customer if they bought, else a prospect."""
    return PersonKind.customer if event_kind == "purchase" else PersonKind.prospect


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    card = "card"
    call = "call"


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=PersonKind.prospect.value)
    name: Mapped[str] = mapped_column(String(200), default="")
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(60))
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Case- and accent-folded name, preferred name and email, so "jose" finds "José" on every backend.
    search_key: Mapped[str] = mapped_column(String(700), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_people_kind", "kind"),)

    @property
    def greeting_name(self) -> str:
        """What we call them: their preferred name, else the first word of their name."""
        if self.preferred_name:
            return self.preferred_name
        return self.name.split()[0] if self.name.split() else ""


class PersonIdentity(Base):
    """A way we recognise a person: a normalised email or an id in another system."""

    __tablename__ = "person_identities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    namespace: Mapped[str] = mapped_column(String(40))  # "email" or the source system, e.g. "shopify"
    value: Mapped[str] = mapped_column(String(320))

    __table_args__ = (UniqueConstraint("namespace", "value"),)


class Fact(Base):
    """Something unique about a person, in plain words, for writing a personal note."""

    __tablename__ = "person_facts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(40), default="staff")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("person_id", "text"),)


class ConsentChange(Base):
    """One grant or revocation of consent for a channel; the newest per channel is in force."""

    __tablename__ = "consent_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_consent_changes_person_channel_at", "person_id", "channel", "at"),)


class Suppression(Base):
    """An address we must never write to again, kept as a keyed hash so it outlives the person's erasure.

    ``kind`` is "email" or "phone"; ``address_hash`` is HMAC-SHA256 of the normalised address under a
    key derived from the secret key (goodwill.people.suppression).
    """

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    address_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(30))  # unsubscribed, sms_stop, bounced, erased, staff
    source: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "address_hash"),)


def normalise_email(email: str) -> str:
    """Case and surrounding white space do not make a different person."""
    return email.strip().lower()


def fold(text: str) -> str:
    """Case- and accent-insensitive form for searching ("Zoë" -> "zoe")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_key_for(name: str, preferred_name: str | None, email: str | None, phone: str | None) -> str:
    parts = [name, preferred_name or "", email or "", phone or ""]
    return fold(" ".join(p for p in parts if p))[:700]
