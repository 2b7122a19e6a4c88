"""The statement reads a person's entries and their events' words in one statement, and shows what
the separate reads (``service.entries_of`` and the per-event text lookup) would; the insights
partial reads the score and its run together."""

from __future__ import annotations

from datetime import timedelta

from statement_count import counting

from goodwill.bank.service import entries_of, refresh_people
from goodwill.bank.statements import _texts, statement
from goodwill.db import Database, utcnow
from goodwill.events.service import NewEvent, record_event
from goodwill.insights.model import InsightRun, InsightScore
from goodwill.insights.views import person_context
from goodwill.people.service import PersonRecord, resolve_people

LONG = "  the parcel was left\nin the rain,   " + "soaked through and torn open " * 5
EVENTS: list[tuple[str, str | None]] = [
    ("purchase", None),
    ("late_delivery", LONG),
    ("praise", "Lovely\tservice"),
    ("question", "Do you ship to Norway?"),  # unanswered: an entry two days later, same event
    ("review", "5/5 would buy again"),
    ("complaint", ""),
    ("complaint_resolved", "Refunded"),
    ("visit", "came in"),  # no entry by default
]


def seed(db: Database, name: str, rounds: int) -> int:
    now = utcnow()
    with db.transaction() as s:
        [pid], _ = resolve_people(s, [PersonRecord(name=name, email=f"{name.lower()}@example.com")])
        for r in range(rounds):
            for n, (kind, text) in enumerate(EVENTS):
                record_event(
                    s,
                    NewEvent(
                        person_id=pid,
                        kind=kind,
                        occurred_at=now - timedelta(days=400 - 45 * r - n, hours=n),
                        source="test",
                        source_id=f"{name}-{r}-{n}",
                        amount_minor=1000 if kind == "purchase" else None,
                        currency="EUR" if kind == "purchase" else None,
                        text=text,
                    ),
                )
        refresh_people(session=s, person_ids=[pid], currency="EUR")
    return pid


def test_statement_costs_two_statements_however_long_the_history(db: Database) -> None:
    small, large = seed(db, "Ada", 2), seed(db, "Bea", 8)
    counts = []
    for pid in (small, large):
        with db.reading() as s, counting(db) as seen:
            found = statement(session=s, person_ref=pid)
        assert len(found.lines) >= 12
        counts.append(len(seen))
    assert counts == [2, 2]  # the person, then the entries with their events' words


def test_statement_lines_match_the_separate_reads(db: Database) -> None:
    pid = seed(db, "Cy", 3)
    with db.reading() as s:
        found = statement(session=s, person_ref=pid)
        entries = entries_of(s, pid)
        texts = _texts(s, sorted({e.event_id for e in entries}))
    assert [(x.event_id, x.kind, x.rule, x.amount, x.at) for x in found.lines] == [
        (e.event_id, e.kind, e.rule, e.amount, e.at) for e in entries
    ]
    assert [x.detail for x in found.lines] == [texts.get(e.event_id, "") for e in entries]
    details = {x.kind: x.detail for x in found.lines}
    assert details["late_delivery"].startswith("the parcel was left in the rain, soaked")
    assert len(details["late_delivery"]) == 80 and details["late_delivery"].endswith("…")
    assert details["praise"] == "Lovely service" and details["purchase"] == ""
    assert sum(x.rule == "question_unanswered" for x in found.lines) == 3


def test_person_context_reads_score_and_run_together(db: Database) -> None:
    scored, unscored = seed(db, "Dee", 1), seed(db, "Eve", 1)
    today = utcnow().date()
    with db.transaction() as s:
        run = InsightRun(
            as_of=today,
            engine="duckdb",
            period="D",
            horizon_months=12,
            monthly_discount=0.01,
            currency="EUR",
            customers=1,
            params={},
        )
        s.add(run)
        s.flush()
        s.add(
            InsightScore(
                person_id=scored,
                run_id=run.id,
                first_purchase_on=today,
                last_purchase_on=today,
                orders=1,
                frequency=0,
                recency_days=0,
                age_days=10,
                total_spend_minor=1000,
                r_score=3,
                f_score=1,
                m_score=2,
                segment="new",
                p_alive=1.0,
                expected_purchases=0.5,
                clv_minor=1200,
            )
        )
    with db.reading() as s, counting(db) as seen:
        context = person_context(s, scored)["insights"]
        nothing = person_context(s, unscored)
    assert nothing == {"insights": None}
    assert (context["currency"], context["horizon_months"], context["as_of"]) == ("EUR", 12, today)
    assert context["clv_minor"] == 1200 and context["milestones"] == []
    assert len(seen) == 3  # score with run, milestones; then the unscored person's score
