"""Launch a campaign once, and read where it stands.

Launching, in one unit of work: claim the campaign (a conditional UPDATE from draft, so two
launches at once cannot both run), decide everyone's group (``campaigns.rules``), record every
member first, then the plan run and its items (one per thanked person, on the send day, with the
send window in their zone), then the drafts, then under the "sample" rule approve the notes
outside the review sample that pass the check, through ``notes.service.approve`` (which queues
each outbox message inside the item's window). A second launch finds the campaign launched and
reports the stored result without writing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from goodwill.campaigns import rules
from goodwill.campaigns.audience import parse_audience
from goodwill.campaigns.drafting import draft_for, in_turn, own_templates, recipients
from goodwill.campaigns.errors import CampaignError, CampaignNotFound
from goodwill.campaigns.gather import choice_of, gather
from goodwill.campaigns.model import Campaign, CampaignMember, CampaignStatus, MemberGroup, ReviewRule
from goodwill.campaigns.reports import CampaignStatusView, LaunchReport
from goodwill.config import Settings
from goodwill.db import among, rows_changed, utcnow
from goodwill.notes.model import Note, NoteStatus
from goodwill.notes.service import NoteError, approve, problem_dict, templates_for
from goodwill.outbox.model import Message, MessageStatus
from goodwill.people.model import Person
from goodwill.planner.domain import Moment
from goodwill.planner.model import PlanItem, PlanRun
from goodwill.planner.service import hold_planning_lock

NOTE_STATUSES = (NoteStatus.draft, NoteStatus.approved, NoteStatus.skipped)
MESSAGE_STATUSES = (
    MessageStatus.queued,
    MessageStatus.sending,
    MessageStatus.sent,
    MessageStatus.failed,
    MessageStatus.cancelled,
)
GROUPS = tuple(g.value for g in MemberGroup)


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"no campaign {campaign_id!r}")
    return campaign


def launch(
    session: Session, *, campaign_id: int, user_id: int | None, settings: Settings, now: datetime
) -> LaunchReport:
    """Launch once; launching again returns the stored result and adds nothing."""
    campaign = _campaign(session, campaign_id)
    if campaign.status != CampaignStatus.draft:
        return report(session, campaign, already_launched=True)
    today = now.astimezone(settings.business.tz).date()
    if campaign.send_on < today:
        raise CampaignError("send_on", f"the send day {campaign.send_on} has passed; choose a new day first")
    hold_planning_lock(session)  # no daily plan or other launch decides at the same time
    claimed = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.draft)
        .values(status=CampaignStatus.launched, launched_at=now, launched_by_id=user_id)
        .execution_options(synchronize_session=False)
    )
    session.refresh(campaign)
    if rows_changed(claimed) != 1:  # launched by someone else a moment ago
        return report(session, campaign, already_launched=True)

    audience = parse_audience(campaign.audience, currency=settings.business.currency)
    found = gather(session, campaign=campaign, audience=audience, settings=settings)
    policy = settings.planner.policy
    assigned = rules.assign(
        found.people, choice=choice_of(campaign), policy=policy, used_capacity=found.used_capacity
    )
    thanked = [a for a in assigned if a.group == MemberGroup.thanked]
    held = sum(1 for a in assigned if a.group == MemberGroup.holdout)
    # The run's "skipped" counts keep the daily runs' shape: the contact policy's own reasons.
    policy_reasons = ("no_consent", "cap", "cooldown", "capacity")
    skipped = rules.count_by((a.reason for a in assigned if a.reason in policy_reasons), policy_reasons)
    run = PlanRun(
        day=campaign.send_on, planned_by_id=user_id, candidates=len(assigned), items=len(thanked), held=held,
        skipped=skipped,
    )  # fmt: skip
    session.add(run)
    session.flush()
    campaign.run_id = run.id
    # The assignment is recorded before anything is drafted or queued, and never changed after.
    if assigned:
        session.execute(
            insert(CampaignMember),
            [_member_row(campaign, a) for a in assigned],
        )
    items = _plan_items(session, run, thanked, found.moment)
    notes = _draft(session, campaign, thanked, items, found.moment, settings)
    _link_members(session, campaign, run)
    if campaign.review_rule == ReviewRule.sample:
        _approve_outside_sample(session, campaign, notes, user_id, settings)
    # Marks the end of the launch: notes approved by then were approved by it (see ``report``).
    campaign.updated_at = utcnow()
    session.flush()
    return report(session, campaign, already_launched=False)


def _member_row(campaign: Campaign, a: rules.Assigned) -> dict[str, object]:
    return {
        "campaign_id": campaign.id,
        "person_id": a.person_id,
        "assignment": a.group,
        "reason": a.reason,
        "segment": a.segment,
        "channel": a.channel,
        "assigned_at": utcnow(),
    }


def _plan_items(
    session: Session, run: PlanRun, thanked: Sequence[rules.Assigned], moment: Moment
) -> dict[int, int]:
    """One item per thanked person (person id -> item id): one bulk INSERT ... RETURNING."""
    if not thanked:
        return {}
    rows = [
        {
            "run_id": run.id,
            "day": run.day,
            "person_id": a.person_id,
            "moment": moment.kind.value,
            "strength": moment.strength,
            "evidence": moment.evidence,
            "by_manager": False,
            "channel": a.channel,
            "priority": a.priority,
            "reason": a.why,
            "window_start": a.window_start,
            "window_end": a.window_end,
            "status": "planned",
        }
        for a in thanked
    ]
    stored = session.execute(insert(PlanItem).returning(PlanItem.person_id, PlanItem.id), rows)
    return {pid: item_id for pid, item_id in stored}


def _draft(
    session: Session,
    campaign: Campaign,
    thanked: Sequence[rules.Assigned],
    items: dict[int, int],
    moment: Moment,
    settings: Settings,
) -> dict[int, tuple[int, bool]]:
    """A draft for every thanked person, signed by the agents in turn (as daily notes are):
    person id -> (note id, passes the check). One bulk INSERT ... RETURNING."""
    sending = in_turn(session, [(a.person_id, a.channel) for a in thanked])
    found = recipients(session, sending, moment=moment, settings=settings)
    own = own_templates(campaign.templates, campaign_id=campaign.id)
    built_in = templates_for(settings)
    rows: list[dict[str, object]] = []
    for a in thanked:
        recipient = found.get(a.person_id)
        if recipient is None:  # pragma: no cover - the people were read in this transaction
            continue
        written = draft_for(recipient, segment=a.segment, own=own, built_in=built_in, campaign_id=campaign.id)
        writer = sending[a.person_id][1]
        rows.append(
            {
                "person_id": a.person_id,
                "plan_item_id": items[a.person_id],
                "moment": moment.kind.value,
                "evidence": moment.evidence,
                "channel": recipient.context.channel,
                "subject": written.draft.subject[:200],
                "body": written.draft.body,
                "template": written.draft.template[:120],
                "score": written.check.score,
                "ok": written.check.ok,
                "problems": [problem_dict(p) for p in written.check.problems],
                "writer_id": writer.id if writer is not None else None,
                "status": NoteStatus.draft,
            }
        )
    if not rows:
        return {}
    stored = session.execute(insert(Note).returning(Note.person_id, Note.id, Note.ok), rows)
    return {pid: (note_id, bool(ok)) for pid, note_id, ok in stored}


def _link_members(session: Session, campaign: Campaign, run: PlanRun) -> None:
    """Each thanked member points at their plan item and note: one correlated UPDATE."""
    item_id = (
        select(PlanItem.id)
        .where(PlanItem.run_id == run.id, PlanItem.person_id == CampaignMember.person_id)
        .scalar_subquery()
    )
    note_id = (
        select(Note.id)
        .join(PlanItem, PlanItem.id == Note.plan_item_id)
        .where(PlanItem.run_id == run.id, PlanItem.person_id == CampaignMember.person_id)
        .scalar_subquery()
    )
    session.execute(
        update(CampaignMember)
        .where(CampaignMember.campaign_id == campaign.id, CampaignMember.assignment == MemberGroup.thanked)
        .values(plan_item_id=item_id, note_id=note_id)
        .execution_options(synchronize_session=False)
    )


def _approve_outside_sample(
    session: Session,
    campaign: Campaign,
    notes: dict[int, tuple[int, bool]],
    user_id: int | None,
    settings: Settings,
) -> None:
    """The "sample" rule: notes outside the seeded review sample go now when they pass the check,
    each through ``notes.service.approve`` (its consent and sincerity re-checks, its outbox row)."""
    chosen = sorted(
        pid
        for pid, (_, ok) in notes.items()
        if ok and not rules.in_review_sample(campaign.seed, pid, campaign.review_percent)
    )
    # Loaded once and held: approve() then finds each person and plan item in the session.
    held = [
        *session.scalars(select(Person).where(among(session, Person.id, chosen))),
        *session.scalars(select(PlanItem).where(PlanItem.run_id == campaign.run_id)),
    ]
    for pid in chosen:
        try:
            # The CLI launches as no one in particular: the approval then names no one either.
            approve(session, note_id=notes[pid][0], user_id=cast(int, user_id), settings=settings)
        except NoteError:  # consent withdrawn since the plan, say: it waits for a person instead
            continue
    del held


def report(session: Session, campaign: Campaign, *, already_launched: bool) -> LaunchReport:
    """The launch's result, from what is stored (so a repeated launch reports the same numbers)."""
    groups = _members_by(session, campaign, CampaignMember.assignment)
    reasons = _members_by(session, campaign, CampaignMember.reason, MemberGroup.excluded)
    approved = _auto_approved(session, campaign)
    drafted = int(
        session.scalar(
            select(func.count()).where(
                CampaignMember.campaign_id == campaign.id, CampaignMember.note_id.is_not(None)
            )
        )
        or 0
    )
    return LaunchReport(
        campaign_id=campaign.id,
        thanked=groups.get(MemberGroup.thanked, 0),
        holdout=groups.get(MemberGroup.holdout, 0),
        excluded=rules.count_by((), rules.EXCLUSION_REASONS) | reasons,
        drafted=drafted,
        auto_approved=approved,
        to_review=drafted - approved,
        already_launched=already_launched,
        run_id=campaign.run_id,
    )


def _auto_approved(session: Session, campaign: Campaign) -> int:
    """Notes outside the review sample approved by the launch itself (by its end), not by a reviewer later."""
    if campaign.review_rule != ReviewRule.sample:
        return 0
    rows = session.execute(
        select(Note.person_id)
        .join(CampaignMember, CampaignMember.note_id == Note.id)
        .where(
            CampaignMember.campaign_id == campaign.id,
            Note.status == NoteStatus.approved,
            Note.decided_at <= campaign.updated_at,
        )
    ).scalars()
    return sum(1 for pid in rows if not rules.in_review_sample(campaign.seed, pid, campaign.review_percent))


def _members_by(
    session: Session, campaign: Campaign, column: object, group: str | None = None
) -> dict[str, int]:
    query = select(column, func.count()).where(CampaignMember.campaign_id == campaign.id)  # type: ignore[call-overload]
    if group is not None:
        query = query.where(CampaignMember.assignment == group)
    return {key: int(n) for key, n in session.execute(query.group_by(column)) if key is not None}


def status(session: Session, *, campaign_id: int) -> CampaignStatusView:
    """Members by group and reason, notes by status, messages by outbox status."""
    campaign = _campaign(session, campaign_id)
    groups = _members_by(session, campaign, CampaignMember.assignment)
    reasons = _members_by(session, campaign, CampaignMember.reason, MemberGroup.excluded)
    notes = dict.fromkeys(NOTE_STATUSES, 0) | {
        key: int(n)
        for key, n in session.execute(
            select(Note.status, func.count())
            .join(CampaignMember, CampaignMember.note_id == Note.id)
            .where(CampaignMember.campaign_id == campaign.id)
            .group_by(Note.status)
        )
    }
    messages = dict.fromkeys(MESSAGE_STATUSES, 0) | {
        key: int(n)
        for key, n in session.execute(
            select(Message.status, func.count())
            .join(CampaignMember, CampaignMember.note_id == Message.note_id)
            .where(CampaignMember.campaign_id == campaign.id)
            .group_by(Message.status)
        )
    }
    return CampaignStatusView(
        campaign_id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        send_on=campaign.send_on.isoformat(),
        members=dict.fromkeys(GROUPS, 0) | groups,
        excluded=rules.count_by((), rules.EXCLUSION_REASONS) | reasons,
        notes=notes,
        messages=messages,
        holdout=groups.get(MemberGroup.holdout, 0),
        launched_at=campaign.launched_at.isoformat() if campaign.launched_at else None,
    )
