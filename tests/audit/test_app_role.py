"""Production runs with two database roles: the owner migrates, the application
connects as a role that can append to the trail but never change it, nor drop the
triggers that guard it. AS9-USE-2."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)

ROLE = f"haven_app_test_{os.getpid()}"


@pytest.fixture
def app_role():
    if connection.vendor != "postgresql":
        pytest.skip("database roles: PostgreSQL only; CI runs this on PostgreSQL")
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {ROLE}")
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN")
    out = StringIO()
    call_command("grant_app_role", ROLE, stdout=out)
    assert "audit tables" in out.getvalue()
    settings = connection.settings_dict
    conn = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user=ROLE,
    )
    try:
        yield conn
    finally:
        conn.close()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {ROLE}")
            cursor.execute(f"DROP ROLE {ROLE}")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_accessevent SET reason = 'x'",
        "DELETE FROM audit_accessevent",
        "TRUNCATE audit_accessevent CASCADE",
        "DELETE FROM audit_logleaf",
        "UPDATE audit_lognode SET hash = 'x'",
        "DELETE FROM audit_treehead",
        "UPDATE audit_pendingleaf SET ref_id = 0",
        "UPDATE auditlog_logentry SET changes = '{}'",
        "DELETE FROM audit_anomaly",
        "DELETE FROM django_admin_log",
        "DROP TRIGGER audit_accessevent_no_change ON audit_accessevent",
        "ALTER TABLE audit_accessevent DISABLE TRIGGER ALL",
        "DROP TABLE audit_logleaf",
        # A month's partition, reached by its own name (audit.partitions)
        "UPDATE audit_accessevent_default SET reason = 'x'",
        "DELETE FROM audit_accessevent_default",
        "TRUNCATE audit_accessevent_default",
        "ALTER TABLE audit_accessevent DETACH PARTITION audit_accessevent_default",
        "DROP TABLE audit_accessevent_default",
        "SET session_replication_role = replica",
    ],
)
def test_the_app_role_cannot_rewrite_the_trail_or_its_guards(app_role, statement):
    import psycopg

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_role.execute(statement)
    app_role.rollback()


def test_the_app_role_can_do_its_work(app_role):
    """It reads and writes case tables and appends to the trail (rolled back here)."""
    app_role.execute("SELECT count(*) FROM cases_case")
    app_role.execute("UPDATE access_team SET caseload_limit = caseload_limit WHERE false")
    app_role.execute(
        "INSERT INTO audit_accessevent (at, actor_username, actor_role, action, case_reference,"
        " outcome, reason, user_agent, request_id, detail) VALUES"
        " (now(), '', '', 'role.check', '', 'allowed', '', '', 'test', '{}')"
    )
    app_role.execute("INSERT INTO audit_pendingleaf (kind, ref_id) VALUES ('event', 0)")
    app_role.execute("DELETE FROM audit_pendingleaf WHERE ref_id = 0")  # the sequencer's part
    app_role.execute(
        "INSERT INTO audit_logleaf (\"index\", kind, ref_id, hash) VALUES (-1, 'event', 0, '')"
    )
    app_role.execute("SELECT pg_advisory_xact_lock(1)")
    app_role.rollback()
