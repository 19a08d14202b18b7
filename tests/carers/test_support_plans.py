"""AS8-6: the support plan agreed at a well-being meeting is read by the staff member
and their supervisor only, and its review date comes due on both their pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from access.roles import Role
from audit.models import AccessEvent
from carers.models import SupportPlan
from tests.helpers import db_pk, web_client

pytestmark = pytest.mark.django_db

PLAN = "MARKER-PLAN occupational health on Tuesday"


def _form(**extra):
    return {
        "staff": "cw",
        "occupational_referral": PLAN,
        "adjusted_responsibilities": "No new high-risk intakes for a month",
        "cover": "cw2 covers HV-AAAA-BBBB",
        "support_person": "Maryam",
        "who_is_told": "Nobody else",
        "review_on": (timezone.localdate() + dt.timedelta(days=3)).isoformat(),
    } | extra


def test_AS8_6_only_the_person_and_their_supervisor_read_the_plan(
    supervisor, caseworker, make_staff, dpo, other_team
):
    colleague = make_staff(Role.CASEWORKER, username="cw2")
    admin = make_staff(Role.ADMIN, username="adm", is_staff=True, is_superuser=True)
    other_sup = make_staff(Role.SUPERVISOR, username="sup2", team=other_team)
    assert web_client(supervisor).post("/support-plans/", _form()).status_code == 302
    for reader in (supervisor, caseworker):
        assert PLAN in web_client(reader).get("/support-plans/").content.decode()
    for outsider in (colleague, other_sup, dpo, admin):
        page = web_client(outsider).get("/support-plans/").content.decode()
        assert PLAN not in page
    assert web_client(admin).get("/admin/carers/supportplan/").status_code == 404
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT content FROM carers_supportplan WHERE id = %s",
            [db_pk(SupportPlan.objects.get())],
        )
        assert b"MARKER-PLAN" not in bytes(cursor.fetchone()[0])
    event = AccessEvent.objects.get(action="support_plan.record")
    assert event.detail == {} and str(caseworker.pk) not in str(event.detail)


def test_AS8_6_the_review_comes_due_on_both_pages(supervisor, caseworker):
    web_client(supervisor).post("/support-plans/", _form())
    for person in (supervisor, caseworker):
        page = web_client(person).get("/", follow=True).content.decode()
        assert "A support plan review is due by" in page
    plan = SupportPlan.objects.get()
    web_client(supervisor).post("/support-plans/", {"close": str(plan.pk)})
    assert (
        "support plan review" not in web_client(caseworker).get("/", follow=True).content.decode()
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"staff": "nobody"},
        {"review_on": "2001-01-01"},
        {
            "occupational_referral": "",
            "adjusted_responsibilities": "",
            "cover": "",
            "support_person": "",
            "who_is_told": "",
        },
        {"cover": "x\x00y"},
    ],
)
def test_AS8_6_bad_input_keeps_nothing(supervisor, caseworker, extra):
    response = web_client(supervisor).post("/support-plans/", _form(**extra))
    assert response.status_code == 400
    assert not SupportPlan.objects.exists()


def test_AS8_6_only_a_supervisor_writes_plans(caseworker):
    assert web_client(caseworker).post("/support-plans/", _form(staff="cw")).status_code == 403
    assert not SupportPlan.objects.exists()


def test_AS8_6_the_api_records_and_lists_plans_for_the_two_only(
    api, supervisor, caseworker, make_staff
):
    colleague = make_staff(Role.CASEWORKER, username="cw2")
    body = {
        "staff": "cw",
        "cover": "cw2 covers two cases",
        "review_on": (timezone.localdate() + dt.timedelta(days=20)).isoformat(),
    }
    made = api(supervisor).post("/api/v1/support-plans/", body, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["cover"] == "cw2 covers two cases"
    for reader in (supervisor, caseworker):
        assert api(reader).get("/api/v1/support-plans/").json()["count"] == 1
    assert api(colleague).get("/api/v1/support-plans/").json()["count"] == 0
    assert api(caseworker).post("/api/v1/support-plans/", body, format="json").status_code == 403
