"""Signed unsubscribe tokens, inbound SMS keywords, phone matching and the webhook signature: pure rules."""

from __future__ import annotations

import base64

import pytest

from goodwill.people.sms_inbound import (
    Keyword,
    candidate_pattern,
    keyword,
    phone_digits,
    same_number,
    valid_signature,
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


def test_webhook_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    import hashlib
    import hmac

    body = b"From=%2B15035550142&Body=STOP&MessageSid=SM1"
    expected = hmac.new(b"hook-token", body, hashlib.sha256).hexdigest()
    assert webhook_signature("hook-token", body) == expected
    assert valid_signature("hook-token", body, expected)
    assert valid_signature("hook-token", body, expected.upper())  # hex case does not matter
    assert not valid_signature("hook-token", body + b" ", expected)
    assert not valid_signature("other-token", body, expected)
    assert not valid_signature("hook-token", body, None)
    assert not valid_signature("hook-token", body, "")
    assert not valid_signature("", body, webhook_signature("", body))  # no token: switched off
