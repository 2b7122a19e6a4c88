"""Unsubscribe pages and the inbound SMS webhook, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import BASE_URL, logged_in_agent

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.outbox.model import Message
from goodwill.people import service as people
from goodwill.people.model import ConsentChange, Suppression
from goodwill.people.service import PersonRecord
from goodwill.people.sms_inbound import webhook_signature
from goodwill.people.suppression import is_suppressed
from goodwill.people.unsubscribe import make_token
from goodwill.web.app import create_app

SECRET = "test-secret"
HOOK = "hook-token-for-tests"
SHOP = "Maison Lumière"


def make_public_client(db: Database, **settings: Any) -> TestClient:
    """A client with no session, as a mail client or an SMS provider is."""
    loaded = load_settings(database_url=db.url, secret_key=SECRET, business={"name": SHOP}, **settings)
    return TestClient(create_app(loaded, db), base_url=BASE_URL)


@dataclass
class Shop:
    zoe: int
    ota: int
    zoe_emails: list[int]  # queued
    zoe_sms: int  # queued
    zoe_sent: int
    ota_email: int  # queued


def add_message(db: Database, person_id: int, channel: str, status: str = "queued") -> int:
    with db.transaction() as s:
        message = Message(person_id=person_id, channel=channel, body="Thank you.", status=status)
        s.add(message)
        s.flush()
        return message.id


def seed(db: Database) -> Shop:
    with db.transaction() as s:
        (zoe, ota), _ = people.resolve_people(
            s,
            [
                PersonRecord(
                    name="Zoë Lefèvre",
                    email="Zoe@Lefevre.test",
                    phone="+33 6 12 34 56 78",
                    consent={"email": True, "sms": True},
                ),
                PersonRecord(
                    name="Ōta Hiroshi",
                    email="hiroshi@ota.test",
                    phone="+81 90 1234 5678",
                    consent={"email": True},
                ),
            ],
            source="checkout",
        )
    return Shop(
        zoe=zoe,
        ota=ota,
        zoe_emails=[add_message(db, zoe, "email"), add_message(db, zoe, "email")],
        zoe_sms=add_message(db, zoe, "sms"),
        zoe_sent=add_message(db, zoe, "email", status="sent"),
        ota_email=add_message(db, ota, "email"),
    )


def snapshot(db: Database) -> tuple[int, int, dict[int, str]]:
    with db.reading() as s:
        changes = s.scalar(select(func.count()).select_from(ConsentChange)) or 0
        suppressions = s.scalar(select(func.count()).select_from(Suppression)) or 0
        statuses = {row.id: row.status for row in s.execute(select(Message.id, Message.status))}
    return changes, suppressions, statuses


def consent_of(db: Database, person_id: int, channel: str) -> dict[str, Any] | None:
    with db.reading() as s:
        return people.current_consent(s, person_id).get(channel)


def suppressed(db: Database, kind: str, address: str) -> bool:
    with db.reading() as s:
        return is_suppressed(s, secret_key=SECRET, kind=kind, address=address)


def status_of(db: Database, message_id: int) -> str:
    return snapshot(db)[2][message_id]


def token_for(shop: Shop, channel: str = "email") -> str:
    message = shop.zoe_emails[0] if channel == "email" else shop.zoe_sms
    return make_token(SECRET, person_id=shop.zoe, channel=channel, message_id=message)


# ---- the pages ---------------------------------------------------------------------------------------


def test_opening_the_link_shows_one_button_and_changes_nothing(db: Database) -> None:
    shop = seed(db)
    before = snapshot(db)
    token = token_for(shop)
    page = make_public_client(db).get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert SHOP in page.text and "Unsubscribe from emails?" in page.text
    assert f'<form method="post" action="/unsubscribe/{token}"' in page.text
    assert page.text.count("<button") == 1
    assert "noindex" in page.text and "/people" not in page.text  # nothing of the staff app
    assert page.headers["cache-control"] == "no-store" and "set-cookie" not in page.headers
    assert snapshot(db) == before
    state = consent_of(db, shop.zoe, "email")
    assert state is not None and state["granted"] is True and state["source"] == "checkout"


def test_the_button_unsubscribes_suppresses_and_cancels_what_is_queued(db: Database) -> None:
    shop = seed(db)
    changes, suppressions, _ = snapshot(db)
    client = make_public_client(db)
    done = client.post(f"/unsubscribe/{token_for(shop)}", data={})
    assert done.status_code == 200
    assert "You're unsubscribed" in done.text and f"{SHOP} will not send you emails" in done.text
    state = consent_of(db, shop.zoe, "email")
    assert state is not None and state["granted"] is False and state["source"] == "unsubscribe link"
    # The address is on the list however it is written next time; the phone is not.
    assert suppressed(db, "email", "zoe@lefevre.test") and suppressed(db, "email", " ZOE@LEFEVRE.TEST")
    assert not suppressed(db, "phone", "+33 6 12 34 56 78")
    assert [status_of(db, m) for m in shop.zoe_emails] == ["cancelled", "cancelled"]
    assert status_of(db, shop.zoe_sms) == "queued"  # another channel
    assert status_of(db, shop.zoe_sent) == "sent"  # already gone: history stays true
    assert status_of(db, shop.ota_email) == "queued"  # someone else
    assert consent_of(db, shop.zoe, "sms")["granted"] is True  # type: ignore[index]
    after_first = snapshot(db)
    assert after_first[0] == changes + 1 and after_first[1] == suppressions + 1

    # A second press (or a reload) says the same and records nothing new.
    again = client.post(f"/unsubscribe/{token_for(shop)}", data={})
    assert again.status_code == 200 and "You're unsubscribed" in again.text
    assert snapshot(db) == after_first


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_from_a_mail_client_is_honoured_without_cookies_or_csrf(
    db: Database, encoding: str
) -> None:
    shop = seed(db)
    client = make_public_client(db)
    url = f"/unsubscribe/{token_for(shop)}"
    if encoding == "urlencoded":
        answer = client.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    else:
        answer = client.post(url, data={"List-Unsubscribe": "One-Click"}, files={"x": ("", b"")})
    assert answer.status_code == 200, answer.text
    assert not client.cookies
    state = consent_of(db, shop.zoe, "email")
    assert state is not None and state["granted"] is False and state["source"] == "one-click unsubscribe"
    assert suppressed(db, "email", "zoe@lefevre.test")
    assert [status_of(db, m) for m in shop.zoe_emails] == ["cancelled", "cancelled"]


def test_a_post_with_no_body_at_all_still_unsubscribes(db: Database) -> None:
    shop = seed(db)
    assert make_public_client(db).post(f"/unsubscribe/{token_for(shop)}").status_code == 200
    assert consent_of(db, shop.zoe, "email")["granted"] is False  # type: ignore[index]


def test_an_sms_link_stops_texts_only(db: Database) -> None:
    shop = seed(db)
    done = make_public_client(db).post(f"/unsubscribe/{token_for(shop, 'sms')}", data={})
    assert done.status_code == 200 and "will not send you text messages" in done.text
    assert consent_of(db, shop.zoe, "sms")["granted"] is False  # type: ignore[index]
    assert consent_of(db, shop.zoe, "email")["granted"] is True  # type: ignore[index]
    assert suppressed(db, "phone", "+33612345678") and not suppressed(db, "email", "zoe@lefevre.test")
    assert status_of(db, shop.zoe_sms) == "cancelled"
    assert [status_of(db, m) for m in shop.zoe_emails] == ["queued", "queued"]


def forged_tokens(shop: Shop) -> list[str]:
    real = token_for(shop)
    payload, signature = real.split(".")
    other_person = make_token(SECRET, person_id=shop.ota, channel="email", message_id=shop.ota_email)
    return [
        f"{other_person.split('.')[0]}.{signature}",  # Ōta's payload under Zoë's signature
        real[:-6],  # truncated by a mail client
        make_token("someone-else's-key", person_id=shop.zoe, channel="email", message_id=1),
        "not-a-token",
        payload,
    ]


def test_a_forged_or_broken_link_gets_the_broken_link_page_and_changes_nothing(db: Database) -> None:
    shop = seed(db)
    before = snapshot(db)
    client = make_public_client(db)
    for token in forged_tokens(shop):
        for answer in (client.get(f"/unsubscribe/{token}"), client.post(f"/unsubscribe/{token}", data={})):
            assert answer.status_code == 400, token
            assert "This link is broken" in answer.text
            # Nothing about why, whom or which channel.
            for leak in ("Zoë", "Ōta", "emails", "text messages", "signature", "Unsubscribe from"):
                assert leak not in answer.text.split("<body>")[1], (token, leak)
    assert snapshot(db) == before


def test_the_person_page_shows_the_unsubscribe_in_the_consent_history(db: Database) -> None:
    shop = seed(db)
    assert make_public_client(db).post(f"/unsubscribe/{token_for(shop)}", data={}).status_code == 200
    page = logged_in_agent(db).get(f"/people/{shop.zoe}")
    assert page.status_code == 200
    history = page.text.split('class="consent-history"')[1].split("</ul>")[0]
    first = history.split("</li>")[0]
    assert "Email</strong> withdrawn" in first and "unsubscribe link" in first
    assert f"unsubscribe link in message {shop.zoe_emails[0]}" in first
    assert "Email</strong> granted" in history and "checkout" in history


# ---- the inbound SMS webhook --------------------------------------------------------------------------


def sms_form(sender: str, body: str, sid: str) -> bytes:
    fields = {"From": sender, "To": "+33 1 00 00 00 00", "Body": body, "MessageSid": sid}
    return str(httpx.QueryParams(fields)).encode()


def signed_headers(
    body: bytes,
    *,
    age: int = 0,
    signature: str | None = "good",
    timestamp: str | None = "good",
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """The provider's headers: signed ``age`` seconds ago with the test token, unless told otherwise.

    ``timestamp`` other than "good" is sent as it is (None: no header); the good signature covers
    the time it was signed at, whatever timestamp header is then sent.
    """
    signed_at = int(time.time()) - age
    headers = {"content-type": content_type}
    if timestamp == "good":
        headers["X-Goodwill-Timestamp"] = str(signed_at)
    elif timestamp is not None:
        headers["X-Goodwill-Timestamp"] = timestamp
    if signature == "good":
        headers["X-Goodwill-Signature"] = webhook_signature(HOOK, signed_at, body)
    elif signature is not None:
        headers["X-Goodwill-Signature"] = signature
    return headers


def post_sms(
    client: TestClient,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    **signing: Any,
) -> httpx.Response:
    """POST to the webhook with ``headers`` as given, or ``signed_headers(body, **signing)``."""
    sent = headers if headers is not None else signed_headers(body, **signing)
    answer: httpx.Response = client.post("/hooks/sms/inbound", content=body, headers=sent)
    return answer


def test_the_webhook_is_off_without_a_token(db: Database) -> None:
    seed(db)
    before = snapshot(db)
    body = sms_form("+33612345678", "STOP", "SM1")
    now = int(time.time())
    headers = {
        "X-Goodwill-Timestamp": str(now),
        "X-Goodwill-Signature": webhook_signature("", now, body),
        "content-type": "application/x-www-form-urlencoded",
    }
    answer = post_sms(make_public_client(db), body, headers=headers)
    assert answer.status_code == 503 and "sms_webhook_token" in answer.json()["detail"]
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "0" * 64,
        "not hex",
        webhook_signature("another token", int(time.time()), sms_form("+33612345678", "STOP", "SM1")),
    ],
    # Named ids: the last value depends on the clock at collection, and pytest-xdist refuses to run
    # when its two workers collect (in different seconds) differently named tests.
    ids=["missing", "empty", "zeros", "not-hex", "another-token"],
)
def test_a_missing_or_wrong_signature_is_refused(db: Database, signature: str | None) -> None:
    seed(db)
    before = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    answer = post_sms(client, sms_form("+33612345678", "STOP", "SM1"), signature=signature)
    assert answer.status_code == 403 and "X-Goodwill-Signature" in answer.json()["detail"]
    assert snapshot(db) == before


def test_a_signature_over_another_body_is_refused(db: Database) -> None:
    seed(db)
    before = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    other = sms_form("+15035550142", "STOP", "SM1")
    headers = signed_headers(other)
    assert post_sms(client, sms_form("+33612345678", "STOP", "SM1"), headers=headers).status_code == 403
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("signing", "detail"),
    [
        ({"timestamp": None}, "missing X-Goodwill-Timestamp"),
        ({"timestamp": ""}, "missing X-Goodwill-Timestamp"),
        ({"timestamp": "yesterday"}, "whole number of unix seconds"),
        ({"timestamp": "1750000000.5"}, "whole number of unix seconds"),
        ({"age": 301}, "a replayed request"),  # a request recorded more than five minutes ago
        ({"age": 86_400}, "a replayed request"),
        # Signed in the future. Not -301: the header holds whole seconds and the server's clock has
        # a fraction, so -301 can land exactly 300.x s ahead of a server reading a moment later.
        ({"age": -303}, "from the server's clock"),
    ],
)
def test_a_missing_malformed_stale_or_future_timestamp_is_refused(
    db: Database, signing: dict[str, Any], detail: str
) -> None:
    seed(db)
    before = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    answer = post_sms(client, sms_form("+33612345678", "STOP", "SM1"), **signing)
    assert answer.status_code == 403 and detail in answer.json()["detail"]
    assert snapshot(db) == before


def test_a_recorded_request_with_a_fresh_timestamp_is_refused(db: Database) -> None:
    """Moving an old request's timestamp forward breaks its signature: the time is signed."""
    seed(db)
    before = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    body = sms_form("+33612345678", "START", "SM1")
    recorded = signed_headers(body, age=3600)
    replayed = {**recorded, "X-Goodwill-Timestamp": str(int(time.time()))}
    answer = post_sms(client, body, headers=replayed)
    assert answer.status_code == 403 and "wrong X-Goodwill-Signature" in answer.json()["detail"]
    assert snapshot(db) == before


def test_an_old_start_replayed_within_the_window_does_not_undo_a_newer_stop(db: Database) -> None:
    """A START that changed nothing leaves no note to find it by; its signed time stops it instead."""
    shop = seed(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    start = sms_form("+33612345678", "START", "SM30")
    recorded = signed_headers(start, age=100)
    assert post_sms(client, start, headers=recorded).status_code == 200  # Zoë had not said STOP
    assert post_sms(client, sms_form("+33612345678", "STOP", "SM31")).status_code == 200
    settled = snapshot(db)
    assert post_sms(client, start, headers=recorded).status_code == 200  # still fresh: accepted...
    assert snapshot(db) == settled  # ...and changes nothing
    assert consent_of(db, shop.zoe, "sms")["source"] == "SMS STOP reply"  # type: ignore[index]
    assert suppressed(db, "phone", "+33612345678")


@pytest.mark.parametrize("sid", [None, "", "   "])
def test_a_message_without_a_message_sid_is_refused(db: Database, sid: str | None) -> None:
    seed(db)
    before = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    fields = {"From": "+33612345678", "Body": "START"} | ({} if sid is None else {"MessageSid": sid})
    answer = post_sms(client, str(httpx.QueryParams(fields)).encode())
    assert answer.status_code == 400 and "MessageSid" in answer.json()["detail"]
    assert snapshot(db) == before


def test_stop_withdraws_sms_consent_suppresses_and_cancels_texts(db: Database) -> None:
    shop = seed(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    answer = post_sms(client, sms_form("+33612345678", " Stop. ", "SM0001"))
    assert answer.status_code == 200
    assert (
        answer.headers["content-type"].startswith("application/xml")
        and "<Response></Response>" in answer.text
    )
    state = consent_of(db, shop.zoe, "sms")
    assert state is not None and state["granted"] is False and state["source"] == "SMS STOP reply"
    assert consent_of(db, shop.zoe, "email")["granted"] is True  # type: ignore[index]
    assert suppressed(db, "phone", "+33612345678") and suppressed(db, "phone", "+33 6 12 34 56 78")
    assert status_of(db, shop.zoe_sms) == "cancelled"
    assert [status_of(db, m) for m in shop.zoe_emails] == ["queued", "queued"]
    assert consent_of(db, shop.ota, "sms") is None


def test_stop_reaches_everyone_with_the_number_however_it_was_stored(db: Database) -> None:
    with db.transaction() as s:
        ids, _ = people.resolve_people(
            s,
            [
                PersonRecord(name="Ana", email="ana@x.test", phone="(503) 555-0142", consent={"sms": True}),
                PersonRecord(name="Ben", email="ben@x.test", phone="+1 503.555.0142", consent={"sms": True}),
                PersonRecord(name="Cy", email="cy@x.test", phone="+1 503 555 0143", consent={"sms": True}),
                PersonRecord(name="Di", email="di@x.test", phone="+44 503 555 0142", consent={"sms": True}),
            ],
        )
    client = make_public_client(db, sms_webhook_token=HOOK)
    assert post_sms(client, sms_form("+15035550142", "UNSUBSCRIBE", "SM0002")).status_code == 200
    assert [consent_of(db, p, "sms")["granted"] for p in ids] == [False, False, True, True]  # type: ignore[index]
    # The national form as stored is suppressed too: that is what the worker checks before sending.
    assert suppressed(db, "phone", "(503) 555-0142") and suppressed(db, "phone", "+15035550142")
    assert not suppressed(db, "phone", "+1 503 555 0143") and not suppressed(db, "phone", "+44 503 555 0142")


def test_stop_from_a_number_we_do_not_know_still_suppresses_it(db: Database) -> None:
    seed(db)
    changes, suppressions, statuses = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    assert post_sms(client, sms_form("+1 202 555 0199", "quit", "SM0003")).status_code == 200
    assert suppressed(db, "phone", "+12025550199")
    assert snapshot(db) == (changes, suppressions + 1, statuses)


def test_a_retried_message_id_changes_nothing(db: Database) -> None:
    shop = seed(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    stop = sms_form("+33612345678", "STOP", "SM0004")
    assert post_sms(client, stop).status_code == 200
    after = snapshot(db)
    for _ in range(2):
        assert post_sms(client, stop).status_code == 200
    assert snapshot(db) == after
    # A late retry of an old START does not undo a newer STOP.
    start = sms_form("+33612345678", "START", "SM0005")
    assert post_sms(client, start).status_code == 200
    assert consent_of(db, shop.zoe, "sms")["granted"] is True  # type: ignore[index]
    assert post_sms(client, sms_form("+33612345678", "STOP", "SM0006")).status_code == 200
    settled = snapshot(db)
    assert post_sms(client, start).status_code == 200
    assert snapshot(db) == settled
    assert consent_of(db, shop.zoe, "sms")["source"] == "SMS STOP reply"  # type: ignore[index]
    assert suppressed(db, "phone", "+33612345678")


def test_json_bodies_are_accepted_and_answered_in_json(db: Database) -> None:
    shop = seed(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    body = json.dumps(
        {"From": "+33612345678", "To": "+33100000000", "Body": "OPTOUT", "MessageSid": "SM7"}
    ).encode()
    answer = post_sms(client, body, content_type="application/json")
    assert answer.status_code == 200 and answer.json() == {"received": True, "keyword": "stop"}
    assert consent_of(db, shop.zoe, "sms")["granted"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"From=&Body=STOP", "application/x-www-form-urlencoded", 400),
        (b"[1, 2]", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"From=%2B33612345678&Body=STOP", "text/plain", 400),
        (b"Body=" + b"x" * 20_000, "application/x-www-form-urlencoded", 413),
    ],
)
def test_malformed_requests_are_refused_and_change_nothing(
    db: Database, body: bytes, content_type: str, status: int
) -> None:
    seed(db)
    before = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    assert post_sms(client, body, content_type=content_type).status_code == status
    assert snapshot(db) == before


def test_a_conversation_is_received_and_left_alone(db: Database) -> None:
    seed(db)
    before = snapshot(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    answer = post_sms(client, sms_form("+33612345678", "Thank you so much, please stop by again!", "SM8"))
    assert answer.status_code == 200
    assert snapshot(db) == before


def test_start_undoes_a_stop_and_nothing_else(db: Database) -> None:
    shop = seed(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    assert post_sms(client, sms_form("+33612345678", "STOP", "SM10")).status_code == 200
    assert post_sms(client, sms_form("+33612345678", "start", "SM11")).status_code == 200
    state = consent_of(db, shop.zoe, "sms")
    assert state is not None and state["granted"] is True and state["source"] == "SMS START reply"
    assert not suppressed(db, "phone", "+33612345678") and not suppressed(db, "phone", "+33 6 12 34 56 78")
    assert status_of(db, shop.zoe_sms) == "cancelled"  # a cancelled thank-you stays cancelled

    # Withdrawn through the unsubscribe link: a START text does not overrule it.
    assert make_public_client(db).post(f"/unsubscribe/{token_for(shop, 'sms')}", data={}).status_code == 200
    before = snapshot(db)
    assert post_sms(client, sms_form("+33612345678", "UNSTOP", "SM12")).status_code == 200
    assert snapshot(db) == before
    assert consent_of(db, shop.zoe, "sms")["source"] == "unsubscribe link"  # type: ignore[index]
    assert suppressed(db, "phone", "+33612345678")


def test_start_from_an_unknown_number_keeps_its_stop(db: Database) -> None:
    seed(db)
    client = make_public_client(db, sms_webhook_token=HOOK)
    assert post_sms(client, sms_form("+12025550199", "STOP", "SM20")).status_code == 200
    before = snapshot(db)
    assert post_sms(client, sms_form("+12025550199", "START", "SM21")).status_code == 200
    assert snapshot(db) == before and suppressed(db, "phone", "+12025550199")
