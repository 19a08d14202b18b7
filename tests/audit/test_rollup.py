"""The daily rollup of access events (issue 16): the desk's chart and the events list's
count read a few rows a day instead of every event, and say exactly what counting the
events would. AS9-USE-2."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access import ledger
from audit import log, selectors
from audit.models import AccessEvent, EventDay
from audit.selectors import EventFilter

pytestmark = pytest.mark.django_db

TODAY = dt.datetime.now(ZoneInfo("Asia/Bangkok")).date()
ACTIONS = ["case.view", "case.list", "caseload.view", "identity.view", "case_note.view"]


@pytest.fixture
def history(settings):
    """Events over 40 days in a time zone far from UTC, some at local midnight's edges;
    most sequenced (in the rollup), the newest still queued."""
    settings.TIME_ZONE = "Asia/Bangkok"
    timezone.activate(ZoneInfo("Asia/Bangkok"))
    rng = random.Random(16)  # noqa: S311 (synthetic data)
    now = timezone.now()
    written = []
    for number in range(300):
        at = now - dt.timedelta(days=rng.randrange(40), minutes=rng.randrange(1440))
        if number % 50 == 0:  # a minute either side of local midnight
            local = timezone.localtime(at).replace(hour=0, minute=0) + dt.timedelta(
                minutes=rng.choice([-1, 1])
            )
            at = local.astimezone(dt.UTC)
        event = AccessEvent(
            at=at,
            actor_id=None,
            actor_username=f"staff-{number % 4}",
            actor_role="caseworker",
            action=rng.choice(ACTIONS),
            case_reference="",
            outcome="denied" if number % 7 == 0 else "allowed",
            detail={},
        )
        written.append(log.append_event(event))
        if number == 260:
            ledger.sequence_now()
    yield written
    timezone.deactivate()


FILTERS = [
    EventFilter(),
    EventFilter(action="case"),
    EventFilter(action="case.view"),
    EventFilter(action="case_note"),
    EventFilter(outcome="denied"),
    EventFilter(action="identity", outcome="allowed"),
    EventFilter(since=TODAY - dt.timedelta(days=10)),
    EventFilter(until=TODAY - dt.timedelta(days=5)),
    EventFilter(
        action="case",
        since=TODAY - dt.timedelta(days=20),
        until=TODAY - dt.timedelta(days=3),
    ),
]


@pytest.mark.parametrize("event_filter", FILTERS, ids=lambda f: str(f.as_query()) or "all")
def test_the_rollup_counts_what_counting_the_events_would(history, event_filter):
    assert EventDay.objects.exists()
    assert selectors.event_count(event_filter) == selectors.events(event_filter).count()
    chart = selectors.daily_activity(event_filter, days=30)
    start = timezone.localdate() - dt.timedelta(days=29)
    window = EventFilter(**{**vars(event_filter), "since": max(event_filter.since or start, start)})
    direct = Counter(
        (timezone.localtime(at).date(), outcome)
        for at, outcome in selectors.events(window).values_list("at", "outcome")
    )
    assert {
        (row["day"], outcome): row[outcome]
        for row in chart
        for outcome in ("allowed", "denied")
        if row[outcome]
    } == dict(direct)


def test_sequencing_moves_events_from_the_queue_into_the_rollup(history):
    before = selectors.event_count(EventFilter())
    ledger.sequence_now()
    assert selectors.event_count(EventFilter()) == before == AccessEvent.objects.count()
    assert sum(EventDay.objects.values_list("events", flat=True)) == AccessEvent.objects.count()


def test_the_events_api_counts_from_the_rollup(api, dpo, history):
    """The count is exact, and the unfiltered list never counts the events table."""
    client = api(dpo)
    expected = AccessEvent.objects.count()  # the request's own event is written after
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/v1/audit/events/").json()
    assert body["count"] == expected
    counting = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT") and "COUNT(" in q["sql"].upper()
    ]
    assert counting and all("audit_pendingleaf" in sql for sql in counting)
    denied = AccessEvent.objects.filter(outcome="denied", action__startswith="case.").count()
    answer = client.get("/api/v1/audit/events/?outcome=denied&action=case").json()
    assert answer["count"] == denied
    by_actor = client.get("/api/v1/audit/events/?actor=staff-1").json()
    assert by_actor["count"] == AccessEvent.objects.filter(actor_username="staff-1").count()


def test_the_migration_builds_the_rollup_of_the_events_already_in_the_log(history):
    ledger.sequence_now()
    kept = sorted(EventDay.objects.values_list("day", "action", "outcome", "events"))
    EventDay.objects.all().delete()
    migration = importlib.import_module("audit.migrations.0014_event_day")
    migration.backfill(apps, None)
    assert sorted(EventDay.objects.values_list("day", "action", "outcome", "events")) == kept
