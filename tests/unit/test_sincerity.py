"""The sincerity check: each kind found with its words, tricky sincere notes left alone, the labelled set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goodwill.notes.sincerity import CHANNEL_LIMITS, PROBLEM_KINDS, Check, Problem, check_note

LABELLED = Path(__file__).resolve().parents[1] / "data" / "notes_labelled.jsonl"
TEA = ["third order of Lapsang Souchong", "mentioned a cabin trip to the Cairngorms"]


def kinds(check: Check) -> set[str]:
    return {p.kind for p in check.problems}


def problem(check: Check, kind: str) -> Problem:
    found = [p for p in check.problems if p.kind == kind]
    assert found, f"no {kind} in {check.problems}"
    return found[0]


def test_public_tables() -> None:
    assert set(PROBLEM_KINDS) == {
        "cliche", "sales_pitch", "strings_attached", "indebtedness", "begging", "generic",
        "wrong_name", "placeholder", "robotic", "shouting", "too_long",
    }  # fmt: skip
    assert CHANNEL_LIMITS == {"email": 1200, "card": 450, "sms": 320, "call": 1500}


def test_a_sincere_specific_note_scores_100() -> None:
    check = check_note(
        "Hi Priya, I packed your Lapsang myself and hope the Cairngorms cabin is cosy. — Maya",
        first_name="Priya",
        facts=TEA,
        channel="sms",
    )
    assert check == Check(ok=True, score=100, problems=())
    assert check.as_dict() == {"ok": True, "score": 100, "problems": []}


# One note per kind; the offending words must come back exactly as written in the note.
DETECTS = [
    (
        "cliche",
        "Thank you for your business, Priya. We value your loyalty. — Maya",
        "Thank you for your business",
    ),
    ("sales_pitch", "Thanks Priya! Use code THANKS15 for 15% off. — Maya", "code THANKS15"),
    ("sales_pitch", "Thanks Priya! Shop now: leafandkettle.com/shop", "leafandkettle.com/shop"),
    ("sales_pitch", "Thanks, Priya. P.S. 10% off your next tin.", "10% off"),
    ("sales_pitch", "Hi Priya, check out our new Oolong range. — Maya", "check out our new"),
    (
        "strings_attached",
        "Hi Priya, if you have a minute, we’d love your feedback on Google.",
        "we’d love your feedback",
    ),
    ("strings_attached", "Hi Priya, please fill out our customer survey.", "fill out our customer survey"),
    ("strings_attached", "Hi Priya, refer a friend and you both save. — Maya", "refer a friend"),
    (
        "strings_attached",
        "Hi Priya, drop us a few stars on Google if you can.",
        "drop us a few stars on Google if you can",
    ),
    ("indebtedness", "Hi Priya, after all we did for you, return the favor! — Maya", "after all we did"),
    ("indebtedness", "Hi Priya, you owe us one. — Maya", "you owe us"),
    ("begging", "Hi Priya, please don't leave us, times are tough. — Maya", "please don't leave"),
    ("robotic", "This is an automated message. Please do not reply.", "This is an automated message"),
    ("robotic", "Dear Customer, thank you for your order.", "Dear Customer"),
    ("placeholder", "Hi {first_name}, thanks for your order of [PRODUCT].", "{first_name}"),
    ("placeholder", "Dear <name>, thank you. — Maya", "<name>"),
    ("placeholder", "Hi Priya, thanks for the ${item}! — Maya", "${item}"),
    ("placeholder", "Hi Priya, we hope [insert gift] was lovely.", "[insert gift]"),
    ("placeholder", "Hi FIRST_NAME, thank you. — Maya", "FIRST_NAME"),
]


@pytest.mark.parametrize(("kind", "text", "offending"), DETECTS)
def test_each_kind_is_detected_with_its_words(kind: str, text: str, offending: str) -> None:
    check = check_note(text, first_name="Priya")
    found = [p for p in check.problems if p.kind == kind]
    assert any(p.text == offending for p in found), check.problems
    assert all(p.text in text for p in found)
    assert not check.ok
    assert check.score <= 75


def test_one_cliche_warns_and_two_block() -> None:
    one = check_note(
        "Thank you for your business, Priya — and for the Cairngorms postcard!", first_name="Priya"
    )
    assert one.ok and one.score == 90
    assert problem(one, "cliche").blocking is False
    two = check_note(
        "Thank you for your business, Priya. Customers like you are special.", first_name="Priya"
    )
    assert not two.ok and two.score == 70
    assert [p.text for p in two.problems] == ["Thank you for your business", "Customers like you"]


@pytest.mark.parametrize(
    ("text", "first_name", "known"),
    [
        ("Dear Zoe, thank you for the jasmine pearls.", "Zoë", ()),
        ("Dear Zoë, thank you for the jasmine pearls.", "Zoe", ()),
        ("Dear ZOE, thank you for the jasmine pearls.", "zoë", ()),
        ("Dear Łukasz, thank you for the pickles.", "Lukasz", ()),
        ("Hi Alex, thanks for the bike.", "Alexandra", ()),
        ("Hi Alexandra, thanks for the bike.", "Alex", ()),
        ("Hi Ollie, thanks for the bike.", "Oliver", ("Ollie",)),
        ("Hi Mary Ann, thanks for the bike.", "Mary Ann", ()),
        ("Dear Mrs. Holt, thank you for the bikes.", "Eleanor", ()),
        ("Hi Rafa and Leo, thank you for letting us photograph the wedding.", "Rafa", ()),
        ("Hi there, thank you for the whisky.", "Hamish", ()),
        ("Dear Valued Customer, thank you.", "Priya", ()),
        ("Robin,\n\nThe Keemun is on its way.\n\nThanks,\nMaya", "Robin", ()),
        ("Hi Robin, the Keemun is on its way. Thanks, Maya", "Robin", ()),
        ("Hi, it's Dev from Spoke & Chain. Marta, thank you for the Peugeot.", "Marta", ()),
        ("Thanks for the kind words about Jess's haircut, Omar. — Jade", "Omar", ()),
    ],
)
def test_right_names_are_accepted(text: str, first_name: str, known: tuple[str, ...]) -> None:
    assert "wrong_name" not in kinds(check_note(text, first_name=first_name, known_names=known))


@pytest.mark.parametrize(
    ("text", "first_name", "named"),
    [
        ("Dear Sarah, thank you for your third order.", "Priya", "Sarah"),
        ("Hi Jonah, congratulations on the ride!", "Jonas", "Jonah"),
        ("Thanks so much, Peter! The cake was a joy to make.", "Ines", "Peter"),
        ("Thank you, Daniel, for trusting us with the Gibson.", "Frank", "Daniel"),
        ("Clara, congratulations on your 100th class!", "Claire", "Clara"),
        ("Thank you for shopping with us today, Tom.", "Ana", "Tom"),
        ("Happy birthday, Sven! — Giulia", "Mei", "Sven"),
    ],
)
def test_wrong_names_are_reported(text: str, first_name: str, named: str) -> None:
    found = problem(check_note(text, first_name=first_name), "wrong_name")
    assert found.text == named
    assert first_name in found.hint


def test_no_name_check_without_a_first_name() -> None:
    assert "wrong_name" not in kinds(check_note("Dear Sarah, thank you.", first_name=None))
    assert "wrong_name" not in kinds(check_note("Dear Sarah, thank you.", first_name="  "))


def test_generic_needs_a_fact_word_and_the_name_is_not_enough() -> None:
    vague = check_note("Hi Priya, thank you for being with us. — Maya", first_name="Priya", facts=TEA)
    assert problem(vague, "generic").blocking and not vague.ok
    assert "Lapsang" in problem(vague, "generic").hint
    named = check_note("Priya, Priya, Priya: thank you!", first_name="Priya", facts=["Priya loves Priya"])
    assert "generic" not in kinds(named)  # the only fact words are her name: nothing to demand
    specific = check_note("Hi Priya, enjoy the Lapsang. — Maya", first_name="Priya", facts=TEA)
    assert specific.ok
    assert check_note("Hi Priya, thank you for being with us.", first_name="Priya", facts=()).ok


@pytest.mark.parametrize(
    ("note", "fact"),
    [
        ("The blue glaze is gorgeous.", "glazed her first bowl"),
        ("Thanks for the knitting tips.", "knitted a jumper"),
        ("Enjoy the new bikes.", "bought a bike"),
        ("How was the Colombian farm?", "visited Colombia"),
        ("Hope the fig jam went down well.", "brought fig jam"),
        ("Thanks for the labelled envelopes.", "labels everything"),
    ],
)
def test_generic_stems_plurals_and_tenses(note: str, fact: str) -> None:
    assert "generic" not in kinds(check_note(note, first_name="Ana", facts=[fact]))


def test_commerce_words_do_not_count_as_specific() -> None:
    check = check_note("Thank you for your order and your visit.", facts=["ordered twice", "visited in May"])
    assert "generic" in kinds(check)


def test_a_fact_given_as_one_string_is_one_fact() -> None:
    assert check_note("Enjoy the Lapsang!", facts="loves Lapsang").ok
    assert not check_note("Thanks for everything!", facts="loves Lapsang").ok


@pytest.mark.parametrize("channel", sorted(CHANNEL_LIMITS))
def test_too_long_for_the_channel(channel: str) -> None:
    limit = CHANNEL_LIMITS[channel]
    assert check_note("a" * limit, channel=channel).ok
    longer = check_note("a" * (limit + 1), channel=channel)
    assert problem(longer, "too_long").text == f"{limit + 1} characters, {channel} limit {limit}"
    assert not longer.ok


def test_unknown_channel_is_an_error() -> None:
    with pytest.raises(ValueError, match="fax"):
        check_note("Thanks!", channel="fax")


@pytest.mark.parametrize(
    ("text", "shouts"),
    [
        ("Thank you! Enjoy the tea!", False),
        ("Thank you!! Enjoy the tea.", False),
        ("We flew to the USA and NYC with HMRC forms and LEGO.", False),
        ("Thank you!!! Enjoy.", True),
        ("Thanks! Really! Truly! Enjoy!", True),
        ("THANK YOU for being AMAZING and WONDERFUL.", True),
    ],
)
def test_shouting(text: str, shouts: bool) -> None:
    assert ("shouting" in kinds(check_note(text))) is shouts


# Sincere notes with words that look like problems in other senses: none of these may fail.
SINCERE = [
    ("Hi Ana, thank you for being with us through the move to Leeds.", ["moved to Leeds"]),
    ("Hi Nadia, the door code for early appointments is on the card.", ["early appointment"]),
    ("Hi Sven, I reviewed your booking myself and moved you to the garden room.", ["garden room"]),
    ("Hi Ahmed, thank you for the offer to help at the fair.", ["offered to help at the fair"]),
    ("Dear Tomás, I hope the Darjeeling keeps you warm. — Maya", ["bought Darjeeling"]),
    ("Hi Yusuf, thanks for your review of our API docs on the forum.", ["API docs"]),
    ("Hi Ibrahim, your feedback on the gallery is why it loads on phones now.", ["gallery feedback"]),
    ("Hi Tobias, no need to reply — thank you for the postcard from Lofoten.", ["Lofoten postcard"]),
    ("Hi Moses, feel free to claim a cinnamon bun on us, for the street fair help.", ["street fair"]),
    ("Dear Celeste, we owe you one for spotting the mislabelled shelf.", ["mislabelled shelf"]),
    ("Hi Ewan, I hope the land survey for the new office went well.", ["new office"]),
    ("Hi Kim, thanks for bringing your friend Jo to the bike fitting.", ["bike fitting"]),
    ("Hi Tess, thank you for recommending us to your sister.", ["recommended us to her sister"]),
    ("Hi Lotte, come back and play the Steinway any time.", ["played the Steinway"]),
    ("Hi Lucy, we'll miss you at the window seat when you move to the USA!", ["moving to the USA"]),
    ("Hi Pierre, I hope the sale of the farmhouse went smoothly.", ["selling his farmhouse"]),
    (
        "Hi Mette, here's the shortcut sheet: https://tallybook.app/docs/shortcuts — Sam",
        ["keyboard shortcuts"],
    ),
    ("Hi Imogen, congratulations on the test! Please drive carefully.", ["passed driving test"]),
    ("Dear Mrs. Ito, could you tell the children we count the cranes every morning?", ["origami cranes"]),
    (
        "Hi Farid, thank you for the offer of your van. We'll take you up on it if it's still free.",
        ["lend his van"],
    ),
    ("Hi Olga, the follow-up for the filling is free, of course, and so is my apology.", ["painful filling"]),
    ("Hi Arun, thanks for the LEGO kennel photo — Biscuit looks proud.", ["LEGO kennel"]),
]


@pytest.mark.parametrize(("text", "facts"), SINCERE)
def test_tricky_sincere_notes_pass(text: str, facts: list[str]) -> None:
    check = check_note(text, first_name=text.split()[1].strip(","), facts=facts)
    assert check.ok, check.problems
    assert check.score >= 90


def load_labelled() -> list[dict[str, Any]]:
    with LABELLED.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def test_labelled_set_is_well_formed() -> None:
    rows = load_labelled()
    assert len(rows) >= 200
    per_kind = Counter(kind for row in rows for kind in row["kinds"])
    assert set(per_kind) == set(PROBLEM_KINDS)
    assert min(per_kind.values()) >= 10
    passes = sum(row["passes"] for row in rows)
    assert 0.4 <= passes / len(rows) <= 0.6
    for row in rows:
        assert row["channel"] in CHANNEL_LIMITS
        assert set(row["kinds"]) <= set(PROBLEM_KINDS)
        assert row["passes"] or row["kinds"], row["text"]
        assert (len(row["text"]) > CHANNEL_LIMITS[row["channel"]]) == ("too_long" in row["kinds"])


def test_labelled_set_precision_and_recall_for_passes() -> None:
    rows = load_labelled()
    tp = fp = fn = 0
    detected, labelled = Counter[str](), Counter[str]()
    for row in rows:
        check = check_note(
            row["text"],
            first_name=row["first_name"],
            facts=row["facts"],
            channel=row["channel"],
            known_names=row.get("known_names", ()),
        )
        tp += check.ok and row["passes"]
        fp += check.ok and not row["passes"]
        fn += not check.ok and row["passes"]
        labelled.update(row["kinds"])
        detected.update(set(row["kinds"]) & kinds(check))
    # Measured 0.979 / 0.989 on 406 notes; blind holdouts before tuning were lower (see bench docstring).
    assert tp / (tp + fp) >= 0.95
    assert tp / (tp + fn) >= 0.95
    for kind, count in labelled.items():
        assert detected[kind] / count >= 0.8, kind


PIECES = st.sampled_from(
    [
        "Dear", "Hi", "Thanks,", "Thank you", "Priya", "Zoë", "SARAH", "!!!", "!", "code SAVE10", "% off",
        "{name}", "[PRODUCT]", "<b>", "please", "review", "survey", "after all we did", "do not reply",
        "valued customer", "Lapsang", "www.shop.com/sale", "’", "\n", ",", ".", "—", "customers like you",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(st.text(max_size=600), st.lists(PIECES, max_size=40).map(" ".join)),
    first_name=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["Priya", "Zoë", "Ana María"])),
    facts=st.lists(st.text(max_size=40), max_size=3),
    channel=st.sampled_from(sorted(CHANNEL_LIMITS)),
    known=st.lists(st.text(max_size=10), max_size=2),
)
def test_never_raises_and_ok_means_nothing_blocks(
    text: str, first_name: str | None, facts: list[str], channel: str, known: list[str]
) -> None:
    check = check_note(text, first_name=first_name, facts=facts, channel=channel, known_names=known)
    assert 0 <= check.score <= 100
    assert check.ok == (not any(p.blocking for p in check.problems))
    assert check.score >= 90 if check.ok else check.score <= 75
    for found in check.problems:
        assert found.kind in PROBLEM_KINDS and found.hint
        if found.kind in {"cliche", "sales_pitch", "strings_attached", "indebtedness", "begging", "robotic",
                          "placeholder"}:  # fmt: skip
            assert found.text in text
    assert set(check.as_dict()) == {"ok", "score", "problems"}


@pytest.mark.parametrize(
    "text",
    [
        "Hi Ann, it's been ages since your last order. Thank you for everything.",
        "Ann, where have you been? Thank you for the years with us.",
        "Ann, we haven't seen you in months. Thank you for being a customer.",
        "Ann, it has been 175 days since your last order, and we wanted to say thanks.",
    ],
)
def test_guilt_about_absence_is_indebtedness(text: str) -> None:
    result = check_note(text, first_name="Ann")
    assert not result.ok
    assert "indebtedness" in {p.kind for p in result.problems}
