"""Imports every table so metadata is complete (Alembic, tests)."""

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.campaigns.model import Campaign, CampaignMember
from goodwill.complaints.model import Complaint, ComplaintLog, ComplaintReply, ComplaintTheme
from goodwill.db import Base
from goodwill.events.model import Event, Order
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore  # noqa: F401
from goodwill.loyalty.model import (
    LotDrawn,
    LoyaltyAccount,
    LoyaltyDraw,
    LoyaltyEntry,
    LoyaltyRuleOverride,
    Redemption,
    Reward,
)
from goodwill.notes.model import Note
from goodwill.outbox.model import Message, MessageAttempt
from goodwill.people.model import ConsentChange, Fact, Person, PersonIdentity, Suppression
from goodwill.planner.model import PlanHoldout, PlanItem, PlanRun
from goodwill.team.model import Kudos, StaffNotice, Team, TeamMember, User
from goodwill.web.model import ApiToken, IdempotencyRecord, LoginFailure, WebSession

__all__ = [
    "ApiToken",
    "BankEntry",
    "BankStanding",
    "Base",
    "Campaign",
    "CampaignMember",
    "Complaint",
    "ComplaintLog",
    "ComplaintReply",
    "ComplaintTheme",
    "ConsentChange",
    "Event",
    "Fact",
    "IdempotencyRecord",
    "Kudos",
    "LoginFailure",
    "LotDrawn",
    "LoyaltyAccount",
    "LoyaltyDraw",
    "LoyaltyEntry",
    "LoyaltyRuleOverride",
    "Message",
    "MessageAttempt",
    "Note",
    "Order",
    "Person",
    "PersonIdentity",
    "PlanHoldout",
    "PlanItem",
    "PlanRun",
    "Redemption",
    "Reward",
    "StaffNotice",
    "Suppression",
    "Team",
    "TeamMember",
    "User",
    "WebSession",
]
