"""Handwritten cards, the pure part: what goes on which page, and how a note fits on a card.

A print run is one PDF: first every card front, then every envelope, in the same order (card 3
goes in envelope 3; a small grey number in a corner of each says so). Two blocks rather than
card/envelope pairs because cards and envelopes are different stock: print pages ``1..n`` on A6
card and ``n+1..2n`` on C6 envelopes, two jobs with no swapping of paper between pages.

A note is wrapped into the card's writing area at the largest size that fits, shrinking step by
step down to a minimum; a note that does not fit even then, or that has a character no shipped font
can draw, is refused with an error naming the message. Nothing is ever cut off or dropped.

Widths come from a ``measure(text, size_pt) -> mm`` function, so this module needs no fonts and no
PDF library; ``goodwill.outbox.card_pdf`` passes the real font metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

PT = 25.4 / 72  # one typographic point in millimetres

Measure = Callable[[str, float], float]  # (text, font size in pt) -> width in mm
CanDraw = Callable[[str], bool]  # whether some shipped font has a glyph for this character


@dataclass(frozen=True)
class CardGeometry:
    """Sizes in millimetres (font sizes in points). The default is an A6 landscape card."""

    width: float = 148.0
    height: float = 105.0
    margin_x: float = 14.0
    margin_y: float = 12.0
    max_size: float = 18.0
    min_size: float = 11.0
    step: float = 0.5
    leading: float = 1.3  # line height / font size
    gap: float = 0.6  # the blank line between paragraphs, in lines

    @property
    def text_width(self) -> float:
        return self.width - 2 * self.margin_x

    @property
    def text_height(self) -> float:
        return self.height - 2 * self.margin_y


CARD = CardGeometry()
ENVELOPE_SIZE = (162.0, 114.0)  # C6, landscape: holds an A6 card


@dataclass(frozen=True)
class Line:
    text: str  # "" for the gap between paragraphs
    right: bool = False  # the signature sits on the right, as a hand would put it


@dataclass(frozen=True)
class FittedNote:
    size: float  # font size, pt
    lines: tuple[Line, ...]
    line_height: float  # mm
    height: float  # of the whole block, mm


class CardProblem(Exception):
    """A card that cannot be printed as it is; it stays queued and is reported."""

    reason = "unprintable"

    def __init__(self, message_id: int, detail: str) -> None:
        super().__init__(f"card message {message_id}: {detail}")
        self.message_id = message_id
        self.detail = detail


class CardDoesNotFit(CardProblem):
    reason = "too_long"


class CardHasUndrawableCharacters(CardProblem):
    reason = "unsupported_characters"


def paragraphs(body: str) -> list[str]:
    """The note's lines as written, runs of blank lines made one, "" for a gap between paragraphs."""
    out: list[str] = []
    for raw in body.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ").split("\n"):
        line = " ".join(raw.split())
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def wrap(text: str, *, width: float, size: float, measure: Measure) -> list[str]:
    """Greedy word wrap; a word wider than the line on its own is broken between letters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if measure(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        if measure(word, size) <= width:
            continue
        current = ""
        for char in word:  # a word too long for a whole line of its own (a web address, say)
            if current and measure(current + char, size) > width:
                lines.append(current)
                current = ""
            current += char
        if measure(current, size) > width:  # a single letter wider than the card: nothing helps
            raise ValueError(f"{current!r} is wider than the writing area at {size} pt")
    if current:
        lines.append(current)
    return lines


def _is_signature(paras: list[str]) -> bool:
    """A last paragraph of one short line after a gap ("Maya", "the Teapot & Co team") is a signature."""
    return len(paras) >= 3 and paras[-2] == "" and len(paras[-1].split()) <= 6 and len(paras[-1]) <= 40


def lay_out(body: str, *, size: float, geometry: CardGeometry, measure: Measure) -> FittedNote:
    """The note wrapped at one size, with its height; it may be taller than the card."""
    paras = paragraphs(body)
    signature = _is_signature(paras)
    lines: list[Line] = []
    for index, para in enumerate(paras):
        if not para:
            lines.append(Line(""))
            continue
        right = signature and index == len(paras) - 1
        for text in wrap(para, width=geometry.text_width, size=size, measure=measure):
            lines.append(Line(text, right=right))
    line_height = size * PT * geometry.leading
    height = sum(line_height * (geometry.gap if not line.text else 1.0) for line in lines)
    return FittedNote(size=size, lines=tuple(lines), line_height=line_height, height=height)


def sizes(geometry: CardGeometry) -> list[float]:
    """From the largest size down to the smallest, in steps."""
    count = round((geometry.max_size - geometry.min_size) / geometry.step)
    return [geometry.max_size - i * geometry.step for i in range(count + 1)]


def undrawable(text: str, can_draw: CanDraw) -> list[str]:
    """Characters of the note that no font has (emoji, for example), each once, in order."""
    seen: list[str] = []
    for char in text:
        if char in "\n\r\t" or char.isspace() or char in seen:
            continue
        if not can_draw(char):
            seen.append(char)
    return seen


def shown(chars: Sequence[str]) -> str:
    return ", ".join(f"{c} (U+{ord(c):04X})" for c in chars[:5]) + (" and more" if len(chars) > 5 else "")


def check_envelope(job: CardJob, can_draw: CanDraw) -> None:
    """The recipient's name and address must be drawn whole, or the card is held."""
    missing = undrawable(" ".join(job.address), can_draw)
    if missing:
        raise CardHasUndrawableCharacters(
            job.message_id,
            f"the envelope font cannot draw {shown(missing)} in the name or address of {job.name}; "
            "write the address in Latin, Greek or Cyrillic letters to print it",
        )


def fit_note(
    body: str,
    *,
    message_id: int,
    measure: Measure,
    can_draw: CanDraw,
    geometry: CardGeometry = CARD,
) -> FittedNote:
    """The note at the largest size that fits the card, or a ``CardProblem`` saying why not."""
    missing = undrawable(body, can_draw)
    if missing:
        raise CardHasUndrawableCharacters(
            message_id, f"the card fonts cannot draw {shown(missing)}; take them out of the note to print it"
        )
    if not paragraphs(body):
        raise CardDoesNotFit(message_id, "the note is empty")
    fitted: FittedNote | None = None
    for size in sizes(geometry):
        fitted = lay_out(body, size=size, geometry=geometry, measure=measure)
        if fitted.height <= geometry.text_height:
            return fitted
    assert fitted is not None
    raise CardDoesNotFit(
        message_id,
        f"the note does not fit on the card even at {geometry.min_size:g} pt "
        f"({len(fitted.lines)} lines, {fitted.height:.0f} mm of writing for {geometry.text_height:.0f} mm); "
        "it was not printed: shorten it",
    )


# Where the postcode comes before the town ("75001 Paris"), by ISO code or common name.
# fmt: off
_POSTCODE_FIRST = frozenset([
    "fr", "france", "de", "germany", "deutschland", "es", "spain", "españa", "it", "italy", "italia",
    "nl", "netherlands", "nederland", "be", "belgium", "belgique", "belgië", "ch", "switzerland",
    "schweiz", "suisse", "svizzera", "at", "austria", "österreich", "pl", "poland", "polska",
    "pt", "portugal", "se", "sweden", "sverige", "no", "norway", "norge", "dk", "denmark", "danmark",
    "fi", "finland", "suomi", "cz", "czechia", "česko", "sk", "slovakia", "lu", "luxembourg",
    "gr", "greece", "is", "iceland", "ee", "estonia", "si", "slovenia", "hr", "croatia",
])
# fmt: on
# Where the postcode stands on a line of its own, after the town.
_POSTCODE_OWN_LINE = frozenset(
    ["gb", "uk", "united kingdom", "great britain", "england", "scotland", "wales", "northern ireland"]
)


def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


def missing_address(*, name: str, line1: str | None, city: str | None, postal_code: str | None) -> str | None:
    """What is missing for the post to deliver a card, or None when the address is usable."""
    missing = []
    if not _clean(name):
        missing.append("a name")
    if not _clean(line1):
        missing.append("address line 1")
    if not _clean(city) and not _clean(postal_code):
        missing.append("a city or postcode")
    return " and ".join(missing) if missing else None


def postal_lines(
    *,
    name: str,
    line1: str | None,
    line2: str | None,
    city: str | None,
    region: str | None,
    postal_code: str | None,
    country: str | None,
) -> list[str]:
    """The recipient block of an envelope, in the order the post of the destination expects."""
    town, area, code = _clean(city), _clean(region), _clean(postal_code)
    key = _clean(country).casefold()
    lines = [_clean(name), _clean(line1), _clean(line2)]
    if key in _POSTCODE_FIRST:
        lines += [" ".join(p for p in (code, town) if p), area]
    elif key in _POSTCODE_OWN_LINE:
        lines += [town, area, code]
    else:  # "Springfield, IL 62704", "Sydney, NSW 2000"
        lines.append(", ".join(p for p in (town, " ".join(p for p in (area, code) if p)) if p))
    if key:
        lines.append(_clean(country).upper())
    return [line for line in lines if line]


def return_lines(business_name: str, postal_address: str) -> list[str]:
    """The sender block: the business name, then its address one part a line."""
    parts = postal_address.splitlines() if "\n" in postal_address else postal_address.split(",")
    return [line for line in (_clean(business_name), *(_clean(p) for p in parts)) if line]


@dataclass(frozen=True)
class CardJob:
    """One card to print: the note, and the envelope it goes in."""

    message_id: int
    person_id: int | None
    name: str
    body: str
    address: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    kind: str  # "card" or "envelope"
    number: int  # 1-based position in the run, the same on a card and its envelope
    job: CardJob


def pages(jobs: Sequence[CardJob]) -> list[Page]:
    """Every card front, then every envelope, in the same order (see the module's docstring)."""
    fronts = [Page("card", n, job) for n, job in enumerate(jobs, start=1)]
    envelopes = [Page("envelope", n, job) for n, job in enumerate(jobs, start=1)]
    return fronts + envelopes


def page_numbers(number: int, count: int) -> tuple[int, int]:
    """The PDF pages (1-based) of card ``number`` of ``count`` and of its envelope."""
    return number, count + number
