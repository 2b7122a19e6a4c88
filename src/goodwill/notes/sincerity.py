"""The sincerity check: does a note read as a person thanking a person, or as something else?

Pure (stdlib ``re``, ``unicodedata``, dataclasses) and explainable: every problem names the words that
triggered it and says what to do instead. Rules are phrase lists, one structural rule for requests and a
few counts, all compiled once at import (thousands of notes a second; see bench/sincerity_eval.py).

Matching runs on a folded copy of the note (lower case, accents and curly quotes made plain, one
character for one character), so "Zoë" == "zoe" and "don’t" == "don't", and every offending span is
cut from the original text exactly as written.

Kinds and whether they block (a note passes when nothing blocks):

- ``cliche``: stock corporate phrases. One is a warning (a warm, specific note survives a single
  "thank you for your business"); two or more block, because the note then reads as boilerplate.
- ``sales_pitch``, ``strings_attached``, ``indebtedness``, ``begging``: the note asks for something or
  makes the person feel they owe something. Always blocking. A product the person bought, named
  sincerely ("I hope the Darjeeling keeps you warm") is not a pitch; discounts, codes, "shop now",
  shop/pricing/utm links, "check out our new", "you might also like" are. Besides phrase lists, each
  clause that is a request (an imperative opener such as "book"/"leave"/"tell", "please", "could you",
  "if you could", "we hope you'll") is flagged when it names what the business wants: a review, stars,
  a referral (strings attached), a booking, a sale, a price (sales pitch), or, with "please", coming
  back (begging). Requests that want nothing ("please drive carefully", "could you tell the children we
  count the cranes") pass.
- ``generic``: blocking, and only when facts are known: the note must use a content word of some
  fact (three letters or more, not a stop word or a word every shop note has such as "order",
  "visit", "customer"; plural -s/-es, -ing, -ed and a final -e are stemmed; stems of five letters or
  more also match by prefix, "Colombia"/"Colombian"). The person's own names never count. Without
  facts we cannot demand specifics, so there is no generic problem. Known gap: a fact word that is also
  in the business's name ("Hal's Clocks", fact "repaired his clock") makes any note look specific.
- ``wrong_name``: blocking. Names are read where a note addresses someone: after a greeting ("Dear",
  "Hi", "Hello", "Hey", "Good morning", "Happy birthday", "Congratulations"), as the note's first word
  followed by a comma ("Robin,"), in "Thanks, X" / "Thank you X" (unless it is the sign-off at the very
  end), and at the end of an opening "Thank you for ..., X." sentence. A name matches when, folded, it
  equals the first name, a word of it, or one of ``known_names``, or when one is a prefix of the other
  and the shorter has three letters or more (Alex/Alexandra, Bea/Beatrice; a typo such as "Rut" for
  "Ruth" slips through). Nicknames that are not prefixes (Bob/Robert, Ollie/Oliver) need
  ``known_names``. Titled greetings ("Dear Mrs. Holt") carry a surname we do not know and are not
  checked. Greeting words such as "Valued", "Customer", "Team", "There" are not names.
- ``placeholder``: blocking: ``{first_name}``, ``{{ x }}``, ``${x}``, ``%NAME%``, ``[PRODUCT]``,
  ``[insert ...]``, ``<name>``, ``FIRST_NAME``, ``XXXX``.
- ``robotic``: blocking: "this is an automated message", "do not reply", "unsubscribe", "noreply@",
  "Dear Customer", ticket and order-number boilerplate.
- ``shouting``: blocking: a run of three or more "!", four or more "!" in one note, or three or more
  all-capital words of four letters or more (known acronyms such as HMRC or LEGO are ignored).
- ``too_long``: blocking: more characters than ``CHANNEL_LIMITS`` allows for the channel.

Score: 100 minus the weight of each problem (``_WEIGHTS``), clamped to 0..100. A lone cliché costs 10;
clichés that block cost 15 each. So a passing note scores 90 or 100 and a failing one 75 or less.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

PROBLEM_KINDS: dict[str, str] = {
    "cliche": "stock corporate phrases that could be sent to anyone",
    "sales_pitch": "selling inside a thank-you: discounts, codes, 'shop now', product links",
    "strings_attached": "asks for something back: a review, a survey, a referral, a share",
    "indebtedness": "makes the person feel they owe something in return",
    "begging": "pleads for custom or support",
    "generic": "nothing specific to this person, although we know facts about them",
    "wrong_name": "addressed to someone other than the person",
    "placeholder": "an unfilled template field such as {first_name}, [PRODUCT] or <name>",
    "robotic": "machine boilerplate: 'this is an automated message', 'do not reply'",
    "shouting": "runs of exclamation marks or words in capitals",
    "too_long": "longer than the channel allows",
}

CHANNEL_LIMITS: dict[str, int] = {"email": 1200, "card": 450, "sms": 320, "call": 1500}

_WEIGHTS: dict[str, int] = {
    "placeholder": 60,
    "wrong_name": 60,
    "indebtedness": 50,
    "begging": 45,
    "robotic": 45,
    "sales_pitch": 40,
    "strings_attached": 40,
    "generic": 35,
    "shouting": 25,
    "too_long": 25,
    "cliche": 10,
}
_BLOCKING_CLICHE_WEIGHT = 15

_HINTS: dict[str, str] = {
    "cliche": "Say it in your own words: what did this person do, and why did it matter to you?",
    "sales_pitch": "Leave the offer out. A thank-you that sells reads as an advert.",
    "strings_attached": "Ask for nothing back: drop the review, survey or referral request from this note.",
    "indebtedness": "Don't keep score. Thank them for what they did, not for what you did for them.",
    "begging": "Don't plead. Thank them for what they have already done; coming back is their choice.",
    "generic": "Mention something true and specific about them",
    "wrong_name": "Check the name: this note is for",
    "placeholder": "Fill in or remove the template field before sending.",
    "robotic": "Write as the person who signs it, and remove the automated-message boilerplate.",
    "shouting": "Calm the tone: one exclamation mark is plenty, and no capitals for emphasis.",
    "too_long": "Cut it down: keep the one thing that matters most",
}


@dataclass(frozen=True)
class Problem:
    kind: str  # one of PROBLEM_KINDS
    text: str  # the offending words as written (a short description for generic and too_long)
    hint: str  # what to do instead
    blocking: bool  # does it make the note fail


@dataclass(frozen=True)
class Check:
    ok: bool  # no blocking problem
    score: int  # 0..100, 100 = sincere and specific
    problems: tuple[Problem, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "score": self.score,
            "problems": [{"kind": p.kind, "text": p.text, "hint": p.hint} for p in self.problems],
        }


# --- folding: one character in, one character out, so match offsets hold in the original --------------

_SPECIAL_FOLDS = {
    "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ß": "s", "æ": "a", "Æ": "a",
    "œ": "o", "Œ": "o", "ı": "i", "’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'", "“": '"',
    "”": '"', "„": '"', "–": "-", "\u00a0": " ",
}  # fmt: skip
_fold_cache: dict[str, str] = {}


def _fold_char(char: str) -> str:
    folded = _fold_cache.get(char)
    if folded is None:
        folded = _SPECIAL_FOLDS.get(char)
        if folded is None:
            base = unicodedata.normalize("NFKD", char)[:1] or char
            lower = base.lower()
            folded = lower if len(lower) == 1 else base
        if len(_fold_cache) < 20_000:
            _fold_cache[char] = folded
    return folded


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- phrase rules (matched on the folded text; written in lower case) ---------------------------------

_CLICHE = [
    r"valued (?:customer|client|member|guest|patient|patron|shopper)s?",
    r"(?:thank you|thanks) (?:so much )?for (?:your|the) (?:continued |ongoing )?"
    r"(?:business|patronage|custom|loyalty|support|trust)",
    r"(?:truly |really |greatly |sincerely |so )?appreciate your (?:continued |ongoing )?"
    r"(?:business|patronage|custom|loyalty|support)",
    r"value your (?:continued |ongoing )?(?:business|patronage|custom|loyalty|support|trust)",
    r"(?:thank you|thanks) (?:so much )?for (?:choosing|shopping with|shopping at)",
    r"(?:customers|clients|people|guests|patients|members|shoppers) like you",
    r"(?:your )?satisfaction is our (?:top |number one |#1 |first |highest )?priority",
    r"look(?:ing)? forward to (?:serving|welcoming|helping) you",
    r"(?:we )?look forward to seeing you again",
    r"(?:hope|hoping|looking forward) to see(?:ing)? you (?:again )?soon",
    r"we (?:couldn't|could not|can't|cannot) do (?:it|this|what we do) without you",
    r"(?:part|member) of (?:the|our) (?:[\w&'-]+ ){0,3}family",
    r"from the bottom of (?:our|my) hearts?",
    r"we (?:truly |really |sincerely )?appreciate you",
    r"each and every (?:one of (?:our|you) ?)?(?:customers?|clients?|guests?)?",
    r"on behalf of (?:everyone|all of us|the (?:entire |whole )?team|all the staff)",
    r"we pride ourselves",
    r"(?:exceptional|outstanding|world-class|first-class|excellent) (?:customer )?service",
    r"(?:please )?(?:do not|don't) hesitate to (?:contact|reach|call|get in touch|ask)",
    r"should you (?:have|need) any (?:further )?(?:questions|concerns|help|assistance)",
    r"loyal (?:customer|client|patient|guest|member|shopper|patron)s?",
    r"trusting us with your (?:business|finances|needs|custom)",
    r"the reason (?:we do what we do|we exist|we're here)",
    r"(?:your|the) (?:business|custom|support|loyalty) means (?:the world|a lot|so much|everything) to us",
    r"happy to (?:have )?serve(?:d)? you",
    r"at your service",
    r"we strive to",
    r"(?:it's been|it was|it is) (?:a|our) pleasure (?:serving|to serve|doing business)",
    r"on behalf of (?:the )?(?:entire |whole )?(?:[\w&\'-]+ ){0,2}team",
    r"(?:donors|supporters|fans|patrons|families|friends) like you",
    r"(?:we are |we\'re )?committed to (?:providing|delivering|offering)",
    r"we hope you had a (?:wonderful|great|pleasant|lovely|fantastic) (?:time|experience|stay|visit)",
    r"look(?:ing)? forward to welcoming you back",
    r"dear valued \w+",
    r"(?:your|all your) (?:efforts|hard work|support|contributions?|business) (?:is|are) "
    r"(?:greatly |truly |much |really |very much )?appreciated",
]

_SALES_PITCH = [
    r"\d+(?:\.\d+)?\s?% off",
    r"\d+ percent off",
    r"[£$€]\s?\d+(?:[.,]\d+)? off",
    r"(?:off|on) your next (?:\w+ )?(?:order|purchase|visit|stay|booking|tin|box|class|service)",
    r"save (?:up to )?(?:[£$€]\s?\d+|\d+\s?%)",
    r"half[- ]price",
    r"buy one,? get one",
    r"bogo",
    r"(?:two|2) for (?:one|1)",
    r"(?:get|with) \d+ (?:\w+ )?(?:months?|weeks?|days?|classes|sessions|lessons) (?:for )?free",
    r"free (?:shipping|delivery|postage)(?= (?:on|for|over|with) )",
    r"free trial",
    r"(?:promo|discount|coupon|voucher|promotional|offer) code",
    r"(?:shop|buy|order|book|subscribe|upgrade|register|reserve) (?:now|today)",
    r"shop (?:our|the) (?:\w+ )?(?:sale|collection|range|store|selection)",
    r"check out our (?:new|latest|full|summer|winter|spring|autumn|other|range|collection|sale|shop)",
    r"our new (?:\w+ )?(?:menu|collection|range|line|products?|arrivals) (?:is|are) "
    r"(?:out|here|live|available|in)",
    r"new arrivals",
    r"don'?t miss (?:out|our)",
    r"(?:for a )?limited time",
    r"limited (?:rooms|spots|places|spaces|stock|availability|edition|offer|numbers)",
    r"while (?:stocks?|supplies) last",
    r"(?:early|exclusive|vip|priority) access",
    r"exclusive (?:offer|rate|deal|discount|price)",
    r"(?:black friday|cyber monday|summer|winter|spring|autumn|january|clearance|flash|holiday) sale",
    r"on sale",
    r"sale (?:ends|starts|price)",
    r"upgrade to (?:[\w-]+ ){0,2}(?:pro|premium|plus|gold|business|unlimited)",
    r"(?:just|only|from) [£$€]\s?\d",
    r"subscription box",
    r"you(?:'ll| will) (?:love|like|enjoy) our",
    r"you (?:might|may) also (?:like|love|enjoy|be interested)",
    r"(?:customers|people) who bought",
    r"did you know (?:that )?we (?:now )?(?:offer|sell|stock|have|do|also)",
    r"we now (?:offer|sell|stock)",
    r"treat yourself",
    r"book (?:before|by) (?:the end|\w+day)",
    r"book direct",
    r"(?:returning|loyal|repeat) (?:guest|customer|client|member)s?'? (?:rate|discount|price|offer)",
    r"this (?:week|weekend|month) only",
    r"(?:offer|deal|discount|sale) ends",
    r"don'?t forget to (?:book|order|renew|reorder|stock up|check out|visit our)",
    r"before (?:slots|spaces|places|spots|stock|tables|rooms) (?:fill|run|sell|go)",
    r"stock up",
    r"(?:visit|browse) our (?:shop|store|website|online shop|sale|collection|catalogue)",
    r"credit (?:towards|toward|off|on) your next",
    r"enrol(?:l)?(?:ment)? (?:now|today|for next \w+|before|early)",
    r"early[- ]bird (?:price|rate|discount|offer|tickets?|pricing)",
    r"reserve (?:yours|one|your \w+) (?:today|now)",
    r"selling (?:fast|out)",
    r"(?:only )?\d+ (?:left|remaining) (?:in stock|at this price)",
    r"(?:offer|voucher|discount|code) (?:is )?valid (?:until|till|for)",
    r"voucher for",
    r"(?:get|earn|claim) (?:a |your )?free (?:month|class|lesson|session|coffee|drink|gift|upgrade|item)",
    r"claim your (?:swag|gift|reward|discount|voucher|prize)",
    r"you could win",
    r"(?:launches|launching|available|arrives) (?:next|this) (?:week|month)",
    r"loyalty (?:card|scheme|programme|program|points|stamps?)",
]

_STRINGS_ATTACHED = [
    r"(?:leave|write|post|give|drop)(?: us| me)? (?:a |an )?(?:quick |short |honest |little |brief |"
    r"\d-star |five-star )?(?:review|rating|testimonial)s?",
    r"(?:review|rating)s? (?:on|at) (?:google|tripadvisor|yelp|facebook|trustpilot|amazon|the app store|"
    r"app store|booking\.com)",
    r"(?:google|tripadvisor|yelp|trustpilot|facebook|feefo) (?:review|rating)s?",
    r"(?:rate|rating|review|reviewing) us",
    r"(?:rate|review) your (?:experience|stay|visit|purchase|order)",
    r"(?:on|in) the (?:app|play) store",
    r"(?:feedback|thoughts|opinion|a few words|kind words) on "
    r"(?:google|tripadvisor|yelp|facebook|trustpilot)",
    r"(?:customer|patient|guest|client|satisfaction|feedback|quick|short|brief|online|\d+-minute|"
    r"two-minute) (?:survey|questionnaire|poll)",
    r"(?:fill(?:ing)? (?:out|in)|complet(?:e|ing)|tak(?:e|ing)|answer(?:ing)?) (?:our|the|this|a|an|one|"
    r"two|three|four|five|\d+|a few|some) (?:(?:short|quick|brief|little|simple|patient|customer|guest) )*"
    r"(?:survey|questionnaire|form|poll|questions?)",
    r"survey (?:link|here|below|attached)",
    r"how (?:did we do|are we doing|we(?:'re| are) doing|would you rate)",
    r"on a scale (?:of|from) (?:1|one|0|zero)",
    r"(?:score|rating|number) (?:from|between|out of) (?:1|one|0|zero)",
    r"reply with (?:a |your )?(?:score|number|rating|star)",
    r"would you recommend us",
    r"(?:we'?d|we would|i'?d|i would) (?:really |so |just )?love (?:to (?:hear|get|have) )?your "
    r"(?:feedback|thoughts|opinion|review|rating|input)",
    r"share your (?:experience|stay|visit|feedback|thoughts|story|review)",
    r"(?:give|send) us (?:your |some )?feedback",
    r"(?:quick|small|little|tiny) favou?r",
    r"would you mind (?:answering|filling|rating|reviewing|leaving|writing|sharing|telling|recommending|"
    r"posting|taking)",
    r"refer (?:a|your|us to (?:a|your)) friends?",
    r"refer(?:ring)? (?:friends|family|others)",
    r"referral (?:code|link|bonus|credit|scheme|program(?:me)?|reward)",
    r"tell(?:ing)? (?:your |all your )?friends(?: and family)?",
    r"spread the word",
    r"word of mouth",
    r"know (?:someone|anyone|a friend|somebody) who",
    r"recommend us to (?:a friend|friends|your friends|others|anyone|family)",
    r"tag us",
    r"follow us",
    r"like us on",
    r"(?:tag|use|with) (?:the )?#\w+",
    r"for a chance to (?:be featured|win)",
    r"share (?:it|this|them|your \w+|a photo|photos|pictures) on (?:instagram|facebook|twitter|tiktok|"
    r"social|social media|linkedin)",
    r"know (?:any|some) (?:other )?(?:families|friends|people|parents|colleagues|one) who",
    r"send them our way",
    r"(?:your turn|be sure|remember) to recommend",
    r"(?:post|share) (?:a |your )?(?:photo|picture|pic|snap)s? (?:of|on|with)",
    r"(?:spare|take|give us) (?:a moment|a minute|two minutes|\d+ minutes?|five minutes)",
    r"(?:pass|hand) (?:our|my) (?:number|name|details|card|leaflet)s? on",
    r"(?:for )?each friend",
    r"know anyone (?:else )?(?:who|learning|looking|needing)",
]

_INDEBTEDNESS = [
    # Guilt about absence: counting the days they stayed away turns thanks into a reproach.
    r"(?:it'?s|it has) been (?:ages|so long|forever|too long|months|weeks|\d+ (?:days|weeks|months)) since "
    r"(?:your last|you last|we last (?:saw|heard))",
    r"where have you been",
    r"(?:we )?haven'?t (?:seen|heard from) you in (?:ages|months|weeks|a while|so long|forever|\d+)",
    r"\d+ (?:days|weeks|months) since your last (?:order|visit|purchase|booking)",
    r"we miss (?:your (?:orders|business|custom|visits)|seeing your orders)",
    r"after (?:all|everything) (?:that )?we(?:'ve| have)? (?:did|done|do|gave|given|been through)",
    r"(?:return|repay) the (?:favou?r|kindness|gesture|generosity)",
    r"repay (?:us|our kindness|our generosity)",
    r"you owe (?:us|it to us|me)",
    r"owe it to us",
    r"the (?:least|minimum) you (?:could|can) do",
    r"we (?:really |even )?went (?:the extra mile|out of our way|above and beyond)",
    r"bent over backwards",
    r"(?:did|do|done) you a (?:huge |big |massive |special )?favou?r",
    r"(?:loyalty|something|the same) in return",
    r"don'?t forget (?:who|what we|everything we|all we)",
    r"(?:hope|trust) you (?:won'?t|will not) forget",
    r"we only ask (?:that|in return)",
    r"remember (?:that )?we (?:gave|did|got|made|fixed|upgraded|squeezed)",
    r"(?:now )?it'?s your turn",
    r"so we(?:'re| are)? (?:sure|confident|trust|know) you(?:'ll| will)",
    r"(?:hope|trust) you(?:\'ll| will) remember (?:that|this|us|what)",
    r"how much (?:work |business )?we(?:\'ve| have)? (?:sent|given|done)",
    r"(?:we\'re|we are) counting on you",
    r"(?:it\'s|it is) only fair",
    r"stay loyal",
    r"we worked (?:through the night|all weekend|overtime|late) (?:for you|to)",
    r"after all the (?:trouble|effort|work|hours|time) (?:we|i)",
    r"after everything (?:we|our|the \w+) (?:\w+ )?(?:did|put|gave|went|spent|made)",
    r"keep (?:that|this|it) in mind",
    r"give something back",
    r"(?:we(?:\'re| are) )?(?:relying|counting) on you to",
]

_BEGGING = [
    r"please,? (?:please,? )?(?:come back|keep (?:buying|shopping|ordering|bringing|coming|booking|using|"
    r"supporting)|don'?t (?:leave|go|cancel|abandon|switch|forget us|give up on us)|"
    r"do not (?:leave|cancel|go)|support us|stay with us|give us (?:one more|another) chance|"
    r"sign up|order|buy|book)",
    r"we(?:'re| are)? begging",
    r"beg(?:ging)? you",
    r"desperately",
    r"we (?:really |badly |urgently )?need (?:customers|your (?:support|business|custom|orders?|help)|the "
    r"(?:bookings|orders|business|sales)|(?:more )?(?:orders|bookings|sales))",
    r"(?:can'?t|cannot|won'?t|will not) survive without",
    r"keeps? (?:our|the) (?:doors|lights) (?:open|on)",
    r"(?:may|might|could|will) (?:have to close|not make it|not survive|go under)",
    r"every (?:purchase|order|sale|booking|pound|penny|bit) (?:counts|helps)",
    r"anything helps",
    r"any support you can",
    r"times are (?:tough|hard|difficult)",
    r"these (?:hard|tough|difficult|trying) times",
    r"don'?t abandon us",
    r"(?:we'?d|we would) hate to lose you",
    r"(?:could|would|can) you (?:please )?(?:order|buy|book|purchase|come in and|shop)",
    r"appreciate it if you (?:could|would) (?:book|order|buy|come|visit|shop|purchase|renew)",
    r"(?:orders|sales|bookings|occupancy|footfall) (?:are|is|has been|have been) (?:way |really |very |so )?"
    r"(?:down|low|slow|quiet)",
    r"(?:depends|relies) on (?:customers|members|people|patients|guests|clients)",
    r"business (?:has been|is) (?:really |very |so |a bit )?(?:slow|quiet|tough|hard)",
    r"we(?:\'re| are) (?:really )?struggling",
    r"(?:it )?would (?:really |truly )?help us (?:out|stay|keep|survive)",
    r"help(?:s)? us (?:stay open|stay afloat|keep going|survive|keep the lights on)",
    r"every (?:\w+ ){0,2}(?:counts|helps)",
    r"(?:consider|think about) becoming a (?:monthly |regular )?(?:supporter|member|donor|patron|subscriber)",
    r"(?:squeez|forc|push)(?:ing|ed) us out",
    r"we need every (?:customer|order|booking|sale)",
    r"(?:worried|afraid|scared) (?:that )?we(?:\'ll| will| might| may) have to (?:stop|close|cancel|shut)",
]

_ROBOTIC = [
    r"this is an? (?:automated|automatic|auto-generated|computer-generated|system-generated) "
    r"(?:message|email|e-mail|notification|reminder|reply|response|text)",
    r"this (?:message|email|e-mail|notification|text) (?:was|is|has been) (?:generated|sent) automatically",
    r"(?:automatically|auto|system|computer)[- ]generated",
    r"generated automatically",
    r"(?:please )?(?:do not|don'?t) (?:reply|respond)",
    r"(?:replies|responses) (?:are|will) not (?:be )?(?:monitored|read)",
    r"unmonitored (?:mailbox|address|inbox)",
    r"no-?reply(?:@[\w.-]*\w)?",
    r"unsubscribe",
    r"opt[- ]out",
    r"reply stop",
    r"(?:msg|message) ?(?:&|and) ?data rates",
    r"dear (?:customer|patient|guest|client|member|user|subscriber|sir or madam|sir/madam|account holder)",
    r"(?:ticket|case|order|booking) (?:#|no\.? ?|number )?\d{3,} has (?:been|shipped)",
    r"if you did not (?:make|request|place|book|authori[sz]e)",
    r"please ignore this (?:message|email)",
    r"a member of our team will (?:respond|be in touch|contact you|get back)",
    r"within \d+(?:-\d+)? (?:business|working) days",
    r"we have received your (?:feedback|request|enquiry|inquiry|message|order)",
    r"this (?:email|message) was sent to",
    r"(?:automated|automatic) notification",
    r"badge has been unlocked",
    r"click here",
    r"(?:has|have) been (?:logged|recorded|processed|received)",
    r"(?:under )?reference (?:number |no\.? ?|#)?\d{3,}",
    r"(?:a member of (?:our )?(?:team|staff)|someone) will "
    r"(?:contact you|be in touch|get back to you) shortly",
    r"thank you for your (?:interest|enquiry|inquiry) in",
]


def _phrases(patterns: list[str]) -> re.Pattern[str]:
    # Whole words only, so "automatic" never fires inside "automatically" by accident.
    return re.compile(r"(?<![\w@])(?:" + "|".join(patterns) + r")(?![\w])")


_PHRASE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sales_pitch", _phrases(_SALES_PITCH)),
    ("strings_attached", _phrases(_STRINGS_ATTACHED)),
    ("indebtedness", _phrases(_INDEBTEDNESS)),
    ("begging", _phrases(_BEGGING)),
    ("robotic", _phrases(_ROBOTIC)),
)
_CLICHE_RE = _phrases(_CLICHE)

# A promo code is an upper-case token after "code" ("use code THANKS15"); "the door code for" is not.
_PROMO_CODE = re.compile(r"\b(?i:code)\b[:\s]+[\"']?(?=[A-Z0-9]*[A-Z])[A-Z0-9]{4,}\b")
# Links: a scheme or "www.", or a bare "host.tld/path". Starting only where a host can start, with
# possessive quantifiers, keeps this linear on inputs such as "a.a.a.a..." (no retry from every label).
_URL = re.compile(
    r"(?<![\w.@/-])(?:https?://|www\.)[^\s<>\"]++"
    r"|(?<![\w.@/-])[a-z0-9-]++(?:\.[a-z0-9-]++)++/[^\s<>\"]*+"
)
_SHOP_URL = re.compile(
    r"shop|store|product|collection|pricing|price|sale|deal|offer|cart|buy|checkout|utm_|promo"
)
_ASK_URL = re.compile(r"survey|review|feedback|rate|rating|questionnaire|form|poll")

# --- requests: a clause that asks them to do something for the business ----------------------------------
# Phrase lists miss new wordings of the same ask ("drop us a few stars", "so book your lessons for next
# term now"), so a structural rule reads each clause: is it a request (an imperative opener, "please",
# "could you", "if you could") and does it name something the business wants (a review, a booking, a sale)?

_CLAUSE = re.compile(r"[^.!?\n;:—–,]+")
_REQUEST = re.compile(
    r"^\W*(?:(?:so|and|also|oh|ps|p\.s|just|now|then)\W+)?(?:book|join|enrol|enroll|reserve|shop|buy|order|use|"
    r"claim|grab|tell|share|post|tag|follow|rate|review|leave|drop|fill|send|mention|consider|recommend|refer|"
    r"subscribe|sign up|upgrade|renew|pop|check|treat|don'?t forget|remember to|why not)(?!\w)"
    r"|(?<!\w)(?:please|would you mind|fancy|how about|(?:relying|counting) on you)(?!\w)"
    r"|(?<!\w)we(?:'d| would)? (?:hope|trust) you(?:'ll| will| could| would| can)(?!\w)"
    r"|(?<!\w)(?:could|would|will|can) you(?!\w)"
    r"|(?<!\w)if you(?:'ve| have)? (?:could|would|can|got|get|have|enjoyed|liked|loved|had)(?!\w)"
    r"|(?<!\w)(?:we'?d|we would|i'?d|i would) (?:really |so |truly )?"
    r"(?:love|appreciate|be grateful)(?: it)? if"
)
_ASK_OBJECT = re.compile(
    r"(?<!\w)(?:reviews?|stars?|ratings?|rate|google|tripadvisor|yelp|trustpilot|facebook|instagram|tiktok|"
    r"survey|questionnaire|poll|feedback|recommend\w*|refer\w*|a good word|about us|share|tag|follow|our way|"
    r"tell(?:ing)? (?:your |all your )?(?:friends|people|everyone|family|colleagues|others))"
    r"(?!\w)"
)
_SELL_OBJECT = re.compile(
    r"(?<!\w)(?:book|booking|lessons?|term|membership|members?|join|tickets?|sale|discount\w*|deal|deposit|"
    r"prices?|pricing|order|buy|subscribe|subscription|upgrade|renew|reserve|enrol\w*|places|spaces|slots|"
    r"voucher|coupon|annual service|next (?:order|visit|stay|term|season|booking))(?!\w)"
    r"|[£$€]\s?\d|\d\s?%"
)
_PLEAD_OBJECT = re.compile(
    r"(?<!\w)(?:think of us|come back|bring (?:\w+ ){1,2}back|support us|help us|keep us going|"
    r"stay with us)(?!\w)"
)


def _request_problems(text: str, folded: str, found: list[Problem]) -> list[Problem]:
    problems = []
    for clause in _CLAUSE.finditer(folded):
        said = clause.group(0)
        if not _REQUEST.search(said):
            continue
        if _ASK_OBJECT.search(said):
            kind = "strings_attached"
        elif _SELL_OBJECT.search(said):
            kind = "sales_pitch"
        elif _PLEAD_OBJECT.search(said) and "please" in said:
            kind = "begging"
        else:
            continue
        original = text[clause.start() : clause.end()].strip()
        if not any(p.kind == kind and p.text in original for p in found):
            problems.append(Problem(kind, original, _HINTS[kind], blocking=True))
    return problems


# --- placeholders (matched on the original text: case matters) ----------------------------------------

_PLACEHOLDER = re.compile(
    r"\{\{?[^{}\n]{1,40}\}\}?"
    r"|\$\{[^{}\n]{1,40}\}"
    r"|%%?[A-Za-z_]{2,30}%%?"
    r"|\[[^\[\]\n]{1,40}\]"
    r"|<[A-Za-z_][A-Za-z _]{1,30}>"
    r"|\b[A-Z]{2,}(?:_[A-Z]{2,})+\b"
    r"|\b(?:X{3,}|x{3,}|TODO|FIXME)\b"
    r"|(?i:lorem ipsum)"
)
_BRACKET_FIELD = re.compile(
    r"\[(?:[A-Z][A-Z0-9 _'/-]+|(?i:(?:insert|your|customer|first|last|full|name|product|company|date|"
    r"recipient|client|child|item|pet|business|shop|store|city|amount|link|url)\b.*))\]"
)
_HTML_TAGS = _word_set("a b i u p br hr em li ol ul div span strong html body head")

# --- shouting ------------------------------------------------------------------------------------------

_BANG_RUN = re.compile(r"!{3,}")
_CAPS_WORD = re.compile(r"(?<![\w'’])[A-Z][A-Z'’]{3,}(?![\w])")
_ACRONYMS = _word_set(
    "NASA NATO HMRC LEGO IKEA UNESCO UNICEF FIFA UEFA JPEG HTML HTTP HTTPS JSON YAML IBAN AMEX SCUBA NYSE "
    "ASAP AIDS RSVP ISBN BAFTA OFSTED DVLA HVAC GDPR NHSE CAMRA"
)

# --- names ---------------------------------------------------------------------------------------------

_NAME = r"([^\W\d_][^\W\d_'’]*(?:[-'’][^\W\d_]+)*)(?![\w{])"
_TITLE = (
    r"(?i:mr|mrs|ms|miss|mx|dr|prof|professor|sir|madam|madame|lady|lord|rev|reverend|mme|mlle|herr|frau)"
)
_GREETING = re.compile(
    r"^\W*(?i:dear|hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening)|congratulations|"
    r"congrats|well done|welcome(?: back)?|happy [a-z0-9]+(?: [a-z]+)?)[ \t]*,?[ \t]+"
    r"(?:(" + _TITLE + r")\.?[ \t]+)?" + _NAME + r"(?:[ \t]*,?[ \t]*(?:and|&)[ \t]+" + _NAME + r")?"
)
_OPENING_NAME = re.compile(r"^\W*" + _NAME + r"[ \t]*,")
_THANKS_NAME = re.compile(
    r"\b(?i:many thanks|thanks|thank you)(?i: so much| again| very much| ever so much| a lot| a million)?"
    r"(?:[ \t]*,[ \t]*|[ \t]+)" + _NAME + r"(?=[ \t]*(?:[,.!?;:—–-]|$))"
)
_OPENING_THANKS_NAME = re.compile(
    r"^\W*(?i:thanks|thank you|many thanks|happy|congratulations|congrats|well done|welcome)\b"
    r"[^.!?\n]*?,[ \t]*" + _NAME + r"[ \t]*[.!?]"
)
_NOT_NAMES = _word_set(
    """there all everyone everybody team friend friends folks again customer customers valued patient guest
    member client neighbour neighbor sir madam you both gang family crew yall people world ladies gentlemen
    colleague colleagues partner partners shopper subscriber user reader readers guys mate love dear darling
    hon pal buddy stranger wow well so yes no oh ok okay now today tonight sadly honestly also and but first
    finally look listen right alright hey hello hi thanks thank please sorry congratulations congrats
    remember meanwhile anyway however still then sometimes recently yesterday lately last next because since
    after before here this that indeed truly seriously gosh ah hmm yay hooray cheers morning evening
    afternoon greetings welcome bravo goodness phew ps happy merry just quick note update reminder
    regards best warmly sincerely update news good great merci danke gracias grazie obrigado obrigada hola
    bonjour ciao salut hallo dank tak takk kiitos dziekuje"""
)

# --- specifics -----------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]+|\d{2,}")
_STOP_WORDS = _word_set(
    """the and for you your yours our ours we us with from about that this those these they them their his
    her hers him she he its it's are was were been being have has had having will would could should can
    may might must shall not but all any some each every very really just also too more most much many
    few lot lots one two three four five six seven eight nine ten first second third last next new old
    own same other another such than then there here when where what which who whom why how into onto over
    under again once always never often ever still even only both either neither while during before after
    since until upon out off per via got get gets getting make made makes making said says told tell ask
    asked asks gave give gives given came come comes coming went goes going take took takes taking like
    liked likes love loved loves mention mentioned mentions wrote write writes know knows knew think thought
    want wants wanted need needs needed keep kept hope hoped hopes glad happy great good nice lovely kind
    thank thanks thanked thankful grateful appreciate appreciated wish wishes best dear warm warmly regard
    regards today yesterday tomorrow time times day days week weeks month months year years recent recently
    ago soon later now early late back away long way thing things stuff someone something anything everything
    customer customers client clients patient patients guest guests member members business shop shops store
    stores team staff company order orders ordered ordering purchase purchases purchased buy buys bought
    buying visit visits visited visiting stay stays stayed staying service services product products item
    items experience account usual regular regularly again via did does done doing yes per
    job work help interest enquiry"""
)


@lru_cache(maxsize=1 << 16)  # words repeat across notes; stemming them is the hot path of `generic`
def _stem(word: str) -> str:
    if word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes", "zes")) and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


_STOP_STEMS = frozenset(_stem(w) for w in _STOP_WORDS)


def _content_stems(folded: str, exclude: frozenset[str] = frozenset()) -> set[str]:
    stems = set()
    for word in _WORD.findall(folded):
        if len(word) < 3 or word in _STOP_WORDS:
            continue
        stem = _stem(word)
        if len(stem) >= 3 and stem not in _STOP_STEMS and stem not in exclude:
            stems.add(stem)
    return stems


def _mentions_any(note_stems: set[str], fact_stems: set[str]) -> bool:
    if note_stems & fact_stems:
        return True
    # "Colombia"/"Colombian", "photograph"/"photography": long stems may match by prefix.
    for fact in fact_stems:
        if len(fact) < 5:
            continue
        for word in note_stems:
            if len(word) >= 5 and (word.startswith(fact) or fact.startswith(word)):
                return True
    return False


# --- the check -----------------------------------------------------------------------------------------


def _phrase_problems(kind: str, pattern: re.Pattern[str], text: str, folded: str) -> list[Problem]:
    seen: dict[str, Problem] = {}
    for match in pattern.finditer(folded):
        found = text[match.start() : match.end()]
        if found.lower() not in seen:
            seen[found.lower()] = Problem(kind, found, _HINTS[kind], blocking=True)
    return list(seen.values())


def _link_problems(text: str, folded: str) -> list[Problem]:
    problems = []
    for match in _URL.finditer(folded):
        url = match.group(0)
        if _SHOP_URL.search(url):
            problems.append(
                Problem("sales_pitch", text[match.start() : match.end()], _HINTS["sales_pitch"], True)
            )
        elif _ASK_URL.search(url):
            hint = _HINTS["strings_attached"]
            problems.append(Problem("strings_attached", text[match.start() : match.end()], hint, True))
    for match in _PROMO_CODE.finditer(text):
        problems.append(Problem("sales_pitch", match.group(0), _HINTS["sales_pitch"], True))
    return problems


def _placeholder_problems(text: str) -> list[Problem]:
    problems = []
    for match in _PLACEHOLDER.finditer(text):
        found = match.group(0)
        if found.startswith("[") and not _BRACKET_FIELD.fullmatch(found):
            continue  # "[letter]" in a quotation is an editor's bracket, not a template field
        if found.startswith("<") and found[1:-1].strip().lower() in _HTML_TAGS:
            continue
        problems.append(Problem("placeholder", found, _HINTS["placeholder"], True))
    return problems


def _addressed_names(text: str) -> list[list[str]]:
    """Each entry is one way the note addresses someone; "Hi Rafa and Leo" is one entry of two names."""
    found: list[list[str]] = []
    greeting = _GREETING.match(text)
    if greeting and not greeting.group(1):  # titled greetings carry a surname we cannot check
        found.append([n for n in greeting.groups()[1:] if n])
    names: list[str] = []
    opening = _OPENING_NAME.match(text)
    if opening:
        names.append(opening.group(1))
    opening_thanks = _OPENING_THANKS_NAME.match(text)
    if opening_thanks:
        names.append(opening_thanks.group(1))
    for match in _THANKS_NAME.finditer(text):
        if text[match.end() :].strip(" \t\r\n.,!—–-"):  # "Thanks, Maya" as the very last words is a sign-off
            names.append(match.group(1))
    found += [[n] for n in names]
    kept = [[n for n in group if n[0].isupper() and _fold(n) not in _NOT_NAMES] for group in found]
    return [group for group in kept if group]


def _same_person(name: str, accepted: set[str]) -> bool:
    folded = _fold(name).strip("'’-")
    for known in accepted:
        if folded == known:
            return True
        shorter = min(len(folded), len(known))
        if shorter >= 3 and (known.startswith(folded) or folded.startswith(known)):
            return True
    return False


def _wrong_name_problems(text: str, first_name: str, known_names: Sequence[str]) -> list[Problem]:
    accepted = {_fold(n).strip() for n in (first_name, *known_names) if n.strip()}
    accepted |= {word for n in list(accepted) for word in n.split()}
    if not accepted:
        return []
    problems: dict[str, Problem] = {}
    for group in _addressed_names(text):
        if any(_same_person(name, accepted) for name in group):
            continue  # a couple or a family greeted together: fine when one of them is the person
        shown = " and ".join(group)
        hint = f"{_HINTS['wrong_name']} {first_name}, not {shown}."
        problems.setdefault(_fold(shown), Problem("wrong_name", shown, hint, True))
    return list(problems.values())


def _shouting_problem(text: str) -> Problem | None:
    runs = _BANG_RUN.findall(text)
    bangs = text.count("!")
    caps = [w for w in _CAPS_WORD.findall(text) if w.rstrip("'’S") not in _ACRONYMS and w not in _ACRONYMS]
    if not runs and bangs < 4 and len(caps) < 3:
        return None
    shown = list(dict.fromkeys(runs + caps))[:6]
    if not runs and bangs >= 4:
        shown.insert(0, f"{bangs} exclamation marks")
    return Problem("shouting", ", ".join(shown), _HINTS["shouting"], True)


def _generic_problem(
    folded: str, first_name: str | None, facts: Sequence[str], known_names: Sequence[str]
) -> Problem | None:
    own_names = frozenset(_stem(w) for n in (first_name or "", *known_names) for w in _WORD.findall(_fold(n)))
    fact_stems = set()
    for fact in facts:
        fact_stems |= _content_stems(_fold(fact), own_names)
    if not fact_stems or _mentions_any(_content_stems(folded), fact_stems):
        return None
    examples = "; ".join(f"“{f.strip()}”" for f in facts[:3] if f.strip())
    who = first_name or "this person"
    return Problem("generic", f"nothing specific to {who}", f"{_HINTS['generic']}, e.g. {examples}.", True)


def check_note(
    text: str,
    *,
    first_name: str | None = None,
    facts: Sequence[str] = (),
    channel: str = "email",
    known_names: Sequence[str] = (),
) -> Check:
    """Score a note 0-100 and list its problems; ``ok`` when none of them blocks."""
    if channel not in CHANNEL_LIMITS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {sorted(CHANNEL_LIMITS)}")
    # A lone string is a Sequence[str] too; read it as one fact, not as its characters.
    facts = (facts,) if isinstance(facts, str) else facts
    known_names = (known_names,) if isinstance(known_names, str) else known_names
    folded = _fold(text)
    problems = _placeholder_problems(text)
    if first_name and first_name.strip():
        problems += _wrong_name_problems(text, first_name, known_names)
    for kind, pattern in _PHRASE_RULES:
        problems += _phrase_problems(kind, pattern, text, folded)
    problems += _link_problems(text, folded)
    problems += _request_problems(text, folded, problems)
    cliches = _phrase_problems("cliche", _CLICHE_RE, text, folded)
    problems += [Problem(p.kind, p.text, p.hint, blocking=len(cliches) >= 2) for p in cliches]
    generic = _generic_problem(folded, first_name, facts, known_names)
    shouting = _shouting_problem(text)
    problems += [p for p in (generic, shouting) if p is not None]
    limit = CHANNEL_LIMITS[channel]
    if len(text) > limit:
        hint = f"{_HINTS['too_long']} ({limit} characters at most for {channel})."
        problems.append(Problem("too_long", f"{len(text)} characters, {channel} limit {limit}", hint, True))
    problems.sort(key=lambda p: -_WEIGHTS[p.kind])
    score = 100 - sum(
        _BLOCKING_CLICHE_WEIGHT if p.kind == "cliche" and p.blocking else _WEIGHTS[p.kind] for p in problems
    )
    return Check(
        ok=not any(p.blocking for p in problems), score=max(0, min(100, score)), problems=tuple(problems)
    )
