"""``goodwill people export`` and ``goodwill people erase``: a person's data, handed over or erased. Thin."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape


def export_command(
    ref: Annotated[str, typer.Argument(help="The person's id or email.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON to this file (readable by you only).")
    ] = None,
) -> None:
    """Everything we hold about one person, as JSON (to standard output, or to --out FILE)."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.people.privacy import export_person
    from goodwill.people.service import PersonNotFound

    cfg = settings()
    with database(cfg).reading() as s:
        try:
            data = export_person(
                s,
                person_ref=ref,
                currency=cfg.business.currency,
                secret_key=cfg.resolved_secret_key(),
            )
        except PersonNotFound as exc:
            fail(str(exc))
    if out is None:
        print_json(data)
        return
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    try:
        # Personal data: created readable by the owner only.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    console.print(f"Wrote the data of person #{data['person']['id']} to {escape(str(out))}.")


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment (some containers)
        return "cli"


def erase_command(
    ref: Annotated[str, typer.Argument(help="The person's id or email.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept with the record: leave their details out).")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Erase a person's personal data everywhere; the ledgers keep their numbers under the person's id.

    Their addresses go on the suppression list, so a later import of them is never contacted.
    This cannot be undone: export first if they asked for a copy.
    """
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.people.privacy import ErasureRefused, erase_person
    from goodwill.people.service import PersonNotFound, get_person

    cfg = settings()
    db = database(cfg)
    if not yes:
        with db.reading() as s:
            try:
                person = get_person(s, ref)
                label = f"{person.name or 'no name'} #{person.id}"
            except PersonNotFound:
                label = ref
        if not typer.confirm(f"Erase {label}? This cannot be undone.", default=False):
            fail("nothing was erased")
    with db.transaction() as s:
        try:
            report = erase_person(
                s,
                person_ref=ref,
                secret_key=cfg.resolved_secret_key(),
                erased_by=_operator(),
                reason=reason,
            )
        except (PersonNotFound, ErasureRefused) as exc:
            fail(str(exc))
    if as_json:
        print_json(report.as_dict())
        return
    if report.person_id is None:
        console.print("Already erased: that address is on the suppression list; nobody holds it now.")
        return
    state = "Already erased" if report.already_erased else "Erased"
    console.print(f"{state}: person #{report.person_id} is now [bold]{escape(report.name)}[/].")
    suppressed = ", ".join(f"{n} {kind}" for kind, n in report.suppressed.items() if n) or "none"
    console.print(f"  addresses on the suppression list: {suppressed} ({report.newly_suppressed} new)")
    console.print(f"  messages cancelled: {report.messages_cancelled}")
    for title, counts in (("deleted", report.removed), ("cleared", report.blanked), ("kept", report.kept)):
        listed = ", ".join(f"{n} {table}" for table, n in counts.items() if n) or "nothing"
        console.print(f"  {title}: {listed}")
