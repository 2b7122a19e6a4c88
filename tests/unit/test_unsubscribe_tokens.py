"""Signed unsubscribe tokens, inbound SMS keywords, phone matching and the webhook signature: pure rules."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from goodwill.people.sms_inbound import (
    Keyword,
    WebhookRefused,
    candidate_pattern,
    keyword,
    phone_digits,
    same_number,
    verify_webhook,
    webhook_signature,
)
from goodwill.people.unsubscribe import BadToken, make_token, read_token, unsubscribe_url

KEY = "unit-secret"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("channel", ["email", "sms", "card", "call"])
def test_a_token_reads_back_as_what_it_was_made_for(channel: str) -> None:
    token = make_token(KEY, person_id=42, channel=channel, message_id=7001)
    found = read_token(KEY, token)
    assert (found.person_id, found.channel, found.message_id) == (42, channel, 7001)
    # URL-safe as it is: no padding, nothing a mail client or a path would mangle.
    assert all(ch.isalnum() or ch in "-_." for ch in token)
    assert read_token(KEY, f" {token}\n") == found  # pasted with white space around


def test_tokens_differ_per_person_channel_and_message() -> None:
    tokens = {
        make_token(KEY, person_id=p, channel=c, message_id=m)
        for p in (1, 2)
        for c in ("email", "sms")
        for m in (10, 11)
    }
    assert len(tokens) == 8


def test_another_person_id_under_the_same_signature_is_refused() -> None:
    token = make_token(KEY, person_id=42, channel="email", message_id=7001)
    _, signature = token.split(".")
    forged = f"{b64(b'43.email.7001')}.{signature}"
    with pytest.raises(BadToken):
        read_token(KEY, forged)


@pytest.mark.parametrize("position", [0, 5, -3, -2])
def test_any_changed_character_is_refused(position: int) -> None:
    # (Not the last character: in base64 its low bits are padding, so some changes decode the same.)
    token = make_token(KEY, person_id=42, channel="email", message_id=7001)
    index = position % len(token)
    if token[index] == ".":
        index += 1
    changed = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
    with pytest.raises(BadToken):
        read_token(KEY, changed)


@pytest.mark.parametrize("cut", [1, 4, 10, 20])
def test_a_truncated_token_is_refused(cut: int) -> None:
    token = make_token(KEY, person_id=42, channel="email", message_id=7001)
    with pytest.raises(BadToken):
        read_token(KEY, token[:-cut])


@pytest.mark.parametrize("garbage", ["", ".", "abc", "a.b.c", "!!!.???", "x" * 500])
def test_garbage_is_refused_with_bad_token_only(garbage: str) -> None:
    with pytest.raises(BadToken):
        read_token(KEY, garbage)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = make_token("another-install", person_id=42, channel="email", message_id=7001)
    with pytest.raises(BadToken):
        read_token(KEY, token)


def test_an_unknown_channel_is_refused_even_when_correctly_signed() -> None:
    token = make_token(KEY, person_id=42, channel="pigeon", message_id=7001)
    with pytest.raises(BadToken, match="no channel"):
        read_token(KEY, token)


def test_unsubscribe_url_joins_without_doubled_slashes() -> None:
    assert unsubscribe_url("https://shop.example/", "abc.def") == "https://shop.example/unsubscribe/abc.def"


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", "Stop.", " STOP ", "STOP!!", "stop\n", "StopAll", "stop all", "UNSUBSCRIBE",
     "end", "Quit", "cancel", "revoke", "optout", "opt-out", "Opt Out", "ＳＴＯＰ", "🛑 stop 🛑"],
)  # fmt: skip
def test_opt_out_keywords(body: str) -> None:
    assert keyword(body) is Keyword.stop


@pytest.mark.parametrize("body", ["START", "start", " Unstop. ", "un-stop"])
def test_opt_in_keywords(body: str) -> None:
    assert keyword(body) is Keyword.start


@pytest.mark.parametrize(
    "body",
    ["", "   ", "please stop", "stop texting me", "don't stop", "STOPP", "thanks!", "yes", "help",
     "Stop. " * 20, "the end"],
)  # fmt: skip
def test_anything_but_a_bare_keyword_is_a_conversation(body: str) -> None:
    assert keyword(body) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("+1 (503) 555-0142", "+15035550142"),
        ("+15035550142", "(503) 555-0142"),
        ("+33 6 12 34 56 78", "06 12 34 56 78"),
        ("+33612345678", "0033 6 12 34 56 78"),
        ("+39 06 1234 5678", "06 1234 5678"),  # Italy keeps its leading zero internationally
        ("503.555.0142", "1-503-555-0142"),
    ],
)
def test_one_number_written_two_ways(a: str, b: str) -> None:
    assert same_number(a, b) and same_number(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("+15035550142", "+15035550143"),
        ("+15035550142", "+445035550142"),  # both international: the country code counts
        ("+15035550142", "555-0199"),
        ("12345", "+4412345"),  # too short to tell
        ("", "+15035550142"),
    ],
)
def test_different_numbers(a: str, b: str) -> None:
    assert not same_number(a, b)


def test_phone_digits_tells_international_from_national() -> None:
    assert phone_digits("+33 6 12 34 56 78") == (True, "33612345678")
    assert phone_digits("0033 6 12 34 56 78") == (True, "33612345678")
    assert phone_digits("06 12 34 56 78") == (False, "612345678")


def test_the_candidate_pattern_matches_every_written_form_by_its_last_digits() -> None:
    import re

    pattern = candidate_pattern("+33 6 12 34 56 78")
    assert pattern == "%2%3%4%5%6%7%8%"
    as_regex = re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$")
    for stored in ("+33 6 12 34 56 78", "06.12.34.56.78", "(0)6-12-34-56-78 ", "+33612345678"):
        assert as_regex.match(stored), stored
    assert not as_regex.match("+33 6 12 34 56 79")
    assert candidate_pattern("12345") is None


HOOK_TOKEN = "hook-token"
SMS_BODY = b"From=%2B15035550142&Body=STOP&MessageSid=SM1"
SIGNED_AT = 1_750_000_000


def verify(
    body: bytes = SMS_BODY,
    *,
    timestamp: str | None = str(SIGNED_AT),
    signature: str | None = None,
    now: float = SIGNED_AT,
    token: str = HOOK_TOKEN,
) -> int:
    """verify_webhook, signed correctly unless a signature is given."""
    if signature is None:
        signature = webhook_signature(HOOK_TOKEN, SIGNED_AT, SMS_BODY)
    return verify_webhook(token, body, timestamp=timestamp, signature=signature, now=now)


def test_webhook_signature_is_hex_hmac_sha256_of_the_timestamp_a_dot_and_the_raw_body() -> None:
    expected = hmac.new(b"hook-token", b"1750000000." + SMS_BODY, hashlib.sha256).hexdigest()
    assert webhook_signature(HOOK_TOKEN, SIGNED_AT, SMS_BODY) == expected
    assert webhook_signature(HOOK_TOKEN, "1750000000", SMS_BODY) == expected
    assert webhook_signature(HOOK_TOKEN, SIGNED_AT + 1, SMS_BODY) != expected


@pytest.mark.parametrize("age", [0, 1, 299.9, 300, -300, -12])
def test_a_signed_request_within_five_minutes_either_way_is_accepted(age: float) -> None:
    assert verify(now=SIGNED_AT + age) == SIGNED_AT


def test_hex_case_and_white_space_around_the_signature_do_not_matter() -> None:
    signature = webhook_signature(HOOK_TOKEN, SIGNED_AT, SMS_BODY)
    assert verify(signature=f" {signature.upper()} ") == SIGNED_AT


@pytest.mark.parametrize("age", [300.5, 301, 3600, 86_400 * 365])
def test_an_old_request_is_refused_as_a_replay(age: float) -> None:
    with pytest.raises(WebhookRefused, match="replayed"):
        verify(now=SIGNED_AT + age)


@pytest.mark.parametrize("ahead", [301, 3600])
def test_a_request_signed_in_the_future_is_refused(ahead: int) -> None:
    with pytest.raises(WebhookRefused, match=f"{ahead} s from the server's clock"):
        verify(now=SIGNED_AT - ahead)


@pytest.mark.parametrize(
    "body",
    [SMS_BODY + b" ", SMS_BODY.replace(b"STOP", b"START"), SMS_BODY.replace(b"SM1", b"SM2"), b""],
)
def test_a_tampered_body_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookRefused, match="wrong X-Goodwill-Signature"):
        verify(body)


@pytest.mark.parametrize("timestamp", [str(SIGNED_AT + 1), str(SIGNED_AT - 60), f"0{SIGNED_AT}"])
def test_a_tampered_timestamp_is_refused(timestamp: str) -> None:
    # The old signature with a fresher time is how a replay would try to pass: the time is signed.
    with pytest.raises(WebhookRefused, match="wrong X-Goodwill-Signature"):
        verify(timestamp=timestamp, now=int(timestamp))


def test_the_signature_of_the_body_alone_is_refused() -> None:
    body_only = hmac.new(b"hook-token", SMS_BODY, hashlib.sha256).hexdigest()  # the scheme before timestamps
    with pytest.raises(WebhookRefused, match="wrong X-Goodwill-Signature"):
        verify(signature=body_only)


@pytest.mark.parametrize("timestamp", [None, ""])
def test_a_missing_timestamp_is_refused(timestamp: str | None) -> None:
    with pytest.raises(WebhookRefused, match="missing X-Goodwill-Timestamp"):
        verify(timestamp=timestamp)


@pytest.mark.parametrize(
    "timestamp",
    ["1750000000.0", "-1750000000", "+1750000000", "1.75e9", "soon", " 1750000000", "١٧٥", "9" * 40],
)
def test_a_timestamp_that_is_not_whole_unix_seconds_is_refused(timestamp: str) -> None:
    with pytest.raises(WebhookRefused, match="whole number of unix seconds"):
        verify(timestamp=timestamp)


@pytest.mark.parametrize("signature", ["", "0" * 64, "not hex", "é"])
def test_a_missing_or_wrong_signature_is_refused(signature: str) -> None:
    with pytest.raises(WebhookRefused, match="X-Goodwill-Signature"):
        verify(signature=signature)


def test_another_token_or_no_token_is_refused() -> None:
    with pytest.raises(WebhookRefused, match="wrong X-Goodwill-Signature"):
        verify(token="other-token")
    with pytest.raises(WebhookRefused, match="no token"):  # the webhook is off, whatever was signed
        verify(token="", signature=webhook_signature("", SIGNED_AT, SMS_BODY))
