"""The keyring: fail closed without keys, pick up changes without a restart, and never
let key material out. AS9-STO-2."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from access.crypto import keyring
from access.crypto.datakeys import key_scope, new_data_key, unwrap_data_key
from access.crypto.errors import KeyringUnavailable, UnknownKey

ROOT = Path(__file__).resolve().parents[2]


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _write(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc))


def test_a_missing_keyring_is_refused_outside_demo(tmp_path):
    provider = keyring.LocalKeyringProvider(tmp_path / "absent.json", autocreate=False)
    with pytest.raises(KeyringUnavailable, match="does not exist"):
        provider.active_kek_id()
    assert not (tmp_path / "absent.json").exists()


def test_a_missing_keyring_is_created_in_demo_mode_with_owner_only_access(tmp_path):
    path = tmp_path / "keyring.json"
    provider = keyring.LocalKeyringProvider(path, autocreate=True)
    assert provider.active_kek_id() == "k1"
    assert path.stat().st_mode & 0o077 == 0
    assert set(json.loads(path.read_text())) == {"active", "keys"}  # the minimal form
    assert provider.active_index_key_id() is None and not provider.index_keys()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"keys": {}}',
        json.dumps({"active": "k2", "keys": {"k1": _key()}}),
        json.dumps({"active": "k1", "keys": {"k1": "c2hvcnQ="}}),
        json.dumps({"active": "k1", "keys": {"k1": "!!!"}}),
        json.dumps({"active": "bad id!", "keys": {"bad id!": _key()}}),
    ],
)
def test_a_malformed_keyring_is_refused(tmp_path, text):
    path = tmp_path / "keyring.json"
    path.write_text(text)
    with pytest.raises(KeyringUnavailable):
        keyring.LocalKeyringProvider(path).active_kek_id()


def test_a_running_process_notices_a_changed_keyring(tmp_path):
    path = tmp_path / "keyring.json"
    k1 = _key()
    _write(path, {"active": "k1", "keys": {"k1": k1}})
    provider = keyring.LocalKeyringProvider(path)
    assert provider.active_kek_id() == "k1"
    _write(path, {"active": "k2", "keys": {"k1": k1, "k2": _key()}})
    os.utime(path, ns=(1, 1))  # force a different stamp even within one clock tick
    assert provider.active_kek_id() == "k2"


def test_a_key_scope_looks_at_the_file_once_and_the_next_scope_sees_a_change(tmp_path, monkeypatch):
    """A list of 2,000 survivors unwraps 2,000 keys: inside one key scope (a request, a
    batch) the file is looked at once; the next scope notices the change, and a change
    this process makes itself (``keys add``) is seen at once, in the scope too."""
    path = tmp_path / "keyring.json"
    k1 = _key()
    _write(path, {"active": "k1", "keys": {"k1": k1}})
    provider = keyring.LocalKeyringProvider(path)
    looks = []
    stamp = provider._stamp
    monkeypatch.setattr(provider, "_stamp", lambda: looks.append(1) or stamp())
    with key_scope():
        assert provider.active_kek_id() == "k1"
        _write(path, {"active": "k2", "keys": {"k1": k1, "k2": _key()}})
        os.utime(path, ns=(3, 3))
        for _ in range(100):
            assert provider.active_kek_id() == "k1"  # the keyring this scope saw
        assert len(looks) == 1
        assert provider.add_kek() == "k3"  # this process's own change: seen at once
        assert provider.active_kek_id() == "k3"
    with key_scope():
        _write(path, {"active": "k1", "keys": {"k1": k1}})
        os.utime(path, ns=(4, 4))
        assert provider.active_kek_id() == "k1"  # a new scope looks again
    assert provider.active_kek_id() == "k1"  # and outside any scope, at every use


def test_a_data_key_under_a_removed_kek_is_refused(tmp_path):
    """Fail closed on a retired key: chosen by id, never by trying the others."""
    import uuid

    path = tmp_path / "keyring.json"
    k1, k2 = _key(), _key()
    _write(path, {"active": "k1", "keys": {"k1": k1}})
    keyring.set_provider(keyring.LocalKeyringProvider(path))
    try:
        survivor_id = uuid.uuid4()
        wrapped, key = new_data_key(survivor_id)
        assert unwrap_data_key(survivor_id, wrapped).secret == key.secret
        _write(path, {"active": "k2", "keys": {"k2": k2}})
        os.utime(path, ns=(2, 2))
        with pytest.raises(UnknownKey):
            unwrap_data_key(survivor_id, wrapped)
    finally:
        keyring.set_provider(None)


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HAVEN_"))}
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "haven.example.org",
}


def test_the_app_refuses_to_start_without_its_keyring(tmp_path):
    """Fail closed: the WSGI entry point stops with a clear message."""
    result = _run(
        "import config.wsgi",
        **PRODUCTION,
        HAVEN_KEYRING_FILE=str(tmp_path / "missing.json"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    assert result.returncode != 0
    assert "keyring file" in result.stderr and "does not exist" in result.stderr
    assert not (tmp_path / "missing.json").exists()


def test_the_app_refuses_to_start_without_a_secret_key(tmp_path):
    env = dict(PRODUCTION, DJANGO_SECRET_KEY="")
    result = _run("import django; django.setup()", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    path = tmp_path / "keyring.json"
    _write(path, {"active": "k1", "keys": {"k1": _key()}, "index_key": _key()})
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HAVEN_"))},
            **PRODUCTION,
            "HAVEN_KEYRING_FILE": str(path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_keys_never_appear_in_a_settings_dump():
    """``diffsettings`` (what an operator pastes into a support ticket) holds no key."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("diffsettings", "--all", stdout=out)
    text = Path(settings.HAVEN_KEYRING_FILE).read_text()
    doc = json.loads(text)
    for encoded in doc["keys"].values():
        assert encoded not in out.getvalue()
        assert base64.b64decode(encoded).hex() not in out.getvalue()
