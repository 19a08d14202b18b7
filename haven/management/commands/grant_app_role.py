"""Give the application's own database role what it needs, and no more.

Run by the role that owns the tables (the one that runs ``migrate``), after each
``migrate``. The application then connects as ROLE: it reads and writes case data,
appends to the audit trail, and can neither change nor delete an audit row (no UPDATE,
DELETE or TRUNCATE privilege, on top of the append-only triggers), nor drop a trigger or
a table (it owns none). See docs/deployment.md.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils.translation import gettext as _

# Audit tables: SELECT and INSERT only. (The anomaly queue may also record its one
# review and the scan position may move forward: UPDATE, limited by triggers; the
# forwarding positions move as collectors take leaves: UPDATE, never DELETE (a collector
# sees a skipped range as a gap in the leaf indexes); the log's queue loses the rows the
# sequencer has made leaves: DELETE, never UPDATE.)
APPEND_ONLY = (
    "audit_accessevent",
    "audit_logleaf",
    "audit_lognode",
    "audit_treehead",
    "auditlog_logentry",
    "django_admin_log",
)
MONTHLY = "audit_accessevent_"  # the access events' partitions (audit.partitions)
REVIEWED = (
    "audit_anomaly",
    "audit_anomalyscan",
    "audit_forwardposition",
    "audit_eventday",
    "audit_verification",
)
QUEUE = ("audit_pendingleaf",)
ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Command(BaseCommand):
    help = "Grant the application's database role the least it needs (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role the app connects as (must already exist)")

    def handle(self, *args: Any, **options: Any) -> None:
        role = options["role"]
        if connection.vendor != "postgresql":
            raise CommandError(_("database roles are a PostgreSQL feature"))
        if not ROLE.match(role):
            raise CommandError(_("role names are lower-case letters, digits and _"))
        quoted = connection.ops.quote_name(role)
        tables = connection.introspection.table_names()
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                raise CommandError(f"no role {role}: CREATE ROLE {role} LOGIN PASSWORD '...' first")
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
            cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}")
            for table in tables:
                name = connection.ops.quote_name(table)
                if table in APPEND_ONLY or table.startswith(MONTHLY):
                    privileges = "SELECT, INSERT"
                elif table in REVIEWED:
                    privileges = "SELECT, INSERT, UPDATE"
                elif table in QUEUE:
                    privileges = "SELECT, INSERT, DELETE"
                else:
                    privileges = "SELECT, INSERT, UPDATE, DELETE"
                cursor.execute(f"GRANT {privileges} ON {name} TO {quoted}")
            cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
        self.stdout.write(
            f"granted {role} what Haven needs on {len(tables)} tables; the audit tables "
            f"({', '.join(APPEND_ONLY + REVIEWED + QUEUE)}) take no UPDATE or DELETE beyond what "
            "their triggers allow. Run this again after each migrate."
        )
