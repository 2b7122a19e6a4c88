"""What goes wrong with a campaign, in words a manager can act on."""

from __future__ import annotations


class CampaignError(ValueError):
    """Bad input for a campaign, or a step it is not ready for; ``field`` names what to fix
    ("name", "audience.min_spend", "templates.champions", "status")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CampaignNotFound(LookupError):
    pass
