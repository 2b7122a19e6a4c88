"""Campaign notes: the campaign's own template per RFM segment, rendered in the notes' sandbox.

A campaign's templates are Jinja text with the same variables, filters and rules as the note
templates (``goodwill.notes.drafting``: ``first_name``, ``you_fact``, ``signature``, ``{% if channel
== "sms" %}``..., a first line "Subject: ..."). A person gets the template of their RFM segment,
else the campaign's "default" template, else a built-in campaign template (notes/templates/campaign).

Contexts are built for all recipients at once (four queries), the same facts ``notes.context``
reads for one person; ``tests`` hold the two to the same result.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from goodwill.campaigns.errors import CampaignError
from goodwill.config import Settings
from goodwill.db import among, as_utc
from goodwill.events.model import Event, Order
from goodwill.events.service import counts_as_spend
from goodwill.insights.rfm import SEGMENTS
from goodwill.notes import drafting as notes_drafting
from goodwill.notes.context import RECENT_ORDERS, writer_name
from goodwill.notes.domain import Draft, NoteContext
from goodwill.notes.drafting import TemplateError, TemplateSet, variant_for
from goodwill.notes.sincerity import Check, check_note
from goodwill.people.model import Fact, Person
from goodwill.planner.domain import Moment, MomentKind
from goodwill.team.model import Role, User

DEFAULT_TEMPLATE = "default"
SEGMENT_KEYS = (*SEGMENTS, DEFAULT_TEMPLATE)
MAX_TEMPLATE = 10_000


@dataclass(frozen=True)
class Recipient:
    person_id: int
    context: NoteContext
    facts: tuple[str, ...]  # every fact, for the sincerity check (the context keeps the last five)
    known_names: tuple[str, ...]


@dataclass(frozen=True)
class Drafted:
    draft: Draft
    check: Check
    source: str  # segment | default | built_in | built_in_after_error


def template_name(campaign_id: int | None, segment: str) -> str:
    return f"campaign#{campaign_id or 'new'}/{segment}"


def own_templates(templates: Mapping[str, str], *, campaign_id: int | None) -> TemplateSet:
    """The campaign's templates in the notes' sandboxed environment; a syntax error names its segment."""
    sources = {template_name(campaign_id, segment): text for segment, text in templates.items()}
    origins = {template_name(campaign_id, segment): f"templates.{segment}" for segment in templates}
    # The notes' own environment (sandbox, strict undefined names, filters, no None printed): one
    # set of rules for every note, whoever wrote the template.
    env = notes_drafting._environment(sources)
    for name in sources:
        notes_drafting.compile_template(env, name, origins[name])
    return TemplateSet(MappingProxyType(sources), MappingProxyType(origins), env)


def check_templates(templates: Mapping[str, Any], channels: Sequence[str]) -> dict[str, str]:
    """The templates, validated: known segments, text that compiles and renders for every channel
    of the campaign with a sparse and a full sample person. ``CampaignError("templates.<segment>")``."""
    if not isinstance(templates, Mapping):
        raise CampaignError("templates", "must be a table of segment = template text")
    clean: dict[str, str] = {}
    for segment, text in templates.items():
        field = f"templates.{segment}"
        if segment not in SEGMENT_KEYS:
            raise CampaignError(field, f"unknown segment; use one of {', '.join(SEGMENT_KEYS)}")
        if not isinstance(text, str) or not text.strip():
            raise CampaignError(
                field, "is empty; write the note, or leave the segment out to use the default"
            )
        if len(text) > MAX_TEMPLATE:
            raise CampaignError(field, f"is {len(text):,} characters; {MAX_TEMPLATE:,} at most")
        clean[segment] = text.replace("\r\n", "\n").strip() + "\n"
    try:
        own = own_templates(clean, campaign_id=None)
        for name in own.sources:
            for context in _samples(channels):
                own.render(name, context)
    except TemplateError as exc:
        raise CampaignError(exc.template, exc.reason) from None
    return clean


def draft_for(
    recipient: Recipient,
    *,
    segment: str,
    own: TemplateSet,
    built_in: TemplateSet,
    campaign_id: int | None,
) -> Drafted:
    """The note for one recipient: their segment's template, the campaign's default, or a built-in one."""
    context = recipient.context
    source = "built_in"
    for key, kind in ((segment, "segment"), (DEFAULT_TEMPLATE, "default")):
        name = template_name(campaign_id, key)
        if name in own.sources:
            try:
                draft = own.render(name, context)
            except TemplateError:
                source = "built_in_after_error"  # a person the samples did not foresee
                break
            return Drafted(draft, _check(recipient, draft), kind)
    names = built_in.variants(MomentKind.campaign)
    week = context.moment.evidence  # one rotation per campaign, spread by person
    draft = built_in.render(names[variant_for(recipient.person_id, week, len(names), names=names)], context)
    return Drafted(draft, _check(recipient, draft), source)


def _check(recipient: Recipient, draft: Draft) -> Check:
    return check_note(
        draft.body,
        first_name=recipient.context.first_name,
        facts=recipient.facts,
        channel=recipient.context.channel,
        known_names=recipient.known_names,
    )


def writers(session: Session) -> list[User]:
    """Who signs campaign notes, in turn: the agents (as for daily notes), else anyone active."""
    active = select(User).where(User.active.is_(True)).order_by(User.id)
    found = session.scalars(active.where(User.role == Role.agent.value)).all()
    return list(found) if found else list(session.scalars(active).all())


def in_turn(session: Session, people: Sequence[tuple[int, str | None]]) -> dict[int, tuple[str, User | None]]:
    """Person id -> (channel, who signs): the signers of ``writers`` in turn, in the order given."""
    pool = writers(session)
    return {
        pid: (channel or "email", pool[i % len(pool)] if pool else None)
        for i, (pid, channel) in enumerate(people)
    }


def recipients(
    session: Session,
    sending: Mapping[int, tuple[str, User | None]],
    *,
    moment: Moment,
    settings: Settings,
) -> dict[int, Recipient]:
    """A context for each person id -> (channel, writer), from four bulk queries."""
    ids = list(sending)
    if not ids:
        return {}
    people = {p.id: p for p in session.scalars(select(Person).where(among(session, Person.id, ids)))}
    facts: dict[int, list[str]] = defaultdict(list)
    for pid, text in session.execute(
        select(Fact.person_id, Fact.text).where(among(session, Fact.person_id, ids)).order_by(Fact.id)
    ):
        facts[pid].append(text)
    totals = {
        pid: (count, first)
        for pid, count, first in session.execute(
            select(Event.person_id, func.count(), func.min(Event.occurred_at))
            .where(among(session, Event.person_id, ids), Event.kind == "purchase", counts_as_spend())
            .group_by(Event.person_id)
        )
    }
    orders = _recent_orders(session, ids)
    tz = settings.business.tz
    found: dict[int, Recipient] = {}
    for pid in ids:
        person = people.get(pid)
        if person is None:
            continue
        channel, writer = sending[pid]
        count, first = totals.get(pid, (0, None))
        first_on: date | None = None
        stamped = as_utc(first)  # an aggregate: SQLite hands back a string
        if stamped is not None:
            first_on = stamped.astimezone(tz).date()
        last_items, favourite = _items(orders.get(pid, []))
        context = NoteContext(
            first_name=person.greeting_name,
            full_name=person.name,
            business_name=settings.business.name,
            writer_name=writer_name(writer, settings),
            moment=moment,
            channel=channel,
            facts=tuple(facts.get(pid, ()))[-5:],
            last_items=last_items,
            favourite_item=favourite,
            orders=int(count),
            first_order_on=first_on,
            city=person.city,
        )
        names = [
            n for n in (person.preferred_name, person.name.split()[0] if person.name.split() else None) if n
        ]
        found[pid] = Recipient(pid, context, tuple(facts.get(pid, ())), tuple(names))
    return found


def _recent_orders(session: Session, ids: list[int]) -> dict[int, list[list[dict[str, Any]]]]:
    """Each person's latest ``RECENT_ORDERS`` orders (not cancelled), newest first: their items."""
    rank = (
        func.row_number()
        .over(partition_by=Order.person_id, order_by=(Order.placed_at.desc(), Order.id.desc()))
        .label("rank")
    )
    ranked = (
        select(Order.person_id, Order.items, rank)
        .where(among(session, Order.person_id, ids), Order.cancelled_at.is_(None))
        .subquery()
    )
    found: dict[int, list[list[dict[str, Any]]]] = defaultdict(list)
    query = (
        select(ranked.c.person_id, ranked.c["items"])  # not .c.items: the collection's own method
        .where(ranked.c.rank <= RECENT_ORDERS)
        .order_by(ranked.c.person_id, ranked.c.rank)
    )
    for pid, items in session.execute(query):
        found[pid].append(items or [])
    return found


def _items(orders: list[list[dict[str, Any]]]) -> tuple[tuple[str, ...], str | None]:
    """The latest order's first three product names, and the one bought in two or more orders."""
    if not orders:
        return (), None
    last_items = tuple(_names(orders[0]))[:3]
    counts: Counter[str] = Counter(name for items in orders for name in set(_names(items)))
    name, times = counts.most_common(1)[0] if counts else ("", 0)
    return last_items, (name if times >= 2 else None)


def _names(items: Iterable[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for item in items:
        name = str(item.get("name") or "").strip()
        if name and name not in names:
            names.append(name)
    return names


def _samples(channels: Sequence[str]) -> Iterable[NoteContext]:
    """A sparse and a full person, to find a template that breaks before anyone's note does."""
    moment = Moment(kind=MomentKind.campaign, strength=30, evidence="sample")
    sparse = NoteContext("Ana", "Ana", "Teapot & Co", "Maya", moment, "email")
    full = NoteContext(
        "Ana", "Ana Souza", "Teapot & Co", "Maya Chen", moment, "email",
        facts=("is a teacher and buys rooibos for the staff room",),
        last_items=("Assam breakfast, 250 g", "Glass infuser mug"), favourite_item="Sencha Uji, 100 g",
        orders=7, first_order_on=date(2023, 3, 2), city="Porto",
    )  # fmt: skip
    for context in (sparse, full):
        for channel in channels:
            yield replace(context, channel=channel)
