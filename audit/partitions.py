"""Access events partitioned by month (PostgreSQL's declarative range partitioning).

``audit_accessevent`` is a partitioned table: one partition per calendar month (UTC),
named ``audit_accessevent_yYYYYmMM``, and a default partition that only catches an event
of a month whose partition was not made in time (it should stay empty). A query for a
month reads that month's partition; an old month can be moved to cheaper storage
(``ALTER TABLE ... SET TABLESPACE``) and stays in the log, readable and verifiable
(docs/deployment.md).

Partitions are made ahead: by ``migrate`` (twelve months) and by ``manage.py
audit_partitions`` (monthly, from cron, as the database owner: the application's own
role may not create tables). Every partition gets the append-only TRUNCATE trigger of
its own (row triggers are cloned from the parent by PostgreSQL; statement triggers are
not). SQLite (demo, local tests) keeps one plain table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection as default_connection
from django.utils import timezone

TABLE = "audit_accessevent"
DEFAULT_PARTITION = f"{TABLE}_default"
MONTHS_AHEAD = 12


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def is_partitioned(connection: Any = default_connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [TABLE],
        )
        return cursor.fetchone() is not None


def protect(cursor: Any, table: str) -> None:
    """The append-only TRUNCATE trigger on one partition (the parent's does not reach a
    partition truncated by name)."""
    cursor.execute(
        f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION haven_audit_append_only()"
    )


def create_month(cursor: Any, month: dt.date) -> str | None:
    """The partition of ``month``, unless it exists. Returns its name if made."""
    name = partition_name(month)
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        return None
    start, end = month, next_month(month)
    cursor.execute(
        f"CREATE TABLE {name} PARTITION OF {TABLE} "  # noqa: S608 (names built here)
        f"FOR VALUES FROM ('{start.isoformat()} 00:00:00+00') TO ('{end.isoformat()} 00:00:00+00')"
    )
    protect(cursor, name)
    return name


def ensure(
    *, months_ahead: int = MONTHS_AHEAD, since: dt.date | None = None, connection: Any = None
) -> list[str]:
    """Make the monthly partitions from ``since`` (default: this month) to
    ``months_ahead`` months from now. Returns the names made; nothing on SQLite."""
    connection = connection or default_connection
    if not is_partitioned(connection):
        return []
    today = timezone.now().astimezone(dt.UTC).date()
    month = month_start(since or today)
    last = month_start(today)
    for _ in range(months_ahead):
        last = next_month(last)
    made = []
    with connection.cursor() as cursor:
        while month <= last:
            name = create_month(cursor, month)
            if name is not None:
                made.append(name)
            month = next_month(month)
    return made


@dataclass(frozen=True)
class Partition:
    name: str
    bounds: str
    rows: int  # planner's estimate (pg_class.reltuples), or exact for the default
    tablespace: str


def partitions(connection: Any = None) -> list[Partition]:
    """Every partition, oldest first, with its size and where it is stored."""
    connection = connection or default_connection
    if not is_partitioned(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), "
            "GREATEST(c.reltuples, 0)::bigint, COALESCE(t.spcname, 'default') "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace "
            "WHERE p.relname = %s ORDER BY c.relname",
            [TABLE],
        )
        rows = [Partition(*row) for row in cursor.fetchall()]
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION}")  # noqa: S608
        in_default = cursor.fetchone()[0]
    return [
        Partition(p.name, p.bounds, in_default, p.tablespace) if p.name == DEFAULT_PARTITION else p
        for p in rows
    ]
