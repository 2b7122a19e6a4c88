"""Reading one raw email into a complaint to open (goodwill.complaints.mailbox.parse_message)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from goodwill.complaints.mailbox import (
    MailRejected,
    html_to_text,
    internal_date,
    maildir_delivered_at,
    parse_message,
    sender_date,
    trim_reply,
)

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
    new = parse_message(PLAIN, received_at=NOW)
    assert new.source == "email" and new.channel == "email"
    assert new.source_id == "<abc123@mail.example.com>"
    assert new.email == "ann@example.com" and new.name == "Ann Lee"
    assert new.subject == "Cracked lid"
    assert new.body == "The teapot arrived with a cracked lid.\nIt was wrapped in one sheet of paper."
    assert new.received_at == NOW  # when it reached us, not the Date header (09:15)


def test_the_sender_s_date_header_never_starts_the_clock() -> None:
    """The SLA clocks run from when the mail reached us: a Date: in 2024 (a wrong clock, or a sender
    wanting the head of the queue) or in the future changes nothing."""
    for date in (b"Mon, 23 Nov 2024 09:15:00 +0000", b"Mon, 23 Nov 2031 09:15:00 -0500", b"last week"):
        message = PLAIN.replace(b"Mon, 23 Nov 2026 09:15:00 +0000", date)
        assert parse_message(message, received_at=NOW).received_at == NOW
    undated = PLAIN.replace(b"Date: Mon, 23 Nov 2026 09:15:00 +0000\r\n", b"")
    assert parse_message(undated, received_at=NOW).received_at == NOW


def test_the_date_their_mail_program_wrote_is_read_for_the_log_only() -> None:
    zoned = PLAIN.replace(b"Mon, 23 Nov 2026 09:15:00 +0000", b"Mon, 23 Nov 2026 09:15:00 -0500")
    assert sender_date(zoned) == datetime(2026, 11, 23, 14, 15, tzinfo=UTC)
    assert sender_date(PLAIN.replace(b"Mon, 23 Nov 2026 09:15:00 +0000", b"sometime last week")) is None
    assert sender_date(PLAIN.replace(b"Date: Mon, 23 Nov 2026 09:15:00 +0000\r\n", b"")) is None


def test_nul_bytes_are_taken_out_of_every_field() -> None:
    """PostgreSQL refuses NUL in text; one such email must not block the mailbox."""
    message = (
        PLAIN.replace(b"Ann Lee <ann", b"Ann\x00 Lee <ann")
        .replace(b"Subject: Cracked lid", b"Subject: Cracked\x00 lid")
        .replace(b"Message-ID: <abc123@", b"Message-ID: <abc\x00123@")
        .replace(b"a cracked lid.", b"a cracked\x00 lid.\x00")
    )
    new = parse_message(message, received_at=NOW)
    fields = (new.body, new.subject, new.name, new.email or "", new.source_id)
    assert not any("\x00" in field for field in fields), fields
    assert new.body.startswith("The teapot arrived with a cracked lid.")
    assert (new.subject, new.name, new.source_id) == ("Cracked lid", "Ann Lee", "<abc123@mail.example.com>")
    html = EmailMessage()
    html["From"] = "bo@example.com"
    html["Message-ID"] = "<html-nul@example.com>"
    html.set_content("<p>Rude &amp;\x00 dismissive&#0;</p>", subtype="html")
    assert "\x00" not in parse_message(html.as_bytes(policy=SMTP), received_at=NOW).body


def test_reply_to_wins_over_from_and_names_are_tidied() -> None:
    message = PLAIN.replace(
        b"From: Ann Lee <ann@example.com>",
        b'From: "LEE, ANN" <ann@work.example>\r\nReply-To: "LEE, ANN" <ann@example.com>',
    )
    new = parse_message(message, received_at=NOW)
    assert new.email == "ann@example.com"
    assert new.name == "Ann Lee"
    bare = PLAIN.replace(b"From: Ann Lee <ann@example.com>", b"From: ann@example.com")
    assert parse_message(bare, received_at=NOW).name == ""


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
    new = parse_message(message.as_bytes(policy=SMTP), received_at=NOW)
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
    new = parse_message(message.as_bytes(policy=SMTP), received_at=NOW)
    assert new.body == "The box was crushed, photo attached."


def test_quoted_reply_is_trimmed() -> None:
    message = PLAIN.replace(
        b"It was wrapped in one sheet of paper.\r\n",
        b"It was wrapped in one sheet of paper.\r\n\r\n"
        b"On Mon, 23 Nov 2026 at 08:00, Teapot & Co <hello@teapot.test>\r\nwrote:\r\n"
        b"> Your order has shipped.\r\n> Thank you\r\n",
    )
    new = parse_message(message, received_at=NOW)
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
    new = parse_message(message, received_at=NOW)
    assert "Head of Tea" not in new.body and new.body.endswith("paper.")


def test_without_message_id_the_source_id_is_a_hash_of_the_raw_message() -> None:
    message = PLAIN.replace(b"Message-ID: <abc123@mail.example.com>\r\n", b"")
    new = parse_message(message, received_at=NOW)
    assert new.source_id == "sha256:" + hashlib.sha256(message).hexdigest()
    assert parse_message(message, received_at=NOW).source_id == new.source_id  # the same bytes, the same id
    other = message.replace(b"cracked", b"chipped")
    assert parse_message(other, received_at=NOW).source_id != new.source_id


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
        parse_message(message, received_at=NOW)


def test_auto_submitted_no_is_a_person() -> None:
    message = PLAIN.replace(b"Subject: Cracked lid", b"Subject: Cracked lid\r\nAuto-Submitted: no")
    assert parse_message(message, received_at=NOW).email == "ann@example.com"


def test_bounces_are_rejected() -> None:
    daemon = PLAIN.replace(
        b"Ann Lee <ann@example.com>", b"Mail Delivery System <MAILER-DAEMON@mx.example.com>"
    )
    with pytest.raises(MailRejected, match="bounce"):
        parse_message(daemon, received_at=NOW)
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
        parse_message(report, received_at=NOW)


def test_no_from_address_is_rejected() -> None:
    for message in (
        PLAIN.replace(b"From: Ann Lee <ann@example.com>\r\n", b""),
        PLAIN.replace(b"From: Ann Lee <ann@example.com>", b"From: Ann Lee"),
    ):
        with pytest.raises(MailRejected, match="no sender address"):
            parse_message(message, received_at=NOW)


def test_empty_body_is_rejected_also_when_it_is_only_a_quote_and_a_signature() -> None:
    empty = PLAIN.split(b"\r\n\r\n")[0] + b"\r\n\r\n   \r\n"
    with pytest.raises(MailRejected, match="no text"):
        parse_message(empty, received_at=NOW)
    only_quote = PLAIN.split(b"\r\n\r\n")[0] + b"\r\n\r\n> your order shipped\r\n-- \r\nAnn\r\n"
    with pytest.raises(MailRejected, match="no text"):
        parse_message(only_quote, received_at=NOW)


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
    new = parse_message(latin, received_at=NOW)
    assert new.body == "J'ai reçu une théière cassée."
    assert new.name == "Zoë Lefèvre" and new.subject == "Théière cassée"
    koi8 = "Чайник пришёл разбитым.".encode("koi8-r")
    russian = (
        b"From: ivan@example.ru\r\nMessage-ID: <ru-1@example.ru>\r\n"
        b"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + koi8
        + b"\r\n"
    )
    assert parse_message(russian, received_at=NOW).body == "Чайник пришёл разбитым."


def test_unknown_charset_falls_back_instead_of_failing() -> None:
    message = PLAIN.replace(b"charset=utf-8", b"charset=x-made-up")
    assert "cracked lid" in parse_message(message, received_at=NOW).body


def test_encoded_word_subjects_are_decoded() -> None:
    message = PLAIN.replace(
        b"Subject: Cracked lid",
        b"Subject: =?utf-8?b?VGhlIHRlYXBvdCDwn6uWIGFycml2ZWQ=?=\r\n =?UTF-8?Q?_cracked_=E2=80=94_again?=",
    )
    assert parse_message(message, received_at=NOW).subject == "The teapot 🫖 arrived cracked — again"


def test_a_very_long_message_is_kept_up_to_the_limit_and_says_so() -> None:
    message = PLAIN.replace(b"It was wrapped in one sheet of paper.", b"Really. " * 4000)
    new = parse_message(message, received_at=NOW)
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


def test_a_void_element_with_a_quote_class_does_not_swallow_the_rest() -> None:
    markup = '<div>Hello,<br class="gmail_quote">the lid is cracked.</div><p>And the box<br/>was wet.</p>'
    assert html_to_text(markup) == "Hello,\nthe lid is cracked.\n\nAnd the box\nwas wet."
    assert html_to_text('<img class="gmail_quote" src="x.png">My words.') == "My words."
    assert html_to_text('<div class="gmail_quote"/>Still mine.') == "Still mine."


def test_an_unclosed_quote_paragraph_ends_with_the_element_around_it() -> None:
    # <p> is often left open; the </div> around it closes it, and the quote with it.
    markup = (
        '<div><p class="gmail_quote">On Mon, Teapot wrote: your order shipped</div><p>The lid is cracked.</p>'
    )
    assert html_to_text(markup) == "The lid is cracked."
    # A new <p> closes an open one, quote or not.
    assert html_to_text('<p class="gmail_quote">quoted<p>Mine.') == "Mine."
    assert html_to_text("<p>One<p>Two<p>Three") == "One\n\nTwo\n\nThree"


def test_nested_quotes_unclosed_tags_and_stray_end_tags() -> None:
    markup = (
        "<blockquote>old<blockquote>older</blockquote>still old<b>bold</blockquote>"
        "<div>Mine <i>in italics</div></b></span></p>and after."
    )
    assert html_to_text(markup) == "Mine in italics\n\nand after."
    deep = '<div class="gmail_quote"><div class="gmail_quote"><p>q</div>also quoted</div>Mine.'
    assert html_to_text(deep) == "Mine."
    assert html_to_text("<ul><li>one<li>two</ul>three") == "one\n\ntwo\n\nthree"
    assert html_to_text("<html><head><title>T</title><body>Body text.") == "Body text."


def test_entities_are_their_characters() -> None:
    markup = "<p>I paid &pound;20 &amp; got &lt;nothing&gt; &mdash; &#8220;fine&#8221;&nbsp;!</p>"
    assert html_to_text(markup) == "I paid £20 & got <nothing> — “fine” !"
    assert html_to_text("&lt;blockquote&gt;not a quote&lt;/blockquote&gt;") == (
        "<blockquote>not a quote</blockquote>"
    )


def test_thousands_of_unclosed_and_stray_tags() -> None:
    markup = "<b>" * 20_000 + "words" + "</i>" * 20_000 + "</b>" * 20_000 + "end"
    assert html_to_text(markup) == "wordsend"


def test_internaldate_is_read_in_utc_wherever_the_server_puts_it() -> None:
    literal = b"From: a@b.c\r\n\r\nhi\r\n"
    before = [(b'7 (UID 101 INTERNALDATE " 3-Nov-2026 09:15:00 -0500" BODY[] {20}', literal), b")"]
    assert internal_date(before) == datetime(2026, 11, 3, 14, 15, tzinfo=UTC)
    after = [(b"7 (UID 101 BODY[] {20}", literal), b' INTERNALDATE "23-Nov-2026 09:15:00 +0130")']
    assert internal_date(after) == datetime(2026, 11, 23, 7, 45, tzinfo=UTC)
    assert internal_date([(b"7 (UID 101 BODY[] {20}", literal), b")"]) is None
    assert internal_date([(b'7 (INTERNALDATE "31-Feb-2026 09:15:00 +0000" BODY[] {20}', literal)]) is None
    assert internal_date([(b'7 (INTERNALDATE "23-Foo-2026 09:15:00 +0000" BODY[] {20}', literal)]) is None


def test_maildir_delivery_time_is_the_name_s_stamp_else_the_mtime(tmp_path: Path) -> None:
    named = tmp_path / "1795000000.M5000P42Q1.mx1:2,S"
    named.write_bytes(b"x")
    assert maildir_delivered_at(named) == datetime(2026, 11, 18, 11, 6, 40, 5000, tzinfo=UTC)
    plain = tmp_path / "1795000000.mx1"  # seconds only
    plain.write_bytes(b"x")
    assert maildir_delivered_at(plain) == datetime(2026, 11, 18, 11, 6, 40, tzinfo=UTC)
    for name in ("copied", "17950000001234.long", "179500000"):  # no stamp: the mtime
        other = tmp_path / name
        other.write_bytes(b"x")
        os.utime(other, (1_700_000_000, 1_700_000_000))
        assert maildir_delivered_at(other) == datetime.fromtimestamp(1_700_000_000, UTC)
    assert maildir_delivered_at(tmp_path / "gone") is None
