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
