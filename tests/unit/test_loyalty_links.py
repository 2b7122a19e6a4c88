"""Signed customer links to the loyalty page: they read back, expire, and cannot be bent to another person."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from goodwill.config import load_settings
from goodwill.loyalty.links import BadLink, customer_link, customer_token, customer_url, read_customer_token

KEY = "unit-secret"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_reads_back_as_its_person_until_it_expires() -> None:
    token = customer_token(secret_key=KEY, person_id=42, expires_at=LATER)
    assert read_customer_token(secret_key=KEY, token=token, now=NOW) == 42
    assert read_customer_token(secret_key=KEY, token=f" {token}\n", now=NOW) == 42  # pasted with spaces
    assert read_customer_token(secret_key=KEY, token=token, now=LATER - timedelta(seconds=1)) == 42
    assert all(ch.isalnum() or ch in "-_." for ch in token)  # safe in a path as it is
    with pytest.raises(BadLink) as expired:
        read_customer_token(secret_key=KEY, token=token, now=LATER)
    assert expired.value.expired is True and "expired" in str(expired.value)


def test_tokens_differ_per_person_and_expiry() -> None:
    tokens = {
        customer_token(secret_key=KEY, person_id=p, expires_at=LATER + timedelta(days=d))
        for p in (1, 2)
        for d in (0, 1)
    }
    assert len(tokens) == 4


def test_another_person_or_a_later_expiry_under_the_same_signature_is_refused() -> None:
    token = customer_token(secret_key=KEY, person_id=42, expires_at=LATER)
    _, signature = token.split(".")
    for payload in (f"43.{int(LATER.timestamp())}", f"42.{int(LATER.timestamp()) + 86400 * 365}"):
        with pytest.raises(BadLink) as bad:
            read_customer_token(secret_key=KEY, token=f"{b64(payload.encode())}.{signature}", now=NOW)
        assert bad.value.expired is False


def test_a_token_signed_with_another_key_or_the_bare_secret_is_refused() -> None:
    token = customer_token(secret_key="another-secret", person_id=42, expires_at=LATER)
    with pytest.raises(BadLink):
        read_customer_token(secret_key=KEY, token=token, now=NOW)
    # Signed with the secret key itself instead of the derived key: not ours either.
    payload = f"42.{int(LATER.timestamp())}".encode()
    direct = hmac.new(KEY.encode(), payload, hashlib.sha256).digest()[:16]
    with pytest.raises(BadLink):
        read_customer_token(secret_key=KEY, token=f"{b64(payload)}.{b64(direct)}", now=NOW)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "!!!.???", "NDI.", ".AAAA", "bm90LWEtbnVtYmVy.AAAAAAAAAAAAAAAAAAAAAA"],
    ids=["empty", "no-dot", "three-parts", "not-base64", "no-signature", "no-payload", "junk"],
)
def test_broken_tokens_are_refused_as_not_expired(token: str) -> None:
    with pytest.raises(BadLink) as bad:
        read_customer_token(secret_key=KEY, token=token, now=NOW)
    assert bad.value.expired is False


def test_a_correctly_signed_but_malformed_payload_is_refused() -> None:
    for text in ("42", "x.1", "42.notatime", "42.99999999999999999999"):
        payload = text.encode()
        signature = hmac.new(
            hashlib.sha256(b"goodwill loyalty link v1\0" + KEY.encode()).digest(), payload, hashlib.sha256
        ).digest()[:16]
        with pytest.raises(BadLink):
            read_customer_token(secret_key=KEY, token=f"{b64(payload)}.{b64(signature)}", now=NOW)


def test_naive_expiry_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        customer_token(secret_key=KEY, person_id=1, expires_at=datetime(2025, 1, 1))


def test_the_url_uses_public_url_and_link_days() -> None:
    settings = load_settings(
        secret_key=KEY,
        delivery={"public_url": "https://shop.example/goodwill/"},
        loyalty={"link_days": 7},
    )
    link = customer_link(settings=settings, person_id=5, now=NOW)
    assert link.expires_at == NOW + timedelta(days=7)
    prefix = "https://shop.example/goodwill/my/loyalty/"
    assert link.url.startswith(prefix)
    token = link.url.removeprefix(prefix)
    assert read_customer_token(secret_key=KEY, token=token, now=NOW + timedelta(days=6)) == 5
    with pytest.raises(BadLink):
        read_customer_token(secret_key=KEY, token=token, now=NOW + timedelta(days=7))
    assert customer_url(settings=settings, person_id=5, now=NOW) == link.url
