"""A referral's ``purpose`` becomes the free text of the consent it was made under
(encrypted, as the consent's purpose is); the kind of disclosure moves to ``scope``.
Rows exported before this change keep their kind in ``scope`` and take the purpose of
their consent."""

from django.db import migrations

import access.crypto.fields
from access.crypto.fields import Sealed, StoredKeys, open_stored, seal_stored


def copy_consent_purposes(apps, schema_editor):
    referral_model = apps.get_model("cases", "Referral")
    consent_model = apps.get_model("cases", "Consent")
    key_for = StoredKeys(apps.get_model("cases", "Survivor"))
    rows = referral_model.objects.values_list("pk", "consent_id", "case__survivor_id")
    for referral_id, consent_id, survivor_id in rows.iterator():
        key = key_for(survivor_id)
        # values_list gives the stored ciphertext; an instance would try to decrypt it.
        stored = consent_model.objects.filter(pk=consent_id).values_list("purpose", flat=True)[0]
        if key is None or stored is None:
            continue
        text = open_stored(key, "cases.consent.purpose", consent_id, None, stored.blob)
        sealed = seal_stored(key, "cases.referral.purpose", referral_id, None, text)
        referral_model.objects.filter(pk=referral_id).update(purpose=Sealed(sealed))


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_version_bound_ciphertext")]

    operations = [
        migrations.RenameField(model_name="referral", old_name="purpose", new_name="scope"),
        migrations.AddField(
            model_name="referral",
            name="purpose",
            field=access.crypto.fields.EncryptedTextField(blank=True, max_length=1000, null=True),
        ),
        migrations.RunPython(copy_consent_purposes, migrations.RunPython.noop),
    ]
