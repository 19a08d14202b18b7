"""The key lifecycle through `manage.py keys`: add, rotate, retire, status, with the
application reading throughout. AS9-STO-2."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from audit.models import AccessEvent
from cases.models import Survivor
from tests.factories import MARKERS, open_case

pytestmark = pytest.mark.django_db


def _keys(*args: str) -> str:
    out = StringIO()
    call_command("keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_add_rotate_retire_keeps_every_record_readable(isolated_keyring, api, caseworker):
    cases = [open_case(caseworker) for _ in range(5)]
    client = api(caseworker)
    assert "k1" in _keys("status") and "5 data keys" in _keys("status")

    assert "added key k2" in _keys("add")
    assert isolated_keyring.active_kek_id() == "k2"
    status = _keys("status")
    assert "k1" in status and "k2" in status and "active" in status
    # Still readable before rotation: old DEKs stay under k1 until re-wrapped.
    assert (
        client.get(f"/api/v1/cases/{cases[0].reference}/").json()["summary"] == MARKERS["summary"]
    )

    with pytest.raises(CommandError, match="still wrapped by k1"):
        _keys("retire", "k1")

    out = _keys("rotate", "--batch-size", "2")
    assert "re-wrapped 5 data keys" in out
    assert set(Survivor.objects.values_list("kek_id", flat=True)) == {"k2"}
    assert "re-wrapped 0 data keys" in _keys("rotate")  # resumable: nothing left to do

    assert "retired key k1" in _keys("retire", "k1")
    doc = json.loads(Path(isolated_keyring.path).read_text())
    assert set(doc["keys"]) == {"k2"} and doc["active"] == "k2"
    for case in cases:
        response = client.get(f"/api/v1/cases/{case.reference}/identity/")
        assert response.json()["given_name"] == MARKERS["given_name"]
    actions = set(
        AccessEvent.objects.filter(action__startswith="key.").values_list("action", flat=True)
    )
    assert actions == {"key.add", "key.rotate", "key.retire"}


def test_the_active_key_cannot_be_retired(isolated_keyring):
    with pytest.raises(CommandError, match="active key"):
        _keys("retire", "k1")


def test_retiring_an_unknown_key_is_refused(isolated_keyring):
    with pytest.raises(CommandError, match="no key"):
        _keys("retire", "k9")


def test_rotation_never_gives_a_shredded_survivor_their_key_back(isolated_keyring, caseworker):
    case = open_case(caseworker)
    Survivor.objects.filter(pk=case.survivor_id).update(wrapped_dek=None)
    _keys("add")
    _keys("rotate")
    assert Survivor.objects.get(pk=case.survivor_id).wrapped_dek is None


def test_keys_add_creates_a_keyring_on_first_installation(tmp_path, settings):
    from access.crypto import keyring

    path = tmp_path / "new" / "keyring.json"
    keyring.set_provider(keyring.LocalKeyringProvider(path))
    try:
        assert "added key k1" in _keys("add")
        doc = json.loads(path.read_text())
        assert doc["active"] == "k1" and doc["index_active"] == "i1"
        assert path.stat().st_mode & 0o077 == 0
    finally:
        keyring.set_provider(None)


def test_reindex_with_a_new_index_key_switches_over_and_search_keeps_working(
    isolated_keyring, api, caseworker
):
    from cases.models import BlindIndexEntry

    case = open_case(caseworker)
    old_digests = set(BlindIndexEntry.objects.values_list("key_id", "digest"))
    out = _keys("reindex", "--new-index-key", "--batch-size", "1")
    assert "indexed 1 survivors under index key i2" in out
    doc = json.loads(Path(isolated_keyring.path).read_text())
    assert doc["index_active"] == "i2" and set(doc["index_keys"]) == {"i2"}
    assert set(BlindIndexEntry.objects.values_list("key_id", flat=True)) == {"i2"}
    assert set(BlindIndexEntry.objects.values_list("key_id", "digest")) != old_digests
    found = api(caseworker).get("/api/v1/cases/search/", {"family_name": MARKERS["family_name"]})
    assert [r["reference"] for r in found.json()["results"]] == [case.reference]
    assert AccessEvent.objects.filter(action="key.reindex").count() == 1


def test_an_intake_during_an_index_rebuild_is_indexed_under_both_keys(isolated_keyring, caseworker):
    from cases.models import BlindIndexEntry

    isolated_keyring.add_index_key()
    case = open_case(caseworker, identity={"family_name": "Midway"})
    keys_used = set(
        BlindIndexEntry.objects.filter(survivor=case.survivor).values_list("key_id", flat=True)
    )
    assert keys_used == {"i1", "i2"}


def test_key_commands_never_print_or_log_key_material(isolated_keyring, caseworker, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    open_case(caseworker)
    output = _keys("add") + _keys("rotate") + _keys("status") + _keys("reindex")
    doc = json.loads(Path(isolated_keyring.path).read_text())
    secrets_ = [*doc["keys"].values(), *doc["index_keys"].values()]
    for encoded in secrets_:
        assert encoded not in output and encoded not in caplog.text
    events = str(list(AccessEvent.objects.values()))
    assert not any(encoded in events for encoded in secrets_)
