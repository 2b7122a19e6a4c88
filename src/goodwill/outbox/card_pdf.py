"""Handwritten cards as a print-ready PDF (fpdf2): card fronts in Dancing Script, then envelopes.

Fonts ship inside the package (``outbox/fonts``, licences beside them). Dancing Script has CFF
outlines, which fpdf2 would embed as if they were TrueType (a file some printers reject), so its
outlines are converted to TrueType in memory before embedding; the shipped file is never changed.
Letters Dancing Script lacks (Ł, ś, ő...) fall back to DejaVu Sans, which also writes the envelopes:
plain letters for the post's sorting machines. The layout rules are in ``goodwill.outbox.cards``.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from io import BytesIO
from pathlib import Path

from fontTools.pens.cu2quPen import Cu2QuPen  # type: ignore[import-untyped]
from fontTools.pens.ttGlyphPen import TTGlyphPen  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont, newTable  # type: ignore[import-untyped]
from fpdf import FPDF

from goodwill.outbox.cards import (
    CARD,
    ENVELOPE_SIZE,
    PT,
    CardJob,
    CardProblem,
    FittedNote,
    check_envelope,
    fit_note,
    pages,
    shown,
    undrawable,
    wrap,
)

SCRIPT_FILE = "DancingScript-Regular.otf"
SANS_FILE = "DejaVuSans.ttf"
INK = (28, 52, 104)  # a fountain pen's blue-black
GREY = (150, 150, 150)


def font_file(name: str) -> resources.abc.Traversable:
    return resources.files("goodwill.outbox") / "fonts" / name


@functools.cache
def script_as_truetype() -> bytes:
    """Dancing Script with its cubic (CFF) outlines turned quadratic (TrueType), same metrics."""
    font = TTFont(BytesIO(font_file(SCRIPT_FILE).read_bytes()))
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    font["head"].glyphDataFormat = 0
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs"):
        setattr(maxp, attr, 0)
    maxp.maxZones, maxp.maxStackElements, maxp.maxSizeOfInstructions, maxp.maxComponentElements = 1, 0, 0, 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    font.sfntVersion = "\x00\x01\x00\x00"
    out = BytesIO()
    font.save(out)
    return out.getvalue()


@functools.cache
def code_points(name: str) -> frozenset[int]:
    """Every code point the shipped font ``name`` has a glyph for."""
    return frozenset(TTFont(BytesIO(font_file(name).read_bytes()), lazy=True).getBestCmap())


def can_draw(char: str) -> bool:
    return ord(char) in code_points(SCRIPT_FILE) or ord(char) in code_points(SANS_FILE)


def can_address(char: str) -> bool:
    return ord(char) in code_points(SANS_FILE)


def runs(text: str) -> list[tuple[str, str]]:
    """The text cut into (font, piece): Dancing Script where it has the letter, else DejaVu Sans.

    Done here rather than by fpdf2's fallback fonts, whose font switches inside a coloured cell
    leave the next lines of the page without a font (seen with fpdf2 2.8).
    """
    script = code_points(SCRIPT_FILE)
    out: list[tuple[str, str]] = []
    for char in text:
        family = "script" if char == " " or ord(char) in script else "sans"
        if out and out[-1][0] == family:
            out[-1] = (family, out[-1][1] + char)
        else:
            out.append((family, char))
    return out


@dataclass(frozen=True)
class Rendered:
    pdf: bytes | None  # None when no card could be printed
    printed: list[CardJob] = field(default_factory=list)
    problems: list[CardProblem] = field(default_factory=list)


class CardPdf:
    """One PDF of cards and envelopes; fonts are loaded once and measure the layout."""

    def __init__(self, folder: Path, *, title: str, created_at: datetime) -> None:
        script = folder / "DancingScript-Regular.ttf"
        script.write_bytes(script_as_truetype())
        sans = folder / SANS_FILE
        sans.write_bytes(font_file(SANS_FILE).read_bytes())
        pdf = FPDF(unit="mm", format=(CARD.height, CARD.width))
        pdf.set_auto_page_break(False)
        pdf.set_margin(0)
        pdf.add_font("script", "", str(script))
        pdf.add_font("sans", "", str(sans))
        pdf.c_margin = 0  # text starts exactly where the layout says
        pdf.set_title(title)
        pdf.set_creator("Goodwill")
        pdf.set_creation_date(created_at)
        self.pdf = pdf

    def width(self, family: str, text: str, size: float) -> float:
        self.pdf.set_font(family, size=size)
        return float(self.pdf.get_string_width(text))

    def handwriting_width(self, text: str, size: float) -> float:
        return sum(self.width(family, piece, size) for family, piece in runs(text))

    def handwrite(self, x: float, y: float, text: str, *, size: float, height: float) -> None:
        for family, piece in runs(text):
            self.pdf.set_font(family, size=size)
            self.pdf.set_xy(x, y)
            self.pdf.cell(h=height, text=piece)
            x += self.width(family, piece, size)

    def fit(self, job: CardJob) -> FittedNote:
        return fit_note(
            job.body, message_id=job.message_id, measure=self.handwriting_width, can_draw=can_draw
        )

    def card(self, fitted: FittedNote, number: int, count: int) -> None:
        pdf = self.pdf
        pdf.add_page(format=(CARD.height, CARD.width), orientation="L")
        pdf.set_text_color(*INK)
        y = CARD.margin_y + (CARD.text_height - fitted.height) / 2
        for line in fitted.lines:
            if not line.text:
                y += fitted.line_height * CARD.gap
                continue
            x = CARD.margin_x
            if line.right:
                x = CARD.width - CARD.margin_x - self.handwriting_width(line.text, fitted.size)
            self.handwrite(x, y, line.text, size=fitted.size, height=fitted.line_height)
            y += fitted.line_height
        self._match_mark(f"{number}/{count}", CARD.width - 4, CARD.height - 4, right=True)

    def envelope(self, job: CardJob, sender: Sequence[str], number: int, count: int) -> None:
        pdf = self.pdf
        width, height = ENVELOPE_SIZE
        pdf.add_page(format=(height, width), orientation="L")
        pdf.set_text_color(0, 0, 0)
        for n, line in enumerate(self._wrapped(sender, room=58.0, size=8)):
            pdf.set_font("sans", size=8)
            pdf.set_xy(10, 10 + n * 3.6)
            pdf.cell(h=3.6, text=line)
        left, room = 72.0, width - 72.0 - 10
        size = 11.0
        while size > 8 and any(self.width("sans", line, size) > room for line in job.address):
            size -= 0.5
        lines = self._wrapped(job.address, room=room, size=size)
        step = size * PT * 1.35
        top = min(56.0, height - 12 - step * len(lines))
        pdf.set_font("sans", size=size)
        for n, line in enumerate(lines):
            pdf.set_xy(left, top + n * step)
            pdf.cell(h=step, text=line)
        self._match_mark(f"{number}/{count}", 6, height - 4, right=False)

    def _wrapped(self, lines: Sequence[str], *, room: float, size: float) -> list[str]:
        """Address lines too wide for their block go on to the next line, never off the page."""
        measure = functools.partial(self.width, "sans")
        return [part for line in lines for part in wrap(line, width=room, size=size, measure=measure)]

    def _match_mark(self, text: str, x: float, y: float, *, right: bool) -> None:
        """A small grey number so card n goes into envelope n."""
        pdf = self.pdf
        pdf.set_text_color(*GREY)
        pdf.set_font("sans", size=6)
        pdf.set_xy(x - self.width("sans", text, 6) if right else x, y - 2.5)
        pdf.cell(h=2.5, text=text)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render_cards(
    jobs: Sequence[CardJob], *, sender: Sequence[str], title: str, created_at: datetime
) -> Rendered:
    """Lay out every card; render those that fit, and say why the others cannot be printed."""
    missing = undrawable(" ".join(sender), can_address)
    if missing:
        raise ValueError(f"the envelope font cannot draw {shown(missing)} in the business's name or address")
    with tempfile.TemporaryDirectory(prefix="goodwill-cards-") as folder:
        doc = CardPdf(Path(folder), title=title, created_at=created_at)
        fitted: dict[int, FittedNote] = {}
        printed: list[CardJob] = []
        problems: list[CardProblem] = []
        for job in jobs:
            try:
                check_envelope(job, can_address)
                fitted[job.message_id] = doc.fit(job)
                printed.append(job)
            except CardProblem as problem:
                problems.append(problem)
        if not printed:
            return Rendered(pdf=None, problems=problems)
        count = len(printed)
        for page in pages(printed):
            if page.kind == "card":
                doc.card(fitted[page.job.message_id], page.number, count)
            else:
                doc.envelope(page.job, sender, page.number, count)
        return Rendered(pdf=doc.output(), printed=printed, problems=problems)
