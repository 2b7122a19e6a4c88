"""The words of a reply to a complaint: the first response, and the one-question follow-up. Pure.

The first response does three things, in this order, and nothing else:

1. thanks the person for telling us (not "sorry for any inconvenience": they did us a favour);
2. shows we read it, quoting a short, clean excerpt of their own words (the first sentence or two,
   up to ``EXCERPT_LIMIT`` characters; an SMS quotes less);
3. says honestly what happens next, with a real local day: "I don't know yet what went wrong, but I
   will find out and write to you by Thursday 26 November." The day is the complaint's resolution
   due time in the business time zone (the next working day when that has already passed).

It is signed by the member of staff's first name and the business name. Three wordings per
channel, chosen by complaint id, so replies do not all read the same.

Every draft goes through ``notes.sincerity.check_note`` with the person's words as the fact. A
quote can trip the check on words that are theirs, not ours ("can you tell me where my order is"
reads as a request, "your discount code" as a pitch, "ARRIVED BROKEN" as shouting): the drafter
therefore tries the other sentences of their message, and as a last resort cuts the offending words
out of the quote (marked "…"), and keeps the first wording that passes. Staff can still edit it.

The satisfaction question is a message of its own: one question, a link, a signature; no thanks
for complaining and no quote. The first response never asks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from goodwill.notes.sincerity import Check, check_note

EXCERPT_LIMIT = 160
SMS_EXCERPT_LIMIT = 90
SMS_LIMIT = 320  # notes.sincerity.CHANNEL_LIMITS["sms"]: about two SMS segments
QUESTION = "Did we put it right?"
ANSWERS = ("yes", "partly", "no")

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# The three email wordings: {greeting}, {quote}, {promise}, {signature}.
_EMAIL = (
    "{greeting}\n\nThank you for telling us about this. You wrote: “{quote}”\n\n"
    "That is not how it should have gone, and I'm glad you let us know. I don't know yet what went "
    "wrong, but I will find out and write to you {promise}.\n\n{signature}",
    "{greeting}\n\nThank you for taking the time to write to us. I have read your message: “{quote}”\n\n"
    "I can't tell you yet why it happened. I'm looking into it myself, and I will write to you again "
    "{promise} with what I found and what we will do about it.\n\n{signature}",
    "{greeting}\n\nThank you for letting us know. You told us: “{quote}” You were right to tell us.\n\n"
    "I don't have an answer for you yet. I'm finding out what happened, and you will hear from me "
    "{promise}, even if it is only to say where things stand.\n\n{signature}",
)
_SMS = (
    "{hello} thank you for telling us: “{quote}” I don't know yet what went wrong, but I will find "
    "out and text you {promise}. {signature}",
    "{hello} thank you for letting us know: “{quote}” I'm finding out what happened and will text "
    "you {promise}. {signature}",
    "{hello} thank you for writing to us. You said: “{quote}” I don't have an answer yet; I will text "
    "you {promise} with what I found. {signature}",
)
_EMAIL_GREETINGS = ("Dear {name},", "Hello {name},", "Hi {name},")

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_GREETINGS = r"(?:hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening)|to whom it may concern)"
# "Dear Sir or Madam," on a line of its own; then "Hi, my parcel..." with the greeting inline.
_GREETING_LINE = re.compile(r"\A\s*" + _GREETINGS + r"\b(?:[ \t]+[^\s,:!]+){0,4}[ \t]*[,:!]?[ \t]*\n", re.I)
_GREETING_INLINE = re.compile(r"\A\s*" + _GREETINGS + r"\b[^,.!?\n]{0,40}[,!]\s+", re.I)
# "Thanks, Jo" / "Kind regards,\nJo Bloggs" at the very end: a sign-off, not part of the problem.
_CLOSING = re.compile(
    r"(?:\A|\n|(?<=[.!?])[ \t])\s*(?:many thanks|thanks(?: again)?|thank you|kind regards|best regards|"
    r"regards|best wishes|best|cheers|yours sincerely|yours faithfully|sincerely)\b[^\n]{0,40}"
    r"(?:\n[^\n]{0,40}){0,2}\s*\Z",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_PUNCT_RUN = re.compile(r"([!?.])[!?.]+")
_CAPS = re.compile(r"\b[A-Z][A-Z']{3,}\b")
_UPPER_WORD = re.compile(r"\b[A-Z][A-Z']+\b")


@dataclass(frozen=True)
class ReplyFacts:
    """What a first response is written from."""

    complaint_id: int
    their_words: str  # the complaint as they wrote it
    subject: str  # their subject line ("" when none)
    first_name: str  # what we call them ("" when unknown)
    promise: date  # the day we promise to write again (see ``promise_day``)
    today: date  # in the business time zone
    signer_first_name: str  # "" when the member of staff has no name on file
    business_name: str
    channel: str  # "email" or "sms"


@dataclass(frozen=True)
class ReplyDraft:
    subject: str
    body: str
    variant: int
    check: Check


def check_reply(
    body: str, *, first_name: str, their_words: str, channel: str, known_names: Sequence[str] = ()
) -> Check:
    """The sincerity check of a reply: their own words are the fact it must be specific to."""
    return check_note(
        body, first_name=first_name or None, facts=[their_words], channel=channel, known_names=known_names
    )


def promise_day(
    due: date, *, today: date, working_days: frozenset[int], holidays: Sequence[date] = ()
) -> date:
    """The day to promise: the resolution due day, or the next working day if that has passed."""
    if due >= today:
        return due
    day = today + timedelta(days=1)
    for _ in range(366):
        if day.weekday() in working_days and day not in holidays:
            return day
        day += timedelta(days=1)
    return today + timedelta(days=1)


def day_words(day: date, *, today: date) -> str:
    """'by Thursday 26 November' ('by the end of today'; the year is added when it is not this one)."""
    if day == today:
        return "by the end of today"
    text = f"by {_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def clean_text(text: str) -> str:
    """Their words as one line: no greeting line, links, runs of '!!!' or words in capitals."""
    text = text.strip()
    for pattern in (_GREETING_LINE, _GREETING_INLINE, _CLOSING):
        shorter = pattern.sub("", text, count=1).strip()
        text = shorter or text
    text = _URL.sub("(link)", text)
    text = " ".join(text.split())
    text = _PUNCT_RUN.sub(r"\1", text)
    if text.count("!") >= 3:
        text = text.replace("!", ".")
    if len(_CAPS.findall(text)) >= 3:  # an angry message in capitals: quoted calmly, same words
        text = _UPPER_WORD.sub(lambda m: m.group(0).lower(), text)
        text = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text[:1].upper() + text[1:]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return f"{cut}…"


def _closed(quote: str) -> str:
    """The quote ends a sentence of the reply, so it ends with a full stop if it has no other."""
    quote = quote.strip().rstrip(" ,;:-–—")
    return f"{quote}." if quote and quote[-1] not in ".!?…" else quote


def excerpts(their_words: str, limit: int = EXCERPT_LIMIT) -> Iterator[str]:
    """Quotes to try, best first: the opening sentence(s), then the first sentence alone, then the rest."""
    sentences = [s.strip() for s in _SENTENCE_END.split(clean_text(their_words)) if s.strip()]
    if not sentences:
        return
    opening = sentences[0]
    for sentence in sentences[1:]:
        if len(opening) + 1 + len(sentence) > limit:
            break
        opening = f"{opening} {sentence}"
    seen: set[str] = set()
    for candidate in (opening, sentences[0], *sentences[1:]):
        quote = _closed(_cut(candidate, limit - 1))
        if quote and quote not in seen:
            seen.add(quote)
            yield quote


def _signature(facts: ReplyFacts, *, sms: bool) -> str:
    if not facts.signer_first_name:
        return facts.business_name
    joiner = ", " if sms else "\n"
    return f"{facts.signer_first_name}{joiner}{facts.business_name}"


def _subject(facts: ReplyFacts) -> str:
    if facts.channel != "email":
        return ""
    subject = " ".join(facts.subject.split())
    if not subject:
        return f"Your message to {facts.business_name}"[:200]
    return subject[:200] if subject.lower().startswith("re:") else f"Re: {subject}"[:200]


def _render(facts: ReplyFacts, variant: int, quote: str) -> str:
    promise = day_words(facts.promise, today=facts.today)
    if facts.channel == "sms":
        hello = f"Hi {facts.first_name}," if facts.first_name else "Hello,"
        template = _SMS[variant % len(_SMS)]
        return template.format(
            hello=hello, quote=quote, promise=promise, signature=_signature(facts, sms=True)
        )
    name = facts.first_name
    greeting = _EMAIL_GREETINGS[variant % len(_EMAIL_GREETINGS)].format(name=name) if name else "Hello,"
    template = _EMAIL[variant % len(_EMAIL)]
    return template.format(
        greeting=greeting, quote=quote, promise=promise, signature=_signature(facts, sms=False)
    )


def _quote_limit(facts: ReplyFacts, variant: int) -> int:
    if facts.channel != "sms":
        return EXCERPT_LIMIT
    room = SMS_LIMIT - len(_render(facts, variant, ""))
    return max(20, min(SMS_EXCERPT_LIMIT, room))


def _without_problems(quote: str, check: Check) -> str:
    """The quote with the words that tripped the check cut out ("…"), where they are in the quote."""
    for problem in check.problems:
        if problem.blocking and problem.text and problem.text in quote:
            quote = quote.replace(problem.text, "…")
    return _closed(re.sub(r"(?:\s*…\s*)+", " … ", quote))


def first_response(facts: ReplyFacts) -> ReplyDraft:
    """The first-response draft: the first wording that passes the check, else the plainest one."""
    if facts.channel not in ("email", "sms"):
        raise ValueError(f"a reply goes by email or sms, not {facts.channel!r}")
    variant = facts.complaint_id % len(_EMAIL)
    limit = _quote_limit(facts, variant)
    tried: list[tuple[str, Check]] = []
    for quote in excerpts(facts.their_words, limit):
        body = _render(facts, variant, quote)
        check = check_reply(
            body, first_name=facts.first_name, their_words=facts.their_words, channel=facts.channel
        )
        if check.ok:
            return ReplyDraft(_subject(facts), body, variant, check)
        tried.append((quote, check))
    for quote, check in tried[:3]:  # last resort: the same quote without the words that tripped the check
        trimmed = _without_problems(quote, check)
        if trimmed and trimmed != "…" and trimmed != quote:
            body = _render(facts, variant, trimmed)
            again = check_reply(
                body, first_name=facts.first_name, their_words=facts.their_words, channel=facts.channel
            )
            if again.ok:
                return ReplyDraft(_subject(facts), body, variant, again)
    quote = tried[0][0] if tried else _cut(clean_text(facts.subject) or "your message", limit)
    body = _render(facts, variant, quote)
    check = check_reply(
        body, first_name=facts.first_name, their_words=facts.their_words, channel=facts.channel
    )
    return ReplyDraft(_subject(facts), body, variant, check)


@dataclass(frozen=True)
class QuestionFacts:
    first_name: str
    wrote_on: date  # when their complaint arrived (local)
    link: str  # the signed one-question page
    signer_first_name: str
    business_name: str


def satisfaction_question(facts: QuestionFacts) -> tuple[str, str]:
    """(subject, body) of the follow-up: one question, its link, a signature; nothing else."""
    greeting = f"Hello {facts.first_name}," if facts.first_name else "Hello,"
    wrote = f"{_WEEKDAYS[facts.wrote_on.weekday()]} {facts.wrote_on.day} {_MONTHS[facts.wrote_on.month - 1]}"
    signature = (
        f"{facts.signer_first_name}\n{facts.business_name}"
        if facts.signer_first_name
        else facts.business_name
    )
    body = (
        f"{greeting}\n\nThis is about what you wrote to us on {wrote}.\n\n{QUESTION}\n\n"
        f"One click answers it (yes, partly or no): {facts.link}\n\n{signature}"
    )
    return QUESTION, body
