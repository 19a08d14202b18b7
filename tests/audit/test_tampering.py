"""AS9-STO-2 and AS9-USE-4: a ciphertext that does not open (moved to another row, or
altered in the database) is not only refused: it is a security event, logged, written
to the audit log with where it happened (model and field, never a value) and raised as
an anomaly in the DPO's queue."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from access import ledger
from access.crypto.errors import DataKeyDestroyed
from audit import anomalies, log
from audit.models import AccessEvent, Anomaly
from haven.api import record_tampering
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import db_pk, web_client

# Every test runs with each key provider: the keyring file and a PKCS#11 token.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_provider")]


def _move_notes(source, target) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT notes FROM cases_encounter WHERE id = %s", [db_pk(source)])
        blob = cursor.fetchone()[0]
        cursor.execute("UPDATE cases_encounter SET notes = %s WHERE id = %s", [blob, db_pk(target)])


@pytest.fixture
def swapped(caseworker):
    case = open_case(caseworker)
    first = add_encounter(caseworker, case, notes="first " + MARKERS["notes"])
    second = add_encounter(caseworker, case, notes="second " + MARKERS["notes"])
    _move_notes(first, second)
    return case, second


def _security_events():
    return list(AccessEvent.objects.filter(action="crypto.decrypt_failed"))


def test_a_swapped_ciphertext_read_through_the_api_is_a_security_event(
    swapped, caseworker, api, caplog
):
    case, second = swapped
    with caplog.at_level(logging.ERROR, logger="haven.security"):
        answer = api(caseworker).get(f"/api/v1/cases/{case.reference}/encounters/{second.pk}/")
    assert answer.status_code == 500
    assert answer.json()["code"] == "decryption_failed"
    assert MARKERS["notes"] not in answer.content.decode()
    [event] = _security_events()
    assert (event.outcome, event.reason, event.case_reference) == (
        "denied",
        "tampered",
        case.reference,
    )
    assert event.detail == {"place": "cases.encounter.notes"}
    assert event.actor_id == caseworker.pk
    assert "cases.encounter.notes" in caplog.text
    assert MARKERS["notes"] not in caplog.text
    ledger.sequence_now()
    assert log.leaf_of("event", event.pk) is not None  # chained like every event
    assert anomalies.scan() >= 1
    flagged = Anomaly.objects.get(kind="decryption_failure")
    assert (flagged.event_id, flagged.case_reference) == (event.pk, case.reference)


def test_the_same_on_a_page(swapped, caseworker):
    case, second = swapped
    answer = web_client(caseworker).get(f"/cases/{case.reference}/")
    assert answer.status_code == 500
    assert MARKERS["notes"] not in answer.content.decode()
    [event] = _security_events()
    assert event.case_reference == case.reference
    assert event.detail["place"] == "cases.encounter.notes"


def test_an_erased_survivor_is_not_a_security_event():
    """A destroyed data key (crypto-shredding) answers 410: the expected end of a
    record, not tampering."""
    record_tampering(None, DataKeyDestroyed())
    assert _security_events() == []
