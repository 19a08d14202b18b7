"""Identity and encounter values become bound to their record's version: each stored
ciphertext is opened with its old associated data (model, field, row) and sealed again
with the version added, so that an earlier ciphertext replayed into the row fails to
decrypt. Values of shredded survivors cannot be opened and are left as they are."""

from django.db import migrations
from access.crypto.fields import EncryptedField, Sealed, StoredKeys, open_stored, seal_stored


def reseal(apps, schema_editor):
    key_for = StoredKeys(apps.get_model("cases", "Survivor"))

    for model_name, survivor_path in (("Identity", "survivor_id"), ("Encounter", "case__survivor_id")):
        model = apps.get_model("cases", model_name)
        columns = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        label = f"cases.{model_name.lower()}."
        rows = model.objects.values_list("pk", "version", survivor_path, *columns)
        for pk, version, survivor_id, *values in rows.iterator():
            key = key_for(survivor_id)
            if key is None:
                continue
            changes = {}
            for column, value in zip(columns, values, strict=True):
                if value is None:
                    continue
                plain = open_stored(key, label + column, pk, None, value.blob)
                changes[column] = Sealed(seal_stored(key, label + column, pk, version, plain))
            if changes:
                model.objects.filter(pk=pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_consent_scanned_form"),
        ("access", "0005_grant_reason_encrypted"),
    ]

    operations = [migrations.RunPython(reseal, migrations.RunPython.noop)]
