"""The tamper-evident trail: one hash chain over access events and change-log entries,
``verify_audit`` naming the first broken link, and (on PostgreSQL) triggers refusing
any change. AS9-USE-2."""

from __future__ import annotations

from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import chain
from audit.models import AccessEvent, AppendOnlyError, ChainHead, ChainLink
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


def test_truncated_newest_entries_are_detected_even_with_the_head_rewritten(trail, tmp_path):
    token = chain.checkpoint()
    last = ChainLink.objects.order_by("-seq").first()
    _sql("DELETE FROM audit_chainlink WHERE seq = %s", [last.seq])
    _sql("DELETE FROM audit_accessevent WHERE id = %s", [last.ref_id])
    assert not chain.verify().intact  # the head still names the deleted link
    previous = ChainLink.objects.order_by("-seq").first()
    ChainHead.objects.filter(pk=1).update(seq=previous.seq, hash=previous.hash)
    assert chain.verify().intact  # a careful forger fixed the head...
    path = tmp_path / "checkpoint.txt"
    path.write_text(token)
    with pytest.raises(CommandError, match="missing"):
        call_command("verify_audit", "--checkpoint", str(path), stdout=StringIO())


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
    ],
)
def test_postgresql_refuses_changes_to_audit_tables(trail, statement):
    """Even a session of the application's database role cannot alter the trail."""
    if connection.vendor != "postgresql":
        pytest.skip("database triggers are PostgreSQL-only; CI runs this on PostgreSQL")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # fire the test's pending FK checks
            cursor.execute("SET LOCAL haven.audit_maintenance = 'off'")
            cursor.execute(statement)
