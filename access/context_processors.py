from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from access.policy import can
from access.roles import Capability


def staff(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "can_create_case": can(user, Capability.CASE_CREATE),
        "can_read_cases": can(user, Capability.CASE_READ),
        "can_supervise": can(user, Capability.GRANT_MANAGE),
        "can_break_glass": can(user, Capability.BREAK_GLASS),
        "can_review_audit": can(user, Capability.AUDIT_REVIEW),
    }
