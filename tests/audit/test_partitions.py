"""Access events partitioned by month on PostgreSQL: each event in its month's
partition, a month's query reading only that partition, every partition as append-only
as the table, and partitions made ahead by migrate and by `audit_partitions`.
AS9-USE-2."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from audit import partitions
from audit.models import AccessEvent
from audit.services import event_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("partitioning: PostgreSQL only; CI runs this on PostgreSQL")


def _insert(at: dt.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_accessevent (at, actor_username, actor_role, action, "
            "case_reference, outcome, reason, user_agent, request_id, detail) VALUES "
            "(%s, '', '', 'case.view', '', 'allowed', '', '', '', '{}') RETURNING id",
            [at],
        )
        return cursor.fetchone()[0]


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM audit_accessevent WHERE id = %s", [event_id]
        )
        return cursor.fetchone()[0]


def test_the_table_is_partitioned_by_month_twelve_months_ahead():
    assert partitions.is_partitioned()
    names = {p.name for p in partitions.partitions()}
    month = timezone.now().astimezone(dt.UTC).date().replace(day=1)
    for _ in range(13):
        assert partitions.partition_name(month) in names
        month = partitions.next_month(month)
    assert partitions.DEFAULT_PARTITION in names


def test_an_event_lands_in_its_months_partition_and_a_month_reads_only_it(caseworker):
    event = event_record(actor=caseworker, action="case.view", case_reference="HV-PART-01")
    now = timezone.now().astimezone(dt.UTC)
    assert _partition_of(event.pk) == partitions.partition_name(now.date().replace(day=1))
    assert AccessEvent.objects.get(pk=event.pk).case_reference == "HV-PART-01"
    start = now.date().replace(day=1)
    end = partitions.next_month(start)
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT count(*) FROM audit_accessevent WHERE at >= %s AND at < %s",
            [f"{start} 00:00+00", f"{end} 00:00+00"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert partitions.partition_name(start) in plan
    others = [p.name for p in partitions.partitions() if p.name != partitions.partition_name(start)]
    assert not [name for name in others if name in plan]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {partition} SET reason = 'x'",
        "DELETE FROM {partition}",
        "TRUNCATE {partition}",
        "UPDATE audit_accessevent SET reason = 'x'",
        "DELETE FROM audit_accessevent",
    ],
)
def test_every_partition_is_append_only(caseworker, statement):
    event = event_record(actor=caseworker, action="case.view", case_reference="HV-PART-02")
    partition = _partition_of(event.pk)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            # The test database's superuser session may flush tables; this one may not.
            cursor.execute("SET LOCAL haven.audit_maintenance = 'off'")
            cursor.execute(statement.format(partition=partition))
    assert AccessEvent.objects.filter(pk=event.pk, reason="").exists()


def test_audit_partitions_makes_months_ahead_once_and_warns_of_the_default():
    out, err = StringIO(), StringIO()
    call_command("audit_partitions", "--months-ahead", "15", stdout=out, stderr=err)
    month = timezone.now().astimezone(dt.UTC).date().replace(day=1)
    for _ in range(15):
        month = partitions.next_month(month)
    assert f"made {partitions.partition_name(month)}" in out.getvalue()
    again = StringIO()
    call_command("audit_partitions", "--months-ahead", "15", stdout=again, stderr=StringIO())
    assert "made " not in again.getvalue()
    assert not err.getvalue()
    stray = _insert(dt.datetime(2045, 6, 1, tzinfo=dt.UTC))
    assert _partition_of(stray) == partitions.DEFAULT_PARTITION
    warned = StringIO()
    call_command("audit_partitions", stdout=StringIO(), stderr=warned)
    assert "1 events are in the default partition" in warned.getvalue()
    with pytest.raises(CommandError):
        call_command("audit_partitions", "--months-ahead", "0")


def test_an_old_month_keeps_its_events_and_their_order():
    """Events of a month long past (a restored archive, a back-dated import) go to that
    month's partition once it is made, and ids still follow the order of insertion."""
    made = partitions.ensure(since=dt.date(2024, 1, 1), months_ahead=1)
    assert partitions.partition_name(dt.date(2024, 1, 1)) in made
    first = _insert(dt.datetime(2024, 1, 20, tzinfo=dt.UTC))
    second = _insert(dt.datetime(2024, 2, 2, tzinfo=dt.UTC))
    assert second > first
    assert _partition_of(first) == "audit_accessevent_y2024m01"
    assert _partition_of(second) == "audit_accessevent_y2024m02"
