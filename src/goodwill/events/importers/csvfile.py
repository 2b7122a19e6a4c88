"""Reading import files as a stream of (physical line number, row), whatever the spreadsheet did.

Tolerates a UTF-8 byte order mark, ``,`` ``;`` tab or ``|`` delimiters (sniffed from the header),
header names in any case or spacing, short rows (missing cells are empty) and long rows (extra
cells are ignored). A stray NUL character is taken out of its cell: no one types it, and
PostgreSQL cannot store it in text (a file full of NULs is binary, and refused). A file that cannot
be read at all raises ``ImportFileError`` with one clear message, so the caller's transaction rolls
back and nothing is stored.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 20_000  # rows between progress callbacks

_DELIMITERS = (",", ";", "\t", "|")


class ImportFileError(Exception):
    """The file cannot be imported at all (unreadable, unknown format, missing required columns)."""


csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def normalise_header(name: str) -> str:
    """``" Order ID"`` / ``"order-id"`` / ``"OrderId"`` -> ``"order_id"``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")


def read_sample(path: Path, size: int = 65_536) -> str:
    """The start of the file as text, checking on the way that it exists and is UTF-8."""
    try:
        with path.open("rb") as raw:
            head = raw.read(size)
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not head.strip():
        raise ImportFileError(f"{path}: the file is empty")
    # UTF-16 text, a picture, a spreadsheet: NULs all over. A stray NUL or two in a cell of a text
    # file is not that: the cell loses it (see ``_without_nul``) and the rest of the file is kept.
    nuls = head.count(b"\x00", 0, 4096)
    if nuls > 2 and nuls * 100 > min(len(head), 4096):
        raise ImportFileError(f"{path}: this is a binary file, not CSV or JSON Lines text")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if nuls:
            raise ImportFileError(f"{path}: this is a binary file, not CSV or JSON Lines text") from None
        if len(head) < size or exc.start < len(head) - 3:
            raise _not_utf8(path, exc) from None
        text = head[: exc.start].decode("utf-8-sig")  # the sample cut a character in two
    return text


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> ImportFileError:
    return ImportFileError(
        f"{path}: the file is not UTF-8 text (byte {exc.object[exc.start]:#04x} near byte {exc.start}); "
        "save or export it as UTF-8 CSV"
    )


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that splits the header the most (outside quotes); ``,`` on a tie."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _without_nul(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line.replace("\x00", "") if "\x00" in line else line


class CsvRows:
    """Iterates ``(line, cells)`` after the header; ``line`` is where the record starts (header = 1)."""

    def __init__(self, path: Path, *, progress: Progress | None = None) -> None:
        self.path = path
        sample = read_sample(path)
        first_line = sample.splitlines()[0] if sample.splitlines() else ""
        self.delimiter = sniff_delimiter(first_line)
        self.size = path.stat().st_size
        self.progress = progress
        self._file = path.open(encoding="utf-8-sig", newline="")
        self._reader = csv.reader(_without_nul(self._file), delimiter=self.delimiter)
        try:
            header = next(self._reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            self.close()
            raise ImportFileError(f"{path}: cannot read the header line ({exc})") from None
        if not header or not any(cell.strip() for cell in header):
            self.close()
            raise ImportFileError(f"{path}: the first line must be a header naming the columns")
        self.header = [cell.strip() for cell in header]
        self.columns: dict[str, int] = {}
        for index, name in enumerate(self.header):
            self.columns.setdefault(normalise_header(name), index)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def require(self, names: list[str], what: str) -> None:
        self._fail_if_missing([n for n in names if n not in self.columns], what)

    def resolve(self, aliases: dict[str, tuple[str, ...]], required: list[str], what: str) -> dict[str, int]:
        """Column index per canonical name (``-1`` when absent), accepting documented aliases."""
        found = {
            name: next((self.columns[a] for a in (name, *options) if a in self.columns), -1)
            for name, options in aliases.items()
        }
        self._fail_if_missing([n for n in required if found[n] < 0], what)
        return found

    def _fail_if_missing(self, missing: list[str], what: str) -> None:
        if missing:
            found = ", ".join(self.header[:12]) + (" ..." if len(self.header) > 12 else "")
            raise ImportFileError(
                f"{self.path}: missing required column(s) {', '.join(missing)} for {what} (found: {found})"
            )

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader
        width = len(self.header)
        last_line = reader.line_num
        count = 0
        try:
            for cells in reader:
                start, last_line = last_line + 1, reader.line_num
                if not cells or (not cells[0].strip() and not any(c.strip() for c in cells)):
                    continue  # a blank line (or a row of empty cells) is not a row
                if len(cells) != width:
                    cells = cells[:width] + [""] * (width - len(cells))
                count += 1
                if self.progress is not None and count % PROGRESS_EVERY == 0:
                    self.progress(self.position(), self.size)
                yield start, cells
        except UnicodeDecodeError as exc:
            raise _not_utf8(self.path, exc) from None
        except csv.Error as exc:
            raise ImportFileError(f"{self.path}: line {reader.line_num}: broken CSV ({exc})") from None
        if self.progress is not None:
            self.progress(self.size, self.size)

    def position(self) -> int:
        """Bytes read so far (buffered, so slightly ahead): good enough for a progress bar."""
        return min(cast(BinaryIO, self._file.buffer).tell(), self.size)
