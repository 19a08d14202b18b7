"""Reads of the trail for the DPO and supervisors. Events hold references, actions and
staff only, so nothing here can reveal survivor content."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AccessEvent, Anomaly, LogLeaf
from haven.errors import NotFound

FILTERS = ("case", "actor", "action", "outcome", "since", "until")


@dataclass(frozen=True)
class EventFilter:
    case: str = ""
    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    def as_query(self) -> dict[str, str]:
        return {
            name: (value.isoformat() if isinstance(value, dt.date) else value)
            for name, value in vars(self).items()
            if value
        }

    def used(self) -> list[str]:
        return sorted(self.as_query())


def events(f: EventFilter) -> QuerySet[AccessEvent]:
    query = AccessEvent.objects.all()
    if f.case:
        query = query.filter(case_reference=f.case)
    if f.actor:
        query = query.filter(actor_username=f.actor)
    if f.action:
        # "case" matches case.view, case.list...; "case.view" matches exactly.
        query = query.filter(Q(action=f.action) | Q(action__startswith=f.action + "."))
    if f.outcome:
        query = query.filter(outcome=f.outcome)
    tz = timezone.get_current_timezone()
    if f.since:
        query = query.filter(at__gte=dt.datetime.combine(f.since, dt.time.min, tzinfo=tz))
    if f.until:
        end = dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        query = query.filter(at__lt=end)
    return query.order_by("-at", "-id")


def with_leaf_index(query: QuerySet[AccessEvent]) -> QuerySet[AccessEvent]:
    """Each event with its place in the audit log (0-based; None until sequenced)."""
    leaf = LogLeaf.objects.filter(kind="event", ref_id=OuterRef("pk")).values("index")[:1]
    return query.annotate(leaf_index=Subquery(leaf))


def daily_activity(f: EventFilter, days: int = 30) -> list[dict[str, Any]]:
    """Allowed and denied events per day over the last ``days`` days, oldest first, with
    every day present (for the chart)."""
    today = timezone.localdate()
    start = today - dt.timedelta(days=days - 1)
    window = EventFilter(**{**vars(f), "since": max(f.since or start, start)})
    rows = (
        events(window)
        .order_by()
        .annotate(day=TruncDate("at"))
        .values("day", "outcome")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[dt.date, str], int] = {(r["day"], r["outcome"]): r["n"] for r in rows}
    return [
        {
            "day": start + dt.timedelta(days=i),
            "allowed": counts.get((start + dt.timedelta(days=i), "allowed"), 0),
            "denied": counts.get((start + dt.timedelta(days=i), "denied"), 0),
        }
        for i in range(days)
    ]


def open_anomalies() -> QuerySet[Anomaly]:
    return Anomaly.objects.filter(reviewed_at__isnull=True).select_related("event")


def anomaly(pk: int) -> Anomaly:
    found = Anomaly.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such anomaly."))
    return found


def people_who_accessed(reference: str) -> QuerySet[AccessEvent, str]:
    """The usernames of the staff who touched a case, once each, in order."""
    return (
        AccessEvent.objects.filter(case_reference=reference, actor_id__isnull=False)
        .order_by("actor_username")
        .values_list("actor_username", flat=True)
        .distinct()
    )


def reviewed_anomalies() -> QuerySet[Anomaly]:
    return Anomaly.objects.filter(reviewed_at__isnull=False).select_related("event")


@dataclass
class CountlessPage:
    """A page of a very long list without ``COUNT(*)``: one extra row tells whether an
    older page exists (the desk must stay fast on millions of events)."""

    object_list: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def page_of(query: QuerySet[AccessEvent], number: object, size: int) -> CountlessPage:
    try:
        page = max(1, min(int(str(number)), 10_000))
    except ValueError:
        page = 1
    start = (page - 1) * size
    rows = list(query[start : start + size + 1])
    return CountlessPage(object_list=rows[:size], number=page, has_next=len(rows) > size)


def events_about(reference: str) -> Iterator[Any]:
    """Every access event on one case, oldest first, as (at, role, action, outcome):
    what a survivor's own copy says about who accessed their record."""
    return (
        AccessEvent.objects.filter(case_reference=reference)
        .order_by("at", "id")
        .values("at", "actor_role", "action", "outcome")
        .iterator(chunk_size=2000)
    )
