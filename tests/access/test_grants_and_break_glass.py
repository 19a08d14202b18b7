"""Per-record grants and break-glass. AS9-STO-3, AS9-USE-1, AS9-USE-4."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access.models import CaseGrant
from access.roles import Role
from audit.models import AccessEvent, Anomaly
from tests.factories import MARKERS, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(caseworker):
    return open_case(caseworker)


def test_a_supervisor_grants_access_with_reason_and_end_and_it_stops_at_the_end(
    api, case, supervisor, make_staff, last_event
):
    """AS9-STO-3: the grant works until its end, then not at all, without any cleanup."""
    colleague = make_staff(Role.CASEWORKER, username="cover")
    end = timezone.now() + dt.timedelta(hours=2)
    response = api(supervisor).post(
        f"/api/v1/cases/{case.reference}/grants/",
        {"user": "cover", "reason": "Covering leave", "expires_at": end.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["user"], body["kind"], body["reason"], body["active"]) == (
        "cover",
        "grant",
        "Covering leave",
        True,
    )
    event = last_event(action="grant.add")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        supervisor.pk,
        case.reference,
        "allowed",
    )
    assert api(colleague).get(f"/api/v1/cases/{case.reference}/").status_code == 200
    CaseGrant.objects.filter(pk=body["id"]).update(expires_at=timezone.now())
    assert api(colleague).get(f"/api/v1/cases/{case.reference}/").status_code == 404


def test_revocation_is_effective_on_the_next_request(api, case, supervisor, make_staff):
    colleague = make_staff(Role.CASEWORKER, username="cover")
    grant_id = (
        api(supervisor)
        .post(
            f"/api/v1/cases/{case.reference}/grants/",
            {"user": "cover", "reason": "Covering leave"},
            format="json",
        )
        .json()["id"]
    )
    client = api(colleague)
    assert client.get(f"/api/v1/cases/{case.reference}/").status_code == 200
    revoked = api(supervisor).delete(f"/api/v1/cases/{case.reference}/grants/{grant_id}/")
    assert revoked.status_code == 204
    assert client.get(f"/api/v1/cases/{case.reference}/").status_code == 404
    listed = api(supervisor).get(f"/api/v1/cases/{case.reference}/grants/").json()["results"]
    assert {g["user"]: g["active"] for g in listed}["cover"] is False


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"user": "nobody", "reason": "x"}, "unknown_user"),
        ({"user": "dpo", "reason": "x"}, "unknown_user"),
        ({"user": "cw", "reason": "x", "expires_at": "2000-01-01T00:00:00Z"}, "invalid_expiry"),
        ({"user": "cw"}, "invalid"),
        ({"user": "cw", "reason": "x\x00"}, "invalid"),
    ],
)
def test_bad_grants_are_refused_and_change_nothing(api, case, supervisor, dpo, body, code):
    before = CaseGrant.objects.count()
    response = api(supervisor).post(f"/api/v1/cases/{case.reference}/grants/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert CaseGrant.objects.count() == before


def test_break_glass_needs_a_reason_opens_for_hours_and_flags_the_dpo(
    api, case, make_staff, settings
):
    """AS9-STO-3, AS9-USE-4."""
    settings.HAVEN_BREAK_GLASS_HOURS = 3
    outsider = make_staff(Role.CLINICIAN, username="night-doctor")
    client = api(outsider)
    url = f"/api/v1/cases/{case.reference}/break-glass/"
    assert client.post(url, {}, format="json").status_code == 400
    assert client.post(url, {"reason": "short"}, format="json").status_code == 400
    assert client.get(f"/api/v1/cases/{case.reference}/").status_code == 404
    response = client.post(
        url, {"reason": "Admitted to A&E at night, allergies needed"}, format="json"
    )
    assert response.status_code == 201
    grant = CaseGrant.objects.get(pk=response.json()["id"])
    assert grant.kind == "break_glass"
    assert (
        dt.timedelta(hours=2, minutes=59)
        < grant.expires_at - timezone.now()
        <= dt.timedelta(hours=3)
    )
    assert client.get(f"/api/v1/cases/{case.reference}/").status_code == 200
    anomaly = Anomaly.objects.get()
    assert (anomaly.kind, anomaly.actor_id, anomaly.case_reference, anomaly.reviewed_at) == (
        "break_glass",
        outsider.pk,
        case.reference,
        None,
    )
    assert anomaly.event.action == "break_glass.open"
    view = AccessEvent.objects.filter(action="case.view", actor_id=outsider.pk).latest("id")
    assert view.reason == "break_glass"
    grant.expires_at = timezone.now()
    grant.save()
    assert client.get(f"/api/v1/cases/{case.reference}/").status_code == 404


def test_the_case_page_shows_a_banner_during_break_glass(case, make_staff, api):
    outsider = make_staff(Role.CASEWORKER, username="duty")
    api(outsider).post(
        f"/api/v1/cases/{case.reference}/break-glass/",
        {"reason": "Police called about immediate danger"},
        format="json",
    )
    page = web_client(outsider).get(f"/cases/{case.reference}/").content.decode()
    assert "Emergency access until" in page


def test_people_with_access_panel_is_read_only_for_readers(case, caseworker, supervisor):
    mine = web_client(caseworker).get(f"/cases/{case.reference}/").content.decode()
    assert "People with access" in mine and caseworker.username in mine
    assert "Give someone access" not in mine and "Revoke" not in mine
    theirs = web_client(supervisor).get(f"/cases/{case.reference}/").content.decode()
    assert "Give someone access" in theirs and "Revoke" in theirs
    assert MARKERS["given_name"] not in theirs


def test_supervisor_manages_grants_on_the_web(case, supervisor, make_staff):
    make_staff(Role.CLINICIAN, username="doc")
    client = web_client(supervisor)
    response = client.post(
        f"/cases/{case.reference}/grants/", {"user": "doc", "reason": "Medical follow-up"}
    )
    assert response.status_code == 302
    grant = CaseGrant.objects.get(user__username="doc")
    client.post(f"/cases/{case.reference}/grants/{grant.pk}/revoke/")
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoked_by == supervisor
