"""``goodwill import ...`` (being written)."""

import typer

import_app = typer.Typer(help="Import orders, events and people from files.", no_args_is_help=True)
