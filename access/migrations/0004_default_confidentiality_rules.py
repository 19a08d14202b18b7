"""Publish version 1 of the confidentiality rules, so that no one reaches survivor data
before accepting some (AS9-STO-6). Administrators publish new versions in the admin."""

from django.db import migrations

DEFAULT_RULES = """\
These rules protect the people in Haven's records. Many of them are in danger from the
people who exploited them, and their records can decide an asylum claim or a court case.

1. Open a record only when your work with that person needs it, today. Every opening,
   every identity reveal and every search is recorded with your name, and reviewed.
2. Never copy names, contact details, health information or case notes out of Haven:
   no screenshots, no messaging apps, no personal e-mail, no paper lists left on desks.
3. Speak about a person only with colleagues who need to know, and never where you can
   be overheard. Do not confirm to anyone outside the team that a person is a client.
4. Share information with another organisation only through Haven's referral export,
   and only with the person's recorded consent for that recipient and purpose.
5. Lock your screen when you step away. Never share your password, your authenticator
   or your recovery codes. Tell the data protection officer at once if you think any of
   them, or any record, has been exposed.
6. Emergency (break-glass) access is for real emergencies only. Write down why; the data
   protection officer reviews every use.
7. These duties continue after you leave the organisation.
"""


def publish(apps, schema_editor):
    rules = apps.get_model("access", "ConfidentialityRules")
    if not rules.objects.exists():
        rules.objects.create(version=1, text=DEFAULT_RULES)


class Migration(migrations.Migration):
    dependencies = [("access", "0003_confidentialityrules_confidentialityacceptance")]

    operations = [migrations.RunPython(publish, migrations.RunPython.noop)]
