"""Access events: written for every read, before data leaves, with no survivor data.
AS9-USE-1, AS9-USE-2."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import connection
from django.utils import timezone

from access.services import grant_assign
from audit import services as audit_services
from audit.models import AccessEvent, AppendOnlyError
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


def _audit_table_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_accessevent")
        return "\n".join(str(row) for row in cursor.fetchall())


def test_no_survivor_data_reaches_logs_or_the_access_trail(api, caseworker, clinician, caplog):
    """Invariant 1 / standing rule 2: run a whole journey with marker values, then look
    for them in every log record and every audit row."""
    caplog.set_level(logging.DEBUG)
    client = api(caseworker)
    created = client.post(
        "/api/v1/cases/",
        {
            "identity": {"given_name": MARKERS["given_name"], "phone": MARKERS["phone"]},
            "summary": MARKERS["summary"],
        },
        format="json",
    )
    reference = created.json()["reference"]
    client.get(f"/api/v1/cases/{reference}/identity/")
    client.patch(
        f"/api/v1/cases/{reference}/identity/",
        {"family_name": MARKERS["family_name"]},
        format="json",
    )
    client.post(
        f"/api/v1/cases/{reference}/encounters/",
        {"occurred_at": timezone.now().isoformat(), "kind": "phone", "notes": MARKERS["notes"]},
        format="json",
    )
    client.post("/api/v1/cases/", {"summary": MARKERS["summary"] + "\x00"}, format="json")
    trail = _audit_table_text()
    for marker in MARKERS.values():
        assert marker not in caplog.text, marker
        assert marker not in trail, marker
    assert AccessEvent.objects.filter(case_reference=reference).count() >= 4


def test_events_carry_who_where_and_which_request(api, caseworker, last_event):
    case = open_case(caseworker)
    response = api(caseworker).get(
        f"/api/v1/cases/{case.reference}/",
        HTTP_USER_AGENT="TestBrowser/1.0",
        REMOTE_ADDR="10.1.2.3",
    )
    event = last_event(action="case.view")
    assert event.actor_username == caseworker.username
    assert event.actor_role == "caseworker"
    assert event.ip == "10.1.2.3"
    assert event.user_agent == "TestBrowser/1.0"
    assert event.request_id == response["X-Request-ID"]


def test_a_read_fails_when_its_event_cannot_be_written(api, caseworker, monkeypatch):
    """Fail closed: no event, no data."""
    case = open_case(caseworker)

    def broken(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("access.policy.event_record", broken)
    client = api(caseworker)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/cases/{case.reference}/")
    assert response.status_code == 500
    assert MARKERS["summary"] not in response.content.decode()


def test_the_error_page_shows_no_survivor_data(caseworker, monkeypatch):
    case = open_case(caseworker)

    def explode(*, case):
        raise RuntimeError(MARKERS["given_name"])

    monkeypatch.setattr("cases.selectors.identity_for", explode)

    client = web_client(caseworker)
    client.raise_request_exception = False
    response = client.post(f"/cases/{case.reference}/identity/")
    assert response.status_code == 500
    assert MARKERS["given_name"] not in response.content.decode()


def test_events_cannot_be_changed_or_deleted_through_the_application(caseworker):
    """AS9-USE-2 (application side; database triggers come with the audit issue)."""
    event = audit_services.event_record(actor=caseworker, action="case.view")
    event.reason = "edited"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.all().delete()
    assert AccessEvent.objects.get(pk=event.pk).reason == ""


def test_free_text_cannot_be_put_in_an_event(caseworker):
    """Details are counts, flags and field names; a search value is refused."""
    with pytest.raises(ValueError):
        audit_services.event_record(
            actor=caseworker, action="case.search", detail={"family_name": "Quarnstrom Smith"}
        )
    with pytest.raises(ValueError):
        audit_services.event_record(actor=caseworker, action="case.view", reason="Free text!")
    for reason in ("line\nbreak", "code\n"):  # "$" alone would let a trailing newline by
        with pytest.raises(ValueError):
            audit_services.event_record(actor=caseworker, action="case.view", reason=reason)
    with pytest.raises(ValueError):
        audit_services.event_record(actor=caseworker, action="case.view\n")
    with pytest.raises(ValueError):
        audit_services.event_record(
            actor=caseworker, action="case.search", detail={"field\n": True}
        )


def test_a_clinicians_read_of_the_clinical_block_is_its_own_event(api, caseworker, clinician):
    case = open_case(caseworker)
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    add_encounter(
        clinician,
        case,
        clinical={"conditions": [{"display": "x"}]},
        occurred_at=timezone.now() - dt.timedelta(days=1),
    )
    api(clinician).get(f"/api/v1/cases/{case.reference}/encounters/")
    actions = list(
        AccessEvent.objects.filter(actor_id=clinician.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["encounter.list", "clinical.list"]
