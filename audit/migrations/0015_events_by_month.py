"""Access events partitioned by month on PostgreSQL (``audit.partitions``).

The table is rebuilt as a range-partitioned table with the same columns, indexes (by
the same names) and append-only triggers, a partition per month from the oldest event
to twelve months ahead, and a default partition; the events are copied over in id order
and the id sequence carries on from the last. The primary key becomes (id, at), as
PostgreSQL requires of a partitioned table; ids still come from one sequence, so each
is still unique, and lookups by id use the key's index (it leads with the id). SQLite
keeps its plain table.
"""

import datetime as dt
import re

import django.db.models.deletion
from django.db import migrations, models

from audit import partitions

OLD = "audit_accessevent_unpartitioned"
COLUMNS = (
    "id, at, actor_id, actor_username, actor_role, action, case_reference, outcome, "
    "reason, ip, user_agent, request_id, detail"
)


def _set_aside(cursor, table):
    """Rename ``table`` (and its key) out of the way, dropping its indexes first so that
    their names are free; returns their definitions, to be made again on the new table."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s",
        [table, f"{table}_pkey"],
    )
    indexes = cursor.fetchall()
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    cursor.execute(f"ALTER TABLE {table} RENAME TO {OLD}")
    cursor.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT {table}_pkey TO {OLD}_pkey")
    return [definition for _name, definition in indexes]


def _move_in(cursor, table, indexes, *, overriding=""):
    """The same indexes, by the same names, on the new ``table``; the events copied in
    id order; the old table dropped; the append-only triggers on the new one."""
    for definition in indexes:
        cursor.execute(
            re.sub(rf" ON (ONLY )?(\S+\.)?{table} ", f" ON {table} ", definition, count=1)
        )
    cursor.execute(
        f"INSERT INTO {table} ({COLUMNS}) {overriding} "  # noqa: S608
        f"SELECT {COLUMNS} FROM {OLD} ORDER BY id"
    )
    cursor.execute(f"DROP TABLE {OLD}")
    cursor.execute(
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION haven_audit_append_only()"
    )
    partitions.protect(cursor, table)


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = partitions.TABLE
    with connection.cursor() as cursor:
        indexes = _set_aside(cursor, table)
        cursor.execute(f"SELECT COALESCE(max(id), 0), min(at) FROM {OLD}")  # noqa: S608
        last_id, oldest = cursor.fetchone()
        cursor.execute(f"ALTER TABLE {OLD} ALTER COLUMN id DROP IDENTITY")
        cursor.execute(f"CREATE SEQUENCE {table}_id_seq AS bigint")
        cursor.execute(
            f"CREATE TABLE {table} ("
            f"id bigint NOT NULL DEFAULT nextval('{table}_id_seq'), "
            "at timestamp with time zone NOT NULL, "
            "actor_id bigint NULL, "
            "actor_username varchar(150) NOT NULL, "
            "actor_role varchar(20) NOT NULL, "
            "action varchar(64) NOT NULL, "
            "case_reference varchar(16) NOT NULL, "
            "outcome varchar(10) NOT NULL, "
            "reason varchar(64) NOT NULL, "
            "ip inet NULL, "
            "user_agent varchar(300) NOT NULL, "
            "request_id varchar(64) NOT NULL, "
            "detail jsonb NOT NULL, "
            f"CONSTRAINT {table}_pkey PRIMARY KEY (id, at)"
            ") PARTITION BY RANGE (at)"
        )
        cursor.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        cursor.execute(f"CREATE TABLE {partitions.DEFAULT_PARTITION} PARTITION OF {table} DEFAULT")
        partitions.protect(cursor, partitions.DEFAULT_PARTITION)
        since = (oldest or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()
        partitions.ensure(since=since, connection=connection)
        _move_in(cursor, table, indexes)
        cursor.execute(f"SELECT setval('{table}_id_seq', %s, %s)", [max(last_id, 1), last_id > 0])


def unpartition(apps, schema_editor):
    """Back to one plain table (the same columns, indexes and triggers as before)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or not partitions.is_partitioned(connection):
        return
    table = partitions.TABLE
    with connection.cursor() as cursor:
        indexes = _set_aside(cursor, table)
        cursor.execute(f"ALTER SEQUENCE {table}_id_seq RENAME TO {OLD}_id_seq")
        cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {OLD}")  # noqa: S608
        (last_id,) = cursor.fetchone()
        cursor.execute(f"CREATE TABLE {table} (LIKE {OLD} INCLUDING CONSTRAINTS EXCLUDING INDEXES)")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
        _move_in(cursor, table, indexes, overriding="OVERRIDING SYSTEM VALUE")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id RESTART WITH {int(last_id) + 1}")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0014_event_day"),
    ]

    operations = [
        migrations.AlterField(
            model_name="anomaly",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="anomalies",
                to="audit.accessevent",
            ),
        ),
        migrations.RunPython(partition, unpartition),
    ]
