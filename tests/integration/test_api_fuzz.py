"""Schemathesis over every operation of ``/api/v1/openapi.json``, once per role and once unauthenticated.

Every check schemathesis has runs (server errors, response schema, status code and content type
conformance, negative data rejection, positive data acceptance, ignored auth, unsupported methods and
the Allow header, ...), with positive and negative data, against the real app in-process (ASGI) over a
real database seeded with the demo business, on PostgreSQL and on SQLite. The only exclusions are the
few (operation, check) pairs in ``EXCLUDED``, each with its reason.

CI runs a small, derandomized budget (the same requests every run). A longer, random run is
``GOODWILL_API_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/integration/test_api_fuzz.py``
(see docs/testing.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fuzz_api_target import ROLES, FuzzTarget, load_schemas, postgres_target, sqlite_target
from hypothesis import HealthCheck, settings
from schemathesis import Case

from goodwill.config import fuzz_examples

LONG_RUN = fuzz_examples("GOODWILL_API_FUZZ_EXAMPLES")

# PostgreSQL, the production database: every phase (schema examples, the coverage phase's boundary and
# negative cases, then generated examples: EXAMPLES per operation and role).
EXAMPLES = LONG_RUN or 3
schema, sqlite_schema = load_schemas(2)
schema.config.generation.update(max_examples=EXAMPLES, deterministic=not LONG_RUN)

# SQLite: the same document and checks on a lighter budget (no coverage phase, fewer examples), to keep
# the whole file within a couple of minutes in CI; a long run gives both backends the same budget.
SQLITE_EXAMPLES = LONG_RUN or 2
sqlite_schema.config.generation.update(max_examples=SQLITE_EXAMPLES, deterministic=not LONG_RUN)
if not LONG_RUN:
    sqlite_schema.config.phases.update(phases=["examples", "fuzzing"])

checks = schemathesis.checks
# (operation, check) pairs left out, and why. Everything else runs every check.
BUSINESS_RULE = (
    "positive data acceptance: a 422 here is a documented business rule the schema cannot state "
    "(it depends on the stored data or on several fields together)"
)
EXCLUDED: dict[str, dict[Callable[..., Any], str]] = {
    # The password policy (12+ characters, none from its list of common ones) answers with its own message.
    "POST /api/v1/users": {checks.positive_data_acceptance: BUSINESS_RULE},
    # `POST /people`: "give at least a name or an email" (both optional, and "" counts as missing).
    "POST /api/v1/people": {checks.positive_data_acceptance: BUSINESS_RULE},
    # `kind` must be a registered event kind; the registry is data, not an enum in the schema.
    "POST /api/v1/events": {checks.positive_data_acceptance: BUSINESS_RULE},
    # The sincerity check refuses a generic or salesy note (422 with the problems to fix).
    "POST /api/v1/notes/{note_id}/approve": {checks.positive_data_acceptance: BUSINESS_RULE},
    # Balance, stock, per-person limits and allowed status transitions are the ledger's rules.
    "POST /api/v1/loyalty/redemptions": {checks.positive_data_acceptance: BUSINESS_RULE},
    "POST /api/v1/loyalty/redemptions/{redemption_id}/status": {
        checks.positive_data_acceptance: BUSINESS_RULE
    },
    "POST /api/v1/loyalty/redemptions/{redemption_id}/refund": {
        checks.positive_data_acceptance: BUSINESS_RULE
    },
    # available_until must come after available_from (two fields together).
    "POST /api/v1/loyalty/rewards": {checks.positive_data_acceptance: BUSINESS_RULE},
    "PUT /api/v1/loyalty/rewards/{reward_id}": {checks.positive_data_acceptance: BUSINESS_RULE},
    # A rule's definition is checked against the loyalty settings (free-form body by design).
    "PUT /api/v1/loyalty/rules/{name}": {checks.positive_data_acceptance: BUSINESS_RULE},
    # Agents may open and take complaints only for themselves; a resolved complaint takes no changes.
    "POST /api/v1/complaints": {checks.positive_data_acceptance: BUSINESS_RULE},
    "GET /api/v1/complaints": {checks.positive_data_acceptance: BUSINESS_RULE},
    "POST /api/v1/complaints/{complaint_id}/assign": {checks.positive_data_acceptance: BUSINESS_RULE},
    "POST /api/v1/complaints/{complaint_id}/priority": {checks.positive_data_acceptance: BUSINESS_RULE},
    "POST /api/v1/complaints/{complaint_id}/resolve": {checks.positive_data_acceptance: BUSINESS_RULE},
    # The recipient must be an active colleague other than yourself; the reason is counted after trimming.
    "POST /api/v1/kudos": {checks.positive_data_acceptance: BUSINESS_RULE},
    # A team's manager must be a manager or admin; members must be active users. Also a schemathesis
    # false positive: ids are bounded at 2**63-1 and the generator, going through floats, exceeds it.
    "POST /api/v1/teams": {checks.positive_data_acceptance: BUSINESS_RULE},
    "PATCH /api/v1/teams/{team_id}": {checks.positive_data_acceptance: BUSINESS_RULE},
    "POST /api/v1/teams/{team_id}/members": {checks.positive_data_acceptance: BUSINESS_RULE},
    # A campaign name must contain a letter (a name of digits would read as an id); audience rules.
    "POST /api/v1/campaigns": {checks.positive_data_acceptance: BUSINESS_RULE},
    "PUT /api/v1/campaigns/{campaign_id}": {checks.positive_data_acceptance: BUSINESS_RULE},
    # An adjustment needs a known person and must not take a balance below zero.
    "POST /api/v1/loyalty/adjustments": {checks.positive_data_acceptance: BUSINESS_RULE},
    # `/notes/check` also matches the `/notes/{note_id}` routes (FastAPI paths have no int converter
    # there), so GET/PATCH on it answer 422 rather than 405 and Allow lists them. Open: declare
    # `{note_id:int}` once the role table (docs/security.md) is updated with it.
    "POST /api/v1/notes/check": {
        checks.unsupported_method: "path overlap with /notes/{note_id}",
        checks.allow_header_conformance: "path overlap with /notes/{note_id}",
    },
}


@pytest.fixture(scope="module")
def postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    yield from postgres_target(tmp_path_factory.mktemp("apifuzz-postgresql"))


@pytest.fixture(scope="module")
def sqlite(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    yield from sqlite_target(sqlite_template, tmp_path_factory.mktemp("apifuzz-sqlite"))


def call_and_validate(case: Case, target: FuzzTarget, role: str) -> None:
    excluded = list(EXCLUDED.get(case.operation.label, {}))
    case.call_and_validate(app=target.app, headers=target.auth[role], excluded_checks=excluded)


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
@schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_on_postgresql(case: Case, postgresql: FuzzTarget, role: str) -> None:
    call_and_validate(case, postgresql, role)


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
@sqlite_schema.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_on_sqlite(case: Case, sqlite: FuzzTarget, role: str) -> None:
    call_and_validate(case, sqlite, role)


def test_every_operation_is_fuzzed_and_every_exclusion_names_one() -> None:
    """The fuzz covers the whole document, and no exclusion outlives the operation it was for."""
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert len(labels) >= 55
    assert set(EXCLUDED) <= labels, set(EXCLUDED) - labels
