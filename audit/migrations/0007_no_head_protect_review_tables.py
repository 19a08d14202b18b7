"""No audit table is deletable or rewritable by the application's database role.

- The chain head row goes: the head is the newest link, read under an advisory lock, so
  deleting or rewriting a head row can no longer stop or fork the chain.
- The anomaly queue: rows are never deleted; the only change allowed is the one review
  (reviewed_at, reviewed_by_id, review_note set once, nothing else touched).
- The anomaly scan position only moves forward (moving it back would raise anomalies
  twice; forward would skip events) and is never deleted.
- Django's admin log is never changed or deleted (Haven's own events are the record;
  this table must not be a place where history can be rewritten either).

Only a superuser session with ``haven.audit_maintenance = on`` passes, as for the other
audit tables (see 0004).
"""

from django.db import migrations

MAINTENANCE = """
    IF current_setting('haven.audit_maintenance', true) = 'on'
       AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
"""

REVIEW_ONCE = (
    """
CREATE OR REPLACE FUNCTION haven_anomaly_review_once() RETURNS trigger AS $$
BEGIN"""
    + MAINTENANCE
    + """
    IF TG_OP = 'UPDATE'
       AND OLD.reviewed_at IS NULL AND NEW.reviewed_at IS NOT NULL
       AND NEW.id = OLD.id AND NEW.kind = OLD.kind AND NEW.at = OLD.at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_username = OLD.actor_username
       AND NEW.case_reference = OLD.case_reference
       AND NEW.event_id = OLD.event_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'anomalies are append-only except for their one review (% on %)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
)

FORWARD_ONLY = (
    """
CREATE OR REPLACE FUNCTION haven_scan_forward_only() RETURNS trigger AS $$
BEGIN"""
    + MAINTENANCE
    + """
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_event_id >= OLD.last_event_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the anomaly scan only moves forward (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
)

TRIGGERS = (
    ("audit_anomaly", "haven_anomaly_review_once"),
    ("audit_anomalyscan", "haven_scan_forward_only"),
    ("django_admin_log", "haven_audit_append_only"),  # defined in 0004
)


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(REVIEW_ONCE, params=None)
    schema_editor.execute(FORWARD_ONLY, params=None)
    for table, function in TRIGGERS:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION haven_audit_append_only()"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _ in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS haven_anomaly_review_once()")
    schema_editor.execute("DROP FUNCTION IF EXISTS haven_scan_forward_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_event_actor_name_index"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [
        migrations.DeleteModel(name="ChainHead"),
        migrations.RunPython(install, remove),
    ]
