"""An API-only staff member reads and accepts the confidentiality rules, and sees and
sets their own profile, through the contract's endpoints. AS9-STO-6."""

from __future__ import annotations

import pytest

from access.roles import Role
from access.services import confidentiality_publish
from audit.models import AccessEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(team):
    return UserFactory(username="newcomer", role=Role.CASEWORKER, team=team, accepted_rules=False)


def test_an_api_user_reads_and_accepts_the_rules_before_anything_else(api, newcomer, last_event):
    client = api(newcomer)
    refused = client.get("/api/v1/cases/")
    assert refused.status_code == 403
    assert refused.json()["code"] == "confidentiality_not_accepted"
    me = client.get("/api/v1/me/").json()
    assert me == {
        "username": "newcomer",
        "role": "caseworker",
        "team": "north",
        "language": "en",
        "confidentiality": {"version": 1, "accepted": False},
    }
    rules = client.get("/api/v1/confidentiality/").json()
    assert rules["version"] == 1 and rules["accepted"] is False and len(rules["text"]) > 50
    accepted = client.post("/api/v1/confidentiality/accept/", {"version": 1}, format="json")
    assert accepted.status_code == 200
    assert accepted.json() == {"version": 1, "accepted": True}
    event = last_event(action="confidentiality.accept")
    assert (event.actor_id, event.outcome, event.detail) == (
        newcomer.pk,
        "allowed",
        {"version": 1, "language": "en"},
    )
    assert client.get("/api/v1/cases/").status_code == 200
    assert client.get("/api/v1/me/").json()["confidentiality"] == {"version": 1, "accepted": True}


def test_accepting_a_version_that_is_not_the_current_one_is_a_conflict(api, newcomer, admin_user):
    confidentiality_publish(text="Version two of the rules. " * 5, by=admin_user)
    client = api(newcomer)
    stale = client.post("/api/v1/confidentiality/accept/", {"version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_rules"
    assert client.get("/api/v1/cases/").status_code == 403
    for bad in ({"version": "2"}, {"version": 0}, {}, {"version": 2, "extra": 1}):
        response = client.post("/api/v1/confidentiality/accept/", bad, format="json")
        assert response.status_code == 400, bad
    assert not AccessEvent.objects.filter(action="confidentiality.accept").exists()
    assert (
        client.post("/api/v1/confidentiality/accept/", {"version": 2}, format="json").status_code
        == 200
    )


def test_a_staff_member_sets_their_interface_language(api, caseworker, settings, last_event):
    settings.HAVEN_LANGUAGES = ["en", "fr"]
    client = api(caseworker)
    response = client.patch("/api/v1/me/", {"language": "fr"}, format="json")
    assert response.status_code == 200 and response.json()["language"] == "fr"
    caseworker.refresh_from_db()
    assert caseworker.language == "fr"
    assert last_event(action="staff.language").detail == {"language": "fr"}
    for bad in ({"language": "xx"}, {"language": 7}, {"role": "supervisor"}):
        assert client.patch("/api/v1/me/", bad, format="json").status_code == 400, bad
    caseworker.refresh_from_db()
    assert (caseworker.language, caseworker.role) == ("fr", "caseworker")


def test_a_browser_session_without_the_second_factor_gets_nothing(caseworker):
    from django.test import Client

    from tests.factories import PASSWORD
    from tests.helpers import totp_device

    totp_device(caseworker)
    client = Client()
    client.post("/login/", {"username": caseworker.username, "password": PASSWORD})
    for url in ("/api/v1/me/", "/api/v1/confidentiality/"):
        response = client.get(url)
        assert response.status_code == 403
        assert response.json()["code"] == "second_factor_required"
