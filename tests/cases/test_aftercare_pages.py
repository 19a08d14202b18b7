"""After care in the browser's pages (AS9-END-1 to END-3): the legal hold asks for a
reason and a confirmation, only the DPO releases it; a request made from the case page
reaches the DPO's queue with its age; the DPO decides there; the requester collects
the copy once with the passphrase shown once; an approved erasure leaves 410."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access.roles import Role
from cases.models import Case, RequestStatus, SubjectRequest
from cases.services import case_close
from tests.factories import MARKERS, TeamFactory, UserFactory, open_case
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    team = TeamFactory()
    worker = UserFactory(role=Role.CASEWORKER, team=team)
    supervisor = UserFactory(role=Role.SUPERVISOR, team=team)
    dpo = UserFactory(role=Role.DPO, team=None)
    case = open_case(worker)
    return worker, supervisor, dpo, case


def test_the_case_page_shows_the_retention_date_and_the_hold(people):
    """AS9-END-1."""
    worker, supervisor, dpo, case = people
    closed = case_close(actor=worker, case=case, reason="goals_met")
    page = web_client(supervisor).get(f"/cases/{case.reference}/")
    assert f"{closed.retention_until:%-d %b %Y}" in page.content.decode()
    assert "Place a legal hold" in page.content.decode()
    assert (
        "Place a legal hold"
        not in web_client(worker).get(f"/cases/{case.reference}/").content.decode()
    )


def test_a_hold_needs_a_reason_and_a_confirmation_and_keeps_what_was_typed(people):
    """AS9-END-1: a harmful change asks for confirmation; nothing typed is lost."""
    worker, supervisor, dpo, case = people
    client = web_client(supervisor)
    url = f"/cases/{case.reference}/legal-hold/"
    refused = client.post(url, {"reason": "Evidence in the trial of the recruiters"})
    assert refused.status_code == 400
    assert "Evidence in the trial of the recruiters" in refused.content.decode()
    assert Case.objects.get(pk=case.pk).legal_hold is False
    placed = client.post(url, {"reason": "Evidence in the trial", "confirm": "on"})
    assert placed.status_code == 302
    held = Case.objects.get(pk=case.pk)
    assert held.legal_hold and held.legal_hold_reason == "Evidence in the trial"
    assert "On hold since" in client.get(f"/cases/{case.reference}/").content.decode()
    # Only a DPO releases; the supervisor's page for a held case is refused.
    assert client.get(url).status_code == 403
    dpo_client = web_client(dpo)
    page = dpo_client.get(url)
    assert page.status_code == 200
    assert "Release the hold" in page.content.decode()
    assert MARKER_FREE(page.content.decode())
    released = dpo_client.post(url, {"reason": "The trial ended", "confirm": "on"})
    assert released.status_code == 302
    assert Case.objects.get(pk=case.pk).legal_hold is False


def MARKER_FREE(text: str) -> bool:  # noqa: N802  (reads as a claim)
    """The DPO's hold page shows no case content (AS9-USE-4)."""
    return not any(value in text for value in MARKERS.values() if isinstance(value, str))


def test_request_made_from_the_case_reaches_the_queue_and_is_decided_there(people):
    """AS9-END-2: four eyes; the queue shows age and no content; the requester sees
    the passphrase once and downloads once."""
    worker, supervisor, dpo, case = people
    client = web_client(worker)
    form = client.get(f"/cases/{case.reference}/requests/new/")
    assert form.status_code == 200
    missing = client.post(
        f"/cases/{case.reference}/requests/new/",
        {"kind": "access", "format": "pdf", "reason": "Asked in person, identity checked"},
    )
    assert missing.status_code == 400  # no confirmation
    assert "Asked in person, identity checked" in missing.content.decode()
    made = client.post(
        f"/cases/{case.reference}/requests/new/",
        {
            "kind": "access",
            "format": "pdf",
            "reason": "Asked in person, identity checked",
            "confirm": "on",
        },
    )
    assert made.status_code == 302
    request = SubjectRequest.objects.get()
    SubjectRequest.objects.filter(pk=request.pk).update(
        requested_at=timezone.now() - dt.timedelta(days=30)
    )
    dpo_client = web_client(dpo)
    queue = dpo_client.get("/requests/").content.decode()
    assert case.reference in queue and "30 days" in queue and 'class="overdue"' in queue
    assert MARKER_FREE(queue)
    # The requester cannot decide their own request.
    own = client.post(f"/requests/{request.pk}/", {"decision": "approve", "confirm": "on"})
    assert own.status_code == 403
    refused_note = dpo_client.post(
        f"/requests/{request.pk}/", {"decision": "refuse", "confirm": "on"}
    )
    assert refused_note.status_code == 400  # a refusal says why
    decided = dpo_client.post(
        f"/requests/{request.pk}/", {"decision": "approve", "note": "", "confirm": "on"}
    )
    assert decided.status_code == 302
    first = client.get(f"/requests/{request.pk}/").content.decode()
    assert "shown this once" in first
    assert "shown this once" not in client.get(f"/requests/{request.pk}/").content.decode()
    download = client.get(f"/requests/{request.pk}/download/")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert client.get(f"/requests/{request.pk}/download/").status_code == 410
    assert SubjectRequest.objects.get().status == RequestStatus.DONE


def test_an_erasure_approved_on_the_page_ends_the_record(people):
    """AS9-END-3."""
    worker, supervisor, dpo, case = people
    client = web_client(worker)
    client.post(
        f"/cases/{case.reference}/requests/new/",
        {"kind": "erasure", "reason": "Asked by letter", "confirm": "on"},
    )
    request = SubjectRequest.objects.get()
    page = web_client(dpo).get(f"/requests/{request.pk}/").content.decode()
    assert "destroys the person's data key" in page
    web_client(dpo).post(
        f"/requests/{request.pk}/", {"decision": "approve", "note": "Checked", "confirm": "on"}
    )
    assert client.get(f"/cases/{case.reference}/").status_code == 410


def test_statistics_page_and_csv(people):
    worker, supervisor, dpo, case = people
    page = web_client(supervisor).get("/statistics/?by=trafficking_types")
    assert page.status_code == 200
    assert "Trafficking type" in page.content.decode()
    bad = web_client(dpo).get("/statistics/?since=2026-13")
    assert bad.status_code == 400
    csv = web_client(dpo).get("/statistics.csv?by=risk_level")
    assert csv.status_code == 200
    text = csv.content.decode("utf-8-sig")
    assert "total (all months)" in text and "suppressed" in text
    assert web_client(worker).get("/statistics/").status_code == 403
