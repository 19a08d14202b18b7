"""For a supervisor, on every page: how many of their team would like to talk, and
whose clinical supervision is overdue; for everyone, support plan reviews coming due."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from access.roles import Role
from carers.services import talk_requests_for
from carers.supervision import overdue_for
from carers.support import reviews_due
from carers.training import overdue_count


def carers(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    due = {
        "plan_reviews": SimpleLazyObject(lambda: reviews_due(user)),
        "training_overdue": SimpleLazyObject(lambda: overdue_count(user)),
    }
    if getattr(user, "role", "") != Role.SUPERVISOR:
        return due
    return {
        **due,
        "talk_requests": SimpleLazyObject(lambda: talk_requests_for(supervisor=user)),
        "supervision_overdue": SimpleLazyObject(lambda: overdue_for(user)),
    }
