"""A kept form names the case its page belongs to, so that ending a case ends its drafts
by an indexed column instead of reading every draft's path."""

from typing import Any

from django.db import migrations, models

from haven.references import PATTERN


def _fill(apps: Any, schema_editor: Any) -> None:
    draft_model = apps.get_model("access", "FormDraft")
    for draft in draft_model.objects.only("pk", "path").iterator():
        reference = next((p for p in draft.path.split("/") if PATTERN.match(p)), "")
        if reference:
            draft_model.objects.filter(pk=draft.pk).update(case_reference=reference)


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0009_invitations_and_drafts"),
    ]

    operations = [
        migrations.AddField(
            model_name="formdraft",
            name="case_reference",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="the case the page belongs to, if any: the draft ends with the case",
                max_length=20,
            ),
        ),
        migrations.RunPython(_fill, migrations.RunPython.noop),
    ]
