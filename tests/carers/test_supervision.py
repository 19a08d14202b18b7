"""AS8-3: clinical supervision is recorded apart from management notes; its notes are
read by the supervisor and those who attended only; gaps show to both."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from access.roles import Role
from carers.models import SupervisionSession
from tests.helpers import db_pk, web_client

pytestmark = pytest.mark.django_db

NOTES = "MARKER-SUPERVISION-NOTES the hard interview last week"


def _record(api, user, **body):
    body = {
        "staff": "cw",
        "kind": "individual",
        "held_on": timezone.localdate().isoformat(),
        "notes": NOTES,
    } | body
    return api(user).post("/api/v1/supervision/", body, format="json")


def test_AS8_3_a_supervisor_records_and_only_those_present_read_the_notes(
    api, supervisor, caseworker, make_staff, dpo, other_team
):
    colleague = make_staff(Role.CASEWORKER, username="cw2")
    other_sup = make_staff(Role.SUPERVISOR, username="sup2", team=other_team)
    made = _record(api, supervisor)
    assert made.status_code == 201, made.content
    assert made.json()["staff"] == ["cw"] and made.json()["notes"] == NOTES
    for reader in (supervisor, caseworker):
        results = api(reader).get("/api/v1/supervision/").json()["results"]
        assert [r["notes"] for r in results] == [NOTES]
    for outsider in (colleague, other_sup, dpo):
        assert api(outsider).get("/api/v1/supervision/").json()["results"] == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT notes FROM carers_supervisionsession WHERE id = %s",
            [db_pk(SupervisionSession.objects.get())],
        )
        assert b"MARKER-SUPERVISION" not in bytes(cursor.fetchone()[0])


def test_AS8_3_the_gaps_show_to_the_supervisor_and_the_staff_member(
    api, supervisor, caseworker, make_staff, settings
):
    settings.HAVEN_SUPERVISION_DAYS = 30
    make_staff(Role.CLINICIAN, username="clin2")
    long_ago = (timezone.localdate() - dt.timedelta(days=45)).isoformat()
    _record(api, supervisor, held_on=long_ago)
    staff = {s["staff"]: s for s in api(supervisor).get("/api/v1/supervision/").json()["staff"]}
    assert staff["cw"]["days_since"] == 45 and staff["cw"]["overdue"] is True
    assert staff["clin2"]["last_session"] is None
    own = api(caseworker).get("/api/v1/supervision/").json()["staff"]
    assert [(s["staff"], s["overdue"]) for s in own] == [("cw", True)]
    home = web_client(supervisor).get("/", follow=True).content.decode()
    assert "Supervision overdue for" in home
    _record(api, supervisor)
    own = api(caseworker).get("/api/v1/supervision/").json()["staff"]
    assert own[0]["overdue"] is False and own[0]["days_since"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"staff": "nobody"},
        {"staff": ["cw", "cw"], "kind": "group"},
        {"kind": "group"},
        {"kind": "lecture"},
        {"held_on": "2999-01-01"},
        {"held_on": "2026-02-30"},
        {"notes": "x\x00y"},
        {"staff": []},
        {"surprise": 1},
    ],
)
def test_AS8_3_bad_input_is_refused_and_nothing_is_kept(api, supervisor, caseworker, body):
    response = _record(api, supervisor, **body)
    assert response.status_code == 400, response.content
    assert not SupervisionSession.objects.exists()


def test_AS8_3_only_a_teams_supervisor_records(api, caseworker, dpo, last_event):
    for user in (caseworker, dpo):
        response = _record(api, user)
        assert response.status_code == 403
        assert last_event(action="supervision.record").outcome == "denied"
    assert not SupervisionSession.objects.exists()


def test_AS8_3_the_page_records_a_group_session(supervisor, caseworker, make_staff):
    make_staff(Role.CLINICIAN, username="clin2")
    client = web_client(supervisor)
    page = client.get("/supervision/").content.decode()
    assert "Record a session" in page and "none yet" in page
    done = client.post(
        "/supervision/",
        {
            "staff": ["cw", "clin2"],
            "kind": "group",
            "held_on": timezone.localdate().isoformat(),
            "notes": "Group reflection",
        },
    )
    assert done.status_code == 302
    session = SupervisionSession.objects.get()
    assert sorted(u.username for u in session.attendees.all()) == ["clin2", "cw"]
    mine = web_client(caseworker).get("/supervision/").content.decode()
    assert "Group reflection" in mine and "Record a session" not in mine
    assert web_client(caseworker).post("/supervision/", {}).status_code == 403
