"""``goodwill loyalty rewards ...`` and ``goodwill loyalty redemptions``: the catalogue and its redemptions.

Registered by ``goodwill.loyalty.cli``, whose helpers are imported inside each function (it imports
this module).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from goodwill.loyalty.model import Redemption, Reward

rewards_app = typer.Typer(help="The rewards catalogue.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def reward_json(reward: Reward) -> dict[str, Any]:
    from goodwill.loyalty.cli import plain

    return {
        "id": reward.id,
        "name": reward.name,
        "kind": reward.kind,
        "description": reward.description,
        "cost_points": reward.cost_points,
        "stock": reward.stock,
        "per_person_limit": reward.per_person_limit,
        "available_from": plain(reward.available_from),
        "available_until": plain(reward.available_until),
        "active": reward.active,
    }


@rewards_app.command("list")
def rewards_list_command(
    available: Annotated[
        bool, typer.Option("--available", help="Only rewards a customer could redeem now.")
    ] = False,
    as_json: JSON = False,
) -> None:
    """The catalogue: every reward with its kind, cost, stock, limit and window."""
    from goodwill.cli import console, database, print_json
    from goodwill.db import utcnow
    from goodwill.loyalty.cli import local_time
    from goodwill.loyalty.rewards import list_rewards

    with database().reading() as s:
        items = [
            reward_json(r) for r in list_rewards(session=s, available_at=utcnow() if available else None)
        ]
    if as_json:
        print_json(items)
        return
    table = Table(title=f"Rewards ({len(items)})")
    for column in ("id", "name", "kind", "points", "stock", "limit", "window", "active"):
        table.add_column(column, justify="right" if column in ("id", "points", "stock", "limit") else "left")
    for r in items:
        start, end = (
            datetime.fromisoformat(r[k]) if r[k] else None for k in ("available_from", "available_until")
        )
        window = f"{local_time(start)}–{local_time(end)}" if start or end else "always"
        none = "—"
        table.add_row(
            str(r["id"]), escape(r["name"]), r["kind"], str(r["cost_points"]),
            none if r["stock"] is None else str(r["stock"]),
            none if r["per_person_limit"] is None else str(r["per_person_limit"]),
            window, "yes" if r["active"] else "no",
        )  # fmt: skip
    console.print(table)


@rewards_app.command("add")
def rewards_add_command(
    name: Annotated[str, typer.Argument(help='What the customer sees, e.g. "Bamboo matcha whisk set".')],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="physical_gift, experience, earned_bonus, donation, discount or free_shipping."
        ),
    ],
    cost: Annotated[int, typer.Option("--cost", help="Cost in points.")],
    description: Annotated[str, typer.Option("--description", help="A line or two for customers.")] = "",
    stock: Annotated[
        int | None, typer.Option("--stock", help="How many there are (default: unlimited).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many per person (default: no limit).")
    ] = None,
    available_from: Annotated[
        str | None, typer.Option("--from", help="Available from this day (YYYY-MM-DD) or ISO time.")
    ] = None,
    available_until: Annotated[
        str | None,
        typer.Option("--until", help="Available through this day (YYYY-MM-DD), or until an ISO time."),
    ] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Add it switched off.")] = False,
    as_json: JSON = False,
) -> None:
    """Add a reward to the catalogue."""
    from goodwill.cli import console, database, fail, print_json
    from goodwill.loyalty.cli import moment, refusal
    from goodwill.loyalty.ledger import LoyaltyError
    from goodwill.loyalty.rewards import RewardInput, create_reward

    data = RewardInput(
        name=name,
        kind=kind,
        cost_points=cost,
        description=description,
        stock=stock,
        per_person_limit=limit,
        available_from=moment(available_from, "--from"),
        available_until=moment(available_until, "--until", after_day=True),
        active=not inactive,
    )
    try:
        with database().transaction() as s:
            item = reward_json(create_reward(session=s, data=data))
    except LoyaltyError as exc:
        fail(refusal(exc))
    if as_json:
        print_json(item)
        return
    console.print(
        f"Added reward #{item['id']} {escape(repr(item['name']))} "
        f"({item['kind']}, {item['cost_points']} points)."
    )


def redemption_json(redemption: Redemption, reward: str, person: str) -> dict[str, Any]:
    from goodwill.loyalty.cli import plain

    return {
        "id": redemption.id,
        "person_id": redemption.person_id,
        "person": person,
        "reward_id": redemption.reward_id,
        "reward": reward,
        "points": redemption.points,
        "status": redemption.status,
        "ship_to": redemption.ship_to,
        "tracking": redemption.tracking,
        "created_at": plain(redemption.created_at),
        "updated_at": plain(redemption.updated_at),
    }


def redemptions_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="pending, to_fulfil, shipped, delivered or refunded (repeatable; default all)."
        ),
    ] = None,
    person: Annotated[str | None, typer.Option("--person", help="Only this person (id or email).")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many, newest first.")
    ] = 200,
    as_json: JSON = False,
) -> None:
    """Redemptions, newest first: who, which reward, points, status, where it ships."""
    from sqlalchemy import select

    from goodwill.cli import console, database, fail, print_json
    from goodwill.loyalty.cli import find_person, local_time
    from goodwill.loyalty.model import RedemptionStatus
    from goodwill.loyalty.model import Reward as RewardRow
    from goodwill.loyalty.redemption import redemptions
    from goodwill.people.model import Person as PersonRow

    unknown = [s for s in status or () if s not in RedemptionStatus.__members__]
    if unknown:
        fail(f"--status: unknown {', '.join(unknown)}; known: {', '.join(RedemptionStatus.__members__)}", 2)
    with database().reading() as s:
        pid = find_person(s, person).id if person else None
        rows = redemptions(session=s, statuses=status or None, person_id=pid, limit=limit)
        rewards = dict(
            s.execute(
                select(RewardRow.id, RewardRow.name).where(RewardRow.id.in_({r.reward_id for r in rows}))
            ).all()
        )
        people = dict(
            s.execute(
                select(PersonRow.id, PersonRow.name).where(PersonRow.id.in_({r.person_id for r in rows}))
            ).all()
        )
        items = [redemption_json(r, rewards.get(r.reward_id, ""), people.get(r.person_id, "")) for r in rows]
    if as_json:
        print_json(items)
        return
    table = Table(title=f"Redemptions ({len(items)})")
    for column in ("id", "date", "person", "reward", "points", "status", "ship to", "tracking"):
        table.add_column(column, justify="right" if column in ("id", "points") else "left")
    for r in items:
        ship = r["ship_to"] or {}
        where = ", ".join(p for p in (ship.get("city"), ship.get("country")) if p)
        table.add_row(
            str(r["id"]), local_time(datetime.fromisoformat(r["created_at"])),
            f"{escape(r['person'])} #{r['person_id']}", escape(r["reward"]), str(r["points"]), r["status"],
            escape(where), escape(r["tracking"] or ""),
        )  # fmt: skip
    console.print(table)
