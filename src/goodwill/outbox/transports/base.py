"""What every transport shares: the envelope it is given, the errors it may raise, its protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class TransientError(Exception):
    """Worth trying again later: a timeout, a full mailbox, a provider's 5xx or 429."""


class PermanentError(Exception):
    """Trying again cannot help: a bad address, a provider's rejection of this message."""


class UnknownOutcome(Exception):
    """The transport failed after handing the message over: it may or may not have been delivered."""


@dataclass(frozen=True)
class Envelope:
    message_id: int
    # Handed to the provider so a retry of the same message is recognised (email Message-ID,
    # HTTP Idempotency-Key): "goodwill-message-<id>".
    idempotency_key: str
    channel: str
    to: str
    to_name: str
    subject: str
    text: str
    unsubscribe_url: str | None = None


def idempotency_key(message_id: int) -> str:
    return f"goodwill-message-{message_id}"


class Transport(Protocol):
    channel: str
    # True when the provider honours the idempotency key: sending again after a crash is harmless.
    idempotent: bool

    def send(self, envelope: Envelope, *, handing_over: Callable[[], None]) -> str:
        """Deliver and return the provider's id for the message.

        ``handing_over`` is called once, right before the point after which the provider may have
        accepted the message; it raises to abort the send (the claim was lost).
        """
        ...

    def close(self) -> None: ...
