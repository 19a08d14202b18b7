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


def test_keys_add_creates_a_minimal_keyring_on_first_installation(tmp_path, settings):
    from access.crypto import keyring

    path = tmp_path / "new" / "keyring.json"
    keyring.set_provider(keyring.LocalKeyringProvider(path))
    try:
        assert "added key k1" in _keys("add")
        doc = json.loads(path.read_text())
        assert doc["active"] == "k1" and set(doc) == {"active", "keys"}
        assert path.stat().st_mode & 0o077 == 0
    finally:
        keyring.set_provider(None)


def test_reindex_with_a_new_index_key_switches_over_and_search_keeps_working(
    isolated_keyring, api, caseworker
):
    from access.models import WrappedKey
    from cases.models import BlindIndexEntry

    case = open_case(caseworker)
    old_digests = set(BlindIndexEntry.objects.values_list("key_id", "digest"))
    out = _keys("reindex", "--new-index-key", "--batch-size", "1")
    assert "indexed 1 survivors under index key i2" in out
    assert list(WrappedKey.objects.values_list("key_id", "state")) == [("i2", "active")]
    assert set(BlindIndexEntry.objects.values_list("key_id", flat=True)) == {"i2"}
    assert set(BlindIndexEntry.objects.values_list("key_id", "digest")) != old_digests
    found = api(caseworker).get("/api/v1/cases/search/", {"family_name": MARKERS["family_name"]})
    assert [r["reference"] for r in found.json()["results"]] == [case.reference]
    assert AccessEvent.objects.filter(action="key.reindex").count() == 1


def test_reindex_with_other_bits_rebuilds_under_a_new_key_and_search_still_finds(
    isolated_keyring, api, caseworker
):
    """Item 10 of the outside review: the truncation can be changed after installation."""
    from access.models import WrappedKey
    from cases.models import BlindIndexEntry

    cases = [open_case(caseworker, identity={"family_name": f"Fam{n}"}) for n in range(12)]
    assert WrappedKey.objects.get(state="active").bits == 8
    _keys("reindex", "--bits", "2")
    active = WrappedKey.objects.get(state="active")
    assert (active.key_id, active.bits) == ("i2", 2)
    digests = set(BlindIndexEntry.objects.values_list("digest", flat=True))
    assert digests <= {0, 1, 2, 3}
    client = api(caseworker)
    for n in (0, 7, 11):
        found = client.get("/api/v1/cases/search/", {"family_name": f"fam{n}"}).json()
        assert [r["reference"] for r in found["results"]] == [cases[n].reference]
    assert "2 bits" in _keys("status")
    with pytest.raises(CommandError, match="--bits"):
        _keys("reindex", "--bits", "40")


def test_plan_index_recommends_bits_for_a_population():
    out = _keys("plan-index", "--population", "60")
    recommended = [line for line in out.splitlines() if line.endswith("<- recommended")]
    assert len(recommended) == 1 and recommended[0].split()[0] == "3"
    assert "keys reindex --bits 3" in out
    big = _keys("plan-index", "--population", "100000")
    assert "keys reindex --bits 14" in big
    with pytest.raises(CommandError):
        _keys("plan-index", "--population", "0")


def test_an_intake_during_an_index_rebuild_is_indexed_under_both_keys(isolated_keyring, caseworker):
    from access import keystore
    from cases.models import BlindIndexEntry

    open_case(caseworker)  # the first key exists
    keystore.add_index_key(bits=8)
    case = open_case(caseworker, identity={"family_name": "Midway"})
    keys_used = set(
        BlindIndexEntry.objects.filter(survivor=case.survivor).values_list("key_id", flat=True)
    )
    assert keys_used == {"i1", "i2"}


def test_the_contracts_minimal_keyring_supports_search_with_a_stored_index_key(
    isolated_keyring, api, caseworker
):
    """Item 11: with only {"active", "keys"} in the file, intake with a name works and
    the index key is created once, wrapped by the active KEK, in the database."""
    from django.db import connection

    from access.models import WrappedKey

    doc = json.loads(Path(isolated_keyring.path).read_text())
    assert set(doc) == {"active", "keys"}
    response = api(caseworker).post(
        "/api/v1/cases/",
        {"identity": {"given_name": "Amira", "family_name": "Haddad"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    stored = WrappedKey.objects.get()
    assert (stored.purpose, stored.key_id, stored.kek_id, stored.state) == (
        "index",
        "i1",
        "k1",
        "active",
    )
    found = api(caseworker).get("/api/v1/cases/search/", {"family_name": "haddad"}).json()
    assert [r["reference"] for r in found["results"]] == [response.json()["reference"]]
    assert WrappedKey.objects.count() == 1  # created once
    with connection.cursor() as cursor:
        cursor.execute("SELECT wrapped FROM access_wrappedkey")
        blob = bytes(cursor.fetchone()[0])
    assert blob[0] == 1 and blob[2:4] == b"k1" and len(blob) == 2 + 2 + 12 + 32 + 16


def test_rotation_rewraps_stored_keys_and_retire_waits_for_them(isolated_keyring, caseworker):
    from access.models import WrappedKey

    open_case(caseworker)
    _keys("add")
    with pytest.raises(CommandError, match="still wrapped by k1"):
        _keys("retire", "k1")
    _keys("rotate")
    assert WrappedKey.objects.get().kek_id == "k2"
    assert "retired key k1" in _keys("retire", "k1")
    assert "Midway" not in _keys("status")
    open_case(caseworker, identity={"family_name": "After"})  # the index key still opens


def test_index_keys_from_the_keyring_file_are_registered_and_used(tmp_path, caseworker, api):
    """An installation that keeps its index root in the file loses nothing."""
    import base64
    import secrets

    from access.crypto import keyring
    from access.models import WrappedKey

    path = tmp_path / "keyring.json"
    root = secrets.token_bytes(32)
    path.write_text(
        json.dumps(
            {
                "active": "k1",
                "keys": {"k1": json.loads(Path(settings_keyring()).read_text())["keys"]["k1"]},
                "index_key": base64.b64encode(root).decode(),
            }
        )
    )
    keyring.set_provider(keyring.LocalKeyringProvider(path))
    try:
        case = open_case(caseworker)
        row = WrappedKey.objects.get()
        assert (row.key_id, row.wrapped, row.state) == ("i1", None, "active")
        found = api(caseworker).get(
            "/api/v1/cases/search/", {"family_name": MARKERS["family_name"]}
        )
        assert [r["reference"] for r in found.json()["results"]] == [case.reference]
    finally:
        keyring.set_provider(None)


def settings_keyring() -> str:
    from django.conf import settings

    return str(settings.HAVEN_KEYRING_FILE)


def test_keys_add_works_on_a_fresh_database_before_migrate(tmp_path):
    """Item 11: the documented first-installation order (keys add, then migrate) runs."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "HAVEN_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "DJANGO_SECRET_KEY": "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "HAVEN_DEMO": "0",
        "DJANGO_DEBUG": "0",
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    add = manage("keys", "add")
    assert add.returncode == 0, add.stderr
    assert "added key k1" in add.stdout and "run 'migrate' next" in add.stdout
    migrate = manage("migrate", "-v0")
    assert migrate.returncode == 0, migrate.stderr
    status = manage("keys", "status")
    assert status.returncode == 0 and "k1" in status.stdout, status.stderr


def test_key_commands_never_print_or_log_key_material(isolated_keyring, caseworker, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    open_case(caseworker)
    output = _keys("add") + _keys("rotate") + _keys("status") + _keys("reindex")
    doc = json.loads(Path(isolated_keyring.path).read_text())
    secrets_ = list(doc["keys"].values())
    for encoded in secrets_:
        assert encoded not in output and encoded not in caplog.text
    events = str(list(AccessEvent.objects.values()))
    assert not any(encoded in events for encoded in secrets_)
