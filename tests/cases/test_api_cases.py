"""Intake, case reads and identity through the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AccessEvent
from cases.models import Case, Identity, Revision
from haven.references import PATTERN
from tests.factories import MARKERS, add_encounter, open_case

pytestmark = pytest.mark.django_db

INTAKE = {
    "identity": {
        "given_name": MARKERS["given_name"],
        "family_name": MARKERS["family_name"],
        "date_of_birth": "1991-02-03",
        "phone": MARKERS["phone"],
        "languages": ["Romanian"],
        "declined": ["email"],
    },
    "summary": MARKERS["summary"],
    "risk_level": "high",
    "trafficking_types": ["labour", "domestic_servitude"],
}


def test_it_opens_a_case_and_returns_a_reference_without_identity(api, caseworker, last_event):
    """AS9-STO-1, AS9-COL-4: the answer holds the pseudonymous reference, never identity."""
    response = api(caseworker).post("/api/v1/cases/", INTAKE, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert PATTERN.match(body["reference"])
    assert MARKERS["given_name"] not in response.content.decode()
    assert "identity" not in body
    assert body["trafficking_types"] == ["domestic_servitude", "labour"]
    event = last_event(action="case.create")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        caseworker.pk,
        body["reference"],
        "allowed",
    )


def test_it_opens_a_case_with_no_identity_at_all(api, caseworker):
    """AS9-COL-1, AS9-COL-4: every field optional; served under a reference alone."""
    response = api(caseworker).post("/api/v1/cases/", {}, format="json")
    assert response.status_code == 201
    reveal = api(caseworker).get(f"/api/v1/cases/{response.json()['reference']}/identity/")
    assert reveal.status_code == 200
    assert reveal.json()["given_name"] is None
    assert reveal.json()["declined"] == []


def test_it_lists_only_readable_cases_without_identity(api, caseworker, make_staff, last_event):
    mine = open_case(caseworker)
    open_case(make_staff(username="someone"))  # same team, not assigned
    response = api(caseworker).get("/api/v1/cases/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [row["reference"] for row in body["results"]] == [mine.reference]
    assert MARKERS["given_name"] not in response.content.decode()
    assert MARKERS["summary"] not in response.content.decode()
    event = last_event(action="case.list")
    assert (event.actor_id, event.outcome, event.detail) == (
        caseworker.pk,
        "allowed",
        {"results": 1},
    )


def test_it_shows_a_case_to_its_assigned_worker_and_logs_it(api, caseworker, last_event):
    case = open_case(caseworker)
    response = api(caseworker).get(f"/api/v1/cases/{case.reference}/")
    assert response.status_code == 200
    assert response.json()["summary"] == MARKERS["summary"]
    assert MARKERS["given_name"] not in response.content.decode()
    event = last_event(action="case.view")
    assert (event.actor_id, event.case_reference, event.outcome, event.reason) == (
        caseworker.pk,
        case.reference,
        "allowed",
        "assignment",
    )


def test_it_accepts_a_reference_typed_in_lower_case_without_dashes(api, caseworker):
    case = open_case(caseworker)
    typed = case.reference.replace("-", "").lower()
    assert api(caseworker).get(f"/api/v1/cases/{typed}/").status_code == 200


def test_each_identity_reveal_is_logged(api, caseworker, last_event):
    """AS9-STO-1, AS9-USE-1: revealing identity is an explicit, logged act, every time."""
    case = open_case(caseworker)
    client = api(caseworker)
    for _ in range(2):
        response = client.get(f"/api/v1/cases/{case.reference}/identity/")
        assert response.status_code == 200
        assert response.json()["given_name"] == MARKERS["given_name"]
    events = AccessEvent.objects.filter(action="identity.view", case_reference=case.reference)
    assert events.count() == 2
    assert {(e.actor_id, e.outcome) for e in events} == {(caseworker.pk, "allowed")}


def test_declined_is_distinct_from_unknown(api, caseworker):
    """AS9-COL-1."""
    reference = api(caseworker).post("/api/v1/cases/", INTAKE, format="json").json()["reference"]
    body = api(caseworker).get(f"/api/v1/cases/{reference}/identity/").json()
    assert body["declined"] == ["email"]
    assert body["email"] is None and body["address"] is None
    assert "address" not in body["declined"]


def test_rectifying_identity_keeps_the_previous_value(api, caseworker, last_event):
    """AS9-END-4: corrections keep history, encrypted."""
    case = open_case(caseworker)
    response = api(caseworker).patch(
        f"/api/v1/cases/{case.reference}/identity/",
        {"family_name": "Corrected", "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["family_name"] == "Corrected"
    assert response.json()["given_name"] == MARKERS["given_name"]
    assert response.json()["version"] == 2
    revision = Revision.objects.select_related("survivor").get(subject="identity")
    assert revision.previous == {"family_name": MARKERS["family_name"]}
    assert revision.changed_by == caseworker
    event = last_event(action="identity.update")
    assert (event.case_reference, event.detail) == (case.reference, {"fields": ["family_name"]})


def test_a_stale_identity_correction_is_refused(api, caseworker):
    case = open_case(caseworker)
    client = api(caseworker)
    url = f"/api/v1/cases/{case.reference}/identity/"
    assert client.patch(url, {"phone": "1", "version": 1}, format="json").status_code == 200
    stale = client.patch(url, {"phone": "2", "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    identity = Identity.objects.select_related("survivor").get(survivor=case.survivor)
    assert identity.phone == "1"


def test_a_case_without_team_cannot_be_opened(api, make_staff):
    loner = make_staff(team=None)
    response = api(loner).post("/api/v1/cases/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "no_team"
    assert Case.objects.count() == 0


def test_the_list_gives_each_case_its_last_encounter_without_grouping_every_case(api, caseworker):
    """The last encounter comes from the (case, occurred_at) index for the page's rows;
    the list's query has no GROUP BY over every readable case and its encounters."""
    seen, unseen = open_case(caseworker), open_case(caseworker)
    now = timezone.now()
    add_encounter(caseworker, seen, occurred_at=now - dt.timedelta(days=3))
    latest = add_encounter(caseworker, seen, occurred_at=now - dt.timedelta(hours=5))
    add_encounter(caseworker, seen, occurred_at=now - dt.timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        rows = api(caseworker).get("/api/v1/cases/").json()["results"]
    last = {row["reference"]: row["last_encounter_at"] for row in rows}
    assert parse_datetime(last[seen.reference]) == latest.occurred_at
    assert last[unseen.reference] is None
    listing = [q["sql"] for q in queries if 'FROM "cases_case"' in q["sql"]]
    assert listing and not any("GROUP BY" in sql for sql in listing)
