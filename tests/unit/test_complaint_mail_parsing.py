"""Reading one raw email into a complaint to open (goodwill.complaints.mailbox.parse_message)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from goodwill.complaints.mailbox import MailRejected, html_to_text, parse_message, trim_reply

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def raw(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


PLAIN = raw(
    """From: Ann Lee <ann@example.com>
To: complaints@teapot.test
Subject: Cracked lid
Date: Mon, 23 Nov 2026 09:15:00 +0000
Message-ID: <abc123@mail.example.com>
Content-Type: text/plain; charset=utf-8

The teapot arrived with a cracked lid.
It was wrapped in one sheet of paper.
"""
)


def test_plain_message_gives_every_field() -> None:
    new = parse_message(PLAIN, now=NOW)
    assert new.source == "email" and new.channel == "email"
    assert new.source_id == "<abc123@mail.example.com>"
    assert new.email == "ann@example.com" and new.name == "Ann Lee"
    assert new.subject == "Cracked lid"
    assert new.body == "The teapot arrived with a cracked lid.\nIt was wrapped in one sheet of paper."
    assert new.received_at == datetime(2026, 11, 23, 9, 15, tzinfo=UTC)


def test_date_in_another_zone_is_stored_in_utc_and_a_missing_date_is_now() -> None:
    zoned = PLAIN.replace(b"Mon, 23 Nov 2026 09:15:00 +0000", b"Mon, 23 Nov 2026 09:15:00 -0500")
    assert parse_message(zoned, now=NOW).received_at == datetime(2026, 11, 23, 14, 15, tzinfo=UTC)
    undated = PLAIN.replace(b"Date: Mon, 23 Nov 2026 09:15:00 +0000\r\n", b"")
    assert parse_message(undated, now=NOW).received_at == NOW
    garbled = PLAIN.replace(b"Mon, 23 Nov 2026 09:15:00 +0000", b"sometime last week")
    assert parse_message(garbled, now=NOW).received_at == NOW
    future = PLAIN.replace(b"23 Nov 2026", b"23 Nov 2031")
    assert parse_message(future, now=NOW).received_at == NOW


def test_reply_to_wins_over_from_and_names_are_tidied() -> None:
    message = PLAIN.replace(
        b"From: Ann Lee <ann@example.com>",
        b'From: "LEE, ANN" <ann@work.example>\r\nReply-To: "LEE, ANN" <ann@example.com>',
    )
    new = parse_message(message, now=NOW)
    assert new.email == "ann@example.com"
    assert new.name == "Ann Lee"
    bare = PLAIN.replace(b"From: Ann Lee <ann@example.com>", b"From: ann@example.com")
    assert parse_message(bare, now=NOW).name == ""


def test_html_only_message_is_read_as_text_without_tags_styles_or_quoted_history() -> None:
    message = EmailMessage()
    message["From"] = "bo@example.com"
    message["Subject"] = "Rude"
    message["Message-ID"] = "<html-1@example.com>"
    message.set_content(
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>The assistant at the <b>Clifton</b> counter was rude &amp; dismissive.</p>"
        "<div>My mother was in tears.</div>"
        '<div class="gmail_quote">On Mon, Teapot wrote:<blockquote>Thanks for your order</blockquote></div>'
        "</body></html>",
        subtype="html",
    )
    new = parse_message(message.as_bytes(policy=SMTP), now=NOW)
    assert (
        new.body == "The assistant at the Clifton counter was rude & dismissive.\n\nMy mother was in tears."
    )
    assert "<" not in new.body and "color" not in new.body and "Thanks for your order" not in new.body


def test_multipart_with_attachment_takes_the_text_part_only() -> None:
    message = EmailMessage()
    message["From"] = "Cy <cy@example.com>"
    message["Subject"] = "Photo of the damage"
    message["Message-ID"] = "<att-1@example.com>"
    message.set_content("The box was crushed, photo attached.")
    message.add_alternative("<p>The box was crushed, photo attached.</p>", subtype="html")
    message.add_attachment(
        b"\x89PNG\r\n\x1a\n" + bytes(200), maintype="image", subtype="png", filename="box.png"
    )
    message.add_attachment("a note.txt attachment, not the body", filename="note.txt")
    new = parse_message(message.as_bytes(policy=SMTP), now=NOW)
    assert new.body == "The box was crushed, photo attached."


def test_quoted_reply_is_trimmed() -> None:
    message = PLAIN.replace(
        b"It was wrapped in one sheet of paper.\r\n",
        b"It was wrapped in one sheet of paper.\r\n\r\n"
        b"On Mon, 23 Nov 2026 at 08:00, Teapot & Co <hello@teapot.test>\r\nwrote:\r\n"
        b"> Your order has shipped.\r\n> Thank you\r\n",
    )
    new = parse_message(message, now=NOW)
    assert new.body.endswith("one sheet of paper.")
    assert "shipped" not in new.body and "wrote" not in new.body


def test_inline_quotes_and_outlook_history_are_dropped() -> None:
    text = (
        "> When will it arrive?\nIt still has not.\n>> earlier\nStill waiting.\n"
        "-----Original Message-----\nFrom: Teapot\nSent: Monday\n"
    )
    assert trim_reply(text) == "It still has not.\nStill waiting."


def test_signature_is_trimmed() -> None:
    message = PLAIN.replace(
        b"It was wrapped in one sheet of paper.\r\n",
        b"It was wrapped in one sheet of paper.\r\n-- \r\nAnn Lee\r\nHead of Tea, Example Ltd\r\n",
    )
    new = parse_message(message, now=NOW)
    assert "Head of Tea" not in new.body and new.body.endswith("paper.")


def test_without_message_id_the_source_id_is_a_hash_of_the_raw_message() -> None:
    message = PLAIN.replace(b"Message-ID: <abc123@mail.example.com>\r\n", b"")
    new = parse_message(message, now=NOW)
    assert new.source_id == "sha256:" + hashlib.sha256(message).hexdigest()
    assert parse_message(message, now=NOW).source_id == new.source_id  # the same bytes, the same id
    other = message.replace(b"cracked", b"chipped")
    assert parse_message(other, now=NOW).source_id != new.source_id


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"Auto-Submitted: auto-replied", "automatic message"),
        (b"Auto-Submitted: auto-generated", "automatic message"),
    ],
)
def test_auto_replies_are_rejected(header: bytes, reason: str) -> None:
    message = PLAIN.replace(b"Subject: Cracked lid", b"Subject: Out of office\r\n" + header)
    with pytest.raises(MailRejected, match=reason):
        parse_message(message, now=NOW)


def test_auto_submitted_no_is_a_person() -> None:
    message = PLAIN.replace(b"Subject: Cracked lid", b"Subject: Cracked lid\r\nAuto-Submitted: no")
    assert parse_message(message, now=NOW).email == "ann@example.com"


def test_bounces_are_rejected() -> None:
    daemon = PLAIN.replace(
        b"Ann Lee <ann@example.com>", b"Mail Delivery System <MAILER-DAEMON@mx.example.com>"
    )
    with pytest.raises(MailRejected, match="bounce"):
        parse_message(daemon, now=NOW)
    report = raw(
        """From: someone@example.com
Subject: Delivery Status Notification (Failure)
Message-ID: <dsn-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="XX"

--XX
Content-Type: text/plain

Your message could not be delivered.
--XX
Content-Type: message/delivery-status

Final-Recipient: rfc822; nobody@example.com
Action: failed
--XX--
"""
    )
    with pytest.raises(MailRejected, match="multipart/report"):
        parse_message(report, now=NOW)


def test_no_from_address_is_rejected() -> None:
    for message in (
        PLAIN.replace(b"From: Ann Lee <ann@example.com>\r\n", b""),
        PLAIN.replace(b"From: Ann Lee <ann@example.com>", b"From: Ann Lee"),
    ):
        with pytest.raises(MailRejected, match="no sender address"):
            parse_message(message, now=NOW)


def test_empty_body_is_rejected_also_when_it_is_only_a_quote_and_a_signature() -> None:
    empty = PLAIN.split(b"\r\n\r\n")[0] + b"\r\n\r\n   \r\n"
    with pytest.raises(MailRejected, match="no text"):
        parse_message(empty, now=NOW)
    only_quote = PLAIN.split(b"\r\n\r\n")[0] + b"\r\n\r\n> your order shipped\r\n-- \r\nAnn\r\n"
    with pytest.raises(MailRejected, match="no text"):
        parse_message(only_quote, now=NOW)


def test_non_utf8_charsets_are_decoded() -> None:
    latin = raw(
        """From: =?iso-8859-1?q?Zo=EB_Lef=E8vre?= <zoe@example.fr>
Subject: =?iso-8859-1?q?Th=E9i=E8re_cass=E9e?=
Message-ID: <fr-1@example.fr>
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

J'ai re=E7u une th=E9i=E8re cass=E9e.
"""
    )
    new = parse_message(latin, now=NOW)
    assert new.body == "J'ai reçu une théière cassée."
    assert new.name == "Zoë Lefèvre" and new.subject == "Théière cassée"
    koi8 = "Чайник пришёл разбитым.".encode("koi8-r")
    russian = (
        b"From: ivan@example.ru\r\nMessage-ID: <ru-1@example.ru>\r\n"
        b"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + koi8
        + b"\r\n"
    )
    assert parse_message(russian, now=NOW).body == "Чайник пришёл разбитым."


def test_unknown_charset_falls_back_instead_of_failing() -> None:
    message = PLAIN.replace(b"charset=utf-8", b"charset=x-made-up")
    assert "cracked lid" in parse_message(message, now=NOW).body


def test_encoded_word_subjects_are_decoded() -> None:
    message = PLAIN.replace(
        b"Subject: Cracked lid",
        b"Subject: =?utf-8?b?VGhlIHRlYXBvdCDwn6uWIGFycml2ZWQ=?=\r\n =?UTF-8?Q?_cracked_=E2=80=94_again?=",
    )
    assert parse_message(message, now=NOW).subject == "The teapot 🫖 arrived cracked — again"


def test_a_very_long_message_is_kept_up_to_the_limit_and_says_so() -> None:
    message = PLAIN.replace(b"It was wrapped in one sheet of paper.", b"Really. " * 4000)
    new = parse_message(message, now=NOW)
    assert len(new.body) <= 20_000
    assert new.body.endswith("the rest is in the complaints mailbox.)")


def test_html_quotes_nested_in_divs_are_left_out_whole() -> None:
    markup = (
        "<div>The lid is cracked.</div>"
        '<div class="gmail_quote"><div dir="ltr">On Mon, Teapot wrote:</div>'
        "<div>Your order has shipped.</div>"
        "<div><div>Thanks for shopping</div></div></div>"
        '<div class="moz-cite-prefix">On 23/11, Teapot wrote:</div><blockquote><blockquote>old</blockquote>'
        "older</blockquote><p>Second thought: the box too.</p>"
    )
    assert html_to_text(markup) == "The lid is cracked.\n\nSecond thought: the box too."


def test_html_to_text_keeps_line_breaks_and_entities() -> None:
    assert (
        html_to_text("<p>One&nbsp;two</p><p>three<br>four</p><script>x()</script>")
        == "One two\n\nthree\nfour"
    )
