"""``[impact]`` in goodwill.toml: how thanked and held-out people are compared."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ImpactConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Outcomes are counted over this many days after the plan day or the campaign's send day.
    window_days: int = Field(default=90, ge=7, le=730)
    # The confidence level of the intervals (0.95: a 95% interval).
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    # Bootstrap resamples for the intervals of averages (orders, spend, bank change).
    bootstrap_samples: int = Field(default=2000, ge=200, le=100_000)
    # Below this many people in either group the verdict is "too small to tell", whatever the numbers.
    min_group_size: int = Field(default=30, ge=2, le=100_000)
