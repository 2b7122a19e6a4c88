"""``goodwill user ...`` (being written)."""

import typer

user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
