"""The audit log (RFC 9162): access events and change-log entries as leaves of one
Merkle tree, signed tree heads, ``verify_audit`` naming the first broken leaf, and (on
PostgreSQL) triggers refusing any change. AS9-USE-2.

The attacker of the penetration test held the database and Haven's code, but not its
keys: the tests here do what they did (edit a record with the triggers bypassed and
recompute everything that can be computed without the signing key) and show that the
signature, or the consistency proof against a head saved earlier, gives it away.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from io import StringIO

import pytest
from auditlog.models import LogEntry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.admin.models import ADDITION
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

import audit_verify
from access import ledger
from access.crypto.errors import KeyringUnavailable
from access.models import WrappedKey
from audit import anomalies, log, merkle, verification
from audit.models import (
    AccessEvent,
    Anomaly,
    AnomalyScan,
    AppendOnlyError,
    LogLeaf,
    LogNode,
    PendingLeaf,
    TreeHead,
)
from audit.services import event_record, events_record
from tests.factories import MARKERS

pytestmark = pytest.mark.django_db


def _verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _middle(kind: str) -> LogLeaf:
    leaves = list(LogLeaf.objects.filter(kind=kind).order_by("index"))
    return leaves[len(leaves) // 2]


def _public_key() -> str:
    out = StringIO()
    call_command("audit_public_key", stdout=out)
    return out.getvalue().strip()


def _head_body(head: TreeHead) -> dict:
    return {
        "size": head.size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "key_id": head.key_id,
        "signature": head.signature,
    }


def _recompute_everything_after(index: int) -> None:
    """What a database-only attacker can do after editing a record: recompute its leaf
    hash from Haven's own (public) code, every stored node above it and a root; they
    cannot sign, so they re-use the newest head's signature with the new root."""
    leaves = list(LogLeaf.objects.order_by("index"))
    rows = {
        "event": log._event_rows(leaf.ref_id for leaf in leaves if leaf.kind == "event"),
        "change": log.change_rows(leaf.ref_id for leaf in leaves if leaf.kind == "change"),
    }
    frontier = merkle.Frontier()
    with connection.cursor() as cursor:
        for leaf in leaves:
            values = rows[leaf.kind][leaf.ref_id]
            hashed = merkle.leaf_hash(log.leaf_bytes(leaf.kind, leaf.ref_id, values))
            completed: list = []
            frontier.append(hashed, completed)
            if leaf.index >= index:
                cursor.execute(
                    'UPDATE audit_logleaf SET hash = %s WHERE "index" = %s', [hashed, leaf.index]
                )
                for level, node, value in completed:
                    cursor.execute(
                        'UPDATE audit_lognode SET hash = %s WHERE level = %s AND "index" = %s',
                        [value, level, node],
                    )
        newest = TreeHead.objects.order_by("-size", "-id").first()
        cursor.execute(
            "UPDATE audit_treehead SET root_hash = %s WHERE id = %s",
            [frontier.root().hex(), newest.pk],
        )


@pytest.mark.usefixtures("log_blocks")
def test_an_untouched_log_verifies(trail):
    assert "audit log intact" in _verify()
    assert ledger.verify().intact


def test_the_log_is_the_rfc_9162_tree_of_its_leaves(trail):
    """The stored root is the RFC's MTH of the leaf hashes, and the head's signature is
    over the contract's exact text, checked by the independent verifier."""
    leaves = [bytes(h) for h in LogLeaf.objects.order_by("index").values_list("hash", flat=True)]
    head = ledger.current_head()
    assert head.size == len(leaves)
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf, None)
    assert head.root_hash == frontier.root().hex()
    key = audit_verify.public_key_from(_public_key())
    assert audit_verify.verify_tree_head(_head_body(head), key) == (head.size, frontier.root())
    message = f"haven-tree-head:v1\n{head.size}\n{head.root_hash}\n{head.timestamp}\n"
    key.verify(base64.b64decode(head.signature), message.encode())


@pytest.mark.usefixtures("log_blocks")
def test_an_edited_event_is_named_as_the_first_broken_leaf(trail):
    leaf = _middle("event")
    _sql("UPDATE audit_accessevent SET reason = %s WHERE id = %s", ["edited", leaf.ref_id])
    with pytest.raises(CommandError, match=f"leaf {leaf.index}: event #{leaf.ref_id} was altered"):
        _verify()


@pytest.mark.usefixtures("log_blocks")
def test_an_edited_change_log_entry_is_detected(trail):
    leaf = _middle("change")
    _sql("UPDATE auditlog_logentry SET object_repr = %s WHERE id = %s", ["forged", leaf.ref_id])
    verdict = ledger.verify()
    assert (verdict.intact, verdict.first_broken_leaf) == (False, leaf.index)


@pytest.mark.usefixtures("log_blocks")
def test_a_deleted_event_is_detected(trail):
    leaf = _middle("event")
    _sql("DELETE FROM audit_accessevent WHERE id = %s", [leaf.ref_id])
    verdict = ledger.verify()
    assert (verdict.intact, verdict.first_broken_leaf) == (False, leaf.index)
    assert "missing" in verdict.problem


@pytest.mark.usefixtures("log_blocks")
def test_a_deleted_leaf_is_detected(trail):
    leaf = _middle("event")
    _sql('DELETE FROM audit_logleaf WHERE "index" = %s', [leaf.index])
    verdict = ledger.verify()
    assert (verdict.intact, verdict.first_broken_leaf) == (False, leaf.index)


@pytest.mark.usefixtures("log_blocks")
def test_reordered_leaves_are_detected(trail):
    """Swapping two leaves' records changes the tree: the stored nodes and the signed
    root no longer match."""
    a, b = list(LogLeaf.objects.filter(kind="event").order_by("index"))[2:4]
    _sql('UPDATE audit_logleaf SET ref_id = -1 WHERE "index" = %s', [a.index])
    _sql('UPDATE audit_logleaf SET ref_id = %s WHERE "index" = %s', [a.ref_id, b.index])
    _sql('UPDATE audit_logleaf SET ref_id = %s WHERE "index" = %s', [b.ref_id, a.index])
    verdict = ledger.verify()
    assert not verdict.intact and verdict.first_broken_leaf == a.index


@pytest.mark.usefixtures("log_blocks")
def test_a_database_only_forgery_fails_the_signature(trail):
    """AS9-USE-2, the penetration test's attack: edit an event with the triggers
    bypassed, recompute every leaf, node and root Haven's code would, and keep the old
    signature. The database is consistent with itself; the signature is not."""
    leaf = _middle("event")
    _sql("UPDATE audit_accessevent SET outcome = 'denied' WHERE id = %s", [leaf.ref_id])
    _recompute_everything_after(leaf.index)
    verdict = ledger.verify()
    assert not verdict.intact
    assert "not signed by the audit key" in verdict.problem
    with pytest.raises(CommandError, match="not signed"):
        _verify()


@pytest.mark.parametrize("level,index", [(1, 1), (2, 0), (3, 0)])
def test_every_stored_node_is_checked_inside_and_above_a_block(trail, level, index, monkeypatch):
    """With blocks of 4 leaves: a node inside a block (levels 1 and 2) and one above it
    (level 3, made of two blocks' roots) that no longer match the leaves are named."""
    monkeypatch.setattr(verification, "LEVELS", 2)
    monkeypatch.setattr(verification, "BLOCK", 4)
    assert ledger.verify().intact
    _sql(
        'UPDATE audit_lognode SET hash = %s WHERE level = %s AND "index" = %s',
        [b"\x00" * 32, level, index],
    )
    verdict = ledger.verify()
    assert not verdict.intact
    assert f"stored tree node {level}/{index} does not match" in verdict.problem


@pytest.mark.usefixtures("log_blocks")
def test_heads_of_every_size_verify(trail):
    """A head signed after each new leaf: heads end at a block's edge and inside it,
    and each matches the root rebuilt up to it."""
    for number in range(9):
        event_record(actor=None, action="case.list", detail={"results": number})
        ledger.sequence_now()
    sizes = set(TreeHead.objects.values_list("size", flat=True))
    assert {size % 4 for size in sizes} == {0, 1, 2, 3}
    verdict = ledger.verify()
    assert verdict.intact, verdict.describe()


@pytest.mark.usefixtures("log_blocks")
def test_a_rewritten_history_fails_a_signed_head_that_ends_inside_a_block(trail):
    """Heads signed at several sizes; the attacker rewrites a leaf and every node but
    leaves the signed heads alone: the first head after the edit no longer matches the
    rebuilt root, wherever it ends."""
    for number in range(3):
        event_record(actor=None, action="case.list", detail={"results": number})
        ledger.sequence_now()
    newest = ledger.current_head()
    leaf = _middle("event")
    _sql("UPDATE audit_accessevent SET outcome = 'denied' WHERE id = %s", [leaf.ref_id])
    _recompute_everything_after(leaf.index)
    _sql("UPDATE audit_treehead SET root_hash = %s WHERE id = %s", [newest.root_hash, newest.pk])
    sizes = TreeHead.objects.values_list("size", flat=True)
    first_after = min(size for size in sizes if size > leaf.index)
    assert first_after % 4  # a head that ends inside a block of 4
    verdict = ledger.verify()
    assert not verdict.intact
    assert f"signed head of size {first_after}: history was rewritten" in verdict.problem


def test_a_forgery_signed_with_another_key_fails_against_a_saved_head(trail, tmp_path):
    """Even an attacker who replaced the signing key (so every head in the database
    verifies under *their* key) is caught by a head the DPO saved earlier, checked
    offline with the key the DPO kept: the consistency proof fails."""
    key_text = _public_key()
    saved = ledger.current_head()
    saved_path = tmp_path / "saved.json"
    saved_path.write_text(json.dumps(_head_body(saved)))
    event_record(actor=None, action="case.list", detail={"results": 0})
    ledger.sequence_now()

    leaf = _middle("event")
    _sql("UPDATE audit_accessevent SET outcome = 'denied' WHERE id = %s", [leaf.ref_id])
    _recompute_everything_after(leaf.index)
    theirs = Ed25519PrivateKey.generate()
    forged = TreeHead.objects.order_by("-size", "-id").first()
    message = log.head_message(forged.size, forged.root_hash, forged.timestamp)
    later = _head_body(forged) | {"signature": base64.b64encode(theirs.sign(message)).decode()}
    proof = {
        "first": saved.size,
        "second": forged.size,
        "proof": [h.hex() for h in log.consistency_proof(saved.size, forged.size)],
    }
    (tmp_path / "later.json").write_text(json.dumps(later))
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    key = audit_verify.public_key_from(key_text)
    with pytest.raises(audit_verify.VerificationError, match="not signed"):
        audit_verify.check_consistency(_head_body(saved), later, proof, key)
    # ...and checked under the attacker's own key, the proof itself fails
    their_key = theirs.public_key()
    resigned_saved = _head_body(saved) | {
        "signature": base64.b64encode(
            theirs.sign(log.head_message(saved.size, saved.root_hash, saved.timestamp))
        ).decode()
    }
    with pytest.raises(audit_verify.VerificationError, match="root"):
        audit_verify.check_consistency(resigned_saved, later, proof, their_key)
    with pytest.raises(CommandError):
        _verify("--head", str(saved_path))


@pytest.mark.usefixtures("log_blocks")
def test_truncated_newest_leaves_are_caught(trail, tmp_path):
    """Removing the newest leaves and their records leaves a smaller tree; the signed
    heads that covered them (and a head saved elsewhere) show what is missing."""
    saved = ledger.current_head()
    (tmp_path / "saved.json").write_text(json.dumps(_head_body(saved)))
    last = LogLeaf.objects.order_by("-index").first()
    _sql('DELETE FROM audit_logleaf WHERE "index" = %s', [last.index])
    _sql("DELETE FROM audit_accessevent WHERE id = %s", [last.ref_id])
    verdict = ledger.verify()
    assert not verdict.intact and "removed" in verdict.problem
    _sql("DELETE FROM audit_treehead WHERE size >= %s", [last.index + 1])
    with pytest.raises(CommandError, match="removed"):
        _verify("--head", str(tmp_path / "saved.json"))


def test_a_forged_saved_head_is_refused(trail, tmp_path):
    head = _head_body(ledger.current_head()) | {"root_hash": "f" * 64}
    (tmp_path / "forged.json").write_text(json.dumps(head))
    with pytest.raises(CommandError, match="not signed"):
        _verify("--head", str(tmp_path / "forged.json"))


@pytest.mark.usefixtures("log_blocks")
def test_an_event_written_outside_the_log_is_detected(trail):
    AccessEvent.objects.bulk_create([AccessEvent(action="case.view", outcome="allowed")])
    verdict = ledger.verify()
    assert not verdict.intact and "neither in the log nor waiting" in verdict.problem


def test_the_application_cannot_change_the_log(trail):
    leaf = LogLeaf.objects.first()
    with pytest.raises(AppendOnlyError):
        leaf.save()
    with pytest.raises(AppendOnlyError):
        LogLeaf.objects.filter(pk=leaf.pk).update(hash=b"0" * 32)
    with pytest.raises(AppendOnlyError):
        LogLeaf.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        LogNode.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        TreeHead.objects.all().update(root_hash="0" * 64)


def test_no_survivor_data_in_any_audit_table(trail):
    """Change-log entries mask every encrypted field with a constant; the log's tables
    hold hashes and ids."""
    tables = (
        "audit_accessevent",
        "audit_logleaf",
        "audit_lognode",
        "audit_treehead",
        "audit_pendingleaf",
        "auditlog_logentry",
    )
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


def test_writing_an_event_queues_it_and_the_sequencer_gives_it_the_next_leaf(trail):
    before = log.tree_size()
    event = event_record(actor=None, action="case.list", detail={"results": 0})
    assert PendingLeaf.objects.filter(kind="event", ref_id=event.pk).exists()
    assert log.leaf_of("event", event.pk) is None
    result = ledger.sequence_now()
    assert (result.added, result.size) == (1, before + 1)
    assert log.leaf_of("event", event.pk) == before
    assert result.head is not None and result.head.size == before + 1
    assert not PendingLeaf.objects.exists()


def test_without_its_signing_key_the_log_refuses_to_grow(trail, monkeypatch):
    """Fail closed (standing rule 4): no key, no head; the events wait in the queue."""

    def no_key():
        raise KeyringUnavailable("no signing key")

    monkeypatch.setattr(ledger, "tree_head_signer", no_key)
    event_record(actor=None, action="case.list", detail={"results": 0})
    size = log.tree_size()
    with pytest.raises(KeyringUnavailable):
        ledger.sequence_now()
    assert log.tree_size() == size
    assert PendingLeaf.objects.count() == 1


def test_the_signing_key_is_not_in_the_database_in_the_clear(trail):
    """The seed is wrapped by the KEK (the contract's minimal keyring holds KEKs only):
    nothing in any table equals it or its public key's private half."""
    row = WrappedKey.objects.get(purpose="signing")
    assert row.wrapped and row.kek_id
    seed = ledger.tree_head_signer()._private.private_bytes_raw()
    with connection.cursor() as cursor:
        cursor.execute("SELECT wrapped FROM access_wrappedkey")
        stored = b"".join(bytes(r[0]) for r in cursor.fetchall() if r[0] is not None)
    assert seed not in stored
    assert hashlib.sha256(seed).digest() not in stored


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_accessevent SET reason = 'x'",
        "DELETE FROM audit_accessevent",
        "TRUNCATE audit_accessevent CASCADE",
        "UPDATE audit_logleaf SET hash = 'x'",
        "DELETE FROM audit_logleaf",
        "TRUNCATE audit_logleaf CASCADE",
        "UPDATE audit_lognode SET hash = 'x'",
        "DELETE FROM audit_lognode",
        "UPDATE audit_treehead SET root_hash = 'x'",
        "DELETE FROM audit_treehead",
        "TRUNCATE audit_treehead",
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
    with pytest.raises(DatabaseError, match="append-only|only moves forward|never rewritten"):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending FK checks
                cursor.execute("SET LOCAL haven.audit_maintenance = 'off'")
                cursor.execute(statement)


def _review_queue_and_admin_log(dpo) -> None:
    """One open and one reviewed anomaly, a scan position and an admin log row."""
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
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL haven.audit_maintenance = 'off'")
        event = AccessEvent.objects.order_by("id").first()
        anomaly = Anomaly.objects.create(kind="export", event=event)
        anomalies.review(anomaly=anomaly, reviewer=dpo, note="fine")
        assert Anomaly.objects.get(pk=anomaly.pk).reviewed_at is not None
        anomalies.scan()
        scanned = AnomalyScan.objects.get(pk=1).last_event_id
        assert scanned >= event.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sequencers_leave_one_unbroken_log(caseworker):
    """AS9-USE-2 with several app servers: eight writers and two sequencers at once
    leave no gap, no fork and no leaf twice; writers never wait for the sequencer."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections: runs on PostgreSQL in CI")
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []
    done = threading.Event()

    def write(many: bool) -> None:
        try:
            barrier.wait()
            for _ in range(25):
                with transaction.atomic():
                    if many:  # a purge batch's events, interleaved with single ones
                        events_record(actor=None, action="case.purge", cases=[("", {})] * 4)
                    else:
                        event_record(actor=caseworker, action="case.list", detail={"results": 0})
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    def sequencer() -> None:
        try:
            barrier.wait()
            while not done.is_set():
                ledger.sequence_now(wait=False)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=write, args=(n % 2 == 0,)) for n in range(8)]
    sequencers = [threading.Thread(target=sequencer) for _ in range(2)]
    for thread in writers + sequencers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in sequencers:
        thread.join()
    assert errors == []
    ledger.sequence_now()
    indexes = list(LogLeaf.objects.order_by("index").values_list("index", flat=True))
    assert indexes == list(range(len(indexes)))
    assert AccessEvent.objects.filter(action="case.purge").count() == 4 * 25 * 4
    assert LogLeaf.objects.filter(kind="event").count() == AccessEvent.objects.count()
    assert ledger.verify().intact


def test_events_written_together_are_leaves_of_their_own(trail):
    """A batch of events (a purge run) becomes leaf after leaf like single events; each
    one verifies, and altering one of them is named as the broken leaf."""
    written = events_record(
        actor=None, action="case.purge", cases=[(f"HV-0000-000{n}", {"files": n}) for n in range(5)]
    )
    ledger.sequence_now()
    leaves = list(
        LogLeaf.objects.filter(kind="event", ref_id__in=[e.pk for e in written]).order_by("index")
    )
    assert [leaf.ref_id for leaf in leaves] == [e.pk for e in written]
    assert [leaf.index for leaf in leaves] == list(range(leaves[0].index, leaves[0].index + 5))
    assert ledger.verify().intact
    _sql("UPDATE audit_accessevent SET detail = %s WHERE id = %s", ['{"files": 9}', written[2].pk])
    verdict = ledger.verify()
    assert (verdict.intact, verdict.first_broken_leaf) == (False, leaves[2].index)


@pytest.mark.parametrize("microsecond", [0, 5, 999_999])
def test_the_time_postgresql_formats_is_the_time_python_formats(caseworker, microsecond):
    """Sequencing and verification take an event's UTC time as text from PostgreSQL
    (``AT_UTC_ISO``); it must be exactly what ``isoformat()`` gives, with or without a
    fraction of a second, or every leaf would change."""
    at = dt.datetime(2026, 3, 29, 1, 30, 7, microsecond, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    event = event_record(actor=caseworker, action="case.view", case_reference="HV-TIME-0001")
    with connection.cursor() as cursor:  # set the time directly: events are append-only
        cursor.execute(
            "INSERT INTO audit_accessevent (at, actor_id, actor_username, actor_role, "
            "action, case_reference, outcome, reason, user_agent, request_id, detail) "
            "SELECT %s, actor_id, actor_username, actor_role, action, case_reference, "
            "outcome, reason, user_agent, request_id, detail FROM audit_accessevent "
            "WHERE id = %s RETURNING id",
            [at, event.pk],
        )
        (copy_id,) = cursor.fetchone()
    from_database = log._event_rows([copy_id])[copy_id]
    from_orm = AccessEvent.objects.filter(pk=copy_id).values_list(*log.EVENT_FIELDS).get()
    assert log.leaf_bytes("event", copy_id, from_database) == log.leaf_bytes(
        "event", copy_id, from_orm
    )
    assert at.astimezone(dt.UTC).isoformat().encode() in log.leaf_bytes(
        "event", copy_id, from_database
    )


HARD_TEXT = [
    'a quote " and a backslash \\',
    "tab\tnew line\ncarriage\rcontrols\x01\x1f\x7f",
    "عربي",
    "ภาษาไทย",
    "中文",
    "Кириллица",
    "Tiếng Việt",
    "🙂 outside the basic plane",
    "",
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL rebuilds leaves")
def test_postgresql_rebuilds_an_event_leaf_exactly_as_python_does(caseworker):
    """AS9-USE-2: the check lets PostgreSQL rebuild the leaves of events without detail;
    for every script, quotes, backslashes, control characters, both address families,
    no address, no actor and a whole second, its hash is the one Python's canonical
    bytes give (else every such leaf would fall back to the slow path, or worse)."""
    addresses = [None, "10.0.0.1", "2001:db8::1"]
    written = []
    for number, text in enumerate(HARD_TEXT):
        event = AccessEvent(
            at=dt.datetime(2026, 1, 2, 3, 4, 5, 0 if number % 2 else 123_456, tzinfo=dt.UTC),
            actor_id=None if number % 3 == 0 else caseworker.pk,
            actor_username=text,
            actor_role="caseworker",
            action="case.view",
            case_reference=text[:12],
            outcome="allowed",
            reason=text[:64],
            ip=addresses[number % 3],
            user_agent=text,
            request_id=text[:64],
            detail={},
        )
        written.append(log.append_event(event).pk)
    with_detail = event_record(actor=caseworker, action="case.view", detail={"results": 1}).pk
    with connection.cursor() as cursor:
        hashed = verification._event_hashes(cursor, [*written, with_detail])
    rows = log._event_rows(written)
    for event_id in written:
        expected = hashlib.sha256(b"\x00" + log.leaf_bytes("event", event_id, rows[event_id]))
        assert hashed[event_id] == expected.digest(), rows[event_id]
    assert hashed[with_detail] is None  # an event with detail is rebuilt in Python
    assert ledger.verify().intact


@pytest.mark.parametrize("in_python", [False, True])
def test_an_edit_is_caught_wherever_the_leaves_are_rebuilt(trail, in_python):
    """The same check with every leaf rebuilt in this process (``--in-python``): an
    edited event and an edited change-log entry are both named."""
    assert ledger.verify(in_python=in_python).intact
    leaf = _middle("event")
    _sql("UPDATE audit_accessevent SET user_agent = %s WHERE id = %s", ["edited", leaf.ref_id])
    verdict = ledger.verify(in_python=in_python)
    assert (verdict.intact, verdict.first_broken_leaf) == (False, leaf.index)
    assert f"event #{leaf.ref_id} was altered" in verdict.problem
    with pytest.raises(CommandError, match="was altered"):
        _verify(*(["--in-python"] if in_python else []))


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="readers on PostgreSQL")
def test_outside_a_transaction_two_readers_take_turns_and_miss_nothing(caseworker, monkeypatch):
    """The command and the scheduled check run outside a transaction, where a second
    reader on its own connection takes every other block: an edit in a block of
    either reader is named, and the log is checked to its end."""
    monkeypatch.setattr(verification, "LEVELS", 2)
    monkeypatch.setattr(verification, "BLOCK", 4)
    firsts = []
    read_blocks = verification._read_blocks

    def spied(*args, **kwargs):
        firsts.append(kwargs["first"])
        return read_blocks(*args, **kwargs)

    monkeypatch.setattr(verification, "_read_blocks", spied)
    for number in range(14):
        event_record(
            actor=caseworker, action="case.view", detail={"n": number} if number % 5 else {}
        )
    verdict = ledger.verify()
    assert verdict.intact and verdict.checked == LogLeaf.objects.count() >= 14
    assert sorted(firsts) == [0, 1]
    for block in (2, 1):  # the first reader's block (0, 2, ...), then the second's
        leaf = LogLeaf.objects.filter(kind="event", index__gte=4 * block).order_by("index").first()
        _sql("UPDATE audit_accessevent SET request_id = 'edited' WHERE id = %s", [leaf.ref_id])
        verdict = ledger.verify()
        assert (verdict.intact, verdict.first_broken_leaf) == (False, leaf.index)


def test_the_sequencer_reads_events_by_range_or_by_list_alike(caseworker):
    """Nearly consecutive ids are read as one range of the key (one descent per
    partition), scattered ones as a list; both give exactly the events asked for."""
    events = [
        event_record(actor=caseworker, action="case.view", case_reference=f"HV-SEQ-{n:02d}")
        for n in range(12)
    ]
    ids = [e.pk for e in events]
    near = log._event_rows(ids[2:9])
    scattered = log._event_rows([ids[0], ids[-1]])
    assert sorted(near) == ids[2:9] and sorted(scattered) == [ids[0], ids[-1]]
    assert near[ids[3]] == log._event_rows([ids[3]])[ids[3]]
    assert near[ids[3]][5] == "HV-SEQ-03"
