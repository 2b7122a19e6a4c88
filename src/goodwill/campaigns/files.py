"""A campaign written in a TOML or JSON file (``goodwill campaign create --from FILE``). Pure.

The keys are ``CampaignDraft``'s: ``name``, ``send_on`` (a TOML date or "YYYY-MM-DD"),
``description``, ``channels``, ``window_from_hour``, ``window_until_hour``, ``review_rule``,
``review_percent``, ``holdout_percent``, and the tables ``[audience]`` and ``[templates]``
(segment = template text). An unknown key is refused by name.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from goodwill.campaigns.errors import CampaignError
from goodwill.campaigns.validation import CampaignDraft

KEYS = tuple(f.name for f in fields(CampaignDraft))


def read_campaign_text(text: str, *, suffix: str) -> dict[str, Any]:
    """The file's table: JSON when the name ends in .json, else TOML."""
    try:
        data = json.loads(text) if suffix.lower() == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise CampaignError("file", f"not valid JSON: line {exc.lineno}: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError("file", f"not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise CampaignError("file", "must hold one table of campaign fields")
    return data


def read_campaign_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError("file", f"cannot read {path}: {exc}") from None
    return read_campaign_text(text, suffix=path.suffix)


def merged_draft(
    data: dict[str, Any],
    *,
    fields: dict[str, Any],
    audience: dict[str, Any],
    templates: dict[str, str],
) -> CampaignDraft:
    """A file's table with the fields, audience fields and templates given apart (None: not given) on top."""
    values = {**data, **{key: value for key, value in fields.items() if value is not None}}
    given = {key: value for key, value in audience.items() if value is not None}
    values["audience"] = {**dict(values.get("audience") or {}), **given}
    values["templates"] = {**dict(values.get("templates") or {}), **templates}
    return draft_from(values)


def draft_from(data: dict[str, Any]) -> CampaignDraft:
    """A draft from a table of fields; only ``name`` and ``send_on`` are required."""
    for key in data:
        if key not in KEYS:
            raise CampaignError(key, f"unknown campaign field; known: {', '.join(KEYS)}")
    for key in ("name", "send_on"):
        if data.get(key) in (None, ""):
            raise CampaignError(key, "is required")
    values = dict(data)
    values["send_on"] = parse_day(values["send_on"], "send_on")
    values.setdefault("audience", {})
    values.setdefault("templates", {})
    if isinstance(values.get("channels"), list):
        values["channels"] = tuple(values["channels"])
    return CampaignDraft(**values)


def parse_day(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        raise CampaignError(field, "must be a day (YYYY-MM-DD), not a time")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise CampaignError(field, f"not a day: {value!r} (use YYYY-MM-DD)") from None
