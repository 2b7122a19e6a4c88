"""Signed customer links (ASVS V3.5.2 / V3.7.1 in spirit: a link is the credential, so it is signed,
bound to one purpose and, where it can do more than say "stop", it expires).

Every kind of customer link, through the real pages: the loyalty page, the complaint satisfaction
question and the unsubscribe page. Each refuses a changed token, one signed with another key and
one made for another kind of link; the loyalty and satisfaction links expire (410 Gone). Unsubscribe
links deliberately do not expire: the law (ePrivacy/PECR, CAN-SPAM) wants the opt-out in any
message to keep working, and following one can only ever withdraw consent.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from test_web_client import add_user, make_client, token_for

from goodwill.complaints.reply_service import satisfaction_token
from goodwill.db import Database
from goodwill.loyalty.links import customer_token
from goodwill.people.unsubscribe import make_token
from goodwill.web.api import API_PREFIX

SECRET = "test-secret"  # what make_client's app signs with
NOW = datetime.now(UTC)


def seed(db: Database) -> tuple[TestClient, int, int]:
    """A client, a person and a complaint of theirs."""
    client = make_client(db)
    headers = token_for(db, add_user(db, "admin@shop.test", "admin"))
    person = client.post(
        f"{API_PREFIX}/people", json={"name": "Ria Link", "email": "ria@example.org"}, headers=headers
    )
    assert person.status_code == 201, person.text
    complaint = client.post(
        f"{API_PREFIX}/complaints",
        json={"body": "The lid was cracked.", "person_id": person.json()["id"]},
        headers=headers,
    )
    assert complaint.status_code == 201, complaint.text
    return client, person.json()["id"], complaint.json()["id"]


Maker = Callable[[str, int, datetime], str]
KINDS: dict[str, tuple[str, Maker]] = {
    "loyalty": (
        "/my/loyalty/{}",
        lambda key, id_, until: customer_token(secret_key=key, person_id=id_, expires_at=until),
    ),
    "complaint": (
        "/my/complaint/{}",
        lambda key, id_, until: satisfaction_token(secret_key=key, complaint_id=id_, expires_at=until),
    ),
}


def flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


@pytest.mark.parametrize("kind", KINDS)
def test_expiring_links_work_signed_and_refuse_tampering_other_keys_and_age(db: Database, kind: str) -> None:
    client, person_id, complaint_id = seed(db)
    page, make = KINDS[kind]
    target = person_id if kind == "loyalty" else complaint_id
    good = make(SECRET, target, NOW + timedelta(days=7))
    assert client.get(page.format(good)).status_code == 200
    payload, signature = good.split(".")
    refused = {
        "payload changed": flip(payload, 1) + "." + signature,
        "signature changed": payload + "." + flip(signature, 3),
        "signature cut": payload + "." + signature[:-2],
        "no signature": payload,
        "another key": make("another-secret", target, NOW + timedelta(days=7)),
    }
    for why, token in refused.items():
        assert client.get(page.format(token)).status_code == 404, why
    # Past its expiry: 410, told apart from a broken link so the customer knows to ask for a new one.
    assert client.get(page.format(make(SECRET, target, NOW - timedelta(seconds=1)))).status_code == 410
    # A link of the other kind, for the same id and still valid, is not accepted here.
    other_page, other_make = next(v for k, v in KINDS.items() if k != kind)
    assert client.get(page.format(other_make(SECRET, target, NOW + timedelta(days=7)))).status_code == 404
    assert client.get(other_page.format(good)).status_code == 404


def test_unsubscribe_links_are_signed_bound_to_their_message_and_do_not_expire(db: Database) -> None:
    client, person_id, _ = seed(db)
    good = make_token(SECRET, person_id=person_id, channel="email", message_id=7)
    # No expiry in the token at all: only who, which channel and which message.
    payload = good.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert decoded == f"{person_id}.email.7"
    assert client.get(f"/unsubscribe/{good}").status_code == 200
    for token in (
        make_token("another-secret", person_id=person_id, channel="email", message_id=7),
        make_token(SECRET, person_id=person_id, channel="email", message_id=7)[:-2],
        flip(good, 0),
        # Someone else's link with the signature of this one: the signature covers the person.
        make_token(SECRET, person_id=person_id + 1, channel="email", message_id=7).split(".")[0]
        + "."
        + good.split(".")[1],
        customer_token(secret_key=SECRET, person_id=person_id, expires_at=NOW + timedelta(days=1)),
    ):
        assert client.get(f"/unsubscribe/{token}").status_code in {400, 404}, token
