"""Drafting replies to complaints (goodwill.complaints.replies): thanks, their words, an honest next step.

The property the issue asks for: every first response drafted for a varied set of complaints (our
own, 52 of them: short, long, angry, in capitals, with names, links, prices, codes, questions and
greetings) passes the sincerity check, by email and by SMS, with and without a first name.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from goodwill.complaints.replies import (
    EXCERPT_LIMIT,
    QUESTION,
    SMS_LIMIT,
    QuestionFacts,
    ReplyFacts,
    day_words,
    excerpts,
    first_response,
    promise_day,
    satisfaction_question,
)
from goodwill.notes.sincerity import check_note

COMPLAINTS = [
    "The teapot I ordered arrived with a cracked lid. It was wrapped in a single sheet of paper.",
    "Hi,\n\nMy parcel never arrived. The tracking says delivered but nothing was left at my door."
    "\n\nThanks,\nJo",
    "Dear Sir or Madam,\nI was charged twice for the same order on 3 November. "
    "Please refund the second payment.",
    "Your courier left the box in the rain and the tea inside is ruined.",
    "THE PARCEL ARRIVED OPEN AND HALF THE TINS WERE MISSING. THIS IS NOT GOOD ENOUGH!!!",
    "Can you tell me where my order is? I ordered it two weeks ago and heard nothing since.",
    "Hello, the discount code SAVE10 didn't work at checkout, so I paid full price.",
    "I rang your shop three times on Monday and nobody answered the phone.",
    "The assistant at the Clifton counter was rude to my mother when she asked about the oolong.",
    "Wrong item. I asked for the Darjeeling first flush and got Earl Grey instead.",
    "Bad! Awful! Terrible service! Never again!",
    "The website kept logging me out at checkout and I lost my basket: https://teapot.test/checkout?step=2",
    "My subscription was renewed even though I cancelled it in September.",
    "I'm disappointed. The matcha tasted stale and the best-before date was last month.",
    "Order 12345 has been lost by the courier and your team keeps telling me to wait.",
    "Your reference 44821 is all I get in every email, and still no refund.",
    "Good morning,\nthe kettle I bought in your Bath shop stopped working after a week. It just clicks off.",
    "Thanks Mark for nothing. The replacement never came.",
    "Zoë here. The gift box for my sister's birthday came a day late, after the party.",
    "Nobody told me the café would be closed for a private event; we drove forty minutes.",
    "The loose-leaf tea bags split open in the cup and left bits everywhere.",
    "I've been a loyal customer for ten years and this is the first time I feel ignored.",
    "The price on the shelf said £4.50 but I was charged £6.20 at the till.",
    "Your delivery driver reversed into our garden wall.",
    "Why does it take 10 days to answer a simple question about allergens?",
    "The gluten-free scones contained wheat. My son reacted badly.",
    "I asked for a receipt by email and received someone else's receipt with their address on it.",
    "The tin was dented, the label was peeling and the seal was broken.",
    "Two of the cups in the set arrived chipped.",
    "Could you please stop sending me paper catalogues? I have asked twice.",
    "Hiya! Love the shop but the Sunday opening hours on your door are wrong.",
    "My voucher was refused in the shop although it is valid until December.",
    "The staff in the Redland branch ignored me for fifteen minutes while they chatted.",
    "I was promised a call back on Friday and it never happened.",
    "The chai blend smells of soap. I don't think it's meant to.",
    "Your app crashes every time I try to pay with Apple Pay.",
    "We booked the tasting for six people and only four seats were set.",
    "The infuser broke the first time I used it; the mesh came away from the rim.",
    "The parcel was sent to my old address although I updated it in my account last month.",
    "A hair in my slice of lemon cake. Not what you want on a day out.",
    "Your newsletter used my late husband's name. Please remove him.",
    "The hot water urn at the counter was leaking onto the floor and a child slipped.",
    "Ordered rooibos, got rooibos, but the bag was half empty — about 120 g instead of 250 g.",
    "It's been three weeks. Where is my refund for the returned teapot?",
    "Dear team,\n\nThe wrapping on my gift order was torn and the card was missing. It was a present for "
    "my aunt.\n\nKind regards,\nPriya Shah",
    "The teacups are labelled dishwasher safe but the gold rim came off after one wash.",
    "honestly the worst customer service i've had. nobody reads emails.",
    "You sent me a survey about my order before the order had even arrived.",
    "The oat milk was off. It smelled sour when I opened it at the table.",
    "Your online shop shows items in stock that are not, I have had three orders cancelled this month.",
    "Ms. Holt at the till overcharged me and refused to fix it.",
    "J'ai reçu une théière cassée. The spout was snapped clean off.",
]
NAMES = ["Ann", "", "Priya", "Zoë", "Jo", "Mary-Jane"]
TODAY = date(2026, 11, 23)  # a Monday
BASE = ReplyFacts(
    complaint_id=1,
    their_words=COMPLAINTS[0],
    subject="Cracked lid",
    first_name="Ann",
    promise=date(2026, 11, 26),
    today=TODAY,
    signer_first_name="Rosa",
    business_name="Teapot & Co",
    channel="email",
)
WEEKDAYS = frozenset(range(5))


def facts_for(index: int, channel: str) -> ReplyFacts:
    return replace(
        BASE,
        complaint_id=index,
        their_words=COMPLAINTS[index],
        first_name=NAMES[index % len(NAMES)],
        channel=channel,
    )


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_every_draft_for_fifty_complaints_passes_the_sincerity_check(channel: str) -> None:
    assert len(COMPLAINTS) >= 50
    failures = []
    for index, text in enumerate(COMPLAINTS):
        facts = facts_for(index, channel)
        draft = first_response(facts)
        check = check_note(draft.body, first_name=facts.first_name or None, facts=[text], channel=channel)
        if not check.ok:
            failures.append((index, draft.body, [(p.kind, p.text) for p in check.problems]))
    assert failures == []


@pytest.mark.parametrize("index", range(len(COMPLAINTS)))
def test_each_draft_thanks_quotes_them_and_promises_a_day(index: int) -> None:
    for channel in ("email", "sms"):
        draft = first_response(facts_for(index, channel))
        body = draft.body
        assert re.search(r"\bthank you for\b", body, re.IGNORECASE)
        assert "inconvenience" not in body.lower() and "sorry" not in body.lower()
        assert "by Thursday 26 November" in body
        assert body.rstrip().endswith("Teapot & Co") and "Rosa" in body
        assert QUESTION not in body and "?" not in body.replace(_quote(body), "")
        quote = _quote(body)
        assert 0 < len(quote) <= EXCERPT_LIMIT
        words = set(re.findall(r"[a-zà-ÿ]{4,}", quote.lower())) - {"link"}
        their = set(re.findall(r"[a-zà-ÿ]{4,}", COMPLAINTS[index].lower()))
        assert words and words <= their, f"the quote has words they did not write: {words - their}"


def _quote(body: str) -> str:
    found = re.search(r"“(.+?)”", body, re.DOTALL)
    assert found, body
    return found.group(1)


def test_the_first_response_reads_as_the_issue_asks() -> None:
    draft = first_response(BASE)
    assert draft.subject == "Re: Cracked lid"
    assert draft.body == (
        "Hello Ann,\n\nThank you for taking the time to write to us. I have read your message: “The teapot I "
        "ordered arrived with a cracked lid. It was wrapped in a single sheet of paper.”\n\nI can't tell you "
        "yet why it happened. I'm looking into it myself, and I will write to you again by Thursday 26 "
        "November with what I found and what we will do about it.\n\nRosa\nTeapot & Co"
    )
    zero = first_response(replace(BASE, complaint_id=0))
    assert (
        "I don't know yet what went wrong, but I will find out and write to you by Thursday 26 November."
        in zero.body
    )


def test_variants_are_chosen_by_complaint_id_and_stay_the_same() -> None:
    bodies = {first_response(replace(BASE, complaint_id=n)).body for n in range(6)}
    assert len(bodies) == 3
    assert first_response(replace(BASE, complaint_id=4)) == first_response(replace(BASE, complaint_id=4))


def test_no_name_no_signer_and_no_subject_still_read_well() -> None:
    draft = first_response(replace(BASE, first_name="", signer_first_name="", subject=""))
    assert draft.body.startswith("Hello,\n\n")
    assert draft.body.endswith("\n\nTeapot & Co")
    assert draft.subject == "Your message to Teapot & Co"
    assert first_response(replace(BASE, subject="Re: Cracked lid")).subject == "Re: Cracked lid"
    assert first_response(replace(BASE, channel="sms")).subject == ""


def test_sms_stays_within_the_limit_even_with_long_names_and_long_words() -> None:
    long_text = "The " + "extraordinarily " * 40 + "long delivery saga ended with a broken teapot."
    for index in range(len(COMPLAINTS)):
        facts = replace(
            facts_for(index, "sms"),
            first_name="Maximiliana-Josephine",
            signer_first_name="Bartholomew",
            business_name="Juniper & Pine Tea Merchants of Bristol",
        )
        assert len(first_response(facts).body) <= SMS_LIMIT
    draft = first_response(replace(BASE, channel="sms", their_words=long_text))
    assert len(draft.body) <= SMS_LIMIT and draft.check.ok and "…" in draft.body


def test_excerpts_take_the_opening_sentences_without_greeting_sign_off_or_shouting() -> None:
    assert (
        next(excerpts("Hi team,\nThe lid was cracked. The box too.\n\nCheers,\nJo"))
        == "The lid was cracked. The box too."
    )
    assert next(excerpts("Hello, my tea is stale")) == "My tea is stale."
    calm = next(excerpts("THE PARCEL ARRIVED OPEN AND HALF THE TINS WERE MISSING!!!"))
    assert calm == "The parcel arrived open and half the tins were missing!"
    long_first = "A " + "very " * 60 + "long sentence. Second one."
    first = next(excerpts(long_first))
    assert len(first) <= EXCERPT_LIMIT and first.endswith("…")
    assert list(excerpts("Bad lid. Late. Rude.")) == ["Bad lid. Late. Rude.", "Bad lid.", "Late.", "Rude."]


def test_words_of_theirs_that_trip_the_check_are_cut_from_the_quote() -> None:
    draft = first_response(replace(BASE, their_words="Your discount code SAVE10 didn't work at checkout."))
    assert draft.check.ok
    assert "discount code" not in draft.body and "didn't work at checkout" in draft.body


def test_promise_day_is_the_due_day_or_the_next_working_day() -> None:
    assert promise_day(date(2026, 11, 26), today=TODAY, working_days=WEEKDAYS) == date(2026, 11, 26)
    friday = date(2026, 11, 27)
    assert promise_day(date(2026, 11, 20), today=friday, working_days=WEEKDAYS) == date(2026, 11, 30)
    holiday = (date(2026, 11, 30),)
    assert promise_day(date(2026, 11, 20), today=friday, working_days=WEEKDAYS, holidays=holiday) == date(
        2026, 12, 1
    )
    assert day_words(TODAY, today=TODAY) == "by the end of today"
    assert day_words(date(2027, 1, 4), today=date(2026, 12, 30)) == "by Monday 4 January 2027"
    assert day_words(date(2026, 11, 26), today=TODAY) == "by Thursday 26 November"


def test_the_satisfaction_question_is_one_question_with_a_link_and_no_thanks() -> None:
    subject, body = satisfaction_question(
        QuestionFacts(
            first_name="Ann",
            wrote_on=date(2026, 11, 23),
            link="https://thanks.teapot.test/my/complaint/abc.def",
            signer_first_name="Rosa",
            business_name="Teapot & Co",
        )
    )
    assert subject == QUESTION
    assert body.count("?") == 1 and QUESTION in body
    assert "https://thanks.teapot.test/my/complaint/abc.def" in body
    words = body.replace("https://thanks.teapot.test/my/complaint/abc.def", "").lower()
    assert "thank" not in words and "complain" not in words and "sorry" not in words and "“" not in body
    assert "Monday 23 November" in body and body.endswith("Rosa\nTeapot & Co")
    draft = first_response(BASE)
    assert QUESTION not in draft.body and "/my/complaint/" not in draft.body
