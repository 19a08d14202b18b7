"""The team caseload page for supervisors (AS8-1)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access.models import CaseGrant
from access.roles import Role
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


def test_caseload_shows_open_cases_risk_and_overdue_per_worker(supervisor, caseworker, team):
    team.caseload_limit = 1
    team.save()
    overdue = open_case(caseworker, risk_level="high")
    add_encounter(caseworker, overdue, follow_up_date=timezone.localdate() - dt.timedelta(days=2))
    open_case(caseworker, risk_level="low")
    page = web_client(supervisor).get("/team/caseload/").content.decode()
    assert "2 / 1" in page and "over limit" in page
    assert "1 / 0 / 1" in page  # high / medium / low
    assert overdue.reference in page
    assert MARKERS["given_name"] not in page and MARKERS["summary"] not in page


def test_supervisor_reassigns_a_case(supervisor, caseworker, make_staff, api, last_event):
    case = open_case(caseworker)
    other = make_staff(Role.CASEWORKER, username="balancer")
    response = web_client(supervisor).post(
        "/team/caseload/",
        {"reference": case.reference, "from_user": caseworker.username, "to_user": "balancer"},
    )
    assert response.status_code == 302
    assert api(other).get(f"/api/v1/cases/{case.reference}/").status_code == 200
    assert api(caseworker).get(f"/api/v1/cases/{case.reference}/").status_code == 404
    assert CaseGrant.objects.filter(user=caseworker, revoked_by=supervisor).exists()
    event = last_event(action="case.reassign")
    assert (event.actor_id, event.case_reference) == (supervisor.pk, case.reference)


def test_caseload_is_for_supervisors_only(caseworker):
    assert web_client(caseworker).get("/team/caseload/").status_code == 403


def test_AS8_5_the_supervisor_writes_the_limits_and_who_is_over_them_shows(
    supervisor, caseworker, make_staff, team, last_event
):
    other = make_staff(Role.CASEWORKER, username="light")
    for _ in range(2):
        open_case(caseworker, risk_level="high")
    open_case(other, risk_level="low")
    refused = web_client(caseworker).post("/team/caseload/", {"open_cases": 9, "high_risk": 1})
    assert refused.status_code == 403
    bad = web_client(supervisor).post("/team/caseload/", {"open_cases": 3, "high_risk": 9})
    assert bad.status_code == 302
    team.refresh_from_db()
    assert (team.caseload_limit, team.high_risk_limit) == (15, 5)  # refused: nothing changed
    saved = web_client(supervisor).post("/team/caseload/", {"open_cases": 3, "high_risk": 1})
    assert saved.status_code == 302
    team.refresh_from_db()
    assert (team.caseload_limit, team.high_risk_limit) == (3, 1)
    event = last_event(action="team.update")
    assert (event.actor_id, event.detail["fields"]) == (
        supervisor.pk,
        ["caseload_limit", "high_risk_limit"],
    )
    page = web_client(supervisor).get("/team/caseload/").content.decode()
    assert "over the high-risk limit (1)" in page
    assert "Could take a case: <strong>light</strong>" in page


def test_AS8_1_the_caseload_shows_the_mix_of_stages_and_the_in_person_share(supervisor, caseworker):
    old = open_case(caseworker)
    old.opened_at = timezone.now() - dt.timedelta(days=400)
    old.save(update_fields=["opened_at"])
    recent = open_case(caseworker)
    add_encounter(caseworker, recent, kind="phone")
    add_encounter(caseworker, recent, kind="counselling")
    add_encounter(caseworker, recent, kind="follow_up")
    add_encounter(caseworker, recent, kind="medical")
    page = web_client(supervisor).get("/team/caseload/").content.decode()
    assert "1 / 0 / 1" in page  # new / established / long-term
    assert "75% of 4" in page
