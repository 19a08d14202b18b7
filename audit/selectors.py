"""Reads of the trail for the DPO and supervisors. Events hold references, actions and
staff only, so nothing here can reveal survivor content."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.log import parse_time
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


def _rolled_up(f: EventFilter) -> bool:
    """Whether the daily rollup can answer for this filter: it knows days, actions and
    outcomes, not cases or staff (those filters are served by their own indexes)."""
    return not f.case and not f.actor


def _like_prefix(action: str) -> str:
    return action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"


def _rollup_rows(f: EventFilter) -> tuple[str, list[Any], str, list[Any]]:
    """The conditions of a filter on the rollup's days and on the queued events."""
    tz = timezone.get_current_timezone()
    day_where, event_where = ["1 = 1"], ["1 = 1"]
    day_params: list[Any] = []
    event_params: list[Any] = []
    if f.action:
        day_where.append("(d.action = %s OR d.action LIKE %s ESCAPE '\\')")
        event_where.append("(e.action = %s OR e.action LIKE %s ESCAPE '\\')")
        day_params += [f.action, _like_prefix(f.action)]
        event_params += [f.action, _like_prefix(f.action)]
    if f.outcome:
        day_where.append("d.outcome = %s")
        event_where.append("e.outcome = %s")
        day_params.append(f.outcome)
        event_params.append(f.outcome)
    if f.since:
        day_where.append("d.day >= %s")
        event_where.append("e.at >= %s")
        day_params.append(f.since)
        start = dt.datetime.combine(f.since, dt.time.min, tzinfo=tz)
        event_params.append(connection.ops.adapt_datetimefield_value(start))
    if f.until:
        end = dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        day_where.append("d.day <= %s")
        event_where.append("e.at < %s")
        day_params.append(f.until)
        event_params.append(connection.ops.adapt_datetimefield_value(end))
    return " AND ".join(day_where), day_params, " AND ".join(event_where), event_params


def event_count(f: EventFilter) -> int:
    """How many events match: from the daily rollup and the queue when the filter
    allows (a few rows a day, however many events), else ``COUNT`` over the case's or
    the person's own index."""
    if not _rolled_up(f):
        return events(f).count()
    day_where, day_params, event_where, event_params = _rollup_rows(f)
    sql = (
        f"SELECT (SELECT COALESCE(SUM(d.events), 0) FROM audit_eventday d WHERE {day_where}) + "  # noqa: S608
        "(SELECT COUNT(*) FROM audit_pendingleaf p JOIN audit_accessevent e "
        f"ON p.kind = 'event' AND e.id = p.ref_id WHERE {event_where})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*day_params, *event_params])
        return int(cursor.fetchone()[0])


def daily_activity(f: EventFilter, days: int = 30) -> list[dict[str, Any]]:
    """Allowed and denied events per day over the last ``days`` days, oldest first, with
    every day present (for the chart). From the daily rollup and the queue unless the
    filter names a case or a person."""
    today = timezone.localdate()
    start = today - dt.timedelta(days=days - 1)
    window = EventFilter(**{**vars(f), "since": max(f.since or start, start)})
    if _rolled_up(window):
        counts = _daily_from_rollup(window)
    else:
        rows = (
            events(window)
            .order_by()
            .annotate(day=TruncDate("at"))
            .values("day", "outcome")
            .annotate(n=Count("id"))
        )
        counts = {(r["day"], r["outcome"]): r["n"] for r in rows}
    return [
        {
            "day": start + dt.timedelta(days=i),
            "allowed": counts.get((start + dt.timedelta(days=i), "allowed"), 0),
            "denied": counts.get((start + dt.timedelta(days=i), "denied"), 0),
        }
        for i in range(days)
    ]


def _daily_from_rollup(f: EventFilter) -> dict[tuple[dt.date, str], int]:
    """One statement (one snapshot): the rollup's days and the events still queued, so
    an event is counted once whatever the sequencer does meanwhile."""
    day_where, day_params, event_where, event_params = _rollup_rows(f)
    sql = (
        "SELECT d.day, CAST(NULL AS timestamp with time zone), d.outcome, d.events "  # noqa: S608
        f"FROM audit_eventday d WHERE {day_where} "
        "UNION ALL SELECT CAST(NULL AS date), e.at, e.outcome, 1 FROM audit_pendingleaf p "
        f"JOIN audit_accessevent e ON p.kind = 'event' AND e.id = p.ref_id WHERE {event_where}"
    )
    zone = timezone.get_current_timezone()
    counts: dict[tuple[dt.date, str], int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*day_params, *event_params])
        for day, at, outcome, number in cursor.fetchall():
            if day is None:
                day = parse_time(at).astimezone(zone).date()
            elif isinstance(day, str):  # SQLite
                day = dt.date.fromisoformat(day)
            counts[(day, outcome)] = counts.get((day, outcome), 0) + number
    return counts


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
