"""Retention, legal hold and purge (AS9-END-1): a closed case past its retention date is
destroyed, with its key, rows, blind indexes and files, leaving a content-free tombstone;
a held case survives; others are untouched."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from access.drafts import draft_save
from access.ledger import verify
from access.models import CaseGrant, FormDraft
from audit.models import AccessEvent
from cases.models import (
    Attachment,
    BlindIndexEntry,
    Case,
    Encounter,
    Identity,
    Revision,
    Survivor,
    Tombstone,
)
from cases.services import (
    aftercare,
    attachment_add,
    case_close,
    finish_unfinished,
    legal_hold_place,
    purge_expired,
)
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import db_pk, web_client

# Every test runs with each key provider: the keyring file and a PKCS#11 token.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_provider")]


def closed_past_retention(actor, *, document=False, **overrides):
    case = open_case(actor, **overrides)
    add_encounter(actor, case)
    if document:
        attachment_add(
            actor=actor, case=case, kind="document", title="MARKER-TITLE", data=b"%PDF-1.4 doc"
        )
    case = case_close(actor=actor, case=case, reason="goals_met")
    case.retention_until = timezone.localdate() - dt.timedelta(days=1)
    case.save(update_fields=["retention_until"])
    return case


# --- legal hold ------------------------------------------------------------------


def test_AS9_END_1_team_supervisor_and_dpo_place_a_hold_only_the_dpo_releases(
    api, case_factory, supervisor, dpo, caseworker, last_event
):
    case = case_factory()
    url = f"/api/v1/cases/{case.reference}/legal-hold/"
    assert api(caseworker).post(url, {"reason": "asylum appeal"}, format="json").status_code == 403
    placed = api(supervisor).post(url, {"reason": "asylum appeal"}, format="json")
    assert placed.status_code == 200, placed.content
    assert placed.json()["legal_hold"] is True
    assert "summary" not in placed.json()
    again = api(dpo).post(url, {"reason": "court"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "legal_hold")
    refused = api(supervisor).delete(url, {"reason": "appeal over"}, format="json")
    assert refused.status_code == 403
    released = api(dpo).delete(url, {"reason": "appeal over"}, format="json")
    assert released.status_code == 200
    assert released.json()["legal_hold"] is False
    event = last_event(action="legal_hold.release")
    assert (event.actor_id, event.case_reference, event.outcome) == (
        dpo.pk,
        case.reference,
        "allowed",
    )
    history = Revision.objects.filter(object_id=case.pk).order_by("changed_at")
    assert [sorted(r.previous) for r in history][-2:] == [
        ["legal_hold", "legal_hold_at", "legal_hold_reason"]
    ] * 2


def test_AS9_END_1_a_hold_needs_a_reason_and_outsiders_get_404(
    api, case_factory, supervisor, make_staff, other_team
):
    case = case_factory()
    url = f"/api/v1/cases/{case.reference}/legal-hold/"
    missing = api(supervisor).post(url, {"reason": "  "}, format="json")
    assert missing.status_code == 400
    stranger = make_staff("supervisor", username="elsewhere", team=other_team)
    assert api(stranger).post(url, {"reason": "x"}, format="json").status_code == 404
    assert not Case.objects.get(pk=case.pk).legal_hold


def test_AS9_END_1_the_hold_reason_is_sealed(case_factory, supervisor):
    case = case_factory()
    legal_hold_place(actor=supervisor, case=case, reason="MARKER-HOLD-REASON")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT legal_hold_reason FROM cases_case WHERE id = %s",
            [db_pk(case)],
        )
        (stored,) = cursor.fetchone()
    assert b"MARKER-HOLD-REASON" not in bytes(stored)
    assert Case.objects.get(pk=case.pk).legal_hold_reason == "MARKER-HOLD-REASON"


# --- purge -----------------------------------------------------------------------


@pytest.fixture
def case_factory(caseworker):
    return lambda **kw: open_case(caseworker, **kw)


def test_AS9_END_1_purge_destroys_what_is_due_and_keeps_the_rest(
    api, caseworker, supervisor, last_event
):
    due = closed_past_retention(caseworker, document=True)
    stored = Attachment.objects.get(case=due).stored_as
    held = closed_past_retention(caseworker, identity={"family_name": "Held"})
    legal_hold_place(actor=supervisor, case=held, reason="trial")
    not_yet = open_case(caseworker, identity={"family_name": "Later"})
    not_yet = case_close(actor=caseworker, case=not_yet, reason="moved_away")
    still_open = open_case(caseworker, identity={"family_name": "Open"}, summary="kept")

    ended = purge_expired()

    assert ended.survivors == 1 and ended.files == 1
    assert not storages["attachments"].exists(stored)
    survivor = Survivor.objects.get(pk=due.survivor_id)
    assert survivor.wrapped_dek is None and survivor.shredded_at is not None
    for model, lookup in (
        (Case, {"pk": due.pk}),
        (Identity, {"survivor_id": due.survivor_id}),
        (Encounter, {"case_id": due.pk}),
        (Attachment, {"case_id": due.pk}),
        (Revision, {"survivor_id": due.survivor_id}),
        (BlindIndexEntry, {"survivor_id": due.survivor_id}),
        (CaseGrant, {"content_object_id": due.pk}),
    ):
        assert not model.objects.filter(**lookup).exists(), model.__name__
    tombstone = Tombstone.objects.get(survivor_id=due.survivor_id)
    assert (tombstone.reason, tombstone.closed_on, tombstone.completed_at is not None) == (
        "purged",
        timezone.localdate(),
        True,
    )
    assert tombstone.retention_until == timezone.localdate() - dt.timedelta(days=1)
    event = last_event(action="case.purge")
    assert (event.case_reference, event.actor_id) == (due.reference, None)
    assert verify().intact

    response = api(caseworker).get(f"/api/v1/cases/{due.reference}/")
    assert response.status_code == 410
    assert response.json()["code"] == "purged"
    for kept in (held, not_yet, still_open):
        assert api(caseworker).get(f"/api/v1/cases/{kept.reference}/").status_code == 200
    assert Case.objects.get(pk=still_open.pk).summary == "kept"


def test_AS9_END_1_dry_run_changes_nothing_and_reports(caseworker):
    due = closed_past_retention(caseworker)
    out = io.StringIO()
    call_command("purge_expired", "--dry-run", stdout=out)
    assert "1 closed cases are past their retention date" in out.getvalue()
    assert Case.objects.filter(pk=due.pk).exists()
    assert not Tombstone.objects.exists()


def test_AS9_END_1_the_command_purges_in_batches_and_a_second_run_has_nothing_to_do(caseworker):
    cases = [closed_past_retention(caseworker, identity={"family_name": f"P{i}"}) for i in range(3)]
    out = io.StringIO()
    call_command("purge_expired", "--batch", "2", stdout=out, stderr=io.StringIO())
    assert "purged 3 cases" in out.getvalue()
    assert Tombstone.objects.filter(survivor_id__in=[c.survivor_id for c in cases]).count() == 3
    out = io.StringIO()
    call_command("purge_expired", stdout=out, stderr=io.StringIO())
    assert "purged 0 cases" in out.getvalue()
    events = AccessEvent.objects.filter(action="case.purge")
    assert sorted(events.values_list("case_reference", flat=True)) == sorted(
        c.reference for c in cases
    )
    assert verify().intact


def test_AS9_END_1_forms_kept_on_a_purged_case_pages_end_with_it(caseworker, client):
    """A form kept across a session timeout on a case's page holds that survivor's
    words: it goes with the case, and another case's kept form stays."""
    due = closed_past_retention(caseworker)
    other = open_case(caseworker, identity={"family_name": "Other"})
    for case in (due, other):
        draft_save(
            user=caseworker,
            path=f"/cases/{case.reference}/encounters/new/",
            fields=[["notes", "KEPT-WORDS"]],
        )
    assert set(FormDraft.objects.values_list("case_reference", flat=True)) == {
        due.reference,
        other.reference,
    }
    purge_expired()
    assert list(FormDraft.objects.values_list("case_reference", flat=True)) == [other.reference]


def test_AS9_END_1_a_run_that_stopped_before_the_files_is_finished_by_the_next(
    caseworker, monkeypatch
):
    case = closed_past_retention(caseworker, document=True)
    stored = Attachment.objects.get(case=case).stored_as
    # The process dies after the commit, before the files.
    monkeypatch.setattr(aftercare, "_delete_files", lambda tombstones: 0)
    purge_expired()
    monkeypatch.undo()
    assert storages["attachments"].exists(stored)
    assert Tombstone.objects.get(survivor_id=case.survivor_id).completed_at is None
    assert finish_unfinished() == 1
    assert not storages["attachments"].exists(stored)
    assert Tombstone.objects.get(survivor_id=case.survivor_id).completed_at is not None


def test_AS9_END_1_the_web_page_of_a_purged_case_says_so(caseworker):
    due = closed_past_retention(caseworker)
    purge_expired()
    response = web_client(caseworker).get(f"/cases/{due.reference}/")
    assert response.status_code == 410
    assert MARKERS["summary"] not in response.content.decode()


def test_AS9_END_1_lists_show_how_long_a_closed_case_is_kept(api, caseworker, supervisor):
    case = case_close(actor=caseworker, case=open_case(caseworker), reason="goals_met")
    (row,) = [
        r
        for r in api(caseworker).get("/api/v1/cases/?status=closed").json()["results"]
        if r["reference"] == case.reference
    ] or [
        r
        for r in api(caseworker).get("/api/v1/cases/").json()["results"]
        if r["reference"] == case.reference
    ]
    assert row["retention_until"] == case.retention_until.isoformat()
    assert row["legal_hold"] is False
    legal_hold_place(actor=supervisor, case=case, reason="trial")
    page = web_client(caseworker).get("/cases/?status=closed").content.decode()
    assert case.reference in page and "legal hold" in page
