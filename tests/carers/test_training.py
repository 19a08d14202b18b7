"""AS8-7: training per role with renewal dates; overdue training shows to the staff
member and the supervisor; an administrator can make a training a condition of case
access, which then fails closed until it is recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access.errors import GrantError
from access.roles import Role
from carers import training
from carers.models import Training, TrainingCompletion
from tests.factories import open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


def test_AS8_7_the_defaults_are_listed_and_overdue_until_recorded(supervisor, caseworker):
    slugs = set(Training.objects.values_list("slug", flat=True))
    assert {"trauma-informed-care", "data-protection", "confidentiality-rules"} <= slugs
    page = web_client(caseworker).get("/training/").content.decode()
    assert "Trauma-informed care" in page and "overdue" in page
    assert "Training due: 3" in page
    done = web_client(supervisor).post(
        "/training/",
        {
            "username": "cw",
            "training": "trauma-informed-care",
            "completed_on": timezone.localdate().isoformat(),
        },
    )
    assert done.status_code == 302
    assert "Training due: 2" in web_client(caseworker).get("/training/").content.decode()
    team_page = web_client(supervisor).get("/training/").content.decode()
    assert "cw" in team_page and "overdue" in team_page


def test_AS8_7_a_lapsed_training_is_due_again(caseworker, supervisor):
    long_ago = timezone.localdate() - dt.timedelta(days=400)
    training.training_complete(
        actor=supervisor, username="cw", slug="data-protection", completed_on=long_ago
    )
    standing = {s.training.slug: s for s in training.training_standing(caseworker)}
    assert standing["data-protection"].overdue is True
    assert standing["data-protection"].due_on == long_ago + dt.timedelta(days=365)


def test_AS8_7_only_the_teams_supervisor_or_an_admin_records(
    caseworker, make_staff, other_team, last_event
):
    other_sup = make_staff(Role.SUPERVISOR, username="sup2", team=other_team)
    for actor in (caseworker, other_sup):
        with pytest.raises(GrantError) as refused:
            training.training_complete(
                actor=actor,
                username="cw",
                slug="data-protection",
                completed_on=timezone.localdate(),
            )
        assert refused.value.status == 403
        assert last_event(action="training.complete").outcome == "denied"
    assert not TrainingCompletion.objects.exists()


def test_AS8_7_a_training_required_for_access_fails_closed_until_recorded(
    api, make_staff, caseworker, supervisor, last_event
):
    case = open_case(caseworker)
    admin = make_staff(Role.ADMIN, username="adm", is_staff=True)
    form = {
        "slug": "safeguarding",
        "title": "Safeguarding",
        "roles": ["caseworker"],
        "renewal_days": "365",
        "required_for_access": "on",
    }
    unconfirmed = web_client(admin).post("/training/", form)
    assert unconfirmed.status_code == 400
    assert not Training.objects.filter(slug="safeguarding").exists()
    assert web_client(admin).post("/training/", form | {"confirm": "on"}).status_code == 302
    refused = api(caseworker).get(f"/api/v1/cases/{case.reference}/")
    assert (refused.status_code, refused.json()["code"]) == (403, "training_required")
    assert last_event(action="case.view").reason == "training_required"
    assert api(caseworker).get("/api/v1/cases/").json()["count"] == 0
    # Supervisors are not in the training's roles: unaffected.
    assert api(supervisor).get(f"/api/v1/cases/{case.reference}/").status_code == 200
    training.training_complete(
        actor=supervisor, username="cw", slug="safeguarding", completed_on=timezone.localdate()
    )
    assert api(caseworker).get(f"/api/v1/cases/{case.reference}/").status_code == 200


def test_AS8_7_the_api_lists_and_records(api, supervisor, caseworker):
    mine = api(caseworker).get("/api/v1/training/").json()["results"]
    assert [row["staff"] for row in mine] == ["cw"]
    assert all(t["overdue"] for t in mine[0]["trainings"])
    body = {
        "staff": "cw",
        "training": "data-protection",
        "completed_on": timezone.localdate().isoformat(),
    }
    done = api(supervisor).post("/api/v1/training/", body, format="json")
    assert done.status_code == 201, done.content
    row = {t["training"]: t for t in done.json()["trainings"]}["data-protection"]
    assert row["overdue"] is False and row["last_completed"] == body["completed_on"]
    assert api(caseworker).post("/api/v1/training/", body, format="json").status_code == 403
    team = {r["staff"] for r in api(supervisor).get("/api/v1/training/").json()["results"]}
    assert {"cw", "sup"} <= team
