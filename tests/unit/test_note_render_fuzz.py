"""Fuzzing the note renderer: hostile people and hostile staff-written templates.

Two ways in. (1) What we know of a person (names, facts, products, their words) is typed by
customers and staff, so it may hold Jinja syntax, HTML, control characters or a megabyte of text:
every default template must render it for every channel, literally (never evaluated), and the
sincerity check must still run; the HTML email escapes it. (2) Campaign templates are written by
staff: the sandbox must refuse Python internals, and refuse (with a ``CampaignError`` naming the
segment, never a crash or a hung server) expressions that build huge numbers or texts.

Derandomized for CI; ``GOODWILL_FUZZ_EXAMPLES=2000`` runs that many random examples per test.
"""

from __future__ import annotations

import html
import time
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goodwill.campaigns.drafting import check_templates
from goodwill.campaigns.errors import CampaignError
from goodwill.config import fuzz_examples
from goodwill.notes.domain import NoteContext
from goodwill.notes.drafting import CHANNELS, TemplateSet, load_templates
from goodwill.notes.sincerity import check_note
from goodwill.outbox.transports.base import Envelope
from goodwill.outbox.transports.email import Sender, build_email
from goodwill.planner.domain import Moment, MomentKind

RUN = fuzz_examples()


def budget(examples: int) -> Any:
    return settings(
        max_examples=RUN or examples,
        derandomize=not RUN,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


TEMPLATES: TemplateSet = load_templates()

# Payloads that, if ever evaluated as a template, leave a mark no literal copy of them contains.
INJECTIONS = [
    "{{ 'INJ' ~ 'ECTED' }}",
    "{% for x in 'ab' %}LOOP{{ x }}{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ 7*7 }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% raw %}{{ x }}{% endraw %}",
    "{# comment #}",
    "${7*7}",
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "Robert'); DROP TABLE people;--",
]
EVALUATED = ["INJECTED", "LOOPa", "<class", "49", "uid="]
HOSTILE = st.one_of(
    st.sampled_from(INJECTIONS),
    st.sampled_from(
        ["😀" * 40, "\u202eevil\u202c", "e\u0301" * 9, "\u200b", "\x00", "\x1b[2J", "a\r\nb", "\x0b\x0c"]
    ),
    st.text(max_size=60),
    st.text(max_size=5).map(lambda s: s * 20_000),  # a huge field
)
OPTIONAL = st.one_of(st.none(), HOSTILE)


@st.composite
def contexts(draw: st.DrawFn) -> NoteContext:
    kind = draw(st.sampled_from(list(MomentKind)))
    moment = Moment(kind=kind, strength=50, evidence=draw(HOSTILE), staff_id=None, subject=draw(OPTIONAL))
    return NoteContext(
        first_name=draw(HOSTILE),
        full_name=draw(HOSTILE),
        business_name=draw(HOSTILE),
        writer_name=draw(HOSTILE),
        moment=moment,
        channel=draw(st.sampled_from(CHANNELS)),
        facts=tuple(draw(st.lists(HOSTILE, max_size=4))),
        last_items=tuple(draw(st.lists(HOSTILE, max_size=3))),
        favourite_item=draw(OPTIONAL),
        orders=draw(st.integers(-(2**63), 2**63)),
        first_order_on=draw(st.one_of(st.none(), st.dates())),
        city=draw(OPTIONAL),
        question=draw(OPTIONAL),
        complaint=draw(OPTIONAL),
        praise=draw(OPTIONAL),
        praised_staff_name=draw(OPTIONAL),
    )


def _marks(context: NoteContext) -> set[str]:
    """The evaluation marks already present in the data itself (then their presence proves nothing)."""
    text = repr(context)
    return {mark for mark in EVALUATED if mark in text}


@budget(80)
@given(context=contexts())
def test_every_template_renders_hostile_people_literally(context: NoteContext) -> None:
    already = _marks(context)
    for name in TEMPLATES.variants(context.moment.kind):
        draft = TEMPLATES.render(name, context)
        out = draft.subject + "\n" + draft.body
        for mark in EVALUATED:
            assert mark in already or mark not in out, f"{name} evaluated something: {mark!r} in its output"
        check = check_note(
            draft.body, first_name=context.first_name, facts=context.facts, channel=context.channel
        )
        assert 0 <= check.score <= 100


@budget(60)
@given(
    payload=st.sampled_from(INJECTIONS),
    kind=st.sampled_from(list(MomentKind)),
    channel=st.sampled_from(CHANNELS),
)
def test_a_name_full_of_template_syntax_is_printed_as_written(
    payload: str, kind: MomentKind, channel: str
) -> None:
    """The payload reaches the note character for character: shown, never run (and never dropped)."""
    context = NoteContext(
        first_name=payload,
        full_name=payload,
        business_name="Teapot & Co",
        writer_name="Maya",
        moment=Moment(kind=kind, strength=50, evidence="x"),
        channel=channel,
    )
    for name in TEMPLATES.variants(kind):
        draft = TEMPLATES.render(name, context)
        assert payload in draft.subject + draft.body
        for mark in EVALUATED:
            assert mark not in draft.subject + draft.body


@budget(60)
@given(payload=st.sampled_from(INJECTIONS), facts=st.lists(HOSTILE, max_size=2))
def test_the_html_email_escapes_what_the_note_says(payload: str, facts: list[str]) -> None:
    context = NoteContext(
        first_name=payload,
        full_name=payload,
        business_name="Teapot & Co",
        writer_name="Maya",
        moment=Moment(kind=MomentKind.second_order, strength=50, evidence="x"),
        channel="email",
        facts=tuple(facts),
    )
    draft = TEMPLATES.render(TEMPLATES.variants(MomentKind.second_order)[0], context)
    envelope = Envelope(1, "goodwill-message-1", "email", "ana@example.com", "Ana", draft.subject, draft.body)
    message = build_email(envelope, Sender("shop@example.com", "Maya", "Teapot & Co", "1 Tea St"))
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    markup = html_part.get_content()
    assert html.escape(payload) in markup
    if any(c in payload for c in "<>\"'"):
        assert payload not in markup  # never raw: <script> would run in a mail client
    assert "<script" not in markup.lower() and "onerror=" not in markup.replace("onerror=alert", "")


# --- staff-written (campaign) templates --------------------------------------------------------------

SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ first_name.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ first_name|attr('__class__') }}",
    "{{ (first_name|attr('__class__')).__mro__ }}",
    "{{ '{0.__class__.__mro__}'.format(first_name) }}",
    "{{ '%s'|format(first_name.__class__) }}",
    "{{ range.__self__ }}",
    "{{ dict.__subclasses__() }}",
    "{{ moment.__class__.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ facts.__class__.__base__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ config }}{{ request }}{{ os }}",
]
RESOURCE_BOMBS = [
    "{{ 9**99999 }}",
    "{{ 7**(10**9) }}",
    "{{ (10**2000) * (10**2000) }}",
    "{{ 'ab' * 10**9 }}",
    "{{ ['x'] * 10**9 }}",
    "{{ 'a'.center(10**9) }}",
    "{{ 'a'|center(10**9) }}",
    "{{ 'a'.ljust(10**9) }}",
    "{{ ('\t' * 100000).expandtabs(100000) }}",
    "{{ ('x' * 100000).replace('x', 'x' * 100000) }}",
    "{{ range(100000)|join('x' * 100000) }}",
    "{% set a = 'aaaaaaaaaa' %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}",
    "{% set a = 'aaaaaaaaaa' %}" + "{% set a = a + a %}" * 40 + "{{ a }}",
    "{% set a = ['a'] %}" + "{% set a = a + a %}" * 40 + "{{ a|length }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '%.999999999f'|format(1.0) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{x:>999999999}'.format_map({'x': 1}) }}",
    "{{ '{}{}'.format('x' * 900000, 'x' * 900000) }}",
    "{{ '%s%s' % ('x' * 900000, 'x' * 900000) }}",
    "{% for a in range(100000) %}{% for b in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ 1/0 }}",
    "{{ orders // 0 }}",
    "{{ lipsum(n=100000) }}",
]


@pytest.mark.parametrize("body", SANDBOX_ESCAPES + RESOURCE_BOMBS)
def test_a_staff_template_cannot_reach_python_or_starve_the_server(body: str) -> None:
    started = time.process_time()
    with pytest.raises(CampaignError) as refused:
        check_templates({"default": f"Subject: Thanks, {{{{ first_name }}}}\n{body}\n"}, list(CHANNELS))
    assert refused.value.field == "templates.default"
    # A refusal, not a computation that happened to finish: far under a second of CPU (typically ~10 ms).
    assert time.process_time() - started < 5


def test_ordinary_staff_templates_still_work() -> None:
    ok = (
        "Subject: Thanks, {{ first_name }}\n"
        "{{ first_name }}, {{ '%s and %s' % (1, 2) }} {{ '{} x'.format(3) }} {{ 3 * 4 }} {{ 2 ** 10 }}\n"
        "{{ '-' * 20 }} {{ orders + 1 }} {{ (facts|join(', ')) or 'no facts' }} {{ signature }}\n"
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ 'tea'|center(9) }} {{ 'x' ~ 'y' }}\n"
        # Numbers put into a text are values, not repeat counts (a review found these refused).
        "{{ 'Roasting for you since {}! {} orders and counting'.format(2019, 150000) }}\n"
        "{{ '%d years, %d orders' % (2019, 150000) }} {{ '%s since %s'|format('Friends', 2019) }}\n"
    )
    assert check_templates({"default": ok}, list(CHANNELS))["default"].startswith("Subject:")


@budget(100)
@given(body=st.text(max_size=300), channel=st.sampled_from(CHANNELS))
def test_any_text_as_a_staff_template_is_accepted_or_refused_cleanly(body: str, channel: str) -> None:
    try:
        check_templates({"default": "Subject: Hi {{ first_name }}\n" + body}, [channel])
    except CampaignError as exc:
        assert exc.field.startswith("templates.")


@budget(50)
@given(
    text=st.one_of(st.text(max_size=400), HOSTILE), first_name=HOSTILE, facts=st.lists(HOSTILE, max_size=3)
)
def test_the_sincerity_check_runs_on_any_text(text: str, first_name: str, facts: list[str]) -> None:
    for channel in ("email", "sms", "card", "call"):
        check = check_note(
            text, first_name=first_name, facts=facts, channel=channel, known_names=(first_name,)
        )
        assert 0 <= check.score <= 100
        assert check.ok == (not any(p.blocking for p in check.problems))


def test_the_samples_still_render() -> None:
    sample = NoteContext(
        "Ana",
        "Ana Souza",
        "Teapot & Co",
        "Maya Chen",
        Moment(kind=MomentKind.praise, strength=50, evidence="x"),
        "sms",
    )
    assert TEMPLATES.render("praise/1", replace(sample, first_order_on=date(2024, 1, 2))).body
