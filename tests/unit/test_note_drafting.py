"""Drafting notes from the default and the business's own templates (see notes/drafting.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodwill.notes.domain import NoteContext
from goodwill.notes.drafting import (
    CHANNELS,
    LIMITS,
    TemplateError,
    TemplateSet,
    draft_note,
    load_templates,
    second_person,
    variant_for,
)
from goodwill.notes.sincerity import check_note
from goodwill.planner.domain import Moment, MomentKind

TEMPLATES = load_templates()
FACT = "is a teacher and buys rooibos for the staff room"
SIGNATURE = "– Maya at Juniper & Pine Tea Merchants"


def moment(kind: MomentKind, subject: str | None = None) -> Moment:
    return Moment(kind=kind, strength=60, evidence="for the writer only", subject=subject)


def full(kind: MomentKind, channel: str) -> NoteContext:
    """Everything known, with long-ish real values, to hold the templates to the channel limits."""
    return NoteContext(
        first_name="Bea",  # a preferred name, not the first word of the full name
        full_name="Beatriz Fernández",
        business_name="Juniper & Pine Tea Merchants",
        writer_name="Maya Chen",
        moment=moment(kind),
        channel=channel,
        facts=(FACT, "asked whether the sencha is shade-grown"),
        last_items=("Earl Grey with cornflower, 200 g", "Jasmine silver needle, 50 g", "Glass infuser mug"),
        favourite_item="Oolong Tie Guan Yin, 100 g",
        orders=14,
        first_order_on=date(2021, 3, 2),
        city="Melbourne",
        question="Which tea would you suggest for someone who finds green tea bitter?",
        complaint="The parcel arrived a week late and the tin was dented.",
        praise="Your advice on brewing temperature changed everything.",
        praised_staff_name="Tom",
    )


def minimal(kind: MomentKind, channel: str) -> NoteContext:
    return NoteContext("Bea", "Beatriz Fernández", "Teapot & Co", "Maya", moment(kind), channel)


CASES = [
    pytest.param(name, channel, make, id=f"{name}-{channel}-{make.__name__}")
    for kind in MomentKind
    for name in TEMPLATES.variants(kind)
    for channel in CHANNELS
    for make in (full, minimal)
]


def draft_of(templates: TemplateSet, name: str, context: NoteContext) -> str:
    variant = templates.variants(context.moment.kind).index(name)
    return draft_note(context, templates=templates, variant=variant).body


def test_every_moment_has_three_or_more_variants() -> None:
    for kind in MomentKind:
        assert len(TEMPLATES.variants(kind)) >= 3, kind
    assert TEMPLATES.variants(MomentKind.second_order)[:3] == (
        "second_order/1",
        "second_order/2",
        "second_order/3",
    )


@pytest.mark.parametrize(("name", "channel", "make"), CASES)
def test_every_template_renders_cleanly_within_the_channel_limit(
    name: str, channel: str, make: object
) -> None:
    kind = MomentKind(name.split("/")[0])
    context = make(kind, channel)  # type: ignore[operator]
    draft = draft_note(context, templates=TEMPLATES, variant=TEMPLATES.variants(kind).index(name))
    body = draft.body
    assert draft.template == name
    assert "None" not in body and "None" not in draft.subject
    assert not re.search(r"[{}\[\]<>]", body), body
    assert len(body) <= LIMITS.get(channel, 1000), (len(body), body)
    assert body == body.strip() and "\n\n\n" not in body
    assert all(line == line.rstrip() and "  " not in line for line in body.splitlines())
    lowered = body.lower()
    for never in ("http", "www.", "%", "discount", "voucher", "coupon", "valued customer", "do not reply"):
        assert never not in lowered, never
    if channel == "email":
        assert context.first_name in draft.subject and "valued" not in draft.subject.lower()
        assert 0 < len(draft.subject) <= 80
    else:
        assert draft.subject == ""
    if channel == "call":
        assert context.full_name in body and "Don't:" in body
        return
    assert context.first_name in body
    for ask in (
        "review",
        "refer",
        "tell your friends",
        "survey",
        "feedback form",
        "appreciate your business",
    ):
        assert ask not in lowered, ask
    if channel == "sms":
        assert body.endswith("– Maya at " + context.business_name)
    if channel == "card":
        assert body.endswith("\nMaya")


@pytest.mark.parametrize(
    ("name", "channel"), [(c.values[0], c.values[1]) for c in CASES if c.values[2] is full]
)
def test_a_known_fact_is_said_to_them_in_every_channel(name: str, channel: str) -> None:
    body = draft_of(TEMPLATES, name, full(MomentKind(name.split("/")[0]), channel))
    said = "Bea is a teacher and buys rooibos" if channel == "call" else "you're a teacher and buy rooibos"
    assert said in body


def test_specifics_are_used_when_known() -> None:
    second = draft_note(full(MomentKind.second_order, "email"), templates=TEMPLATES).body
    assert "Earl Grey with cornflower and Jasmine silver needle" in second  # sizes dropped, two named
    question = draft_note(full(MomentKind.window_shopper, "card"), templates=TEMPLATES).body
    assert "“Which tea would you suggest for someone who finds green tea bitter?”" in question
    praise = draft_note(full(MomentKind.praise, "email"), templates=TEMPLATES).body
    assert "passed your words on to Tom" in praise
    thanks = draft_note(full(MomentKind.complaint_resolved, "sms"), templates=TEMPLATES).body
    assert "thank you for telling us" in thanks.lower()


def test_praise_written_by_the_praised_person_does_not_pass_words_to_themselves() -> None:
    context = replace(full(MomentKind.praise, "email"), praised_staff_name="Maya")
    for variant in range(3):
        body = draft_note(context, templates=TEMPLATES, variant=variant).body
        assert "on to Maya" not in body and "Maya saw" not in body


def test_the_question_falls_back_to_the_moments_subject() -> None:
    context = replace(
        minimal(MomentKind.window_shopper, "email"),
        moment=moment(MomentKind.window_shopper, "Do you ship to Norway?"),
    )
    assert "“Do you ship to Norway?”" in draft_note(context, templates=TEMPLATES).body


def test_a_team_signature_when_nobody_is_assigned() -> None:
    context = replace(minimal(MomentKind.nth_order, "sms"), writer_name="the Teapot & Co team")
    body = draft_note(context, templates=TEMPLATES).body
    assert body.endswith("– the Teapot & Co team")


def test_variant_wraps_around_and_unknown_channels_are_refused() -> None:
    n = len(TEMPLATES.variants(MomentKind.referral))
    context = minimal(MomentKind.referral, "card")
    assert draft_note(context, templates=TEMPLATES, variant=n + 1).template == "referral/2"
    with pytest.raises(ValueError, match="fax"):
        draft_note(replace(context, channel="fax"), templates=TEMPLATES)


def test_subject_line_comes_from_the_first_line() -> None:
    draft = draft_note(minimal(MomentKind.second_order, "email"), templates=TEMPLATES)
    assert draft.subject == "Thank you, Bea"
    assert not draft.body.lower().startswith("subject")


# --- rotation ---------------------------------------------------------------------------------


@given(
    n=st.integers(min_value=1, max_value=8),
    week=st.from_regex(r"20[0-9]{2}-W[0-5][0-9]", fullmatch=True),
    people=st.lists(st.integers(min_value=1, max_value=10**9), min_size=8, max_size=8, unique=True),
    pass_names=st.booleans(),
)
def test_n_people_in_a_week_get_n_different_templates(
    n: int, week: str, people: list[int], pass_names: bool
) -> None:
    names = [f"referral/{i + 1}" for i in range(n)]
    used: dict[str, int] = {}
    chosen = []
    for person in people[:n]:
        pick = variant_for(person, week, n, used, names=names if pass_names else None)
        used[names[pick]] = used.get(names[pick], 0) + 1
        chosen.append(pick)
    assert sorted(chosen) == list(range(n))
    # ... and the next n people spread evenly again
    for person in people[:n]:
        pick = variant_for(person + 1, week, n, used, names=names if pass_names else None)
        used[names[pick]] += 1
    assert max(used.values()) - min(used.values()) <= 1


def test_variant_for_is_stable_and_spreads_by_person_and_week() -> None:
    assert variant_for(42, "2026-W47", 3) == variant_for(42, "2026-W47", 3)
    assert len({variant_for(p, "2026-W47", 3) for p in range(30)}) == 3
    assert {variant_for(42, f"2026-W{w:02d}", 3) for w in range(1, 30)} == {0, 1, 2}


def test_variant_for_picks_the_least_used() -> None:
    names = ["drifting/1", "drifting/2", "drifting/3"]
    used = {"drifting/1": 4, "drifting/2": 1, "drifting/3": 4}
    assert all(variant_for(p, "2026-W47", 3, used, names=names) == 1 for p in range(20))
    # Without names, numbered files count by their number (the defaults are 1..n) ...
    assert all(variant_for(p, "2026-W47", 3, used) == 1 for p in range(20))
    # ... and a name that is not a numbered file cannot be placed, so it is not counted.
    assert variant_for(7, "2026-W47", 3, {"drifting/warm": 9}) == variant_for(7, "2026-W47", 3)
    with_names = ["drifting/1", "drifting/2", "drifting/warm"]
    assert variant_for(7, "2026-W47", 3, {"drifting/warm": 9, "drifting/1": 9}, names=with_names) == 1
    with pytest.raises(ValueError, match="names"):
        variant_for(1, "2026-W47", 3, used, names=names[:2])
    with pytest.raises(ValueError):
        variant_for(1, "2026-W47", 0)


# --- the business's own templates ------------------------------------------------------------

GOOD = "Subject: Hello {{ first_name }}\nThank you, {{ first_name }}.\n– {{ signature }}\n"


def write(root: Path, name: str, text: str) -> Path:
    path = root / f"{name}.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_business_file_replaces_a_default_and_new_files_add_variants(tmp_path: Path) -> None:
    replaced = write(
        tmp_path, "referral/2", "Subject: Ours, {{ first_name }}\nOur own words, {{ first_name }}.\n"
    )
    write(tmp_path, "referral/10", GOOD)
    write(tmp_path, "referral/4", GOOD)
    write(tmp_path, "referral/warm", GOOD)
    (tmp_path / "README.txt").write_text("notes for the team", encoding="utf-8")
    templates = load_templates(tmp_path)
    names = templates.variants(MomentKind.referral)
    assert names == ("referral/1", "referral/2", "referral/3", "referral/4", "referral/10", "referral/warm")
    assert templates.origins["referral/2"] == str(replaced)
    draft = draft_note(minimal(MomentKind.referral, "email"), templates=templates, variant=1)
    assert (draft.subject, draft.body) == ("Ours, Bea", "Our own words, Bea.")
    assert templates.variants(MomentKind.praise) == TEMPLATES.variants(MomentKind.praise)


def test_unknown_moment_directories_are_named(tmp_path: Path) -> None:
    write(tmp_path, "birthday/1", GOOD)
    write(tmp_path, "referal/1", GOOD)
    with pytest.raises(TemplateError, match=r"birthday, referal"):
        load_templates(tmp_path)


def test_a_missing_business_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not a directory"):
        load_templates(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Subject: Hi\n{% if channel == 'sms' %}Hi{% endif\n", "line 2"),  # syntax
        ("Subject: Hi\nThank you, {{ frist_name }}.\n", "frist_name"),  # a typo
        ("Subject: Hi\nWarm wishes to {{ city }}.\n", "None"),  # an unguarded optional field
        ("Subject: Hi\nYou bought {{ last_items }}.\n", "list"),
        ("Subject: Hi\nYou bought the {{ last_items[0] }}.\n", "no element 0"),
        ("Thank you, {{ first_name }}.\n", "Subject"),  # email needs a subject
        ("Subject: Hi\n{% if channel != 'email' %}Hi{% endif %}\n", "empty"),
    ],
)
def test_a_broken_business_template_is_refused_when_loaded(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path, "praise/7", text)
    with pytest.raises(TemplateError) as caught:
        load_templates(tmp_path)
    assert caught.value.template == str(path)
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)


def test_an_unreadable_business_template_is_named(tmp_path: Path) -> None:
    path = tmp_path / "praise" / "1.j2"
    path.parent.mkdir()
    path.write_bytes(b"Subject: Hi\n\xff\xfe caf\xe9\n")
    with pytest.raises(TemplateError, match="cannot be read") as caught:
        load_templates(tmp_path)
    assert caught.value.template == str(path)


def test_the_sandbox_stops_escapes_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, "praise/1", "Subject: Hi\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(TemplateError, match="unsafe") as caught:
        load_templates(tmp_path)
    assert caught.value.template == str(path)


def test_the_sandbox_stops_escapes_hidden_behind_a_condition(tmp_path: Path) -> None:
    # Only a real person's question reaches the escape, so it loads and fails when drafted.
    text = "Subject: Hi\nThanks.\n{% if question == 'open sesame' %}{{ first_name.__class__ }}{% endif %}\n"
    path = write(tmp_path, "window_shopper/9", text)
    templates = load_templates(tmp_path)
    context = replace(minimal(MomentKind.window_shopper, "email"), question="open sesame")
    variant = templates.variants(MomentKind.window_shopper).index("window_shopper/9")
    with pytest.raises(TemplateError, match="unsafe") as caught:
        draft_note(context, templates=templates, variant=variant)
    assert caught.value.template == str(path)


def test_templates_are_plain_text_not_html(tmp_path: Path) -> None:
    write(tmp_path, "praise/9", "Subject: Hi\n{{ praise or 'Thank you.' }}\n")
    templates = load_templates(tmp_path)
    context = replace(minimal(MomentKind.praise, "email"), praise="Tea & cake <3")
    variant = templates.variants(MomentKind.praise).index("praise/9")
    assert draft_note(context, templates=templates, variant=variant).body == "Tea & cake <3"


# --- saying a staff note to the person -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fact", "said"),
    [
        (FACT, "you're a teacher and buy rooibos for the staff room"),
        (
            "buys the blue teapot as a gift for her mother every spring",
            "you buy the blue teapot as a gift for your mother every spring",
        ),
        ("runs a small café and orders for the counter", "you run a small café and order for the counter"),
        (
            "told us the jasmine reminds them of their grandmother's kitchen",
            "you told us the jasmine reminds you of your grandmother's kitchen",
        ),
        ("Always orders the Assam.", "you always order the Assam"),
        ("says she loves the oolong", "you say you love the oolong"),
        ("has a new puppy", "you have a new puppy"),
        ("carries a flask everywhere", "you carry a flask everywhere"),
        ("watches the rugby with a pot of Assam", "you watch the rugby with a pot of Assam"),
        ("buys tea and biscuits for the office", "you buy tea and biscuits for the office"),
        (
            "gave our gift box to a colleague who was leaving",
            "you gave our gift box to a colleague who was leaving",
        ),
        ("Her daughter is getting married", "your daughter is getting married"),
        ("Vegetarian", None),
        ("Maria's sister works here", None),
        ("", None),
    ],
)
def test_second_person(fact: str, said: str | None) -> None:
    assert second_person(fact) == said


def test_a_fact_that_cannot_be_said_to_them_is_left_out_of_the_note() -> None:
    context = replace(full(MomentKind.second_order, "card"), facts=("Vegetarian",))
    body = draft_note(context, templates=TEMPLATES).body
    assert "Vegetarian" not in body and "remember" not in body
    call = draft_note(replace(context, channel="call"), templates=TEMPLATES).body
    assert "Bea Vegetarian" in call  # the caller still reads it, as written


# --- the sincerity check ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "channel", "make"), CASES)
def test_every_default_template_passes_the_sincerity_check(name: str, channel: str, make: object) -> None:
    kind = MomentKind(name.split("/")[0])
    context = make(kind, channel)  # type: ignore[operator]
    body = draft_of(TEMPLATES, name, context)
    check = check_note(body, first_name=context.first_name, facts=context.facts, channel=channel)
    assert check.ok, [(p.kind, p.text) for p in check.problems]
    assert check.score == 100, [(p.kind, p.text) for p in check.problems]  # not even a single cliché
