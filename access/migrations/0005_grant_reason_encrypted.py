"""Grant and break-glass reasons move from a clear column into an encrypted one, under
the survivor's key (they describe emergencies). Each grant gets a ``uid`` first: the
ciphertext is bound to its row, and the integer id is not known before the insert."""

import uuid

from django.db import migrations, models

import access.crypto.fields
from access.crypto.fields import Sealed, StoredKeys, seal_stored

LABEL = "access.casegrant.reason"


def fill_uids(apps, schema_editor):
    grant_model = apps.get_model("access", "CaseGrant")
    for grant_id in grant_model.objects.values_list("pk", flat=True).iterator():
        grant_model.objects.filter(pk=grant_id).update(uid=uuid.uuid4())


def encrypt_reasons(apps, schema_editor):
    grant_model = apps.get_model("access", "CaseGrant")
    key_for = StoredKeys(apps.get_model("cases", "Survivor"))
    rows = grant_model.objects.exclude(reason_clear="").values_list(
        "pk", "uid", "reason_clear", "content_object__survivor_id"
    )
    for grant_id, uid, reason, survivor_id in rows.iterator():
        key = key_for(survivor_id)  # None when shredded: the reason goes with the rest
        sealed = None if key is None else Sealed(seal_stored(key, LABEL, uid, None, reason.encode()))
        grant_model.objects.filter(pk=grant_id).update(reason=sealed)


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0004_default_confidentiality_rules"),
        ("cases", "0004_consent_scanned_form"),
    ]

    operations = [
        migrations.AddField(
            model_name="casegrant",
            name="uid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_uids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="casegrant",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.RenameField(model_name="casegrant", old_name="reason", new_name="reason_clear"),
        migrations.AddField(
            model_name="casegrant",
            name="reason",
            field=access.crypto.fields.EncryptedTextField(blank=True, max_length=500, null=True),
        ),
        migrations.RunPython(encrypt_reasons, migrations.RunPython.noop),
        migrations.RemoveField(model_name="casegrant", name="reason_clear"),
    ]
