"""Who may handle complaints: every member of staff; what each one sees is the visibility rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from goodwill.web.auth import Principal
from goodwill.web.deps import STAFF, require_role

handle_complaints = require_role("handle complaints", *STAFF)
ComplaintHandler = Annotated[Principal, Depends(handle_complaints)]
