"""AS9-END-1, AS9-END-3: after purge and after erasure, a full `pg_dump` of the database
holds nothing of the survivor: not their marker strings, not the ciphertext of any of
their fields, not their wrapped data key, not their research facets, while another
survivor's ciphertext is found in the same dump (the search works).

PostgreSQL only (CI): the dump is taken by the real tool over a committed database."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from access.roles import Role
from audit.models import AccessEvent
from cases.models import Case, StatisticsFacet, Tombstone
from cases.services import (
    case_close,
    consent_record,
    purge_expired,
    subject_request_decide,
    subject_request_make,
)
from tests.factories import MARKERS, TeamFactory, UserFactory, add_encounter, open_case
from tests.helpers import pg_dump_text

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("key_provider"),  # with the keyring file and a PKCS#11 token
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="pg_dump needs PostgreSQL (CI runs it)"
    ),
]

SEALED = {
    "cases_identity": ("given_name", "family_name", "phone", "date_of_birth"),
    "cases_case": ("summary", "trafficking_types"),
}


def _sealed_hex(case: Case) -> set[str]:
    """The stored bytes of the survivor's encrypted fields and wrapped key, as hex."""
    found = set()
    with connection.cursor() as cursor:
        for table, columns in SEALED.items():
            key = "survivor_id"
            for column in columns:
                cursor.execute(
                    f"SELECT encode({column}, 'hex') FROM {table} WHERE {key} = %s",  # noqa: S608
                    [case.survivor_id],
                )
                found |= {row[0] for row in cursor.fetchall() if row[0]}
        cursor.execute(
            "SELECT encode(notes, 'hex') FROM cases_encounter WHERE case_id = %s", [case.pk]
        )
        found |= {row[0] for row in cursor.fetchall() if row[0]}
        cursor.execute(
            "SELECT encode(wrapped_dek, 'hex') FROM cases_survivor WHERE id = %s",
            [case.survivor_id],
        )
        found |= {row[0] for row in cursor.fetchall() if row[0]}
    return {value[:64] for value in found}  # a long prefix is unique enough


def _survivor(actor, **overrides):
    case = open_case(actor, **overrides)
    add_encounter(actor, case)
    consent_record(
        actor=actor,
        case=case,
        scope="research",
        method="written",
        given_at=timezone.now() - dt.timedelta(minutes=5),
    )
    return Case.objects.get(pk=case.pk)


def _expect_gone(ended: Case, kept: Case, ended_hex: set[str], kept_hex: set[str]) -> None:
    dump = pg_dump_text()
    assert kept_hex and all(value in dump for value in kept_hex), "the control is found"
    assert ended_hex and not any(value in dump for value in ended_hex)
    assert not any(marker in dump for marker in MARKERS.values())
    assert not StatisticsFacet.objects.filter(case_id=ended.pk).exists()
    assert Case.objects.filter(pk=kept.pk).exists()


def test_AS9_END_1_a_purged_survivor_is_nowhere_in_a_pgpg_dump_text():
    worker = UserFactory(role=Role.CASEWORKER, team=TeamFactory())
    ended = _survivor(worker)
    kept = _survivor(worker, identity={"given_name": "Oksana", "family_name": "Kovalenko"})
    ended = case_close(actor=worker, case=ended, reason="goals_met")
    ended.retention_until = timezone.localdate() - dt.timedelta(days=1)
    ended.save(update_fields=["retention_until"])
    ended_hex, kept_hex = _sealed_hex(ended), _sealed_hex(kept)
    assert purge_expired().survivors == 1
    _expect_gone(ended, kept, ended_hex, kept_hex)


def test_AS9_END_3_an_erased_survivor_is_nowhere_in_a_pgpg_dump_text():
    team = TeamFactory()
    worker = UserFactory(role=Role.CASEWORKER, team=team)
    dpo = UserFactory(role=Role.DPO, team=None)
    ended = _survivor(worker)
    kept = _survivor(worker, identity={"given_name": "Nguyễn", "family_name": "Thị Lan"})
    ended_hex, kept_hex = _sealed_hex(ended), _sealed_hex(kept)
    made = subject_request_make(actor=worker, case=ended, kind="erasure", reason="Asked by letter")
    subject_request_decide(actor=dpo, request_id=made.pk, decision="approve")
    _expect_gone(ended, kept, ended_hex, kept_hex)


def test_AS9_END_1_two_purge_runs_at_once_end_each_case_exactly_once():
    """Several servers may run `purge_expired` together: SKIP LOCKED hands each batch
    to one run; no case is ended twice, none is left."""
    worker = UserFactory(role=Role.CASEWORKER, team=TeamFactory())
    for _ in range(16):
        case = case_close(actor=worker, case=open_case(worker), reason="goals_met")
        case.retention_until = timezone.localdate() - dt.timedelta(days=1)
        case.save(update_fields=["retention_until"])
    counts: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            counts.append(purge_expired(batch=3).survivors)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(counts) == 16
    assert Tombstone.objects.count() == 16
    assert AccessEvent.objects.filter(action="case.purge").count() == 16
    assert not Case.objects.exists()
