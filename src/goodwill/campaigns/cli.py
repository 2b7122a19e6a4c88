"""``goodwill campaign ...``: create a campaign, preview it, launch it once, follow it. Thin.

The helpers from ``goodwill.cli`` are imported inside each command because that module imports this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    help="Campaigns: seasonal thank-yous to an audience, capped, reviewed, measured.", no_args_is_help=True
)
JSON = typer.Option("--json", help="Print JSON for scripts.")
REF = typer.Argument(help="The campaign's id or exact name.")
BY = typer.Option("--by", help="The staff member's email it is done as (recorded; default: no one).")


def _refuse(exc: Exception) -> NoReturn:
    from goodwill.campaigns.errors import CampaignError
    from goodwill.cli import fail

    if isinstance(exc, CampaignError):
        fail(f"{_option(exc.field)}: {exc.message}")
    fail(str(exc))


def _option(field: str) -> str:
    """The option that sets a field: "audience.min_spend" -> "--min-spend", "templates.loyal" stays."""
    head, _, tail = field.partition(".")
    if head in ("templates", "file", "status", "--template"):
        return field
    renamed = {"window_from_hour": "window_from", "window_until_hour": "window_until"}
    return "--" + renamed.get(tail or head, tail or head).replace("_", "-")


def _user(session: Any, email: str | None) -> int | None:
    if email is None:
        return None
    from goodwill.cli import fail
    from goodwill.team.service import UserNotFound, get_user

    try:
        return get_user(session=session, email=email).id
    except UserNotFound as exc:
        fail(str(exc))


def _print_counts(title: str, counts: dict[str, int]) -> None:
    from goodwill.cli import console

    shown = ", ".join(f"{key.replace('_', ' ')} {n:,}" for key, n in counts.items() if n) or "none"
    console.print(f"{title}: {shown}")


@app.command("create")
def create(
    from_file: Annotated[
        Path | None, typer.Option("--from", help="A TOML or JSON file of the campaign's fields.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name nobody else's campaign has.")] = None,
    send_on: Annotated[str | None, typer.Option("--send-on", help="The send day, YYYY-MM-DD.")] = None,
    description: Annotated[str | None, typer.Option(help="What it is for, for the team.")] = None,
    kind: Annotated[str | None, typer.Option(help="Audience: customer, prospect or any.")] = None,
    min_orders_this_year: Annotated[
        int | None, typer.Option("--min-orders-this-year", help="Audience: paid orders this year, at least.")
    ] = None,
    min_orders_total: Annotated[
        int | None, typer.Option("--min-orders-total", help="Audience: paid orders ever, at least.")
    ] = None,
    min_spend: Annotated[
        str | None, typer.Option("--min-spend", help="Audience: spend net of refunds, e.g. 150.00.")
    ] = None,
    last_order_within_days: Annotated[
        int | None,
        typer.Option(
            "--last-order-within-days", help="Audience: ordered this many days before the send day."
        ),
    ] = None,
    bank_status: Annotated[
        str | None,
        typer.Option("--bank-status", help="Audience: healthy, watch, overdrawn (comma-separated)."),
    ] = None,
    rfm_segments: Annotated[
        str | None, typer.Option("--rfm-segments", help="Audience: RFM segments (comma-separated).")
    ] = None,
    loyalty_tiers: Annotated[
        str | None, typer.Option("--loyalty-tiers", help="Audience: loyalty tiers (comma-separated).")
    ] = None,
    not_thanked_days: Annotated[
        int | None, typer.Option("--not-thanked-days", help="Audience: not thanked in this many days.")
    ] = None,
    template: Annotated[
        list[str] | None,
        typer.Option(help="SEGMENT=FILE: the note template for an RFM segment or 'default' (repeatable)."),
    ] = None,
    channels: Annotated[
        str | None, typer.Option(help="Channels allowed, in order: email,sms,card,call.")
    ] = None,
    window_from: Annotated[
        int | None, typer.Option("--window-from", help="Send window start hour (10).")
    ] = None,
    window_until: Annotated[
        int | None, typer.Option("--window-until", help="Send window end hour (18).")
    ] = None,
    review_rule: Annotated[str | None, typer.Option("--review-rule", help="all (default) or sample.")] = None,
    review_percent: Annotated[
        int | None, typer.Option("--review-percent", help="Sample rule: share of notes reviewed, %.")
    ] = None,
    holdout_percent: Annotated[
        int | None, typer.Option("--holdout-percent", help="Share held out to measure impact, % (10).")
    ] = None,
    by: Annotated[str | None, BY] = None,
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """Create a draft campaign from a file and/or options (options win over the file's values).

    Nothing is sent or planned: preview it, then launch it.
    """
    from goodwill.campaigns import service
    from goodwill.campaigns.errors import CampaignError
    from goodwill.campaigns.files import merged_draft, read_campaign_file
    from goodwill.campaigns.reports import campaign_dict
    from goodwill.cli import console, database, print_json, settings

    fields = {
        "name": name,
        "send_on": send_on,
        "description": description,
        "channels": channels,
        "window_from_hour": window_from,
        "window_until_hour": window_until,
        "review_rule": review_rule,
        "review_percent": review_percent,
        "holdout_percent": holdout_percent,
    }
    audience = {
        "kind": kind,
        "min_orders_this_year": min_orders_this_year,
        "min_orders_total": min_orders_total,
        "min_spend": min_spend,
        "last_order_within_days": last_order_within_days,
        "bank_status": bank_status,
        "rfm_segments": rfm_segments,
        "loyalty_tiers": loyalty_tiers,
        "not_thanked_days": not_thanked_days,
    }
    try:
        data = read_campaign_file(from_file) if from_file is not None else {}
        draft = merged_draft(data, fields=fields, audience=audience, templates=_templates(template or []))
    except CampaignError as exc:
        _refuse(exc)
    cfg = settings()
    with database(cfg).transaction() as s:
        try:
            campaign = service.create_campaign(s, draft=draft, user_id=_user(s, by), settings=cfg)
        except CampaignError as exc:
            _refuse(exc)
        shown = campaign_dict(campaign, cfg)
    if as_json:
        print_json(shown)
        return
    console.print(f"Created campaign #{shown['id']} “{shown['name']}” for {shown['send_on']}:")
    console.print(f"  {shown['audience_words']}.")
    console.print(f"Next: goodwill campaign preview {shown['id']}")


def _templates(pairs: list[str]) -> dict[str, str]:
    from goodwill.campaigns.errors import CampaignError

    found: dict[str, str] = {}
    for pair in pairs:
        segment, sep, path = pair.partition("=")
        if not sep or not segment.strip() or not path.strip():
            raise CampaignError("--template", f"use SEGMENT=FILE, not {pair!r}")
        try:
            found[segment.strip()] = Path(path.strip()).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CampaignError(
                f"templates.{segment.strip()}", f"cannot read {path.strip()}: {exc}"
            ) from None
    return found


@app.command("preview")
def preview(
    ref: Annotated[str, REF],
    samples: Annotated[int, typer.Option(min=0, max=50, help="Sample drafts to show.")] = 5,
    as_json: Annotated[bool, JSON] = False,
) -> None:
    """Who a launch now would thank, hold out and leave out (and why), the work it makes, and
    sample drafts with their sincerity check. Writes nothing."""
    from rich.markup import escape

    from goodwill.campaigns import service
    from goodwill.cli import console, database, print_json, settings

    cfg = settings()
    with database(cfg).reading() as s:
        try:
            found = service.get_campaign(s, ref)
            result = service.preview(s, campaign_id=found.id, settings=cfg, samples=samples)
        except (service.CampaignError, service.CampaignNotFound) as exc:
            _refuse(exc)
        title = f"[bold]{escape(found.name)}[/] on {found.send_on}: {escape(result.audience_words)}"
    if as_json:
        print_json(result.as_dict())
        return
    console.print(title)
    console.print(
        f"Audience {result.audience_size:,}: {result.thanked:,} to thank, {result.holdout:,} held out."
    )
    _print_counts("Left out", result.excluded)
    _print_counts("By channel", result.by_channel)
    _print_counts("By segment", result.by_segment)
    for line in result.notes:
        console.print(f" • {escape(line)}")
    for sample in result.samples:
        verdict = "[green]passes[/]" if sample.ok else "[red]does not pass[/]"
        console.print(
            f"\n[bold]{escape(sample.first_name)}[/] #{sample.person_id} · {sample.segment} · "
            f"{sample.channel} · score {sample.score} {verdict}"
        )
        if sample.subject:
            console.print(f"Subject: {escape(sample.subject)}")
        console.print(escape(sample.body))


@app.command("launch")
def launch(
    ref: Annotated[str, REF], by: Annotated[str | None, BY] = None, as_json: Annotated[bool, JSON] = False
) -> None:
    """Assign everyone (thanked, held out, excluded), plan and draft the notes, and under the sample
    rule approve the notes outside the review sample. Launching again changes nothing."""
    from goodwill.campaigns import service
    from goodwill.cli import console, database, print_json, settings
    from goodwill.db import utcnow

    cfg = settings()
    with database(cfg).transaction() as s:
        try:
            found = service.get_campaign(s, ref)
            report = service.launch(s, campaign_id=found.id, user_id=_user(s, by), settings=cfg, now=utcnow())
        except (service.CampaignError, service.CampaignNotFound) as exc:
            _refuse(exc)
    if as_json:
        print_json(report.as_dict())
        return
    head = "Already launched" if report.already_launched else "Launched"
    console.print(f"{head}: {report.thanked:,} thanked, {report.holdout:,} held out.")
    approved, waiting = report.auto_approved, report.to_review
    console.print(f"Notes: {report.drafted:,} drafted, {approved:,} approved, {waiting:,} to review.")
    _print_counts("Left out", report.excluded)


@app.command("status")
def status(ref: Annotated[str, REF], as_json: Annotated[bool, JSON] = False) -> None:
    """Where a campaign stands: members by group, notes by status, messages by outbox status."""
    from rich.markup import escape

    from goodwill.campaigns import service
    from goodwill.cli import console, database, print_json, settings

    cfg = settings()
    with database(cfg).reading() as s:
        try:
            view = service.status(s, campaign_id=service.get_campaign(s, ref).id)
        except service.CampaignNotFound as exc:
            _refuse(exc)
    if as_json:
        print_json(view.as_dict())
        return
    console.print(f"[bold]{escape(view.name)}[/] ({view.status}) on {view.send_on}")
    _print_counts("Members", view.members)
    _print_counts("Left out", view.excluded)
    _print_counts("Notes", view.notes)
    _print_counts("Messages", view.messages)


@app.command("list")
def list_campaigns(as_json: Annotated[bool, JSON] = False) -> None:
    """Every campaign, the newest send day first."""
    from rich.table import Table

    from goodwill.campaigns import service
    from goodwill.campaigns.reports import campaign_dict
    from goodwill.cli import console, database, print_json, settings

    cfg = settings()
    with database(cfg).reading() as s:
        items = [campaign_dict(c, cfg) for c in service.list_campaigns(s)]
    if as_json:
        print_json(items)
        return
    table = Table(title=f"Campaigns ({len(items)})")
    for column in ("id", "name", "send on", "status", "audience"):
        table.add_column(column)
    for item in items:
        table.add_row(str(item["id"]), item["name"], item["send_on"], item["status"], item["audience_words"])
    console.print(table)
