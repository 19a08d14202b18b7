"""The admin site: every write is a service with a chained event, nobody changes their
own role, team or access, and a change that opens survivor data to someone is flagged
for the DPO. AS9-STO-3, AS9-USE-2, AS9-USE-4."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry as AdminLogEntry

from access import ledger
from access.models import ApiToken, Team, User
from access.roles import Role
from access.services import token_issue
from audit.models import AccessEvent, Anomaly, LogLeaf
from tests.factories import MARKERS, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


def _form(user: User, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "team": user.team_id or "",
        "is_active": "on" if user.is_active else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v not in (None, False)}


def test_an_admin_cannot_give_themselves_case_access(admin_user, caseworker, team):
    """The attack from the outside review: set one's own role to supervisor and team,
    then read every case of that team. Refused, and nothing changes."""
    case = open_case(caseworker)
    client = web_client(admin_user)
    response = client.post(
        f"/admin/access/user/{admin_user.pk}/change/",
        _form(admin_user, role=Role.SUPERVISOR, team=team.pk),
    )
    assert response.status_code == 200  # the form again, with the refusal
    assert "Nobody may change their own role" in response.content.decode()
    admin_user.refresh_from_db()
    assert (admin_user.role, admin_user.team_id) == (Role.ADMIN, None)
    assert web_client(admin_user).get(f"/cases/{case.reference}/").status_code in (403, 404)
    assert not AccessEvent.objects.filter(action__startswith="staff.").exists()


def test_an_admin_cannot_deactivate_their_own_account(admin_user):
    client = web_client(admin_user)
    client.post(f"/admin/access/user/{admin_user.pk}/change/", _form(admin_user, is_active=""))
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_a_role_change_is_a_chained_event_and_an_anomaly_for_the_dpo(admin_user, make_staff, team):
    dpo_person = make_staff(Role.DPO, username="data-officer")
    client = web_client(admin_user)
    response = client.post(
        f"/admin/access/user/{dpo_person.pk}/change/",
        _form(dpo_person, role=Role.SUPERVISOR, team=team.pk),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dpo_person.refresh_from_db()
    assert (dpo_person.role, dpo_person.team_id) == (Role.SUPERVISOR, team.pk)
    role_event = AccessEvent.objects.get(action="staff.role_change")
    assert (role_event.actor_id, role_event.outcome) == (admin_user.pk, "allowed")
    assert role_event.detail == {
        "user_id": dpo_person.pk,
        "from_role": "dpo",
        "to_role": "supervisor",
    }
    team_event = AccessEvent.objects.get(action="staff.team_change")
    assert team_event.detail["to_team"] == team.pk
    ledger.sequence_now()
    for event in (role_event, team_event):
        assert LogLeaf.objects.filter(kind="event", ref_id=event.pk).exists()
    anomaly = Anomaly.objects.get(kind="privilege_change")
    assert (anomaly.actor_id, anomaly.event_id) == (admin_user.pk, team_event.pk)
    assert ledger.verify().intact
    assert not AdminLogEntry.objects.exists()  # the trail is the record, not the admin log


def test_a_change_that_opens_no_survivor_data_raises_no_anomaly(admin_user, make_staff):
    worker = make_staff(Role.CASEWORKER, username="worker")
    web_client(admin_user).post(
        f"/admin/access/user/{worker.pk}/change/", _form(worker, role=Role.DPO, team="")
    )
    worker.refresh_from_db()
    assert worker.role == Role.DPO
    assert AccessEvent.objects.filter(action="staff.role_change").exists()
    assert not Anomaly.objects.filter(kind="privilege_change").exists()


def test_creating_a_supervisor_in_the_admin_is_recorded_and_flagged(admin_user, team):
    response = web_client(admin_user).post(
        "/admin/access/user/add/",
        {"username": "new-sup", "role": Role.SUPERVISOR, "team": team.pk, "is_active": "on"},
    )
    assert response.status_code == 302
    user = User.objects.get(username="new-sup")
    assert not user.has_usable_password() and not user.is_superuser
    event = AccessEvent.objects.get(action="staff.create")
    assert event.detail == {"user_id": user.pk, "to_role": "supervisor", "to_team": team.pk}
    assert Anomaly.objects.filter(kind="privilege_change", event=event).exists()


def test_teams_change_through_a_service_with_an_event(admin_user):
    client = web_client(admin_user)
    client.post(
        "/admin/access/team/add/",
        {"name": "East", "slug": "east", "caseload_limit": 12, "high_risk_limit": 5},
    )
    east = Team.objects.get(slug="east")
    client.post(
        f"/admin/access/team/{east.pk}/change/",
        {"name": "East", "caseload_limit": 9, "high_risk_limit": 5},
    )
    east.refresh_from_db()
    assert east.caseload_limit == 9
    actions = list(
        AccessEvent.objects.filter(action__startswith="team.")
        .order_by("id")
        .values_list("action", "detail")
    )
    assert actions == [
        ("team.create", {"team_id": east.pk, "fields": ["caseload_limit", "name"]}),
        ("team.update", {"team_id": east.pk, "fields": ["caseload_limit"]}),
    ]


def test_revoking_tokens_in_the_admin_is_a_recorded_service_call(admin_user, caseworker, api):
    token = token_issue(user=caseworker, days=1)
    row = ApiToken.objects.get(user=caseworker)
    response = web_client(admin_user).post(
        "/admin/access/apitoken/",
        {"action": "revoke", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    event = AccessEvent.objects.get(action="token.revoke")
    assert (event.actor_id, event.detail) == (
        admin_user.pk,
        {"token_id": row.pk, "user_id": caseworker.pk},
    )
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/cases/").status_code == 401


def test_nothing_can_be_deleted_from_the_admin(admin_user, make_staff):
    other = make_staff(Role.CASEWORKER, username="leaver")
    client = web_client(admin_user)
    assert client.get(f"/admin/access/user/{other.pk}/delete/").status_code in (302, 403)
    client.post(
        "/admin/access/user/", {"action": "delete_selected", "_selected_action": [other.pk]}
    )
    assert User.objects.filter(pk=other.pk).exists()


def test_the_admin_pages_show_no_survivor_data(admin_user, caseworker):
    open_case(caseworker)
    client = web_client(admin_user)
    for url in ("/admin/", "/admin/access/user/", f"/admin/access/user/{caseworker.pk}/change/"):
        page = client.get(url).content.decode()
        assert not any(marker in page for marker in MARKERS.values()), url
