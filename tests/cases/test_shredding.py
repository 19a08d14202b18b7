"""Crypto-shredding: one survivor's key destroyed, their data unreadable through every
path, everyone else unaffected. AS9-END-3, invariant 7."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from access.crypto.errors import DataKeyDestroyed
from access.models import CaseGrant
from cases.models import BlindIndexEntry, Case, Encounter, Identity, Survivor
from cases.services import survivor_shred
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import web_client

# Every test runs with each key provider: the keyring file and a PKCS#11 token.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_provider")]


@pytest.fixture
def two_cases(caseworker):
    erased = open_case(caseworker)
    add_encounter(caseworker, erased)
    kept = open_case(caseworker, identity={"family_name": "Kept"}, summary="kept summary")
    add_encounter(caseworker, kept, notes="kept notes")
    survivor_shred(case=erased)
    return erased, kept


def test_every_api_path_answers_410_with_no_data(api, caseworker, two_cases, last_event):
    erased, _ = two_cases
    client = api(caseworker)
    for suffix in ("/", "/identity/", "/encounters/"):
        response = client.get(f"/api/v1/cases/{erased.reference}{suffix}")
        assert response.status_code == 410, suffix
        assert response.json() == {"code": "gone", "detail": "This record was erased."}
        event = last_event(actor_id=caseworker.pk)
        assert (event.case_reference, event.outcome, event.reason) == (
            erased.reference,
            "denied",
            "erased",
        )


def test_the_erased_case_leaves_lists_and_search(api, caseworker, two_cases):
    erased, kept = two_cases
    client = api(caseworker)
    assert [r["reference"] for r in client.get("/api/v1/cases/").json()["results"]] == [
        kept.reference
    ]
    found = client.get("/api/v1/cases/search/", {"family_name": MARKERS["family_name"]})
    assert found.json()["count"] == 0
    assert not BlindIndexEntry.objects.filter(survivor_id=erased.survivor_id).exists()


def test_nothing_can_decrypt_the_erased_survivor_and_others_still_read(caseworker, two_cases):
    erased, kept = two_cases
    assert Survivor.objects.get(pk=erased.survivor_id).wrapped_dek is None
    for obj in (
        Case.objects.select_related("survivor").get(pk=erased.pk),
        Identity.objects.select_related("survivor").get(survivor_id=erased.survivor_id),
        Encounter.objects.select_related("case__survivor").get(case=erased),
    ):
        with pytest.raises(DataKeyDestroyed):
            [getattr(obj, f.name) for f in type(obj)._meta.concrete_fields]
    assert Case.objects.select_related("survivor").get(pk=kept.pk).summary == "kept summary"
    assert Encounter.objects.select_related("case__survivor").get(case=kept).notes == "kept notes"


def test_the_web_page_answers_410(caseworker, two_cases):
    erased, _ = two_cases
    client = web_client(caseworker)
    response = client.get(f"/cases/{erased.reference}/")
    assert response.status_code == 410
    assert MARKERS["summary"] not in response.content.decode()


def test_outsiders_still_get_404_for_an_erased_case(api, two_cases, make_staff):
    erased, _ = two_cases
    assert (
        api(make_staff(username="out")).get(f"/api/v1/cases/{erased.reference}/").status_code == 404
    )


def test_the_command_needs_the_reference_twice(caseworker):
    case = open_case(caseworker)
    with pytest.raises(CommandError):
        call_command("shred_survivor", case.reference, "--confirm", "HV-0000-0000")
    assert Survivor.objects.get(pk=case.survivor_id).wrapped_dek is not None
    call_command("shred_survivor", case.reference, "--confirm", case.reference.lower())
    assert Survivor.objects.get(pk=case.survivor_id).wrapped_dek is None


def test_break_glass_is_refused_on_an_erased_case(api, two_cases, make_staff, last_event):
    """Nothing to open in an emergency once the key is gone; no grant is created."""
    erased, _ = two_cases
    outsider = make_staff("caseworker", username="night-shift")
    response = api(outsider).post(
        f"/api/v1/cases/{erased.reference}/break-glass/",
        {"reason": "Urgent safeguarding call at night"},
        format="json",
    )
    assert response.status_code in (404, 410)
    assert not CaseGrant.objects.filter(user=outsider).exists()
    event = last_event(action="break_glass.open", actor_id=outsider.pk)
    assert (event.outcome, event.case_reference) == ("denied", erased.reference)
