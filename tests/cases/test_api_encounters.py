"""Encounters through the API: timeline, optimistic concurrency, the clinical block."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access.services import grant_assign
from audit.models import AccessEvent
from cases.models import Encounter, Revision
from tests.factories import MARKERS, add_encounter, open_case

pytestmark = pytest.mark.django_db

CLINICAL = {
    "conditions": [
        {"display": MARKERS["condition"], "code": "193462001", "system": "http://snomed.info/sct"}
    ],
    "medications": [{"display": "Sertraline 50 mg"}],
    "allergies": [{"display": "Penicillin"}],
}


def _when(hours: int = 1) -> str:
    return (timezone.now() - dt.timedelta(hours=hours)).isoformat()


def test_it_records_and_lists_encounters(api, caseworker, last_event):
    case = open_case(caseworker)
    client = api(caseworker)
    url = f"/api/v1/cases/{case.reference}/encounters/"
    created = client.post(
        url,
        {
            "occurred_at": _when(),
            "kind": "follow_up",
            "notes": MARKERS["notes"],
            "interpreter_used": True,
            "services_provided": ["shelter", "legal"],
            "follow_up_date": (timezone.localdate() + dt.timedelta(days=7)).isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["version"] == 1
    assert "clinical" not in created.json()
    event = last_event(action="encounter.create")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        caseworker.pk,
        case.reference,
        "allowed",
    )
    listed = client.get(url)
    assert listed.status_code == 200
    assert [e["notes"] for e in listed.json()["results"]] == [MARKERS["notes"]]
    assert listed.json()["results"][0]["services_provided"] == ["legal", "shelter"]
    assert last_event(action="encounter.list").case_reference == case.reference


def test_a_stale_edit_is_refused_and_changes_nothing(api, caseworker, make_staff):
    """Invariant 8: two people edit the same version; the second gets 409, nothing lost."""
    case = open_case(caseworker)
    colleague = make_staff(username="colleague")
    grant_assign(case=case, user=colleague, granted_by=caseworker)
    encounter = add_encounter(caseworker, case)
    url = f"/api/v1/cases/{case.reference}/encounters/{encounter.pk}/"
    first = api(caseworker).patch(url, {"notes": "first edit", "version": 1}, format="json")
    assert first.status_code == 200
    assert first.json()["version"] == 2
    second = api(colleague).patch(url, {"notes": "second edit", "version": 1}, format="json")
    assert second.status_code == 409
    assert second.json()["code"] == "stale_version"
    assert second.json()["current_version"] == 2
    stored = Encounter.objects.select_related("case__survivor").get(pk=encounter.pk)
    assert (stored.notes, stored.version) == ("first edit", 2)
    revision = Revision.objects.select_related("survivor").get(object_id=encounter.pk)
    assert revision.previous == {"notes": MARKERS["notes"]}


def test_an_edit_without_version_is_refused(api, caseworker):
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case)
    url = f"/api/v1/cases/{case.reference}/encounters/{encounter.pk}/"
    response = api(caseworker).patch(url, {"notes": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["version"][0]["code"] == "required"


def test_an_encounter_of_another_case_is_not_found(api, caseworker):
    case = open_case(caseworker)
    other = open_case(caseworker)
    encounter = add_encounter(caseworker, other)
    url = f"/api/v1/cases/{case.reference}/encounters/{encounter.pk}/"
    assert api(caseworker).get(url).status_code == 404
    assert (
        api(caseworker).patch(url, {"notes": "x", "version": 1}, format="json").status_code == 404
    )
    assert (
        Encounter.objects.select_related("case__survivor").get(pk=encounter.pk).notes
        == MARKERS["notes"]
    )


def test_clinicians_on_the_case_read_and_write_the_clinical_block(
    api, caseworker, clinician, last_event
):
    """AS9-STO-4."""
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    url = f"/api/v1/cases/{case.reference}/encounters/"
    created = api(clinician).post(
        url, {"occurred_at": _when(), "kind": "medical", "clinical": CLINICAL}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["clinical"]["conditions"][0]["display"] == MARKERS["condition"]
    listed = api(clinician).get(url)
    assert listed.json()["results"][0]["clinical"]["allergies"] == [{"display": "Penicillin"}]
    event = last_event(action="clinical.list")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        clinician.pk,
        case.reference,
        "allowed",
    )


def test_others_never_see_the_clinical_block_not_even_its_key(api, caseworker, clinician):
    """AS9-STO-4: a caseworker on the case gets no 'clinical' key at all."""
    case = open_case(caseworker)
    encounter = add_encounter(clinician, case, clinical=CLINICAL, kind="medical")
    for url in (
        f"/api/v1/cases/{case.reference}/encounters/",
        f"/api/v1/cases/{case.reference}/encounters/{encounter.pk}/",
    ):
        response = api(caseworker).get(url)
        assert response.status_code == 200
        assert "clinical" not in response.content.decode()
        assert MARKERS["condition"] not in response.content.decode()


def test_a_caseworker_sending_a_clinical_block_is_refused_and_nothing_is_stored(
    api, caseworker, last_event
):
    """AS9-STO-4."""
    case = open_case(caseworker)
    url = f"/api/v1/cases/{case.reference}/encounters/"
    response = api(caseworker).post(
        url, {"occurred_at": _when(), "kind": "medical", "clinical": CLINICAL}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Encounter.objects.count() == 0
    event = last_event(action="clinical.update")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        caseworker.pk,
        case.reference,
        "denied",
    )


def test_a_clinician_without_access_to_the_case_gets_404(api, caseworker, clinician):
    """AS9-STO-3: the clinician role alone opens nothing."""
    case = open_case(caseworker)
    response = api(clinician).get(f"/api/v1/cases/{case.reference}/encounters/")
    assert response.status_code == 404
    assert AccessEvent.objects.filter(action="clinical.list").count() == 0
