"""The tamper-evident trail: one hash chain over access events and change-log entries,
``verify_audit`` naming the first broken link, and (on PostgreSQL) triggers refusing
any change. AS9-USE-2."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from audit import chain
from audit.models import AccessEvent, Anomaly, AnomalyScan, AppendOnlyError, ChainLink
from audit.services import event_record, events_record
from cases.services import encounter_update
from tests.factories import MARKERS, add_encounter, open_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(caseworker, api):
    """A realistic trail: intake, reads, an edit (change-log entries), more reads."""
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case)
    client = api(caseworker)
    client.get(f"/api/v1/cases/{case.reference}/")
    client.get(f"/api/v1/cases/{case.reference}/identity/")
    encounter_update(
        actor=caseworker,
        case=case,
        encounter_id=encounter.pk,
        expected_version=1,
        changes={"notes": "edited " + MARKERS["notes"]},
    )
    client.get(f"/api/v1/cases/{case.reference}/encounters/")
    assert ChainLink.objects.filter(kind="change").exists()
    assert ChainLink.objects.count() >= 10
    return case


def _verify() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out, stderr=StringIO())
    return out.getvalue()


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _middle(kind: str) -> ChainLink:
    links = list(ChainLink.objects.filter(kind=kind).order_by("seq"))
    return links[len(links) // 2]


def test_an_untouched_chain_verifies(trail):
    assert "audit chain intact" in _verify()
    assert chain.verify().intact


def test_an_edited_event_is_named_as_the_first_broken_link(trail):
    link = _middle("event")
    _sql("UPDATE audit_accessevent SET reason = %s WHERE id = %s", ["edited", link.ref_id])
    with pytest.raises(CommandError, match=f"link #{link.seq}: event #{link.ref_id} was altered"):
        _verify()


def test_an_edited_change_log_entry_is_detected(trail):
    link = _middle("change")
    _sql("UPDATE auditlog_logentry SET object_repr = %s WHERE id = %s", ["forged", link.ref_id])
    verdict = chain.verify()
    assert (verdict.intact, verdict.first_broken) == (False, link.seq)


def test_a_deleted_event_is_detected(trail):
    link = _middle("event")
    _sql("DELETE FROM audit_accessevent WHERE id = %s", [link.ref_id])
    verdict = chain.verify()
    assert (verdict.intact, verdict.first_broken) == (False, link.seq)
    assert "missing" in verdict.problem


def test_a_deleted_link_is_detected(trail):
    link = _middle("event")
    _sql("DELETE FROM audit_chainlink WHERE seq = %s", [link.seq])
    verdict = chain.verify()
    assert (verdict.intact, verdict.first_broken) == (False, link.seq)


def test_reordered_entries_are_detected(trail):
    """Swapping two events' contents (or two links' places) breaks the chain."""
    a, b = list(ChainLink.objects.filter(kind="event").order_by("seq"))[2:4]
    _sql(
        "UPDATE audit_chainlink SET seq = CASE WHEN seq = %s THEN -1 ELSE seq END WHERE seq = %s",
        [a.seq, a.seq],
    )
    _sql("UPDATE audit_chainlink SET seq = %s WHERE seq = %s", [a.seq, b.seq])
    _sql("UPDATE audit_chainlink SET seq = %s WHERE seq = -1", [b.seq])
    verdict = chain.verify()
    assert (verdict.intact, verdict.first_broken) == (False, a.seq)


def test_truncated_newest_entries_are_caught_by_a_checkpoint_kept_elsewhere(trail, tmp_path):
    """Removing the newest entries leaves a chain that is consistent in itself; only a
    checkpoint taken before (and kept off the server) shows what is missing."""
    token = chain.checkpoint()
    last = ChainLink.objects.order_by("-seq").first()
    _sql("DELETE FROM audit_chainlink WHERE seq = %s", [last.seq])
    _sql("DELETE FROM audit_accessevent WHERE id = %s", [last.ref_id])
    assert chain.verify().intact  # ...as far as the database alone can tell
    path = tmp_path / "checkpoint.txt"
    path.write_text(token)
    with pytest.raises(CommandError, match="missing"):
        call_command("verify_audit", "--checkpoint", str(path), stdout=StringIO())


def test_the_chain_goes_on_after_its_newest_links_were_removed(trail, api, caseworker):
    """There is no head row to lose: the next append follows the newest link that is
    left, and the chain stays verifiable (it used to collide on seq 1 and fail every
    later write)."""
    newest = ChainLink.objects.order_by("-seq").first()
    _sql("DELETE FROM audit_chainlink WHERE seq = %s", [newest.seq])
    _sql("DELETE FROM audit_accessevent WHERE id = %s", [newest.ref_id])
    response = api(caseworker).get(f"/api/v1/cases/{trail.reference}/")
    assert response.status_code == 200
    refilled = ChainLink.objects.get(seq=newest.seq)  # the freed place, taken by the next append
    assert refilled.ref_id != newest.ref_id
    assert chain.verify().intact


def test_a_forged_checkpoint_is_refused(trail):
    assert not chain.verify_checkpoint("forged:token").intact


def test_an_event_written_outside_the_chain_is_detected(trail):
    AccessEvent.objects.bulk_create([AccessEvent(action="case.view", outcome="allowed")])
    verdict = chain.verify()
    assert not verdict.intact and "not in the chain" in verdict.problem


def test_the_application_cannot_change_chain_links(trail):
    link = ChainLink.objects.first()
    with pytest.raises(AppendOnlyError):
        link.save()
    with pytest.raises(AppendOnlyError):
        ChainLink.objects.filter(pk=link.pk).update(hash="0" * 64)
    with pytest.raises(AppendOnlyError):
        ChainLink.objects.all().delete()


def test_no_survivor_data_in_any_audit_table(trail):
    """Change-log entries mask every encrypted field with a constant."""
    tables = ("audit_accessevent", "audit_chainlink", "auditlog_logentry")
    with connection.cursor() as cursor:
        text = ""
        for table in tables:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            text += str(cursor.fetchall())
    for marker in MARKERS.values():
        assert marker not in text, marker
    notes_changes = [e.changes for e in LogEntry.objects.all() if "notes" in (e.changes or {})]
    assert notes_changes
    assert all(c["notes"] == ["[encrypted]", "[encrypted]"] for c in notes_changes)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_accessevent SET reason = 'x'",
        "DELETE FROM audit_accessevent",
        "TRUNCATE audit_accessevent CASCADE",
        "UPDATE audit_chainlink SET hash = 'x'",
        "DELETE FROM auditlog_logentry",
        "TRUNCATE auditlog_logentry CASCADE",
        "DELETE FROM audit_anomaly",
        "TRUNCATE audit_anomaly CASCADE",
        "UPDATE audit_anomaly SET case_reference = 'HV-0000-0000'",
        "UPDATE audit_anomaly SET reviewed_at = now(), kind = 'export'",
        "UPDATE audit_anomaly SET review_note = 'rewritten' WHERE reviewed_at IS NOT NULL",
        "DELETE FROM audit_anomalyscan",
        "UPDATE audit_anomalyscan SET last_event_id = 0",
        "DELETE FROM django_admin_log",
        "UPDATE django_admin_log SET object_repr = 'x'",
        "TRUNCATE django_admin_log",
    ],
)
def test_postgresql_refuses_changes_to_audit_tables(trail, dpo, statement):
    """Even a session of the application's database role cannot alter the trail, the
    anomaly queue (beyond its one review), the scan position or the admin log."""
    if connection.vendor != "postgresql":
        pytest.skip("database triggers are PostgreSQL-only; CI runs this on PostgreSQL")
    _review_queue_and_admin_log(dpo)
    with pytest.raises(DatabaseError, match="append-only|only moves forward"):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending FK checks
                cursor.execute("SET LOCAL haven.audit_maintenance = 'off'")
                cursor.execute(statement)


def _review_queue_and_admin_log(dpo) -> None:
    """One open and one reviewed anomaly, a scan position and an admin log row."""
    from django.contrib.admin.models import ADDITION
    from django.contrib.admin.models import LogEntry as AdminLogEntry
    from django.contrib.contenttypes.models import ContentType

    from audit import anomalies

    event = AccessEvent.objects.order_by("id").first()
    Anomaly.objects.create(kind="export", event=event, case_reference=event.case_reference)
    reviewed = Anomaly.objects.create(kind="break_glass", event=event)
    anomalies.review(anomaly=reviewed, reviewer=dpo, note="checked")
    AnomalyScan.objects.get_or_create(pk=1, defaults={"last_event_id": event.pk})
    AdminLogEntry.objects.create(
        user=dpo,
        content_type=ContentType.objects.get_for_model(Anomaly),
        object_id="1",
        object_repr="anomaly",
        action_flag=ADDITION,
    )


def test_the_one_review_and_forward_scans_are_still_allowed(trail, dpo):
    if connection.vendor != "postgresql":
        pytest.skip("database triggers are PostgreSQL-only; CI runs this on PostgreSQL")
    from audit import anomalies

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL haven.audit_maintenance = 'off'")
        event = AccessEvent.objects.order_by("id").first()
        anomaly = Anomaly.objects.create(kind="export", event=event)
        anomalies.review(anomaly=anomaly, reviewer=dpo, note="fine")
        assert Anomaly.objects.get(pk=anomaly.pk).reviewed_at is not None
        anomalies.scan()
        scanned = AnomalyScan.objects.get(pk=1).last_event_id
        assert scanned >= event.pk


def test_a_validly_signed_checkpoint_that_differs_from_the_chain_is_refused(trail):
    """The checkpoint's hash is compared with the chain's, not only its signature."""
    from django.core import signing

    link = ChainLink.objects.order_by("-seq").first()
    forged = signing.dumps(
        {"seq": link.seq, "hash": "f" * 64, "at": "2026-01-01T00:00:00+00:00"},
        salt=chain.CHECKPOINT_SALT,
    )
    verdict = chain.verify_checkpoint(forged)
    assert not verdict.intact and verdict.first_broken == link.seq
    assert chain.verify_checkpoint(chain.checkpoint()).intact


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_from_many_connections_keep_one_unbroken_chain(caseworker):
    """AS9-USE-2 with several app servers: appends are serialised in the database, so
    eight writers at once leave no gap, no fork and no duplicate place."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections: runs on PostgreSQL in CI")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def write(many: bool) -> None:
        try:
            barrier.wait()
            for _ in range(25):
                with transaction.atomic():
                    if many:  # a purge batch's appends, interleaved with single ones
                        events_record(actor=None, action="case.purge", cases=[("", {})] * 4)
                    else:
                        event_record(actor=caseworker, action="case.list", detail={"results": 0})
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n % 2 == 0,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(ChainLink.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert AccessEvent.objects.filter(action="case.purge").count() == 4 * 25 * 4
    assert chain.verify().intact


def test_events_appended_together_are_links_of_their_own(trail):
    """A batch of events (a purge run) is chained link by link like single appends: each
    one verifies, and altering one of them is named as the broken link."""
    written = events_record(
        actor=None, action="case.purge", cases=[(f"HV-0000-000{n}", {"files": n}) for n in range(5)]
    )
    links = list(
        ChainLink.objects.filter(kind="event", ref_id__in=[e.pk for e in written]).order_by("seq")
    )
    assert [link.ref_id for link in links] == [e.pk for e in written]
    assert [link.seq for link in links] == list(range(links[0].seq, links[0].seq + 5))
    stored = AccessEvent.objects.filter(pk__in=[e.pk for e in written]).order_by("id")
    assert [e.case_reference for e in stored] == [f"HV-0000-000{n}" for n in range(5)]
    assert chain.verify().intact
    _sql("UPDATE audit_accessevent SET detail = %s WHERE id = %s", ['{"files": 9}', written[2].pk])
    verdict = chain.verify()
    broken = ChainLink.objects.get(kind="event", ref_id=written[2].pk)
    assert (verdict.intact, verdict.first_broken) == (False, broken.seq)
