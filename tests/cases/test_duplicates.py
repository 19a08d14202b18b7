"""Duplicate warning at intake. A match in a case the caseworker may not read is
announced without any detail, and recorded for the supervisor. AS9-STO-3."""

from __future__ import annotations

import pytest

from access.roles import Role
from audit.models import AccessEvent
from cases.models import Case
from tests.factories import MARKERS, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db

SAME_PERSON = {
    "identity": {"given_name": " zelphira ", "family_name": MARKERS["family_name"].upper()}
}


def test_api_intake_names_a_readable_duplicate(api, caseworker):
    existing = open_case(caseworker)
    response = api(caseworker).post("/api/v1/cases/", SAME_PERSON, format="json")
    assert response.status_code == 201
    assert response.json()["possible_duplicates"] == {
        "readable": [existing.reference],
        "elsewhere": False,
    }


def test_api_intake_only_hints_at_a_duplicate_it_may_not_read(api, caseworker, make_staff):
    existing = open_case(make_staff(username="other"))
    response = api(caseworker).post("/api/v1/cases/", SAME_PERSON, format="json")
    body = response.json()
    assert body["possible_duplicates"] == {"readable": [], "elsewhere": True}
    assert existing.reference not in response.content.decode()
    event = AccessEvent.objects.get(action="intake.possible_duplicate")
    assert (event.actor_id, event.case_reference, event.reason) == (
        caseworker.pk,
        existing.reference,
        "not_readable",
    )


def test_a_phone_match_alone_is_a_possible_duplicate(api, caseworker):
    existing = open_case(caseworker)
    response = api(caseworker).post(
        "/api/v1/cases/", {"identity": {"phone": "+447700900555"}}, format="json"
    )
    assert response.json()["possible_duplicates"]["readable"] == [existing.reference]


def test_a_different_person_is_not_a_duplicate(api, caseworker):
    open_case(caseworker)
    response = api(caseworker).post(
        "/api/v1/cases/",
        {"identity": {"given_name": "Zelphira", "family_name": "Other"}},
        format="json",
    )
    assert response.json()["possible_duplicates"] == {"readable": [], "elsewhere": False}


def _intake(client, **extra):
    data = {
        "risk_level": "low",
        "storage_consent_method": "written",
        "given_name": MARKERS["given_name"],
        "family_name": MARKERS["family_name"],
    }
    data.update(extra)
    return client.post("/cases/new/", data)


def test_the_intake_form_warns_and_saves_nothing_until_confirmed(caseworker, make_staff):
    readable = open_case(caseworker)
    hidden = open_case(make_staff(Role.CASEWORKER, username="elsewhere"))
    client = web_client(caseworker)
    warned = _intake(client)
    page = warned.content.decode()
    assert warned.status_code == 409
    assert "This person may already have a case" in page
    assert readable.reference in page
    assert hidden.reference not in page
    assert "A possible match exists in a case you cannot open" in page
    assert Case.objects.count() == 2
    confirmed = _intake(client, confirm_new_person="on")
    assert confirmed.status_code == 302
    assert Case.objects.count() == 3
