"""``goodwill note ...``: check a note's sincerity, draft a note for a person. Thin."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

note_app = typer.Typer(help="Personal notes: the sincerity check and drafts.", no_args_is_help=True)

CHANNELS = ("email", "sms", "card", "call")


def _channel(value: str) -> str:
    if value not in CHANNELS:
        raise typer.BadParameter(f"use one of {', '.join(CHANNELS)}")
    return value


@note_app.command("check")
def check_command(
    first_name: Annotated[str, typer.Option("--first-name", help="The name of the person the note is for.")],
    fact: Annotated[
        list[str] | None, typer.Option("--fact", help="Something we know about them (repeatable).")
    ] = None,
    channel: Annotated[
        str, typer.Option(help="email, sms, card or call (sets the length limit).", callback=_channel)
    ] = "email",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Check a note read from standard input: clichés, pitches, hidden asks, guilt, placeholders...

    Exits 0 when the note passes and 1 when it has a blocking problem.
    """
    from goodwill.cli import console, print_json
    from goodwill.notes.sincerity import check_note

    text = sys.stdin.read()
    result = check_note(text, first_name=first_name, facts=fact or (), channel=channel)
    if as_json:
        print_json(result.as_dict())
    else:
        verdict = "[green]passes[/]" if result.ok else "[red]does not pass[/]"
        console.print(f"Score {result.score}/100 — {verdict}")
        for problem in result.problems:
            mark = "[red]✗[/]" if problem.blocking else "[yellow]![/]"
            console.print(
                f" {mark} [bold]{problem.kind}[/]: “{escape(problem.text)}” — {escape(problem.hint)}"
            )
    raise typer.Exit(0 if result.ok else 1)


@note_app.command("draft")
def draft_command(
    ref: Annotated[str, typer.Argument(help="The person's id or email.")],
    moment: Annotated[
        str | None, typer.Option("--moment", help="Which of their moments (default: the strongest today).")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="email, sms, card or call (default: their preferred, else email).")
    ] = None,
    save: Annotated[bool, typer.Option("--save", help="Put the draft in the review queue.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Draft a note for one person from their moment, facts and history, and check it."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.notes.service import NoteError, draft_on_request, note_dict
    from goodwill.people.service import PersonNotFound
    from goodwill.planner.domain import MomentKind

    cfg = settings()
    if channel is not None:
        _channel(channel)
    known = [kind.value for kind in MomentKind]
    if moment is not None and moment not in known:
        fail(f"--moment: unknown moment {moment!r}; use one of {', '.join(known)}", 2)
    with database(cfg).transaction() as s:
        try:
            note = draft_on_request(s, ref=ref, moment=moment, channel=channel, settings=cfg)
        except (PersonNotFound, NoteError) as exc:
            fail(str(exc))
        data = note_dict(note)
        if not save:
            s.rollback()
            data["id"] = None
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]{data['moment'].replace('_', ' ')}[/] — {escape(data['evidence'])}  ({data['channel']})"
    )
    if data["subject"]:
        console.print(f"Subject: {escape(data['subject'])}")
    console.print(escape(data["body"]))
    check = data["check"]
    console.print(f"\nSincerity score {check['score']}/100" + ("" if check["ok"] else " — needs changes"))
    for problem in check["problems"]:
        console.print(f" • {problem['kind']}: “{escape(problem['text'])}” — {escape(problem['hint'])}")
    if save:
        console.print(f"Saved as draft #{data['id']} in the review queue.")
