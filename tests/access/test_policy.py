"""Deny by default: who reads a case, and what every refusal leaves behind.
AS9-STO-3, AS9-USE-1, AS9-USE-4."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.utils import timezone

from access import policy
from access.models import CaseGrant, GrantKind
from access.roles import Role
from tests.factories import MARKERS, add_encounter, open_case

pytestmark = pytest.mark.django_db

CASE_URLS = ["/", "/identity/", "/encounters/"]


def _grant(case, user, **kwargs) -> CaseGrant:
    return CaseGrant.objects.create(
        content_object=case,
        user=user,
        permission=Permission.objects.get(codename="view_case"),
        kind=GrantKind.GRANT,
        reason="cover",
        **kwargs,
    )


def _assert_hidden(api, user, case, last_event) -> None:
    client = api(user)
    for suffix in CASE_URLS:
        response = client.get(f"/api/v1/cases/{case.reference}{suffix}")
        assert response.status_code == 404, (user.role, suffix)
        assert MARKERS["summary"] not in response.content.decode()
        event = last_event(actor_id=user.pk)
        assert (event.case_reference, event.outcome) == (case.reference, "denied")
    assert client.get("/api/v1/cases/").json()["count"] == 0


def test_it_hides_a_case_from_a_caseworker_outside_it(api, caseworker, make_staff, last_event):
    """AS9-STO-3: same team, same role, no relation: 404 and a denied event."""
    case = open_case(caseworker)
    outsider = make_staff(Role.CASEWORKER, username="outsider")
    _assert_hidden(api, outsider, case, last_event)
    assert last_event(actor_id=outsider.pk, outcome="denied").reason == "no_relation"


@pytest.mark.parametrize("role", [Role.DPO, Role.ADMIN])
def test_dpo_and_admin_read_no_case_content(api, caseworker, make_staff, last_event, role):
    """AS9-USE-4: the DPO and the administrator never read content or identity."""
    case = open_case(caseworker)
    _assert_hidden(api, make_staff(role), case, last_event)


def test_superuser_flag_grants_nothing(api, caseworker, make_staff, last_event):
    """Invariant 4."""
    case = open_case(caseworker)
    root = make_staff(Role.ADMIN, username="root", is_superuser=True, is_staff=True)
    _assert_hidden(api, root, case, last_event)
    root_caseworker = make_staff(Role.CASEWORKER, username="rootcw", is_superuser=True)
    _assert_hidden(api, root_caseworker, case, last_event)


def test_a_supervisor_reads_their_teams_cases_only(
    api, caseworker, make_staff, other_team, last_event
):
    case = open_case(caseworker)
    own = make_staff(Role.SUPERVISOR, username="own-sup")
    response = api(own).get(f"/api/v1/cases/{case.reference}/")
    assert response.status_code == 200
    assert last_event(action="case.view").reason == "team"
    assert [c["reference"] for c in api(own).get("/api/v1/cases/").json()["results"]] == [
        case.reference
    ]
    other = make_staff(Role.SUPERVISOR, username="other-sup", team=other_team)
    _assert_hidden(api, other, case, last_event)


def test_a_grant_opens_a_case_until_it_expires(api, caseworker, make_staff, last_event):
    """AS9-STO-3: expiry takes effect at the moment it passes, not at a cleanup."""
    case = open_case(caseworker)
    colleague = make_staff(username="cover")
    grant = _grant(case, colleague, expires_at=timezone.now() + dt.timedelta(hours=1))
    assert api(colleague).get(f"/api/v1/cases/{case.reference}/").status_code == 200
    CaseGrant.objects.filter(pk=grant.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    _assert_hidden(api, colleague, case, last_event)


def test_a_revoked_grant_stops_at_once(api, caseworker, make_staff, last_event):
    case = open_case(caseworker)
    colleague = make_staff(username="cover")
    grant = _grant(case, colleague)
    assert api(colleague).get(f"/api/v1/cases/{case.reference}/").status_code == 200
    CaseGrant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
    _assert_hidden(api, colleague, case, last_event)


def test_a_deactivated_account_reads_nothing(api, caseworker):
    case = open_case(caseworker)
    client = api(caseworker)
    caseworker.is_active = False
    caseworker.save()
    assert client.get(f"/api/v1/cases/{case.reference}/").status_code == 401


def test_anonymous_callers_get_401_with_a_code(api):
    response = api(None).get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_readable_cases_never_includes_other_teams(caseworker, make_staff, other_team):
    mine = open_case(caseworker)
    elsewhere = open_case(make_staff(username="far", team=other_team))
    add_encounter(caseworker, mine)
    sup = make_staff(Role.SUPERVISOR, username="sup2")
    readable = set(policy.readable_cases(sup).values_list("pk", flat=True))
    assert readable == {mine.pk}
    assert elsewhere.pk not in readable


def test_a_supervisor_reads_their_team_and_their_live_grants_elsewhere(
    caseworker, make_staff, other_team
):
    """AS9-STO-3: the supervisor's list is their team's cases and the cases of other teams
    they hold a live grant on; an expired grant on another team's case opens nothing."""
    mine = open_case(caseworker)
    colleague = make_staff(username="far2", team=other_team)
    granted, expired, untouched = (open_case(colleague) for _ in range(3))
    sup = make_staff(Role.SUPERVISOR, username="sup3")
    _grant(granted, sup)
    _grant(expired, sup, expires_at=timezone.now() - dt.timedelta(minutes=1))
    readable = policy.readable_cases(sup)
    assert set(readable.values_list("pk", flat=True)) == {mine.pk, granted.pk}
    assert readable.count() == 2 and untouched.pk not in set(readable.values_list("pk", flat=True))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL plan")
def test_a_supervisors_list_is_found_by_index_not_by_reading_every_case(
    caseworker, make_staff, other_team
):
    """Lists whose cost follows the page (issue 16): "granted, or in my team" is two index
    scans combined, so a supervisor's count reads their cases, not the whole table. With
    ``IN (subquery)`` under the ``OR`` PostgreSQL had no plan but a scan of every case."""
    open_case(caseworker)
    sup = make_staff(Role.SUPERVISOR, username="sup4")
    _grant(open_case(make_staff(username="far3", team=other_team)), sup)
    sql, params = policy.readable_cases(sup).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on cases_case" not in plan, plan
    assert "cases_case_team_id" in plan and "cases_case_pkey" in plan, plan


def test_a_user_without_a_role_reads_nothing(api, caseworker, make_staff, last_event):
    case = open_case(caseworker)
    nobody = make_staff(role="", username="norole")
    _grant(case, nobody)
    _assert_hidden(api, nobody, case, last_event)
