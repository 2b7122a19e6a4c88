"""docs/cli.md documents every command and option the CLI has (the docs are tested, like Datasette's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from goodwill.cli import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def commands() -> Iterator[tuple[str, list[str]]]:
    root = typer.main.get_command(app)

    def walk(command: Any, path: list[str], ctx: Any) -> Iterator[tuple[str, list[str]]]:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                yield from walk(sub, [*path, name], type(ctx)(sub, parent=ctx, info_name=name))
        else:
            options = [
                opt for p in command.params for opt in p.opts if opt.startswith("--") and opt != "--help"
            ]
            yield " ".join(path), options

    yield from walk(
        root,
        ["goodwill"],
        typer.main.get_command(app).make_context("goodwill", ["--help"], resilient_parsing=True),
    )


def test_every_command_and_option_is_documented() -> None:
    text = DOCS.read_text()
    sections = {block.split("\n", 1)[0].strip(): block for block in text.split("\n## ")[1:]}
    missing: list[str] = []
    for path, options in commands():
        heading = f"`{path}`"
        block = next((b for h, b in sections.items() if h.startswith(heading)), None)
        if block is None:
            missing.append(path)
            continue
        missing.extend(f"{path} {opt}" for opt in options if f"`{opt}" not in block)
    assert not missing, f"docs/cli.md lacks: {missing}"
