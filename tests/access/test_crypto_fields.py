"""The encrypted field layer: ciphertext only in the database, bound to its place,
fail closed. AS9-STO-1, AS9-STO-2."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.db import connection, transaction
from django.db.models import QuerySet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.crypto.errors import DecryptionFailed, UnknownKey
from audit.registry import AuditBypassRefused
from cases.models import Case, Encounter, Identity
from cases.services import encounter_update, identity_rectify
from tests.factories import MARKERS, add_encounter, open_case
from tests.helpers import db_pk

# Every test runs with each key provider: the keyring file and a PKCS#11 token.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_provider")]


def _raw(table: str, column: str, pk: object) -> bytes | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        value = cursor.fetchone()[0]
    return None if value is None else bytes(value)


def _set_raw(table: str, column: str, pk: object, value: bytes | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def _dump_all_tables() -> bytes:
    """Every value of every Haven table, as bytes."""
    blobs: list[bytes] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        blobs.append(bytes(value))
                    elif value is not None:
                        blobs.append(str(value).encode())
    return b"\n".join(blobs)


def test_it_stores_no_plaintext_of_encrypted_fields_anywhere_in_the_database(caseworker):
    """AS9-STO-2: a copied database reveals nothing. Reads every raw column of every table."""
    case = open_case(caseworker)
    add_encounter(caseworker, case)
    dump = _dump_all_tables()
    for marker in MARKERS.values():
        assert marker.encode() not in dump, marker
    assert b"Zelphira".lower() not in dump.lower()


def test_it_reads_back_what_it_wrote(caseworker):
    case = open_case(caseworker)
    identity = Identity.objects.select_related("survivor").get(survivor=case.survivor)
    assert identity.given_name == MARKERS["given_name"]
    assert Case.objects.get(pk=case.pk).summary == MARKERS["summary"]


def test_it_refuses_a_ciphertext_copied_to_another_row(caseworker):
    """AS9-STO-2: AAD binds a value to its primary key."""
    case = open_case(caseworker)
    first = add_encounter(caseworker, case, notes="first")
    second = add_encounter(caseworker, case, notes="second")
    _set_raw(
        "cases_encounter", "notes", db_pk(second), _raw("cases_encounter", "notes", db_pk(first))
    )
    with pytest.raises(DecryptionFailed):
        _ = Encounter.objects.select_related("case__survivor").get(pk=second.pk).notes


def test_it_refuses_a_ciphertext_copied_to_another_field(caseworker):
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case)
    notes = _raw("cases_encounter", "notes", db_pk(encounter))
    _set_raw("cases_encounter", "location", db_pk(encounter), notes)
    with pytest.raises(DecryptionFailed):
        _ = Encounter.objects.select_related("case__survivor").get(pk=encounter.pk).location


def test_it_refuses_a_ciphertext_copied_from_another_survivor(caseworker):
    """Another survivor's value names another data key: refused by key id, not tried."""
    one = open_case(caseworker)
    two = open_case(caseworker, summary="someone else")
    _set_raw("cases_case", "summary", db_pk(one), _raw("cases_case", "summary", db_pk(two)))
    with pytest.raises(UnknownKey):
        _ = Case.objects.select_related("survivor").get(pk=one.pk).summary


def test_it_refuses_truncated_or_altered_ciphertext(caseworker):
    case = open_case(caseworker)
    blob = _raw("cases_case", "summary", db_pk(case))
    assert blob is not None
    for broken in (blob[:20], blob[:-1], blob[:-1] + bytes([blob[-1] ^ 1]), b"\x09" + blob[1:]):
        _set_raw("cases_case", "summary", db_pk(case), broken)
        with pytest.raises((DecryptionFailed, UnknownKey)):
            _ = Case.objects.select_related("survivor").get(pk=case.pk).summary


def test_it_keeps_none_distinct_from_empty_string(caseworker):
    case = open_case(caseworker, summary="", referral_source=None)
    fresh = Case.objects.select_related("survivor").get(pk=case.pk)
    assert fresh.summary == ""
    assert fresh.referral_source is None
    assert _raw("cases_case", "summary", db_pk(case)) is not None
    assert _raw("cases_case", "referral_source", db_pk(case)) is None


def test_it_refuses_lookups_other_than_isnull(caseworker):
    open_case(caseworker)
    with pytest.raises(FieldError):
        list(Case.objects.filter(summary=MARKERS["summary"]))
    with pytest.raises(FieldError):
        list(Case.objects.filter(summary__icontains="MARKER"))
    assert Case.objects.filter(summary__isnull=False).count() == 1


def test_it_refuses_plaintext_sent_straight_to_the_database(caseworker):
    """``QuerySet.update`` bypasses encryption (and the change log): the manager refuses
    it, and even Django's own update path gets no plaintext past the field."""
    open_case(caseworker)
    with pytest.raises(AuditBypassRefused):
        Case.objects.update(summary="plaintext")
    with pytest.raises(TypeError), transaction.atomic():
        QuerySet.update(Case.objects.all(), summary="plaintext")


def test_ciphertext_length_does_not_give_away_short_lengths(caseworker):
    short = open_case(caseworker, summary="Al")
    longer = open_case(caseworker, summary="Alexandrina")
    assert len(_raw("cases_case", "summary", db_pk(short))) == len(
        _raw("cases_case", "summary", db_pk(longer))
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300).filter(lambda t: "\x00" not in t))
def test_any_text_round_trips(caseworker, text):
    case = open_case(caseworker, summary=text)
    assert Case.objects.select_related("survivor").get(pk=case.pk).summary == text


def test_bytes_assigned_to_an_encrypted_field_are_never_stored_raw(caseworker):
    """No plaintext type, bytes included, bypasses encryption."""
    case = open_case(caseworker)
    fresh = Case.objects.select_related("survivor").get(pk=case.pk)
    fresh.summary = b"raw bytes"
    with pytest.raises(TypeError, match="cannot encrypt a bytes"), transaction.atomic():
        fresh.save()
    assert b"raw bytes" not in (_raw("cases_case", "summary", db_pk(case)) or b"")


def test_an_earlier_ciphertext_replayed_into_a_versioned_record_fails_closed(caseworker):
    """AS9-END-4, AS9-STO-2: each version's values are bound to that version; an
    attacker with write access to the table cannot bring back an earlier note (or name)
    and have it read as the current one."""
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case, notes="first version of the notes")
    old_notes = _raw("cases_encounter", "notes", db_pk(encounter))
    encounter_update(
        actor=caseworker,
        case=case,
        encounter_id=encounter.pk,
        expected_version=1,
        changes={"notes": "second version"},
    )
    current = Encounter.objects.select_related("case__survivor").get(pk=encounter.pk)
    assert (current.notes, current.version) == ("second version", 2)
    assert current.location == MARKERS["location"]  # untouched fields moved with it
    _set_raw("cases_encounter", "notes", db_pk(encounter), old_notes)
    replayed = Encounter.objects.select_related("case__survivor").get(pk=encounter.pk)
    with pytest.raises(DecryptionFailed):
        _ = replayed.notes

    identity = Identity.objects.select_related("survivor").get(survivor=case.survivor)
    old_name = _raw("cases_identity", "family_name", db_pk(identity))
    identity_rectify(actor=caseworker, case=case, changes={"nationality": "Ruritanian"})
    fresh = Identity.objects.select_related("survivor").get(pk=identity.pk)
    assert fresh.family_name == MARKERS["family_name"] and fresh.version == 2
    _set_raw("cases_identity", "family_name", db_pk(identity), old_name)
    with pytest.raises(DecryptionFailed):
        _ = Identity.objects.select_related("survivor").get(pk=identity.pk).family_name
