"""Key-encryption keys inside a PKCS#11 token (a USB or network HSM, or SoftHSM2).

Each KEK is an AES-256 secret key object in the token, created there by ``keys add``
(never imported): ``CKA_TOKEN`` (it persists), ``CKA_SENSITIVE`` and not
``CKA_EXTRACTABLE`` (its value can never be read out, not even wrapped), usable only to
encrypt and decrypt. Its ``CKA_ID`` is Haven's key id (``h1``, ``h2``...), and its label
``haven-kek-<id>``. The newest (highest-numbered) key is the active one.

A data key is wrapped by AES-GCM inside the token: Haven sends the DEK, a fresh nonce and
the associated data, the token returns the ciphertext, and the same in reverse. The KEK
never enters Haven's memory; the blob has the same format as the file provider's
(``access.crypto.envelope``: version, key id, nonce, ciphertext and tag, the header
bound into the AAD), so the key id in a blob always says which provider and key opens it.

One PKCS#11 session per process, opened on first use and again after a fork (a child
process must initialise the library itself); calls into it are serialised by a lock.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import NoSuchToken, PinIncorrect, PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams

from access.crypto import envelope
from access.crypto.errors import DecryptionFailed, KeyringUnavailable, UnknownKey

LABEL_PREFIX = "haven-kek-"
KEY_ID_PREFIX = "h"
_KEY_ID = re.compile(r"^h([1-9][0-9]{0,8})$")
# How long a process trusts its list of the token's keys before asking again, so that a
# key added or retired by another process is seen within this time.
LISTING_SECONDS = 2.0

# The attributes of every KEK: kept in the token, never readable, never wrappable out,
# used for nothing but encrypting and decrypting data keys.
KEK_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.ENCRYPT: True,
    Attribute.DECRYPT: True,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.SIGN: False,
    Attribute.VERIFY: False,
    Attribute.DERIVE: False,
}


def read_pin(path: Path) -> str:
    """The user PIN from its file (one line). Fails closed if it is missing or empty."""
    try:
        pin = path.read_text().strip()
    except OSError as exc:
        raise KeyringUnavailable(f"PKCS#11: the PIN file {path} is unreadable") from exc
    if not pin:
        raise KeyringUnavailable(f"PKCS#11: the PIN file {path} is empty")
    return pin


def _number(key_id: str) -> int:
    match = _KEY_ID.match(key_id)
    return int(match.group(1)) if match else 0


class Pkcs11Provider:
    """The KEKs of one token. Implements ``keyring.KeyProvider`` and ``ManagedProvider``."""

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        self.module = module
        self.token_label = token_label
        self._pin = pin
        self._lock = threading.RLock()
        self._session: Any = None
        self._pid = 0
        self._keys: dict[str, Any] = {}
        self._listed_at = -LISTING_SECONDS

    def __repr__(self) -> str:
        return f"<Pkcs11Provider {self.module} token={self.token_label!r}>"

    # --- the session ---

    def _open(self) -> Any:
        """The process's session, logged in; opened again after a fork."""
        if self._session is not None and self._pid == os.getpid():
            return self._session
        try:
            lib = pkcs11.lib(self.module)
            if self._pid and self._pid != os.getpid():
                lib.reinitialize()  # a forked child must initialise the library again
            token = lib.get_token(token_label=self.token_label)
            try:
                self._session = token.open(rw=True, user_pin=self._pin)
            except UserAlreadyLoggedIn:
                # PKCS#11 logs in an application, not a session: another provider of
                # this process is logged in to the token, and this session shares it.
                self._session = token.open(rw=True)
        except NoSuchToken as exc:
            raise KeyringUnavailable(f"PKCS#11: no token labelled {self.token_label!r}") from exc
        except PinIncorrect as exc:
            raise KeyringUnavailable("PKCS#11: the token refused the PIN") from exc
        except (PKCS11Error, OSError, RuntimeError) as exc:
            raise KeyringUnavailable(
                f"PKCS#11: cannot use {self.module}: {type(exc).__name__}"
            ) from exc
        self._pid = os.getpid()
        self._keys = {}
        self._listed_at = -LISTING_SECONDS
        return self._session

    def close(self) -> None:
        """Close this provider's session (the token logs the process out when its
        last session closes)."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        session, self._session = self._session, None
        self._keys = {}
        self._listed_at = -LISTING_SECONDS
        if session is not None and self._pid == os.getpid():
            try:
                session.close()
            except PKCS11Error:
                pass

    def _listing(self, *, fresh: bool = False) -> dict[str, Any]:
        """The token's Haven KEKs by id (handles), listed again every few seconds."""
        with self._lock:
            session = self._open()
            if fresh or time.monotonic() - self._listed_at > LISTING_SECONDS:
                found = {}
                try:
                    for key in session.get_objects(
                        {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
                    ):
                        label = key.label or ""
                        key_id = label.removeprefix(LABEL_PREFIX)
                        if label.startswith(LABEL_PREFIX) and _number(key_id):
                            found[key_id] = key
                except PKCS11Error as exc:
                    self._reset()
                    raise KeyringUnavailable(
                        f"PKCS#11: cannot list keys: {type(exc).__name__}"
                    ) from exc
                self._keys = found
                self._listed_at = time.monotonic()
            return self._keys

    # --- KeyProvider ---

    def kek_ids(self) -> frozenset[str]:
        return frozenset(self._listing())

    def active_kek_id(self) -> str:
        ids = self._listing()
        if not ids:
            raise KeyringUnavailable(
                f"PKCS#11: token {self.token_label!r} holds no Haven key; "
                "create the first with 'manage.py keys add'"
            )
        return max(ids, key=_number)

    def generation(self) -> object:
        return (self.token_label, tuple(sorted(self._listing())))

    def wrap(self, data_key: bytes, *, aad: bytes) -> bytes:
        with self._lock:
            key_id = self.active_kek_id()
            header = envelope.header_for(key_id)
            nonce = os.urandom(envelope.NONCE_BYTES)
            ciphertext = self._call(key_id, "encrypt", data_key, GCMParams(nonce, header + aad))
        return header + nonce + ciphertext

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes:
        key_id = envelope.key_id_of(wrapped)
        header = envelope.header_for(key_id)
        start = len(header)
        if wrapped[:start] != header:
            raise DecryptionFailed("not a wrapped key")
        nonce = wrapped[start : start + envelope.NONCE_BYTES]
        body = wrapped[start + envelope.NONCE_BYTES :]
        with self._lock:
            return self._call(key_id, "decrypt", body, GCMParams(nonce, header + aad))

    def _call(self, key_id: str, operation: str, data: bytes, params: GCMParams) -> bytes:
        """Encrypt or decrypt with one KEK, inside the token. A stale session or handle
        (the token was unplugged, the key listed before a restart) is retried once with
        a fresh session; anything else fails closed."""
        for attempt in (1, 2):
            key = self._listing(fresh=attempt == 2).get(key_id)
            if key is None:
                if attempt == 1:
                    continue
                raise UnknownKey(f"key-encryption key {key_id!r} is not in the token")
            try:
                result: bytes = getattr(key, operation)(
                    data, mechanism=Mechanism.AES_GCM, mechanism_param=params
                )
                return result
            except (
                pkcs11.exceptions.SessionHandleInvalid,
                pkcs11.exceptions.SessionClosed,
                pkcs11.exceptions.ObjectHandleInvalid,
                pkcs11.exceptions.KeyHandleInvalid,
                pkcs11.exceptions.DeviceRemoved,
                pkcs11.exceptions.TokenNotPresent,
                pkcs11.exceptions.UserNotLoggedIn,
            ) as exc:
                self._reset()
                if attempt == 2:
                    raise KeyringUnavailable(
                        f"PKCS#11: {operation} failed: {type(exc).__name__}"
                    ) from exc
            except PKCS11Error as exc:
                # An authentication failure (tag, AAD or key mismatch) is reported by
                # tokens as EncryptedDataInvalid, or by SoftHSM2 as GeneralError.
                raise DecryptionFailed(
                    f"PKCS#11: {operation} under {key_id!r} refused ({type(exc).__name__})"
                ) from exc
        raise UnknownKey(f"key-encryption key {key_id!r} is not in the token")  # unreachable

    def index_keys(self) -> Mapping[str, bytes]:
        return {}  # index roots are kept in the database, wrapped by the active KEK

    def active_index_key_id(self) -> str | None:
        return None

    def signing_key(self) -> bytes | None:
        return None  # the audit signing seed is kept wrapped, like the index roots

    # --- ManagedProvider ---

    def add_kek(self) -> str:
        """Generate a new KEK inside the token and make it the active one."""
        with self._lock:
            taken = self._listing(fresh=True)
            key_id = f"{KEY_ID_PREFIX}{max(map(_number, taken), default=0) + 1}"
            try:
                self._open().generate_key(
                    KeyType.AES,
                    256,
                    id=key_id.encode(),
                    label=LABEL_PREFIX + key_id,
                    store=True,
                    template=KEK_TEMPLATE,
                )
            except PKCS11Error as exc:
                raise KeyringUnavailable(
                    f"PKCS#11: the token refused to create a key: {type(exc).__name__}"
                ) from exc
            self._listing(fresh=True)
            return key_id

    def retire_kek(self, kek_id: str) -> None:
        """Destroy a KEK in the token. The caller checks that nothing uses it."""
        with self._lock:
            keys = self._listing(fresh=True)
            if kek_id not in keys:
                raise UnknownKey(f"no key {kek_id!r} in the token")
            if kek_id == self.active_kek_id():
                raise KeyringUnavailable("the active key cannot be retired; add a new key first")
            try:
                keys[kek_id].destroy()
            except PKCS11Error as exc:
                raise KeyringUnavailable(
                    f"PKCS#11: the token refused to destroy {kek_id}: {type(exc).__name__}"
                ) from exc
            self._listing(fresh=True)

    def describe(self, kek_id: str) -> dict[str, bool]:
        """The security attributes of one KEK, as the token reports them."""
        with self._lock:
            key = self._listing(fresh=True).get(kek_id)
            if key is None:
                raise UnknownKey(f"no key {kek_id!r} in the token")
            return {
                "sensitive": bool(key[Attribute.SENSITIVE]),
                "extractable": bool(key[Attribute.EXTRACTABLE]),
                "never_extractable": bool(key[Attribute.NEVER_EXTRACTABLE]),
                "always_sensitive": bool(key[Attribute.ALWAYS_SENSITIVE]),
                "local": bool(key[Attribute.LOCAL]),
            }
