"""Key-encryption keys in a PKCS#11 token, tested against SoftHSM2: the keys are made
inside the token and can never leave it, data keys are wrapped inside it and bound to
their place, the key commands work as with the file, the move from the file into the
token is one command, and every failure refuses. AS9-STO-2."""

from __future__ import annotations

import multiprocessing
import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pkcs11 import Attribute
from pkcs11.exceptions import AttributeSensitive

from access.crypto import envelope, hsm, keyring
from access.crypto.errors import DecryptionFailed, KeyringUnavailable, UnknownKey
from access.models import WrappedKey
from audit.models import AccessEvent
from cases.models import Survivor
from tests.factories import MARKERS, open_case

pytestmark = pytest.mark.django_db

DEK = bytes(range(32))


def _keys(*args: str) -> str:
    out = StringIO()
    call_command("keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _read_everything(api, user, cases) -> None:
    client = api(user)
    for case in cases:
        detail = client.get(f"/api/v1/cases/{case.reference}/")
        assert detail.json()["summary"] == MARKERS["summary"]
        identity = client.get(f"/api/v1/cases/{case.reference}/identity/")
        assert identity.json()["given_name"] == MARKERS["given_name"]


def test_a_kek_is_made_inside_the_token_and_can_never_leave_it(token_keys):
    """AS9-STO-2: the token reports the KEK as generated there (local), always sensitive
    and never extractable; asking for its value is refused by the token itself."""
    attributes = token_keys.describe("h1")
    assert attributes == {
        "sensitive": True,
        "extractable": False,
        "never_extractable": True,
        "always_sensitive": True,
        "local": True,
    }
    key = token_keys._listing(fresh=True)["h1"]
    with pytest.raises(AttributeSensitive):
        key[Attribute.VALUE]


def test_data_keys_are_wrapped_inside_the_token_and_bound_to_their_place(token_keys):
    """AS9-STO-2: the blob has the file provider's format under the token's key id;
    other associated data, a flipped bit or an unknown key id are refused."""
    blob = token_keys.wrap(DEK, aad=b"survivor-1")
    assert blob[0] == envelope.FORMAT_VERSION and envelope.key_id_of(blob) == "h1"
    assert DEK not in blob
    assert token_keys.unwrap(blob, aad=b"survivor-1") == DEK
    assert token_keys.wrap(DEK, aad=b"survivor-1") != blob  # a fresh nonce each time
    with pytest.raises(DecryptionFailed):
        token_keys.unwrap(blob, aad=b"survivor-2")
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        token_keys.unwrap(bytes(tampered), aad=b"survivor-1")
    elsewhere = envelope.header_for("h9") + blob[len(envelope.header_for("h1")) :]
    with pytest.raises(UnknownKey):
        token_keys.unwrap(elsewhere, aad=b"survivor-1")


def test_add_rotate_retire_and_status_work_as_with_the_file(token_keys, api, caseworker):
    """AS9-STO-2: the same commands, the application reading throughout."""
    cases = [open_case(caseworker) for _ in range(4)]
    assert set(Survivor.objects.values_list("kek_id", flat=True)) == {"h1"}
    assert "4 data keys" in _keys("status")

    assert "added key h2" in _keys("add")
    assert token_keys.active_kek_id() == "h2"
    _read_everything(api, caseworker, cases)  # still under h1 until rotated
    with pytest.raises(CommandError, match="still wrapped by h1"):
        _keys("retire", "h1")

    assert "re-wrapped 4 data keys" in _keys("rotate", "--batch-size", "3")
    assert set(Survivor.objects.values_list("kek_id", flat=True)) == {"h2"}
    assert set(WrappedKey.objects.exclude(wrapped=None).values_list("kek_id", flat=True)) <= {"h2"}
    assert "retired key h1" in _keys("retire", "h1")
    assert token_keys.kek_ids() == {"h2"}
    with pytest.raises(KeyringUnavailable, match="active key cannot be retired"):
        token_keys.retire_kek("h2")  # (the command first finds it in use)
    _read_everything(api, caseworker, cases)
    status = _keys("status")
    assert "h2" in status and "4 data keys" in status and "active" in status
    assert "h1" not in status
    actions = set(
        AccessEvent.objects.filter(action__startswith="key.").values_list("action", flat=True)
    )
    assert actions == {"key.add", "key.rotate", "key.retire"}


def test_moving_from_the_keyring_file_into_the_token_is_one_command(
    request, isolated_keyring, api, caseworker, settings
):
    """AS9-STO-2: cases opened under the file's KEK are read, while moving, with the old
    file only read (HAVEN_PREVIOUS_KEYRING_FILE), and after `keys rotate --from-keyring`
    with the token alone."""
    file_path = Path(isolated_keyring.path)
    cases = [open_case(caseworker) for _ in range(3)]
    _read_everything(api, caseworker, cases[:1])  # the index root and signing key exist
    assert set(Survivor.objects.values_list("kek_id", flat=True)) == {"k1"}

    token = request.getfixturevalue("token_keys")
    # While moving, the application runs with the token and reads the old file.
    settings.HAVEN_PREVIOUS_KEYRING_FILE = str(file_path)
    moving = keyring.provider_from_settings()
    assert isinstance(moving, keyring.WithPreviousKeyring)
    keyring.set_provider(moving)
    _read_everything(api, caseworker, cases)
    cases.append(open_case(caseworker))  # new data keys go under the token's key
    assert Survivor.objects.filter(kek_id="h1").count() == 1
    with pytest.raises(KeyringUnavailable, match="only reads"):
        moving.retire_kek("k1")

    keyring.set_provider(token)
    out = _keys("rotate", "--from-keyring", str(file_path))
    assert "re-wrapped 3 data keys" in out and "destroy" in out
    assert set(Survivor.objects.values_list("kek_id", flat=True)) == {"h1"}
    assert set(WrappedKey.objects.exclude(wrapped=None).values_list("kek_id", flat=True)) == {"h1"}

    # The token alone now opens everything: the old file can go.
    file_path.unlink()
    assert keyring.get_provider() is token
    _read_everything(api, caseworker, cases)


def test_from_keyring_needs_a_provider_to_move_into(isolated_keyring, caseworker):
    with pytest.raises(CommandError, match="HAVEN_KEY_PROVIDER=pkcs11"):
        _keys("rotate", "--from-keyring", str(isolated_keyring.path))


def test_an_empty_token_refuses_intake(token_keys, caseworker):
    """AS9-STO-2, fail closed: with no KEK in the token no data key can be made."""
    token_keys._listing(fresh=True)["h1"].destroy()  # as another process would
    with pytest.raises(UnknownKey, match="not in the token"):
        open_case(caseworker)  # this process still lists h1: the token refuses
    with pytest.raises(KeyringUnavailable, match="holds no Haven key"):
        open_case(caseworker)  # and now knows the token is empty
    assert not Survivor.objects.exists()


def test_a_kek_destroyed_in_the_token_makes_its_data_keys_refuse(token_keys):
    """AS9-STO-2: a key gone from the token is not guessed at; its blobs are refused."""
    blob = token_keys.wrap(DEK, aad=b"x")
    token_keys.add_kek()
    token_keys.retire_kek("h1")
    with pytest.raises(UnknownKey, match="not in the token"):
        token_keys.unwrap(blob, aad=b"x")


def test_a_wrong_pin_or_token_refuses(soft_token, tmp_path):
    """AS9-STO-2, fail closed: nothing works without the token and its PIN."""
    with pytest.raises(KeyringUnavailable, match="refused the PIN"):
        hsm.Pkcs11Provider(soft_token.module, soft_token.label, "0000").active_kek_id()
    with pytest.raises(KeyringUnavailable, match="no token labelled"):
        hsm.Pkcs11Provider(soft_token.module, "no-such-token", "0000").active_kek_id()
    with pytest.raises(KeyringUnavailable, match="unreadable"):
        hsm.read_pin(tmp_path / "missing")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(KeyringUnavailable, match="empty"):
        hsm.read_pin(tmp_path / "empty")


def test_the_settings_choose_the_provider_and_refuse_when_incomplete(settings, soft_token):
    settings.HAVEN_KEY_PROVIDER = "pkcs11"
    settings.HAVEN_PKCS11_MODULE = soft_token.module
    settings.HAVEN_PKCS11_TOKEN = ""
    settings.HAVEN_PKCS11_PIN_FILE = str(soft_token.pin_file)
    with pytest.raises(KeyringUnavailable, match="HAVEN_PKCS11_TOKEN"):
        keyring.provider_from_settings()
    settings.HAVEN_PKCS11_TOKEN = soft_token.label
    assert isinstance(keyring.provider_from_settings(), hsm.Pkcs11Provider)
    settings.HAVEN_KEY_PROVIDER = "vault"
    with pytest.raises(KeyringUnavailable, match="'file' or 'pkcs11'"):
        keyring.provider_from_settings()


def _unwrap_in_child(provider: hsm.Pkcs11Provider, blob: bytes, pipe) -> None:
    try:
        pipe.send((os.getpid(), provider.unwrap(blob, aad=b"forked")))
    except Exception as exc:  # reported to the parent, which fails the test
        pipe.send((os.getpid(), repr(exc)))


def test_a_forked_worker_opens_its_own_session(token_keys):
    """gunicorn forks its workers: a child must not use the parent's PKCS#11 session."""
    blob = token_keys.wrap(DEK, aad=b"forked")
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_unwrap_in_child, args=(token_keys, blob, child)
    )
    process.start()
    pid, result = parent.recv()
    process.join(30)
    assert pid != os.getpid() and result == DEK
    assert token_keys.unwrap(blob, aad=b"forked") == DEK  # the parent's session still works


def test_the_pin_is_never_in_output_or_logs(token_keys, soft_token, caseworker, caplog):
    """AS9-STO-2: the PIN and the data keys appear in no command output or log line."""
    open_case(caseworker)
    pin = hsm.read_pin(soft_token.pin_file)
    out = _keys("status") + _keys("add") + _keys("rotate")
    assert pin not in out and pin not in caplog.text
    assert pin not in repr(token_keys)
