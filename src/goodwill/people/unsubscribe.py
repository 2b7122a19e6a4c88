"""Signed unsubscribe links and what following one does.

A link names the person, the channel and the message it came with, signed with a key derived from
the secret key; it has no expiry (an unsubscribe link in an old email must still work) and needs no
login. Following it revokes consent for that channel, suppresses the address and cancels whatever is
still queued (or claimed but not yet handed over) for that person on that channel, in one
transaction: honoured for every future send.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy.orm import Session

from goodwill.outbox.model import Message
from goodwill.outbox.stop import cancel_pending
from goodwill.people.model import Channel, Person
from goodwill.people.service import current_consent, record_consent
from goodwill.people.suppression import kind_for_channel, suppress

_SIGNATURE_BYTES = 16


class BadToken(ValueError):
    """The link was altered, truncated or signed with another key."""


@dataclass(frozen=True)
class UnsubscribeRequest:
    person_id: int
    channel: str
    message_id: int


@dataclass(frozen=True)
class UnsubscribeOutcome:
    request: UnsubscribeRequest
    already: bool  # consent was already withdrawn: nothing new recorded
    cancelled: int  # queued (or claimed, not yet handed over) messages cancelled
    suppressed: int  # addresses newly suppressed


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret_key: str, payload: bytes) -> bytes:
    key = hashlib.sha256(b"goodwill unsubscribe v1\0" + secret_key.encode()).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def make_token(secret_key: str, *, person_id: int, channel: str, message_id: int) -> str:
    payload = f"{person_id}.{channel}.{message_id}".encode()
    return f"{_b64(payload)}.{_b64(_signature(secret_key, payload))}"


def read_token(secret_key: str, token: str) -> UnsubscribeRequest:
    try:
        encoded, signature = token.strip().split(".")
        payload = _unb64(encoded)
        given = _unb64(signature)
    except (ValueError, binascii.Error) as exc:
        raise BadToken("this unsubscribe link is not complete") from exc
    if not hmac.compare_digest(given, _signature(secret_key, payload)):
        raise BadToken("this unsubscribe link is not one of ours, or it was changed")
    try:
        person, channel, message = payload.decode().split(".")
        request = UnsubscribeRequest(person_id=int(person), channel=channel, message_id=int(message))
    except ValueError as exc:
        raise BadToken("this unsubscribe link is not complete") from exc
    if channel not in Channel.__members__:
        raise BadToken("this unsubscribe link names no channel we use")
    return request


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"


def unsubscribe(
    session: Session, *, secret_key: str, request: UnsubscribeRequest, source: str
) -> UnsubscribeOutcome:
    """Withdraw consent for the channel, suppress the address, cancel what is queued; idempotent."""
    person = session.get(Person, request.person_id)
    addresses: set[str] = set()
    kind = kind_for_channel(request.channel)
    message = session.get(Message, request.message_id)
    if message is not None and message.person_id == request.person_id and message.address:
        addresses.add(message.address)
    already = True
    if person is not None:
        address = person.email if kind == "email" else person.phone if kind == "phone" else None
        if address:
            addresses.add(address)
        state = current_consent(session, person.id).get(request.channel)
        if state is None or state["granted"]:
            already = False
            record_consent(
                session,
                person_id=person.id,
                channel=request.channel,
                granted=False,
                source=source,
                note=f"unsubscribe link in message {request.message_id}",
            )
    newly = 0
    if kind is not None:
        for address in sorted(addresses):
            newly += suppress(
                session,
                secret_key=secret_key,
                kind=kind,
                address=address,
                reason="unsubscribed",
                source=source,
            )
    cancelled = cancel_pending(
        session, person_ids=[request.person_id], channel=request.channel, reason="unsubscribed"
    )
    return UnsubscribeOutcome(request=request, already=already, cancelled=cancelled, suppressed=newly)
