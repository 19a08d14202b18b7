"""A case's whole life through the API: facts edited with a version, closed with a
reason and a retention date, reopened; the plan agreed with the survivor, services,
tasks, what the receiver answered about a referral, and what is due.
AS8-8, AS9-END-1, AS9-END-4, AS9-STO-2, AS9-STO-3, AS9-USE-1."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from access.services import grant_assign
from audit.models import AccessEvent
from cases import selectors
from cases.models import Case, CaseService, Referral
from cases.services import (
    consent_record,
    consent_withdraw,
    goal_add,
    organisation_add,
    service_add,
    task_add,
)
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import db_pk

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _url(case: Case, tail: str = "") -> str:
    return f"/api/v1/cases/{case.reference}/{tail}"


def _encounter(client, case: Case, **extra):
    body = {
        "occurred_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "kind": "phone",
        "notes": "a note",
        **extra,
    }
    return client.post(_url(case, "encounters/"), body, format="json")


# --- case facts ----------------------------------------------------------------------


def test_case_facts_change_only_with_the_version_read(api, caseworker, last_event):
    """AS9-END-1: the record can be corrected; a stale edit never overwrites another."""
    case = open_case(caseworker)
    client = api(caseworker)
    first = client.patch(_url(case), {"risk_level": "low", "version": 1}, format="json")
    assert first.status_code == 200, first.content
    assert (first.json()["risk_level"], first.json()["version"]) == ("low", 2)
    stale = client.patch(_url(case), {"summary": "late", "version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert Case.objects.get(pk=case.pk).summary == MARKERS["summary"]
    assert last_event(action="case.update").outcome == "allowed"


@pytest.mark.parametrize(
    "body",
    [
        {"risk_level": "low"},  # no version
        {"version": 1},  # nothing to change
        {"risk_level": "extreme", "version": 1},
        {"trafficking_types": ["labour", "nonsense"], "version": 1},
        {"summary": "a\x00b", "version": 1},
    ],
)
def test_bad_case_patches_change_nothing(api, caseworker, body):
    case = open_case(caseworker)
    response = api(caseworker).patch(_url(case), body, format="json")
    assert response.status_code == 400
    assert Case.objects.get(pk=case.pk).version == 1


def test_the_summary_is_encrypted_and_its_earlier_version_kept(api, caseworker):
    """AS9-STO-2 and AS9-END-4."""
    case = open_case(caseworker)
    api(caseworker).patch(_url(case), {"summary": "NEW-SUMMARY-7", "version": 1}, format="json")
    with connection.cursor() as cursor:
        cursor.execute("SELECT summary FROM cases_case WHERE id = %s", [db_pk(case)])
        raw = bytes(cursor.fetchone()[0])
    assert b"NEW-SUMMARY-7" not in raw
    history = selectors.revisions_of(case=case, subject="case", object_id=case.pk)
    assert history.first().previous["summary"] == MARKERS["summary"]


def test_closing_needs_a_reason_and_sets_the_retention_date(api, caseworker, settings):
    settings.HAVEN_RETENTION_DAYS = 30
    case = open_case(caseworker)
    add_encounter(caseworker, case, follow_up_date=TODAY() + dt.timedelta(days=3))
    task_add(actor=caseworker, case=case, title="call", due_on=TODAY())
    client = api(caseworker)
    assert client.post(_url(case, "close/"), {}, format="json").status_code == 400
    unchecked = client.post(
        _url(case, "close/"),
        {"reason": "goals_met", "checklist": {"services_settled": True}},
        format="json",
    )
    assert unchecked.status_code == 400
    closed = client.post(
        _url(case, "close/"), {"reason": "goals_met", "note": "moved on well"}, format="json"
    )
    assert closed.status_code == 200, closed.content
    body = closed.json()
    assert body["status"] == "closed" and body["close_reason"] == "goals_met"
    assert body["retention_until"] == (TODAY() + dt.timedelta(days=30)).isoformat()
    assert body["follow_up_on"] is None
    assert selectors.due_for(user=caseworker) == []  # nothing due on a closed case
    again = client.post(_url(case, "close/"), {"reason": "other"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "case_closed"


def test_a_closed_case_records_nothing_new_until_reopened(api, caseworker):
    case = open_case(caseworker)
    client = api(caseworker)
    client.post(_url(case, "close/"), {"reason": "lost_contact"}, format="json")
    refused = _encounter(client, case)
    assert refused.status_code == 409 and refused.json()["code"] == "case_closed"
    goal = client.post(
        _url(case, "plan/"), {"goal": "x", "agreed_on": TODAY().isoformat()}, format="json"
    )
    assert goal.status_code == 409
    assert client.post(_url(case, "reopen/"), {}, format="json").status_code == 400
    reopened = client.post(_url(case, "reopen/"), {"reason": "came back"}, format="json")
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["retention_until"]) == ("open", None)
    assert _encounter(client, case).status_code == 201
    twice = client.post(_url(case, "reopen/"), {"reason": "again"}, format="json")
    assert twice.status_code == 409


# --- the plan, services and tasks --------------------------------------------------------


def test_goals_are_agreed_encrypted_versioned_and_come_due(api, caseworker):
    """AS8-8: goals agreed with the survivor, with a review date that comes due."""
    case = open_case(caseworker)
    client = api(caseworker)
    made = client.post(
        _url(case, "plan/"),
        {
            "goal": "GOAL-IN-HER-WORDS",
            "agreed_on": TODAY().isoformat(),
            "review_on": TODAY().isoformat(),
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    goal = made.json()
    assert (goal["status"], goal["version"]) == ("agreed", 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT goal FROM cases_plangoal")
        assert b"GOAL-IN-HER-WORDS" not in bytes(cursor.fetchone()[0])
    due = client.get("/api/v1/tasks/", {"when": "today"}).json()["results"]
    assert [(d["kind"], d["title"]) for d in due] == [("plan_review", "GOAL-IN-HER-WORDS")]
    patch = client.patch(
        _url(case, f"plan/{goal['id']}/"), {"status": "achieved", "version": 1}, format="json"
    )
    assert patch.status_code == 200 and patch.json()["version"] == 2
    stale = client.patch(
        _url(case, f"plan/{goal['id']}/"), {"goal": "other", "version": 1}, format="json"
    )
    assert stale.status_code == 409
    assert client.get("/api/v1/tasks/", {"when": "today"}).json()["count"] == 0  # achieved


def test_a_referral_for_a_service_moves_it_along(api, caseworker, supervisor, clinician):
    organisation_add(actor=supervisor, name="Riverside", slug="riverside")
    case = open_case(caseworker)
    client = api(caseworker)
    service = client.post(
        _url(case, "services/"),
        {"type": "medical", "provider": "riverside", "due_on": TODAY().isoformat()},
        format="json",
    ).json()
    assert (service["status"], service["provider"]) == ("needed", "riverside")
    consent_record(
        actor=caseworker,
        case=case,
        scope="referral",
        recipient_slug="riverside",
        purpose="care",
        method="verbal",
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    grant_assign(case=case, user=clinician, granted_by=supervisor)
    made = api(clinician).post(
        _url(case, "referrals/"),
        {
            "recipient": "riverside",
            "purpose": "care",
            "sections": ["summary"],
            "format": "fhir",
            "service": service["id"],
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    assert CaseService.objects.get(pk=service["id"]).status == "referred"
    referral = client.get(_url(case, "referrals/")).json()["results"][0]
    assert (referral["service"], referral["status"]) == (service["id"], "sent")
    for answer, service_status in [("accepted", "in_progress"), ("completed", "provided")]:
        response = client.patch(
            _url(case, f"referrals/{referral['id']}/"), {"status": answer}, format="json"
        )
        assert response.status_code == 200, response.content
        assert CaseService.objects.get(pk=service["id"]).status == service_status
    assert Referral.objects.get().receiver_status == "completed"
    bad = client.patch(
        _url(case, f"referrals/{referral['id']}/"), {"status": "lost"}, format="json"
    )
    assert bad.status_code == 400


def test_tasks_are_given_within_the_team_and_marked_done(api, caseworker, make_staff, other_team):
    case = open_case(caseworker)
    client = api(caseworker)
    outsider = make_staff(username="elsewhere", team=other_team)
    refused = client.post(
        _url(case, "tasks/"),
        {"title": "x", "due_on": TODAY().isoformat(), "assigned_to": outsider.username},
        format="json",
    )
    assert refused.status_code == 400
    task = client.post(
        _url(case, "tasks/"),
        {
            "title": "Book interpreter",
            "due_on": TODAY().isoformat(),
            "assigned_to": caseworker.username,
        },
        format="json",
    ).json()
    assert task["assigned_to"] == caseworker.username
    done = client.patch(
        _url(case, f"tasks/{task['id']}/"), {"done": True, "version": 1}, format="json"
    )
    assert done.status_code == 200 and done.json()["done_at"] is not None
    assert client.get("/api/v1/tasks/").json()["count"] == 0


# --- what is due -------------------------------------------------------------------------


def test_my_day_windows_sort_and_scope(api, caseworker, supervisor, make_staff):
    """AS9-STO-3: only the cases the reader may open; the supervisor sees the team's."""
    low = open_case(caseworker, risk_level="low")
    high = open_case(caseworker, risk_level="high")
    colleague = make_staff(username="colleague")
    theirs = open_case(colleague, risk_level="medium")
    today = TODAY()
    task_add(actor=caseworker, case=low, title="overdue", due_on=today - dt.timedelta(days=2))
    task_add(actor=caseworker, case=high, title="today", due_on=today)
    task_add(actor=caseworker, case=high, title="later", due_on=today + dt.timedelta(days=5))
    task_add(actor=caseworker, case=high, title="far", due_on=today + dt.timedelta(days=30))
    goal_add(actor=colleague, case=theirs, goal="g", agreed_on=today, review_on=today)
    service_add(actor=caseworker, case=low, type="shelter", due_on=today)

    def titles(user, **params):
        results = api(user).get("/api/v1/tasks/", params).json()["results"]
        return [(r["case"], r["title"], r["overdue"]) for r in results]

    everything = titles(caseworker)
    # by date, then the higher risk first on the same day
    assert [t[1] for t in everything] == ["overdue", "today", "Shelter", "later"]
    assert everything[0][2] is True  # labelled overdue, sorted first
    assert [t[1] for t in titles(caseworker, when="overdue")] == ["overdue"]
    assert [t[1] for t in titles(caseworker, when="today")] == ["today", "Shelter"]
    by_risk = titles(caseworker, sort="risk")
    assert [t[0] for t in by_risk][:2] == [high.reference, high.reference]
    assert theirs.reference not in {t[0] for t in everything}
    assert theirs.reference in {t[0] for t in titles(supervisor)}
    assert api(caseworker).get("/api/v1/tasks/", {"when": "someday"}).status_code == 400
    event = AccessEvent.objects.filter(action="task.list").latest("id")
    assert "overdue" not in str(event.detail)


def test_storage_withdrawal_pauses_recording_flags_review_and_starts_retention(
    api, caseworker, settings
):
    """What withdrawing the consent to storage means (docs/data-protection.md)."""
    settings.HAVEN_RETENTION_DAYS = 100
    case = open_case(caseworker, storage_consent={"method": "verbal"})
    storage = case.consents.get(scope="storage")
    consent_withdraw(actor=caseworker, case=case, consent_id=storage.pk, reason="asked")
    client = api(caseworker)
    detail = client.get(_url(case)).json()
    assert detail["recording_paused"] is True
    assert detail["retention_until"] == (TODAY() + dt.timedelta(days=100)).isoformat()
    refused = _encounter(client, case)
    assert refused.status_code == 409 and refused.json()["code"] == "storage_consent_withdrawn"
    assert _encounter(client, case, care_critical=True).status_code == 201
    due = client.get("/api/v1/tasks/").json()["results"]
    assert [d["kind"] for d in due] == ["consent_review"]
    consent_record(
        actor=caseworker,
        case=case,
        scope="storage",
        method="written",
        given_at=timezone.now() - dt.timedelta(minutes=1),
    )
    assert client.get(_url(case)).json()["recording_paused"] is False
    assert _encounter(client, case).status_code == 201


# --- history -----------------------------------------------------------------------------


def test_identity_history_shows_who_changed_what_by_role(api, caseworker, last_event):
    """AS9-END-4."""
    case = open_case(caseworker)
    client = api(caseworker)
    client.patch(_url(case, "identity/"), {"family_name": "Corrected"}, format="json")
    history = client.get(_url(case, "identity/history/"))
    assert history.status_code == 200
    (row,) = history.json()["results"]
    assert row["changed_by"] == "Caseworker" and row["fields"] == ["family_name"]
    assert row["previous"] == {"family_name": MARKERS["family_name"]}
    assert caseworker.username not in history.content.decode()
    event = last_event(actor_id=caseworker.pk)
    assert event.case_reference == case.reference and MARKERS["family_name"] not in str(
        event.detail
    )


def test_encounter_history_keeps_each_earlier_version(api, caseworker):
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case, notes="first words")
    client = api(caseworker)
    client.patch(
        _url(case, f"encounters/{encounter.pk}/"), {"notes": "second", "version": 1}, format="json"
    )
    rows = client.get(_url(case, f"encounters/{encounter.pk}/history/")).json()["results"]
    assert [r["previous"].get("notes") for r in rows] == ["first words"]
    assert rows[0]["version"] == 1


def test_retention_default_is_six_years():
    assert settings.HAVEN_RETENTION_DAYS == 2190
