"""Who may do what with campaigns: every member of staff reads them; managers and admins create,
edit, preview and launch them (a launch thanks hundreds of people at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from goodwill.team.model import Role
from goodwill.web.auth import Principal
from goodwill.web.deps import STAFF, require_role

read_campaigns = require_role("see campaigns", *STAFF)
run_campaigns = require_role("create, edit, preview and launch campaigns", Role.admin, Role.manager)
CampaignReader = Annotated[Principal, Depends(read_campaigns)]
CampaignRunner = Annotated[Principal, Depends(run_campaigns)]
