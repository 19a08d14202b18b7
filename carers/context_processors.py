"""For a supervisor, on every page: how many of their team would like to talk, and
whose clinical supervision is overdue."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from access.roles import Role
from carers.services import talk_requests_for
from carers.supervision import overdue_for


def carers(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(user, "role", "") != Role.SUPERVISOR:
        return {}
    return {
        "talk_requests": SimpleLazyObject(lambda: talk_requests_for(supervisor=user)),
        "supervision_overdue": SimpleLazyObject(lambda: overdue_for(user)),
    }
