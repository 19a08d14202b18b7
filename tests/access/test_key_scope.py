"""Format 2 of field values (one field key per data key, the place in the AAD), the key
scope that unwraps each survivor's key once per request or batch and forgets it after,
and `keys reseal`, which brings format-1 values over. AS9-STO-2, AS9-END-3."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from access.crypto import datakeys, envelope
from access.crypto.errors import DataKeyDestroyed, DecryptionFailed, UnknownKey
from access.crypto.fields import Sealed, aad_prefix, row_place
from audit.models import AccessEvent
from cases.models import Attachment, Encounter, Identity, Survivor, records
from cases.models.care import ATTACHMENT_LABEL
from cases.services import attachment_add, attachment_open, survivor_shred
from cases.services.attachments import storage
from tests.factories import MARKERS, add_encounter, open_case

# Every test runs with each key provider: the keyring file and a PKCS#11 token.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_provider")]

DOCUMENT = "%PDF-1.4 a letter from Đà Nẵng, 北京 and Казань".encode()


class CountingProvider:
    """The keyring, counting how often a data key is unwrapped."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.unwraps = 0

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes:
        self.unwraps += 1
        return self.inner.unwrap(wrapped, aad=aad)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def counting(monkeypatch):
    provider = CountingProvider(datakeys.get_provider())
    monkeypatch.setattr(datakeys, "get_provider", lambda: provider)
    return provider


def _raw(model: Any, column: str, pk: Any) -> bytes:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE id = %s",  # noqa: S608
            [model._meta.pk.get_db_prep_value(pk, connection)],
        )
        return bytes(cursor.fetchone()[0])


def _set_raw(model: Any, column: str, pk: Any, value: bytes) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608
            [value, model._meta.pk.get_db_prep_value(pk, connection)],
        )


def _as_format_1(encounter: Encounter) -> bytes:
    """Seal the encounter's notes again the way Haven did before format 2 (one HKDF
    subkey per model and field), as a database written by an older release holds them."""
    key = encounter.case.survivor.data_key()
    aad = aad_prefix("cases.encounter.notes") + row_place(encounter.pk, encounter.version)
    blob = envelope.seal(
        key.cipher_for("cases.encounter.notes"), key.dek_id, envelope.pad(b"older notes"), aad
    )
    _set_raw(Encounter, "notes", encounter.pk, blob)
    return blob


def test_new_values_are_sealed_in_format_2_and_refuse_another_place(caseworker):
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case)
    notes = _raw(Encounter, "notes", encounter.pk)
    assert notes[0] == envelope.FIELD_VERSION
    # The same key seals every field: the AAD alone keeps the fields apart.
    _set_raw(Encounter, "location", encounter.pk, notes)
    moved = Encounter.objects.select_related("case__survivor").get(pk=encounter.pk)
    with pytest.raises(DecryptionFailed):
        _ = moved.location
    # Another survivor's value is refused by its key id before any decryption.
    other = add_encounter(caseworker, open_case(caseworker))
    _set_raw(Encounter, "notes", encounter.pk, _raw(Encounter, "notes", other.pk))
    copied = Encounter.objects.select_related("case__survivor").get(pk=encounter.pk)
    with pytest.raises(UnknownKey):
        _ = copied.notes


def test_a_format_1_value_still_opens_and_a_changed_one_does_not(caseworker):
    encounter = add_encounter(caseworker, open_case(caseworker))
    blob = _as_format_1(encounter)
    assert Encounter.objects.get(pk=encounter.pk).notes == "older notes"
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    _set_raw(Encounter, "notes", encounter.pk, bytes(tampered))
    with pytest.raises(DecryptionFailed):
        _ = Encounter.objects.get(pk=encounter.pk).notes


def test_a_scope_unwraps_each_survivor_once_and_forgets_every_key_at_its_end(caseworker, counting):
    cases = [open_case(caseworker) for _ in range(3)]
    for case in cases:
        add_encounter(caseworker, case)
        add_encounter(caseworker, case)
    rows = list(Encounter.objects.select_related("case__survivor").order_by("?"))
    counting.unwraps = 0
    with datakeys.key_scope() as scope:
        assert {row.notes for row in rows} == {MARKERS["notes"]}
        assert counting.unwraps == 3 and len(scope) == 3
    assert len(scope) == 0 and datakeys.current_scope() is None
    # Outside a scope nothing is remembered: every owner instance unwraps afresh.
    counting.unwraps = 0
    for row in Encounter.objects.select_related("case__survivor"):
        _ = row.notes
    assert counting.unwraps == 6


def test_a_scope_holds_no_more_keys_than_its_bound(caseworker, counting):
    for _ in range(5):
        add_encounter(caseworker, open_case(caseworker))
    with datakeys.key_scope(limit=2) as scope:
        for row in Encounter.objects.select_related("case__survivor"):
            assert row.notes == MARKERS["notes"]
            assert len(scope) <= 2


def test_a_key_is_bound_to_its_owner_in_the_scope(caseworker):
    """A wrapped key copied onto another survivor's row must not be served from the
    scope as theirs: the scope remembers whose key it unwrapped."""
    first, second = open_case(caseworker).survivor, open_case(caseworker).survivor
    wrapped = datakeys.WrappedDataKey(first.dek_id, first.kek_id, bytes(first.wrapped_dek))
    with datakeys.key_scope():
        datakeys.unwrap_data_key(first.id, wrapped)
        with pytest.raises(DecryptionFailed):
            datakeys.unwrap_data_key(second.id, wrapped)


def test_shredding_drops_the_key_from_the_scope(caseworker):
    case = open_case(caseworker)
    with datakeys.key_scope() as scope:
        _ = Identity.objects.select_related("survivor").get(survivor=case.survivor).given_name
        assert len(scope) == 1
        survivor_shred(case=case, actor=caseworker)
        assert len(scope) == 0
        with pytest.raises(DataKeyDestroyed):
            _ = Identity.objects.select_related("survivor").get(survivor=case.survivor).given_name


def test_each_request_has_its_own_scope_and_leaves_no_key_behind(
    caseworker, counting, monkeypatch, api
):
    """The middleware opens a scope per request: a list of rows of one survivor unwraps
    their key once, and after the response no scope (and so no key) is left."""
    case = open_case(caseworker)
    for _ in range(4):
        add_encounter(caseworker, case)
    seen: list[int] = []
    original = datakeys.KeyScope.clear

    def clear(scope: datakeys.KeyScope) -> None:
        seen.append(len(scope))
        original(scope)

    monkeypatch.setattr(datakeys.KeyScope, "clear", clear)
    client = api(caseworker)
    counting.unwraps = 0
    response = client.get(f"/api/v1/cases/{case.reference}/encounters/")
    assert response.status_code == 200 and len(response.json()["results"]) == 4
    assert counting.unwraps == 1
    assert seen and seen[-1] >= 1  # the request's keys were dropped when it ended
    assert datakeys.current_scope() is None


def test_keys_reseal_brings_format_1_values_over_resumably(caseworker, capsys):
    case = open_case(caseworker)
    encounters = [add_encounter(caseworker, case) for _ in range(3)]
    for encounter in encounters:
        _as_format_1(encounter)
    versions = {e.pk: Encounter.objects.get(pk=e.pk).version for e in encounters}
    shredded = open_case(caseworker)
    add_encounter(caseworker, shredded)
    survivor_shred(case=shredded, actor=caseworker)
    out = StringIO()
    call_command("keys", "reseal", "--batch-size", "2", stdout=out, stderr=StringIO())
    assert "resealed 3 values" in out.getvalue()
    assert "rows of shredded survivors left as they are" in out.getvalue()
    assert "resealing values" in capsys.readouterr().err  # progress
    for encounter in encounters:
        assert _raw(Encounter, "notes", encounter.pk)[0] == envelope.FIELD_VERSION
        fresh = Encounter.objects.get(pk=encounter.pk)
        assert fresh.notes == "older notes" and fresh.version == versions[encounter.pk]
    again = StringIO()
    call_command("keys", "reseal", stdout=again, stderr=StringIO())
    assert "resealed 0 values" in again.getvalue()
    assert AccessEvent.objects.filter(action="key.reseal").count() == 2
    assert Survivor.objects.get(pk=shredded.survivor_id).wrapped_dek is None


def test_keys_reseal_seals_a_format_1_file_again(caseworker, django_capture_on_commit_callbacks):
    case = open_case(caseworker)
    record = attachment_add(
        actor=caseworker, case=case, kind="document", title="letter", data=DOCUMENT
    )
    key = case.survivor.data_key()
    aad = aad_prefix(ATTACHMENT_LABEL) + row_place(record.pk, None)
    legacy = envelope.seal(
        key.cipher_for(ATTACHMENT_LABEL), key.dek_id, envelope.pad(DOCUMENT), aad
    )
    with storage().open(record.stored_as, "wb") as handle:
        handle.write(legacy)
    assert attachment_open(actor=caseworker, case=case, attachment_id=record.pk).content == DOCUMENT
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("keys", "reseal", stdout=out, stderr=StringIO())
    assert "and 1 files" in out.getvalue()
    moved = Attachment.objects.get(pk=record.pk)
    assert moved.stored_as != record.stored_as and not storage().exists(record.stored_as)
    with storage().open(moved.stored_as, "rb") as handle:
        assert handle.read()[0] == envelope.FIELD_VERSION
    assert attachment_open(actor=caseworker, case=case, attachment_id=record.pk).content == DOCUMENT


def test_sealed_values_are_never_plaintext_on_the_way_to_the_database(caseworker):
    encounter = add_encounter(caseworker, open_case(caseworker))
    assert isinstance(Encounter.objects.get(pk=encounter.pk).__dict__["notes"], Sealed)


def test_a_search_unwraps_its_candidates_keys_at_once(caseworker, counting, monkeypatch, api):
    """A list over several survivors hands their keys to the keyring together, before
    any value is read (a remote KMS can serve them as one batch), once each."""
    batches: list[int] = []
    original = records.unwrap_data_keys

    def recording(owners: Any) -> int:
        owners = list(owners)
        batches.append(len(owners))
        return original(owners)

    monkeypatch.setattr(records, "unwrap_data_keys", recording)
    for _ in range(3):
        open_case(caseworker)
    counting.unwraps = 0
    response = api(caseworker).get("/api/v1/cases/search/", {"family_name": MARKERS["family_name"]})
    assert response.status_code == 200 and len(response.json()["results"]) == 3
    assert batches == [3]
    assert counting.unwraps == 3


@pytest.mark.parametrize("action", ["rotate", "reindex", "reseal"])
def test_a_batch_size_below_one_is_refused_before_any_work(action, caseworker):
    encounter = add_encounter(caseworker, open_case(caseworker))
    _as_format_1(encounter)
    with pytest.raises(CommandError, match="--batch-size must be positive"):
        call_command("keys", action, "--batch-size", "0", stdout=StringIO(), stderr=StringIO())
    assert _raw(Encounter, "notes", encounter.pk)[0] == envelope.FORMAT_VERSION
    assert not AccessEvent.objects.filter(action__startswith="key.").exists()
