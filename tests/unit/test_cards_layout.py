"""The pure layout of printed cards: wrapping, shrinking to fit, refusing, page order, addresses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.outbox.cards import (
    CARD,
    CardDoesNotFit,
    CardHasUndrawableCharacters,
    CardJob,
    check_envelope,
    fit_note,
    lay_out,
    missing_address,
    page_numbers,
    pages,
    paragraphs,
    postal_lines,
    return_lines,
    sizes,
    wrap,
)


def mono(text: str, size: float) -> float:
    """A monospaced stand-in for font metrics: each character is 0.2 x size mm wide."""
    return len(text) * size * 0.2


def everything(char: str) -> bool:
    return True


def words(text: str) -> list[str]:
    return text.split()


def test_paragraphs_keep_lines_and_one_gap_between_paragraphs() -> None:
    body = "\r\n  Dear Zoë,\r\n\r\n\r\nThank   you\tfor the tea.\nIt was lovely.\n\n\nMaya\n\n"
    assert paragraphs(body) == ["Dear Zoë,", "", "Thank you for the tea.", "It was lovely.", "", "Maya"]


def test_wrap_is_greedy_and_keeps_every_word() -> None:
    text = "one two three four five six seven eight nine ten"
    lines = wrap(text, width=14 * 2.0, size=10, measure=mono)  # 14 characters a line
    assert lines == ["one two three", "four five six", "seven eight", "nine ten"]
    assert all(mono(line, 10) <= 28 for line in lines)


def test_a_word_longer_than_a_line_is_broken_between_letters_not_dropped() -> None:
    lines = wrap("see https://example.com/thanks", width=10 * 2.0, size=10, measure=mono)
    assert lines == ["see", "https://ex", "ample.com/", "thanks"]
    assert "".join(lines[1:]) == "https://example.com/thanks"


def test_the_signature_sits_on_the_right_and_other_lines_on_the_left() -> None:
    note = lay_out("Dear Ann,\n\nThank you.\n\nMaya", size=12, geometry=CARD, measure=mono)
    assert [(line.text, line.right) for line in note.lines] == [
        ("Dear Ann,", False),
        ("", False),
        ("Thank you.", False),
        ("", False),
        ("Maya", True),
    ]
    # A gap between paragraphs is 0.6 of a line.
    assert note.height == pytest.approx(note.line_height * (3 + 2 * CARD.gap))


def test_a_last_long_paragraph_is_not_a_signature() -> None:
    note = lay_out(
        "Dear Ann,\n\nThank you for coming back to us again and again this year.",
        size=12,
        geometry=CARD,
        measure=mono,
    )
    assert not any(line.right for line in note.lines)


def test_sizes_go_down_from_the_largest_to_the_smallest() -> None:
    found = sizes(CARD)
    assert found[0] == CARD.max_size and found[-1] == CARD.min_size
    assert found == sorted(found, reverse=True) and len(found) == 15


def test_a_short_note_is_written_at_the_largest_size() -> None:
    note = fit_note("Dear Ann,\n\nThank you.\n\nMaya", message_id=1, measure=mono, can_draw=everything)
    assert note.size == CARD.max_size


def test_a_long_note_shrinks_until_it_fits_and_keeps_every_word() -> None:
    body = (
        "Dear Ann,\n\n" + "We remember the blue teapot and the rainy Tuesday you came in. " * 5 + "\n\nMaya"
    )
    at_max = lay_out(body, size=CARD.max_size, geometry=CARD, measure=mono)
    assert at_max.height > CARD.text_height  # it would not fit at the largest size
    note = fit_note(body, message_id=7, measure=mono, can_draw=everything)
    assert CARD.min_size <= note.size < CARD.max_size
    assert note.height <= CARD.text_height
    # One step larger would not have fitted: it is the largest size that does.
    larger = lay_out(body, size=note.size + CARD.step, geometry=CARD, measure=mono)
    assert larger.height > CARD.text_height
    assert words(" ".join(line.text for line in note.lines)) == words(body)


def test_a_note_too_long_even_at_the_smallest_size_is_refused_by_its_message() -> None:
    body = "Dear Ann, " + "thank you for every single order over all these years " * 40
    with pytest.raises(CardDoesNotFit) as raised:
        fit_note(body, message_id=42, measure=mono, can_draw=everything)
    assert raised.value.message_id == 42
    assert raised.value.reason == "too_long"
    assert "card message 42" in str(raised.value)
    assert f"even at {CARD.min_size:g} pt" in str(raised.value)


def test_an_empty_note_is_refused() -> None:
    with pytest.raises(CardDoesNotFit, match="empty"):
        fit_note(" \n\n ", message_id=3, measure=mono, can_draw=everything)


def test_characters_no_font_can_draw_are_named_not_dropped() -> None:
    with pytest.raises(CardHasUndrawableCharacters) as raised:
        fit_note("Dear 王芳, thank you 茶 茶", message_id=5, measure=mono, can_draw=lambda c: ord(c) < 0x3000)
    assert raised.value.message_id == 5
    assert "王 (U+738B), 芳 (U+82B3), 茶 (U+8336)" in raised.value.detail


def test_an_envelope_address_no_font_can_draw_is_refused() -> None:
    job = CardJob(9, 1, "王芳", "Dear Fang", ("王芳", "1 Road", "Town"))
    with pytest.raises(CardHasUndrawableCharacters, match="name or address of 王芳"):
        check_envelope(job, lambda c: ord(c) < 0x3000)
    check_envelope(
        CardJob(9, 1, "Zoë", "Dear Zoë", ("Zoë", "1 rue X", "75001 Paris")), lambda c: ord(c) < 0x3000
    )


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.just("\n"),
            st.just("\n\n"),
            st.text(alphabet="abcdefghijklmnopqrstuvwxyzéøŁ,.'", min_size=1, max_size=60),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_a_note_either_fits_whole_or_is_refused(pieces: list[str]) -> None:
    body = " ".join(pieces)
    try:
        note = fit_note(body, message_id=1, measure=mono, can_draw=everything)
    except CardDoesNotFit:
        smallest = lay_out(body, size=CARD.min_size, geometry=CARD, measure=mono)
        assert not paragraphs(body) or smallest.height > CARD.text_height
        return
    assert note.height <= CARD.text_height
    assert all(mono(line.text, note.size) <= CARD.text_width for line in note.lines)
    # Nothing lost: the letters on the card are the letters of the note, in order.
    assert "".join(line.text for line in note.lines).replace(" ", "") == "".join(body.split())


def job(n: int) -> CardJob:
    return CardJob(
        message_id=100 + n, person_id=n, name=f"P{n}", body="Hi", address=(f"P{n}", "1 Road", "Town")
    )


def test_pages_are_every_card_then_every_envelope_in_the_same_order() -> None:
    jobs = [job(1), job(2), job(3)]
    found = [(p.kind, p.number, p.job.message_id) for p in pages(jobs)]
    assert found == [
        ("card", 1, 101),
        ("card", 2, 102),
        ("card", 3, 103),
        ("envelope", 1, 101),
        ("envelope", 2, 102),
        ("envelope", 3, 103),
    ]
    assert page_numbers(2, 3) == (2, 5)
    for index, page in enumerate(pages(jobs), start=1):
        card_page, envelope_page = page_numbers(page.number, len(jobs))
        assert index == (card_page if page.kind == "card" else envelope_page)


def test_addresses_follow_the_custom_of_the_destination() -> None:
    common = {"name": "Zoë Martin", "line1": "1 rue de la Paix", "line2": None, "region": None}
    assert postal_lines(**common, city="Paris", postal_code="75002", country="France") == [
        "Zoë Martin",
        "1 rue de la Paix",
        "75002 Paris",
        "FRANCE",
    ]
    assert postal_lines(
        name="Ann Lee", line1="12 High St", line2="Flat 2", city="Bath", region="", postal_code="BA1 1AA",
        country="United Kingdom",
    ) == ["Ann Lee", "12 High St", "Flat 2", "Bath", "BA1 1AA", "UNITED KINGDOM"]  # fmt: skip
    assert postal_lines(
        name="José Álvarez", line1="742 Evergreen Terrace", line2=None, city="Springfield", region="IL",
        postal_code="62704", country=None,
    ) == ["José Álvarez", "742 Evergreen Terrace", "Springfield, IL 62704"]  # fmt: skip


def test_what_is_missing_from_an_address_is_said() -> None:
    assert missing_address(name="Ann", line1="1 Road", city="Bath", postal_code=None) is None
    assert missing_address(name="Ann", line1="1 Road", city=None, postal_code="BA1 1AA") is None
    assert missing_address(name="Ann", line1=" ", city=None, postal_code=None) == (
        "address line 1 and a city or postcode"
    )
    assert missing_address(name="", line1="1 Road", city="Bath", postal_code=None) == "a name"


def test_the_return_address_is_one_part_a_line() -> None:
    assert return_lines("Teapot & Co", "12 High Street, Bath BA1 1AA, UK") == [
        "Teapot & Co",
        "12 High Street",
        "Bath BA1 1AA",
        "UK",
    ]
    assert return_lines("Teapot & Co", "12 High Street, Unit 4\nBath") == [
        "Teapot & Co",
        "12 High Street, Unit 4",
        "Bath",
    ]
    assert return_lines("Teapot & Co", "") == ["Teapot & Co"]
