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
    assert "Give someone access" not in mine and "End access" not in mine
    theirs = web_client(supervisor).get(f"/cases/{case.reference}/").content.decode()
    assert "Give someone access" in theirs and "End access" in theirs
    assert MARKERS["given_name"] not in theirs


def test_supervisor_manages_grants_on_the_web(case, supervisor, make_staff):
    make_staff(Role.CLINICIAN, username="doc")
    client = web_client(supervisor)
    response = client.post(
        f"/cases/{case.reference}/grants/", {"user": "doc", "reason": "Medical follow-up"}
    )
    assert response.status_code == 302
    grant = CaseGrant.objects.get(user__username="doc")
    revoke_url = f"/cases/{case.reference}/grants/{grant.pk}/revoke/"
    assert client.get(revoke_url).status_code == 200  # asks first
    assert client.post(revoke_url, {}).status_code == 400  # a reason is needed
    grant.refresh_from_db()
    assert grant.revoked_at is None
    client.post(revoke_url, {"reason": "The follow-up is done"})
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoked_by == supervisor
    assert grant.revoke_reason == "The follow-up is done"


REASON = "MARKER-REASON Police found her at the bus station at 2am"


def test_grant_and_break_glass_reasons_are_encrypted_at_rest(api, case, supervisor, make_staff):
    """AS9-STO-2: the reasons describe emergencies; the column holds ciphertext only."""
    from django.db import connection

    make_staff(Role.CLINICIAN, username="doc")
    api(supervisor).post(
        f"/api/v1/cases/{case.reference}/grants/", {"user": "doc", "reason": REASON}, format="json"
    )
    outsider = make_staff(Role.CASEWORKER, username="duty")
    api(outsider).post(
        f"/api/v1/cases/{case.reference}/break-glass/", {"reason": REASON}, format="json"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT reason FROM access_casegrant")
        stored = [bytes(row[0]) for row in cursor.fetchall() if row[0] is not None]
    assert len(stored) >= 3  # the assignment, the grant, the break-glass
    assert all(b"MARKER-REASON" not in blob and b"bus station" not in blob for blob in stored)
    reasons = {g.reason for g in CaseGrant.objects.select_related("content_object__survivor")}
    assert REASON in reasons


def test_only_the_team_supervisor_sees_reasons_on_the_case_page(api, case, caseworker, supervisor):
    """AS9-STO-3: other readers of the case see who has access, not why."""
    api(supervisor).post(
        f"/api/v1/cases/{case.reference}/grants/",
        {"user": caseworker.username, "reason": REASON},
        format="json",
    )
    theirs = web_client(supervisor).get(f"/cases/{case.reference}/").content.decode()
    assert "MARKER-REASON" in theirs
    mine = web_client(caseworker).get(f"/cases/{case.reference}/").content.decode()
    assert "People with access" in mine and "MARKER-REASON" not in mine


def test_the_dpo_sees_the_break_glass_reason_and_that_reading_it_is_recorded(
    api, case, make_staff, dpo, last_event
):
    """AS9-USE-4: the DPO reviews the emergency with its written reason."""
    outsider = make_staff(Role.CASEWORKER, username="duty")
    api(outsider).post(
        f"/api/v1/cases/{case.reference}/break-glass/", {"reason": REASON}, format="json"
    )
    page = web_client(dpo).get("/audit/anomalies/").content.decode()
    assert "Reason given" in page and "MARKER-REASON" in page
    event = last_event(action="break_glass.reason_view")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        dpo.pk,
        case.reference,
        "allowed",
    )
    assert "MARKER" not in str(event.detail)


def test_shredding_the_survivor_destroys_the_reasons(api, case, make_staff, dpo):
    """AS9-END-3: the DPO's queue says the reason is gone; nothing can decrypt it."""
    from access.crypto.errors import DataKeyDestroyed
    from cases.services import survivor_shred

    outsider = make_staff(Role.CASEWORKER, username="duty")
    api(outsider).post(
        f"/api/v1/cases/{case.reference}/break-glass/", {"reason": REASON}, format="json"
    )
    survivor_shred(case=case)
    page = web_client(dpo).get("/audit/anomalies/").content.decode()
    assert "MARKER-REASON" not in page and "erased with the survivor" in page
    grant = CaseGrant.objects.select_related("content_object__survivor").get(kind="break_glass")
    with pytest.raises(DataKeyDestroyed):
        _ = grant.reason


def test_break_glass_is_limited_per_person_and_more_needs_a_supervisor(
    api, caseworker, make_staff, settings, last_event
):
    """AS9-STO-3: emergency access cannot become a way round need-to-know."""
    settings.HAVEN_BREAK_GLASS_MAX_OPEN = 3
    outsider = make_staff(Role.CASEWORKER, username="duty")
    client = api(outsider)
    cases = [open_case(caseworker) for _ in range(4)]
    body = {"reason": "Police called about immediate danger"}
    for case in cases[:3]:
        url = f"/api/v1/cases/{case.reference}/break-glass/"
        assert client.post(url, body, format="json").status_code == 201
    fourth = client.post(f"/api/v1/cases/{cases[3].reference}/break-glass/", body, format="json")
    assert fourth.status_code == 409 and fourth.json()["code"] == "break_glass_limit"
    assert client.get(f"/api/v1/cases/{cases[3].reference}/").status_code == 404
    event = last_event(action="break_glass.open", actor_id=outsider.pk)
    assert (event.outcome, event.reason, event.case_reference) == (
        "denied",
        "break_glass_limit",
        cases[3].reference,
    )
    CaseGrant.objects.filter(user=outsider, content_object=cases[0]).update(
        expires_at=timezone.now()
    )
    again = client.post(f"/api/v1/cases/{cases[3].reference}/break-glass/", body, format="json")
    assert again.status_code == 201  # one ended: one more may open
    page = web_client(outsider).post(
        "/break-glass/", {"reference": cases[0].reference, "reason": body["reason"]}
    )
    assert page.status_code == 400 and "Ask a" in page.content.decode()
