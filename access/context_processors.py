from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from access import drafts
from access.policy import can, is_staff_member
from access.roles import Capability


def staff(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "can_create_case": can(user, Capability.CASE_CREATE),
        "can_read_cases": can(user, Capability.CASE_READ),
        "can_supervise": can(user, Capability.GRANT_MANAGE),
        "can_break_glass": can(user, Capability.BREAK_GLASS),
        "can_review_audit": can(user, Capability.AUDIT_REVIEW),
        "can_see_statistics": can(user, Capability.STATISTICS),
        "can_see_processing": can(user, Capability.PROCESSING_RECORDS),
        "can_decide_requests": can(user, Capability.SUBJECT_REQUEST_DECIDE),
        "can_make_requests": can(user, Capability.IDENTITY_READ),
        "can_admin_staff": can(user, Capability.STAFF_ADMIN),
    }


def unsaved_work(request: HttpRequest) -> dict[str, Any]:
    """The idle timeout for the page's warning, the user's forms kept at a timeout, and,
    on the page a kept form came from with ``?restore=<id>``, its fields (handed back
    once: the page's script fills them in)."""
    user = getattr(request, "user", None)
    if not is_staff_member(user):
        return {}
    context: dict[str, Any] = {"session_seconds": settings.SESSION_COOKIE_AGE}
    wanted = request.GET.get("restore")
    if wanted:
        fields = drafts.draft_take(user=user, draft_id=wanted, path=request.path)  # type: ignore[arg-type]
        if fields is not None:
            context["restored_draft"] = fields
    else:
        context["pending_drafts"] = drafts.drafts_of(user)  # type: ignore[arg-type]
    return context
