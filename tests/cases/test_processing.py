"""Records of processing (GDPR Art. 30) for the DPO (AS9-USE-4: reviewed without reading
case content): generated from the code, so that it cannot fall behind it."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.apps import apps
from django.db import models
from django.test import override_settings

from access.crypto.fields import EncryptedField
from access.roles import Role
from access.services import grant_assign
from audit.models import AccessEvent
from cases.services import ACTIVITIES, NOT_PERSONAL, organisation_add
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


def _declared() -> dict[str, str]:
    where = {label: a.key for a in ACTIVITIES for label in a.models}
    return where


def test_every_model_is_in_an_activity_or_said_to_hold_no_personal_data():
    """A new model fails here until it is placed in the record (or said not to be
    personal data), so the record never falls behind the code."""
    declared = _declared()
    missing = [
        m._meta.label
        for m in apps.get_models()
        if m._meta.label not in declared and m._meta.label not in NOT_PERSONAL
    ]
    assert missing == []
    assert not set(declared) & set(NOT_PERSONAL)
    for label in [*declared, *NOT_PERSONAL]:
        apps.get_model(label)  # no stale names


def _data(client) -> dict:
    response = client.get("/processing.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return json.loads(response.content)


def test_AS9_USE_4_the_dpo_reads_the_record_as_the_code_stands(
    dpo, caseworker, supervisor, last_event
):
    organisation_add(actor=supervisor, name="Клиника 河畔 ริมน้ำ", slug="riverside")
    case = open_case(caseworker)
    add_encounter(caseworker, case)
    client = web_client(dpo)

    page = client.get("/processing/").content.decode()
    for heading in (
        "Controller",
        "Purposes, data subjects and data",
        "Recipients",
        "Transfers to other countries",
        "Time limits for erasure",
        "Security measures",
        "What is held now",
    ):
        assert heading in page
    assert "Клиника 河畔 ริมน้ำ" in page
    assert last_event(action="processing.view").actor_id == dpo.pk

    data = _data(client)
    fields = {
        (c["model"], f["name"]): f
        for a in data["activities"]
        for c in a["categories"]
        for f in c["items"]
    }
    # Every field of every declared model, with its protection read from the field class.
    for label in _declared():
        model = apps.get_model(label)
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            entry = fields[(label, field.name)]
            if isinstance(field, EncryptedField):
                assert entry["protection"] == "encrypted", (label, field.name)
            elif isinstance(field, models.BinaryField):
                assert entry["protection"] == "key or digest (binary)"
    assert fields[("cases.Encounter", "clinical")]["health"] is True
    assert fields[("cases.Identity", "given_name")]["protection"] == "encrypted"
    holdings = {line["label"]: line["value"] for line in data["holdings"]}
    assert holdings["Open cases"] == "1"
    assert holdings["Survivors with records"] == "1"
    # Nothing of the survivor's content is in it.
    text = json.dumps(data, ensure_ascii=False) + page
    for marker in MARKERS.values():
        assert marker not in text
    assert case.reference not in text


def test_AS9_USE_4_time_limits_and_measures_come_from_the_settings(dpo):
    client = web_client(dpo)
    with override_settings(HAVEN_RETENTION_DAYS=1234, HAVEN_STATS_MIN_CELL=7):
        data = _data(client)
    retention = {line["label"]: line["value"] for line in data["retention"]}
    measures = {line["label"]: line["value"] for line in data["measures"]}
    assert retention["Case records of a closed case"].startswith("1234 days")
    assert measures["Statistics"] == "counts under 7 suppressed"


def test_AS9_USE_4_recipients_list_the_disclosures_made_by_scope(
    dpo, supervisor, caseworker, clinician, api
):
    organisation_add(actor=supervisor, name="Riverside Clinic", slug="riverside")
    organisation_add(actor=supervisor, name="Unused NGO", slug="unused")
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    consent = {
        "scope": "referral",
        "recipient": "riverside",
        "purpose": "Continuing care",
        "method": "written",
        "given_at": "2026-01-01T10:00:00Z",
    }
    assert (
        api(caseworker)
        .post(f"/api/v1/cases/{case.reference}/consents/", consent, format="json")
        .status_code
        == 201
    )
    body = {
        "recipient": "riverside",
        "purpose": "Continuing care",
        "sections": ["summary"],
        "include_identity": False,
        "format": "fhir",
    }
    made = api(clinician).post(f"/api/v1/cases/{case.reference}/referrals/", body, format="json")
    assert made.status_code == 201, made.content
    data = api(dpo).get("/api/v1/processing/").json()
    recipients = {r["name"]: r["disclosures"] for r in data["recipients"]}
    assert recipients == {"Riverside Clinic": {"referral": 1}, "Unused NGO": {}}


def test_AS9_USE_4_the_csv_export_is_one_table_in_utf8(dpo, supervisor):
    organisation_add(actor=supervisor, name="مركز الأمل", slug="amal")
    response = web_client(dpo).get("/processing.csv")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "item", "detail", "protection"]
    sections = {row[0] for row in rows[1:]}
    assert sections == {
        "controller",
        "purpose",
        "data subjects",
        "data",
        "recipient",
        "transfers",
        "retention",
        "security measure",
        "holdings",
    }
    assert ["recipient", "مركز الأمل", "no disclosures yet", ""] in rows
    assert all(len(row) == 4 for row in rows)


@pytest.mark.parametrize("role", [Role.CASEWORKER, Role.CLINICIAN, Role.SUPERVISOR, Role.ADMIN])
def test_AS9_USE_4_only_the_dpo_reads_the_record(make_staff, api, role, last_event):
    user = make_staff(role, username=f"r-{role}")
    for path in ("/processing/", "/processing.csv", "/processing.json"):
        assert web_client(user).get(path).status_code == 403
    assert api(user).get("/api/v1/processing/").status_code == 403
    event = last_event(action="processing.view")
    assert (event.actor_id, event.outcome) == (user.pk, "denied")
    assert not AccessEvent.objects.filter(action="processing.view", outcome="allowed").exists()
