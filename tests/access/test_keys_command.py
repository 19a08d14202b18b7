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
        assert doc["active"] == "k1" and "index_key" in doc
        assert path.stat().st_mode & 0o077 == 0
    finally:
        keyring.set_provider(None)
