"""The data migrations that re-encrypt stored values, run on rows written in the old
format: grant reasons in clear, identity, encounter and case values sealed without
their version, referrals whose purpose was the consent scope. After migrating forward, the
current code reads every value. AS9-STO-2, AS9-END-4."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from access.crypto.datakeys import new_data_key
from access.crypto.fields import Sealed, seal_stored

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("access", "0004_default_confidentiality_rules"),
    ("cases", "0004_consent_scanned_form"),
    ("audit", "0006_event_actor_name_index"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_rows_are_readable_after_the_data_migrations():
    old = _migrate(BEFORE)
    team = old.get_model("access", "Team").objects.create(name="North", slug="north")
    user = old.get_model("access", "User").objects.create(
        username="worker", role="caseworker", team=team
    )
    survivor_id = uuid.uuid4()
    wrapped, key = new_data_key(survivor_id)
    survivor = old.get_model("cases", "Survivor").objects.create(
        id=survivor_id,
        reference="HV-TEST-0001",
        kek_id=wrapped.kek_id,
        dek_id=wrapped.dek_id,
        wrapped_dek=wrapped.blob,
    )

    def seal(label: str, row: uuid.UUID, text: str) -> Sealed:
        return Sealed(seal_stored(key, label, row, None, text.encode()))

    identity_id, case_id, encounter_id, consent_id = (uuid.uuid4() for _ in range(4))
    old.get_model("cases", "Identity").objects.create(
        id=identity_id,
        survivor=survivor,
        family_name=seal("cases.identity.family_name", identity_id, "Quarnstrom"),
        version=3,
    )
    case = old.get_model("cases", "Case").objects.create(
        id=case_id,
        survivor=survivor,
        team=team,
        risk_level="low",
        created_by=user,
        summary=seal("cases.case.summary", case_id, "old summary"),
    )
    follow_up = timezone.localdate() + dt.timedelta(days=3)
    old.get_model("cases", "Encounter").objects.create(
        id=encounter_id,
        case=case,
        occurred_at=timezone.now(),
        kind="phone",
        author=user,
        notes=seal("cases.encounter.notes", encounter_id, "old notes"),
        follow_up_date=follow_up,
        version=2,
    )
    organisation = old.get_model("cases", "Organisation").objects.create(name="Clinic", slug="c")
    consent = old.get_model("cases", "Consent").objects.create(
        id=consent_id,
        case=case,
        scope="referral",
        recipient=organisation,
        purpose=seal("cases.consent.purpose", consent_id, "Continuing care"),
        method="written",
        recorded_by=user,
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    referral_id = uuid.uuid4()
    old.get_model("cases", "Referral").objects.create(
        id=referral_id,
        case=case,
        recipient=organisation,
        purpose="referral",
        consent=consent,
        format="fhir",
        exported_by=user,
        sha256="0" * 64,
        available_until=timezone.now(),
    )
    permission = old.get_model("auth", "Permission").objects.get(codename="view_case")
    old.get_model("access", "CaseGrant").objects.create(
        content_object=case, user=user, permission=permission, kind="grant", reason="Night cover"
    )

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from access.models import CaseGrant
    from cases.models import Case, Encounter, Identity, Referral

    assert Identity.objects.select_related("survivor").get().family_name == "Quarnstrom"
    migrated_case = Case.objects.select_related("survivor").get()
    assert (migrated_case.summary, migrated_case.version) == ("old summary", 1)
    assert migrated_case.follow_up_on == follow_up
    assert Encounter.objects.select_related("case__survivor").get().notes == "old notes"
    referral = Referral.objects.select_related("case__survivor").get()
    assert (referral.scope, referral.purpose) == ("referral", "Continuing care")
    grant = CaseGrant.objects.select_related("content_object__survivor").get()
    assert grant.reason == "Night cover"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reason FROM access_casegrant")
        assert b"Night cover" not in bytes(cursor.fetchone()[0])
