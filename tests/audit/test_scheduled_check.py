"""The audit log's scheduled check (issue 16): verification never runs in a request;
a job checks incrementally from where the last intact check stopped, fully once a day
and when the DPO asks, and the page and the API show the newest result and its age.
AS9-USE-2."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access import ledger
from audit import verification
from audit.models import LogLeaf, Verification
from audit.services import event_record
from tests.helpers import web_client

pytestmark = pytest.mark.django_db


def _events(count: int) -> None:
    for number in range(count):
        event_record(actor=None, action="case.list", detail={} if number % 3 else {"n": number})
    ledger.sequence_now()


def _age(check: Verification, **ago: float) -> None:
    Verification.objects.filter(pk=check.pk).update(
        finished_at=timezone.now() - dt.timedelta(**ago)
    )


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(verification, "LEVELS", 2)
    monkeypatch.setattr(verification, "BLOCK", 4)


def test_the_first_check_is_full_then_incremental_when_due(trail, tiny_blocks, settings):
    settings.HAVEN_AUDIT_CHECK_MINUTES = 5
    first = ledger.verify_if_due()
    assert (first.kind, first.intact, first.start) == ("full", True, 0)
    assert first.checked == LogLeaf.objects.count()
    assert first.resume_from == first.checked // 4 * 4 and first.frontier
    assert ledger.verify_if_due() is None  # not due yet
    _events(9)
    _age(first, minutes=6)
    second = ledger.verify_if_due()
    assert (second.kind, second.intact) == ("incremental", True)
    assert second.start == first.resume_from and second.checked == LogLeaf.objects.count()
    _age(second, minutes=6)
    assert ledger.verify_if_due().kind == "incremental"


def test_an_incremental_check_catches_an_edit_after_where_it_starts(trail, tiny_blocks):
    first = ledger.verify_if_due()
    _events(9)
    _age(first, minutes=10)
    leaf = LogLeaf.objects.filter(kind="event", index__gte=first.checked).order_by("index").last()
    _sql("UPDATE audit_accessevent SET user_agent = 'edited' WHERE id = %s", [leaf.ref_id])
    check = ledger.verify_if_due()
    assert (check.kind, check.intact, check.first_broken) == ("incremental", False, leaf.index + 1)


def test_after_a_broken_result_only_full_checks_run(trail, tiny_blocks, settings):
    """An edit before the incremental start is the full check's to find; once found,
    no incremental check (which would start after it) may report the log intact."""
    first = ledger.verify_if_due()
    leaf = LogLeaf.objects.filter(kind="event").order_by("index").first()
    _sql("UPDATE audit_accessevent SET user_agent = 'edited' WHERE id = %s", [leaf.ref_id])
    _events(5)
    _age(first, minutes=10)
    missed = ledger.verify_if_due()
    assert (missed.kind, missed.intact) == ("incremental", True)  # it starts after the edit
    _age(missed, hours=25)
    Verification.objects.filter(pk=first.pk).update(
        finished_at=timezone.now() - dt.timedelta(hours=25)
    )
    full = ledger.verify_if_due()
    assert (full.kind, full.intact, full.first_broken) == ("full", False, leaf.index + 1)
    _age(full, minutes=10)
    assert ledger.verify_if_due() is None  # no incremental check after a broken result
    ledger.request_check()
    assert ledger.verify_if_due().kind == "full"


def test_a_tampered_resume_point_is_caught_by_the_signed_heads(trail, tiny_blocks):
    first = ledger.verify_if_due()
    _events(6)
    Verification.objects.filter(pk=first.pk).update(
        frontier=[[level, "00" * 32] for level, _ in first.frontier],
        finished_at=timezone.now() - dt.timedelta(minutes=10),
    )
    check = ledger.verify_if_due()
    assert check.kind == "incremental" and not check.intact
    assert "history was rewritten" in check.problem


def test_the_api_answers_from_the_newest_result_without_checking(api, dpo, trail):
    """A request never rebuilds the log: after an edit, the API still shows the last
    result (with its age) until the job runs again, and reads no leaf."""
    ledger.verify_if_due()
    leaf = LogLeaf.objects.filter(kind="event").order_by("index").first()
    _sql("UPDATE audit_accessevent SET user_agent = 'edited' WHERE id = %s", [leaf.ref_id])
    client = api(dpo)
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/v1/audit/verify/").json()
    assert body["intact"] is True and body["requested"] is False
    assert not any("audit_logleaf" in q["sql"] and "hash" in q["sql"] for q in queries)
    asked = client.post("/api/v1/audit/verify/")
    assert asked.status_code == 202 and asked.json()["requested"] is True
    client.post("/api/v1/audit/verify/")
    assert Verification.objects.filter(started_at__isnull=True).count() == 1
    ledger.verify_if_due()
    body = client.get("/api/v1/audit/verify/").json()
    assert (body["intact"], body["kind"], body["requested"]) == (False, "full", False)
    assert body["first_broken"] == leaf.index + 1


def test_a_result_older_than_the_schedule_is_marked_stale(api, dpo, trail, settings):
    settings.HAVEN_AUDIT_CHECK_MINUTES = 5
    check = ledger.verify_if_due()
    _age(check, minutes=12)
    body = api(dpo).get("/api/v1/audit/verify/").json()
    assert body["intact"] is True and body["stale"] is True and body["age_seconds"] >= 720
    page = web_client(dpo).get("/audit/verify/").content.decode()
    assert "older than the schedule allows" in page


def test_the_dpo_page_shows_the_result_and_asks_for_a_fresh_check(dpo, trail):
    client = web_client(dpo)
    page = client.get("/audit/verify/").content.decode()
    assert "has not been checked yet" in page and "Check the whole log now" in page
    asked = client.post("/audit/verify/request/", follow=True).content.decode()
    assert "A full check has been asked for" in asked
    assert client.get("/audit/verify/request/").status_code == 405
    ledger.verify_if_due()
    page = client.get("/audit/verify/").content.decode()
    assert "Intact:" in page and "Every entry was rebuilt." in page


def test_verify_audit_records_its_result_for_the_page(trail):
    call_command("verify_audit", stdout=StringIO(), stderr=StringIO())
    check = ledger.latest_check()
    assert (check.kind, check.intact, check.checked) == ("full", True, LogLeaf.objects.count())


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL session lock")
def test_one_process_checks_at_a_time():
    """Every app process runs the job; the others skip while one checks."""
    with verification.exclusive() as mine:
        assert mine
        other = connection.copy()
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [verification.CHECK_LOCK])
                assert cursor.fetchone()[0] is False
        finally:
            other.close()


def test_audit_sequencer_runs_the_check_when_it_is_due(trail):
    out = StringIO()
    call_command("audit_sequencer", "--once", stdout=out, stderr=StringIO())
    assert "full check of leaves 0-" in out.getvalue() and ": intact" in out.getvalue()
    out = StringIO()
    call_command("audit_sequencer", "--once", stdout=out, stderr=StringIO())
    assert "check of leaves" not in out.getvalue()  # not due again yet
