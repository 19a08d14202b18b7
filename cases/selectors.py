"""Reads on the case domain. They start from the access policy's querysets, never from
``Case.objects``; the view that calls them has already recorded the access event."""

from __future__ import annotations

from typing import Any

from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.http import Http404

from access import policy
from access.models import User
from cases.models import Case, Encounter, Identity


def case_list_for(*, user: User) -> QuerySet[Case]:
    """Cases ``user`` may read, newest first, with the dates a caseload view needs."""
    latest = Encounter.objects.filter(case=OuterRef("pk")).order_by("-occurred_at")
    return (
        policy.readable_cases(user)
        .select_related("survivor")
        .annotate(
            last_encounter_at=Max("encounters__occurred_at"),
            next_follow_up=Subquery(latest.values("follow_up_date")[:1]),
        )
        .order_by("-opened_at", "pk")
    )


def encounters_for(*, case: Case) -> QuerySet[Encounter]:
    # Through the related manager every encounter shares this very ``case`` instance,
    # so the survivor's data key is unwrapped once for the whole timeline.
    return case.encounters.select_related("author").order_by("-occurred_at", "-created_at")


def encounter_for(*, case: Case, encounter_id: Any) -> Encounter:
    try:
        return encounters_for(case=case).get(pk=encounter_id)
    except (Encounter.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def identity_for(*, case: Case) -> Identity:
    return Identity.objects.select_related("survivor").get(survivor_id=case.survivor_id)
