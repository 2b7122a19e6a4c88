"""What an inbound text message asks for, and whether two ways of writing a number are one number.

Pure: no database, no web. ``goodwill.people.sms_replies`` applies the answer and the webhook in
``goodwill.web.api.hooks`` receives the message.

A message is a keyword only when it is nothing but the keyword: "stop", " Stop. ", "STOP!" and
"opt-out" are; "please stop" and "don't stop" are not (the carriers' rule, and the only one that
never mistakes a conversation for an opt-out or an opt-out for a conversation).

The webhook's signature covers a timestamp as well as the body (as Stripe's and Slack's do), so a
request recorded once cannot be played again later: ``verify_webhook`` takes ``now`` from its caller.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from enum import StrEnum

from goodwill.people.suppression import normalise_phone

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP"})
# Fewer digits than this cannot tell one number from another: such a number matches nobody.
MIN_DIGITS = 7
_LONGEST_KEYWORD = max(len(w) for w in STOP_WORDS | START_WORDS)

SIGNATURE_HEADER = "X-Goodwill-Signature"
TIMESTAMP_HEADER = "X-Goodwill-Timestamp"
# How far the signed time may be from the server's clock, either way: replays older than this are
# refused, and the provider's clock may be this far off.
SIGNATURE_TOLERANCE_SECONDS = 300


class Keyword(StrEnum):
    stop = "stop"
    start = "start"


def keyword(body: str) -> Keyword | None:
    """The keyword the message consists of, if it is nothing else.

    Letters are compared case-insensitively after Unicode compatibility folding (a full-width
    "ＳＴＯＰ" is STOP); white space, punctuation and symbols around or inside are ignored.
    """
    if len(body) > 8 * _LONGEST_KEYWORD:  # a long message is a conversation, whatever it contains
        return None
    letters = "".join(ch for ch in unicodedata.normalize("NFKC", body) if ch.isalnum()).upper()
    if letters in STOP_WORDS:
        return Keyword.stop
    if letters in START_WORDS:
        return Keyword.start
    return None


def phone_digits(phone: str) -> tuple[bool, str]:
    """(written internationally?, the digits): "+33 6 12" and "0033 6 12" are international.

    A national number loses its leading zeros (the trunk prefix: "06 12 34 56 78" in France is
    "+33 6 12 34 56 78"), so that its digits are the end of the international form.
    """
    normal = normalise_phone(phone)
    if normal.startswith("+"):
        return True, normal[1:]
    if normal.startswith("00"):
        return True, normal[2:]
    return False, normal.lstrip("0")


def same_number(a: str, b: str) -> bool:
    """Whether two written numbers are the same line, as far as their digits can tell.

    Two international numbers must be equal. Otherwise the shorter one's digits (at least
    ``MIN_DIGITS``) must end the longer: "(503) 555-0142" is "+1 503 555 0142". This can take a
    national number for a foreign one with the same ending; for an opt-out that errs on the side of
    writing to fewer people.
    """
    a_international, a_digits = phone_digits(a)
    b_international, b_digits = phone_digits(b)
    if len(a_digits) < MIN_DIGITS or len(b_digits) < MIN_DIGITS:
        return False
    if a_international and b_international:
        return a_digits == b_digits
    shorter, longer = sorted((a_digits, b_digits), key=len)
    return longer.endswith(shorter)


def candidate_pattern(phone: str) -> str | None:
    """A SQL LIKE pattern every stored way of writing this number matches (and a few others do).

    The last ``MIN_DIGITS`` digits in order with anything between them: "+33 6 12 34 56 78" and
    "06.12.34.56.78" both match ``%2%3%4%5%6%7%8%``. ``same_number`` then decides. None when the
    number has too few digits to match anyone.
    """
    _, digits = phone_digits(phone)
    if len(digits) < MIN_DIGITS:
        return None
    return "%" + "%".join(digits[-MIN_DIGITS:]) + "%"


class WebhookRefused(ValueError):
    """The request is not the provider's, or not fresh; the message says which and is safe to show."""


def webhook_signature(token: str, timestamp: int | str, body: bytes) -> str:
    """What the provider sends as ``X-Goodwill-Signature``.

    Hex HMAC-SHA256 under the token of the timestamp (as sent in ``X-Goodwill-Timestamp``), a dot
    and the raw body: ``hex(HMAC-SHA256(token, f"{timestamp}.".encode() + body))``.
    """
    return hmac.new(token.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_webhook(
    token: str,
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    now: float,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> int:
    """The request's signed time (unix seconds) if it is signed with the token and fresh.

    Raises ``WebhookRefused`` when the token is empty (the webhook is then off), the timestamp is
    missing or not a whole number of seconds, the signature is missing or wrong (compared in
    constant time, hex in either case), or the signed time is more than ``tolerance`` seconds from
    ``now``, in the past (a replay) or in the future. ``now`` is the caller's clock in unix seconds.
    """
    if not token:
        raise WebhookRefused("the webhook has no token: no request can be valid")
    if not timestamp:
        raise WebhookRefused(f"missing {TIMESTAMP_HEADER} (unix seconds when the request was signed)")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise WebhookRefused(f"{TIMESTAMP_HEADER} must be a whole number of unix seconds")
    if not signature:
        raise WebhookRefused(f"missing {SIGNATURE_HEADER}")
    expected = webhook_signature(token, timestamp, body).encode()
    if not hmac.compare_digest(signature.strip().lower().encode(), expected):
        raise WebhookRefused(f"wrong {SIGNATURE_HEADER} for this {TIMESTAMP_HEADER} and body")
    signed_at = int(timestamp)
    if abs(now - signed_at) > tolerance:
        raise WebhookRefused(
            f"{TIMESTAMP_HEADER} is {round(abs(now - signed_at))} s from the server's clock (at most "
            f"{tolerance} s allowed): a replayed request, or a clock out of sync"
        )
    return signed_at
