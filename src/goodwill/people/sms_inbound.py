"""What an inbound text message asks for, and whether two ways of writing a number are one number.

Pure: no database, no web. ``goodwill.people.sms_replies`` applies the answer and the webhook in
``goodwill.web.api.hooks`` receives the message.

A message is a keyword only when it is nothing but the keyword: "stop", " Stop. ", "STOP!" and
"opt-out" are; "please stop" and "don't stop" are not (the carriers' rule, and the only one that
never mistakes a conversation for an opt-out or an opt-out for a conversation).
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


def webhook_signature(token: str, body: bytes) -> str:
    """What the provider sends as ``X-Goodwill-Signature``: hex HMAC-SHA256 of the raw body."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def valid_signature(token: str, body: bytes, given: str | None) -> bool:
    """Constant-time check; an empty token is never valid (the webhook is then switched off)."""
    if not token or not given:
        return False
    return hmac.compare_digest(given.strip().lower().encode(), webhook_signature(token, body).encode())
