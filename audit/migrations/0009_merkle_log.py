"""The hash chain becomes a Merkle tree log (RFC 9162) with signed tree heads.

Every record the old chain held is queued for the log in the chain's order, so the
first sequencer run (any app process, ``manage.py audit_sequencer`` or ``verify_audit``)
gives them leaf indexes 0, 1, 2... as before (leaf index = old link number - 1). Run
``verify_audit`` on the old release before upgrading: the chain's own hashes are not
kept. The new tables are append-only in the database like the other audit tables
(0004); the queue may only lose rows, which the sequencer deletes once they are leaves.
"""

from django.db import migrations, models

APPEND_ONLY = ("audit_logleaf", "audit_lognode", "audit_treehead")

QUEUE_ONLY_SHRINKS = """
CREATE OR REPLACE FUNCTION haven_queue_no_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit queue is never rewritten (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def queue_the_chain(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO audit_pendingleaf (kind, ref_id) "
        "SELECT kind, ref_id FROM audit_chainlink ORDER BY seq"
    )


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY:  # haven_audit_append_only is defined in 0004
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION haven_audit_append_only()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION haven_audit_append_only()"
        )
    schema_editor.execute(QUEUE_ONLY_SHRINKS, params=None)
    schema_editor.execute(
        "CREATE TRIGGER audit_pendingleaf_no_update BEFORE UPDATE ON audit_pendingleaf "
        "FOR EACH ROW EXECUTE FUNCTION haven_queue_no_update()"
    )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS audit_pendingleaf_no_update ON audit_pendingleaf"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS haven_queue_no_update()")


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0008_privilege_change_anomaly'),
    ]

    operations = [
        migrations.CreateModel(
            name='LogLeaf',
            fields=[
                ('index', models.BigIntegerField(primary_key=True, serialize=False)),
                ('kind', models.CharField(max_length=10)),
                ('ref_id', models.BigIntegerField()),
                ('hash', models.BinaryField()),
            ],
        ),
        migrations.CreateModel(
            name='LogNode',
            fields=[
                ('pk', models.CompositePrimaryKey('level', 'index', blank=True, editable=False, primary_key=True, serialize=False)),
                ('level', models.SmallIntegerField()),
                ('index', models.BigIntegerField()),
                ('hash', models.BinaryField()),
            ],
        ),
        migrations.CreateModel(
            name='PendingLeaf',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=10)),
                ('ref_id', models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name='TreeHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('size', models.BigIntegerField(db_index=True)),
                ('root_hash', models.CharField(max_length=64)),
                ('timestamp', models.CharField(max_length=40)),
                ('key_id', models.CharField(max_length=32)),
                ('signature', models.CharField(max_length=100)),
            ],
            options={
                'ordering': ['-size', '-id'],
            },
        ),
        migrations.RunPython(queue_the_chain, migrations.RunPython.noop),
        migrations.DeleteModel(
            name='ChainLink',
        ),
        migrations.AddConstraint(
            model_name='logleaf',
            constraint=models.UniqueConstraint(fields=('kind', 'ref_id'), name='log_leaf_once'),
        ),
        migrations.RunPython(install, remove),
    ]
