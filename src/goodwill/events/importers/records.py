"""Rows of an events or people file as ``(line, fields)``, from CSV or JSON Lines alike.

``fields`` maps canonical column names to text ("" when absent), so the parsers below do not
care which format a row came from. A JSON Lines line that is not a JSON object becomes a
``RowError`` for that line only, as does a value with a lone surrogate (``"\\ud800"``: not text
any database can store); a NUL character (``"\\u0000"``) is taken out, as in CSV files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, cast

from goodwill.events.importers.csvfile import (
    PROGRESS_EVERY,
    CsvRows,
    ImportFileError,
    Progress,
    normalise_header,
    read_sample,
)
from goodwill.events.importers.parsing import RowError

Fields = dict[str, str]
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}


def is_json_lines(path: Path) -> bool:
    """By extension, else by content: a file whose first character is ``{`` is JSON Lines."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        read_sample(path)  # still fail clearly on a missing, empty or binary file
        return True
    sample = read_sample(path)
    return suffix not in CSV_SUFFIXES and sample.lstrip().startswith("{")


def canonical(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Every accepted (normalised) column name -> its canonical name."""
    return {alias: name for name, options in aliases.items() for alias in (name, *options)}


def csv_records(
    path: Path, aliases: dict[str, tuple[str, ...]], required: list[str], what: str, progress: Progress | None
) -> Iterator[tuple[int, Fields | RowError]]:
    with CsvRows(path, progress=progress) as rows:
        col = rows.resolve(aliases, required, what)
        present = [(name, index) for name, index in col.items() if index >= 0]
        for line, cells in rows:
            yield line, {name: cells[index] for name, index in present}


def jsonl_records(
    path: Path, aliases: dict[str, tuple[str, ...]], progress: Progress | None
) -> Iterator[tuple[int, Fields | RowError]]:
    names = canonical(aliases)
    size = path.stat().st_size
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                if progress is not None and line % PROGRESS_EVERY == 0:
                    progress(min(cast(BinaryIO, handle.buffer).tell(), size), size)
                yield line, _json_fields(raw, names)
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{path}: the file is not UTF-8 text (near byte {exc.start}); save it as UTF-8"
        ) from None
    if progress is not None:
        progress(size, size)


def _json_fields(raw: str, names: dict[str, str]) -> Fields | RowError:
    try:
        data = json.loads(raw, parse_float=Decimal)  # exact amounts: 12.30 must not become 12.2999
    except json.JSONDecodeError as exc:
        return RowError(f"not valid JSON ({exc.msg} at column {exc.colno})")
    except ValueError:  # an integer of thousands of digits (Python's int conversion limit)
        return RowError("not valid JSON here (a number with too many digits)")
    except RecursionError:  # [[[[...]]]] nested thousands deep
        return RowError("not valid JSON here (nested too deeply)")
    if not isinstance(data, dict):
        return RowError('each line must be a JSON object like {"email": ...}')
    escaped = "\\u" in raw  # only an escape can put a NUL or a lone surrogate in a string
    fields: Fields = {}
    for key, value in data.items():
        name = names.get(normalise_header(str(key)))
        if name is None or name in fields:
            continue  # unknown keys are ignored, like extra CSV columns
        text = _text(value)
        if isinstance(text, RowError):
            return RowError(f"{_shown(key)} {text}")
        if escaped:
            text = text.replace("\x00", "")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return RowError(f"{_shown(key)} is not valid Unicode text (a lone \\ud800-\\udfff escape)")
        fields[name] = text
    return fields


def _shown(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(value: Any) -> str | RowError:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | Decimal):
        return str(value)
    if isinstance(value, float):  # NaN or Infinity: every other number is read as a Decimal
        return RowError(f"is {value}, not a number")
    return RowError("must be text or a number, not a list or object")
