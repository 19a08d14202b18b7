"""Key-encryption keys (KEKs): the provider interface and the local JSON keyring.

The keyring file is JSON. Its minimal form, ``{"active": "k1", "keys": {"k1": "<base64
of 32 bytes>"}}``, is complete: any other key Haven needs (blind-index roots) is
created once, wrapped by the active KEK and kept in the database (``access.keystore``).
A file may still provide index roots itself, for installations that keep every key in
the file::

    {"active": "k1", "keys": {...},
     "index_active": "i1", "index_keys": {"i1": "<base64 of 32 bytes>"}}

(the short form ``"index_key": "<b64>"`` is read as index key ``i1``). Likewise the
audit log's tree-head signing key, an Ed25519 seed, may be kept in the file
(``"signing_key": "<base64 of 32 bytes>"``); without it one is created once and kept
wrapped by the active KEK.

A running process notices a changed file (by inode, size and mtime) on its next use, so
``keys add``, ``keys rotate`` and ``keys retire`` need no restart. Inside a key scope (one
request, one batch of a command: ``access.crypto.datakeys.key_scope``) the file is looked
at once, at the scope's first use, and the scope keeps the keyring it saw: a list of
2,000 survivors unwraps 2,000 data keys without 2,000 ``stat`` calls, and a change made
by this process (``keys add``) is still seen at once.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.translation import gettext as _

from access.crypto import envelope
from access.crypto.errors import KeyringUnavailable, UnknownKey
from access.crypto.hsm import Pkcs11Provider, read_pin

KEY_BYTES = 32


class KeyProvider(Protocol):
    """What Haven needs from a key store. A KMS (Vault transit, AWS KMS) implements the
    same four operations server-side; see docs/key-management.md."""

    def active_kek_id(self) -> str: ...

    def kek_ids(self) -> frozenset[str]: ...

    def wrap(self, data_key: bytes, *, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes: ...

    def index_keys(self) -> Mapping[str, bytes]:
        """Blind-index root keys the provider itself holds, by id (often none: then
        ``access.keystore`` keeps them in the database, wrapped by the active KEK)."""
        ...

    def active_index_key_id(self) -> str | None:
        """The provider's own active index key, if it holds any."""
        ...

    def signing_key(self) -> bytes | None:
        """The audit log's Ed25519 seed, if the provider holds it (else access.keystore
        keeps one wrapped by the active KEK)."""
        ...

    def generation(self) -> object:
        """Changes whenever the key material changes, so caches can be dropped."""
        ...


@runtime_checkable
class ManagedProvider(KeyProvider, Protocol):
    """A provider whose KEKs Haven itself creates and destroys (``keys add`` and
    ``keys retire``): the keyring file and a PKCS#11 token. A cloud KMS manages its
    keys in its own console instead."""

    def add_kek(self) -> str: ...

    def retire_kek(self, kek_id: str) -> None: ...


@dataclass
class KeyringDoc:
    """The keyring file's content. Index keys are versioned like KEKs so that the
    blind-index key can be rotated (``keys reindex --new-index-key``)."""

    active: str | None = None
    keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    index_active: str | None = None
    index_keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    signing_key: bytes | None = field(default=None, repr=False)

    def next_id(self, prefix: str, taken: Mapping[str, bytes]) -> str:
        number = len(taken) + 1
        while f"{prefix}{number}" in taken:
            number += 1
        return f"{prefix}{number}"


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int, int]
    active: str
    keks: Mapping[str, AESGCM] = field(repr=False)
    index_active: str | None
    index_keys: Mapping[str, bytes] = field(repr=False)
    signing_key: bytes | None = field(repr=False)


def _decode_key(key_id: str, encoded: object) -> bytes:
    if not isinstance(encoded, str):
        raise KeyringUnavailable(f"keyring: key {key_id!r} is not a base64 string")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringUnavailable(f"keyring: key {key_id!r} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise KeyringUnavailable(f"keyring: key {key_id!r} is not {KEY_BYTES} bytes")
    return raw


def _decode_keys(name: str, value: object) -> dict[str, bytes]:
    if not isinstance(value, dict):
        raise KeyringUnavailable(f"keyring: {name!r} must be an object of id: key")
    out = {}
    for key_id, encoded in value.items():
        if not envelope.KEY_ID_PATTERN.match(key_id):
            raise KeyringUnavailable("keyring: key ids are 1-32 of A-Z a-z 0-9 _ -")
        out[key_id] = _decode_key(key_id, encoded)
    return out


def parse_keyring(text: str) -> KeyringDoc:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyringUnavailable("keyring: file is not valid JSON") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), dict):
        raise KeyringUnavailable(_('keyring: expected {"active": ..., "keys": {...}}'))
    doc = KeyringDoc(keys=_decode_keys("keys", raw["keys"]))
    active = raw.get("active")
    if not isinstance(active, str) or active not in doc.keys:
        raise KeyringUnavailable("keyring: 'active' must name one of its keys")
    doc.active = active
    if "index_keys" in raw:
        doc.index_keys = _decode_keys("index_keys", raw["index_keys"])
        doc.index_active = raw.get("index_active")
        if doc.index_active not in doc.index_keys:
            raise KeyringUnavailable("keyring: 'index_active' must name one of its index keys")
    elif "index_key" in raw:  # the short form: one index key
        doc.index_keys = {"i1": _decode_key("index_key", raw["index_key"])}
        doc.index_active = "i1"
    if "signing_key" in raw:
        doc.signing_key = _decode_key("signing_key", raw["signing_key"])
    return doc


def render_keyring(doc: KeyringDoc) -> str:
    def encode(keys: Mapping[str, bytes]) -> dict[str, str]:
        return {kid: base64.b64encode(raw).decode() for kid, raw in keys.items()}

    out: dict[str, object] = {"active": doc.active, "keys": encode(doc.keys)}
    if doc.index_keys:
        out["index_active"] = doc.index_active
        out["index_keys"] = encode(doc.index_keys)
    if doc.signing_key is not None:
        out["signing_key"] = base64.b64encode(doc.signing_key).decode()
    return json.dumps(out, indent=2) + "\n"


def new_keyring() -> KeyringDoc:
    """The minimal form: one KEK; everything else is derived or kept wrapped."""
    return KeyringDoc(active="k1", keys={"k1": AESGCM.generate_key(256)})


def write_keyring_file(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write atomically with mode 0600. ``exclusive`` refuses to replace an existing
    file (two processes creating a demo keyring at once must not end with two keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)  # fails with FileExistsError if someone was first
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


_checked: contextvars.ContextVar[set[object] | None] = contextvars.ContextVar(
    "haven_keyrings_checked", default=None
)


@contextmanager
def checked_once() -> Iterator[None]:
    """Within this block each keyring file is looked at once, at its first use (the key
    scope opens one: a request or a batch sees one keyring throughout)."""
    if _checked.get() is not None:
        yield
        return
    token = _checked.set(set())
    try:
        yield
    finally:
        _checked.reset(token)


class LocalKeyringProvider:
    """Keys from a JSON file on local disk, re-read when the file changes."""

    def __init__(self, path: Path, *, autocreate: bool = False) -> None:
        self.path = path
        self.autocreate = autocreate
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _current(self) -> _Loaded:
        loaded = self._loaded
        checked = _checked.get()
        if checked is not None and loaded is not None and self in checked:
            return loaded
        loaded = self._fresh()
        if checked is not None:
            checked.add(self)
        return loaded

    def _fresh(self) -> _Loaded:
        """The keyring as the file now is (re-read only when its stamp changed)."""
        stamp = self._stamp()
        loaded = self._loaded
        if loaded is not None and loaded.stamp == stamp:
            return loaded
        with self._lock:
            if stamp is None:
                if not self.autocreate:
                    raise KeyringUnavailable(
                        f"keyring file {self.path} does not exist. Haven refuses to run "
                        "without its keys outside demo/debug mode; restore it from backup "
                        "or, for a new installation, create it with 'manage.py keys add'."
                    )
                self._create()
                stamp = self._stamp()
                if stamp is None:
                    raise KeyringUnavailable(f"keyring file {self.path} could not be created")
            try:
                text = self.path.read_text()
            except OSError as exc:
                raise KeyringUnavailable(f"keyring file {self.path} is unreadable") from exc
            doc = parse_keyring(text)
            if doc.active is None:
                raise KeyringUnavailable("keyring has no active key")
            self._loaded = _Loaded(
                stamp=stamp,
                active=doc.active,
                keks={kid: AESGCM(raw) for kid, raw in doc.keys.items()},
                index_active=doc.index_active,
                index_keys=dict(doc.index_keys),
                signing_key=doc.signing_key,
            )
            return self._loaded

    def _create(self) -> None:
        text = render_keyring(new_keyring())
        try:
            write_keyring_file(self.path, text, exclusive=True)
        except FileExistsError:
            pass  # another process created it first; use theirs

    def generation(self) -> object:
        return self._current().stamp

    def active_kek_id(self) -> str:
        return self._current().active

    def kek_ids(self) -> frozenset[str]:
        return frozenset(self._current().keks)

    def wrap(self, data_key: bytes, *, aad: bytes) -> bytes:
        loaded = self._current()
        return envelope.seal(loaded.keks[loaded.active], loaded.active, data_key, aad)

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes:
        kek_id = envelope.key_id_of(wrapped)
        kek = self._current().keks.get(kek_id)
        if kek is None:
            raise UnknownKey(f"key-encryption key {kek_id!r} is not in the keyring")
        return envelope.open_sealed(kek, wrapped, aad)

    def index_keys(self) -> Mapping[str, bytes]:
        return self._current().index_keys

    def active_index_key_id(self) -> str | None:
        return self._current().index_active

    def signing_key(self) -> bytes | None:
        return self._current().signing_key

    # --- key management (the local file only; a KMS manages its own keys) ---

    def _update(self, change: Callable[[KeyringDoc], str]) -> str:
        with self._lock:
            try:
                doc = parse_keyring(self.path.read_text())
                existed = True
            except FileNotFoundError:
                doc, existed = KeyringDoc(), False
            result = change(doc)
            write_keyring_file(self.path, render_keyring(doc), exclusive=not existed)
            self._loaded = None
            return result

    def add_kek(self) -> str:
        """Add a fresh KEK and make it active; creates the keyring on first use.
        Existing keys stay, so nothing becomes unreadable."""

        def change(doc: KeyringDoc) -> str:
            new_id = doc.next_id("k", doc.keys)
            doc.keys[new_id] = AESGCM.generate_key(256)
            doc.active = new_id
            return new_id

        return self._update(change)

    def retire_kek(self, kek_id: str) -> None:
        """Remove a KEK from the file. The caller checks that nothing uses it."""

        def change(doc: KeyringDoc) -> str:
            if kek_id not in doc.keys:
                raise UnknownKey(f"no key {kek_id!r} in the keyring")
            if kek_id == doc.active:
                raise KeyringUnavailable("the active key cannot be retired; add a new key first")
            del doc.keys[kek_id]
            return kek_id

        self._update(change)

    def retire_index_key(self, key_id: str) -> None:
        """Remove an index root the file provided, once the database has moved on to a
        newer key (the file's ``index_active`` no longer decides anything then)."""

        def change(doc: KeyringDoc) -> str:
            doc.index_keys.pop(key_id, None)
            if doc.index_active == key_id:
                doc.index_active = next(iter(doc.index_keys), None)
            return key_id

        self._update(change)


class WithPreviousKeyring:
    """A provider during a move from the keyring file into a token: new data keys are
    wrapped by the token's active KEK, and data keys still wrapped by a KEK of the old
    file are opened with it until ``keys rotate`` has re-wrapped them all. The file is
    only read. Key ids of the two never collide (the file's are ``k1``..., a token's
    ``h1``...); if they did, the token's key is the one used."""

    def __init__(self, current: ManagedProvider, previous: LocalKeyringProvider) -> None:
        self.current = current
        self.previous = previous

    def __repr__(self) -> str:
        return f"<{self.current!r} with previous keyring {self.previous.path}>"

    def active_kek_id(self) -> str:
        return self.current.active_kek_id()

    def kek_ids(self) -> frozenset[str]:
        return self.current.kek_ids() | self.previous.kek_ids()

    def previous_kek_ids(self) -> frozenset[str]:
        return self.previous.kek_ids() - self.current.kek_ids()

    def wrap(self, data_key: bytes, *, aad: bytes) -> bytes:
        return self.current.wrap(data_key, aad=aad)

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes:
        if envelope.key_id_of(wrapped) in self.current.kek_ids():
            return self.current.unwrap(wrapped, aad=aad)
        return self.previous.unwrap(wrapped, aad=aad)  # refuses an id it lacks too

    def index_keys(self) -> Mapping[str, bytes]:
        return self.previous.index_keys()  # roots the old file held stay readable

    def active_index_key_id(self) -> str | None:
        return self.previous.active_index_key_id()

    def signing_key(self) -> bytes | None:
        return self.previous.signing_key()

    def generation(self) -> object:
        return (self.current.generation(), self.previous.generation())

    def add_kek(self) -> str:
        return self.current.add_kek()

    def retire_kek(self, kek_id: str) -> None:
        if kek_id in self.previous_kek_ids():
            raise KeyringUnavailable(
                f"{kek_id} is in the previous keyring file, which Haven only reads: once "
                "'keys status' shows no data key under it, unset HAVEN_PREVIOUS_KEYRING_FILE "
                "and destroy the file"
            )
        self.current.retire_kek(kek_id)


_provider: KeyProvider | None = None
_provider_lock = threading.Lock()


def provider_from_settings() -> KeyProvider:
    """The provider ``HAVEN_KEY_PROVIDER`` names: ``file`` (the default) or ``pkcs11``."""
    kind = settings.HAVEN_KEY_PROVIDER
    if kind == "file":
        return LocalKeyringProvider(
            Path(settings.HAVEN_KEYRING_FILE), autocreate=settings.HAVEN_KEYRING_AUTOCREATE
        )
    if kind != "pkcs11":
        raise KeyringUnavailable(f"HAVEN_KEY_PROVIDER must be 'file' or 'pkcs11', not {kind!r}")
    missing = [
        name
        for name in ("HAVEN_PKCS11_MODULE", "HAVEN_PKCS11_TOKEN", "HAVEN_PKCS11_PIN_FILE")
        if not getattr(settings, name)
    ]
    if missing:
        raise KeyringUnavailable(f"HAVEN_KEY_PROVIDER=pkcs11 needs {', '.join(missing)}")
    token = Pkcs11Provider(
        settings.HAVEN_PKCS11_MODULE,
        settings.HAVEN_PKCS11_TOKEN,
        read_pin(Path(settings.HAVEN_PKCS11_PIN_FILE)),
    )
    if settings.HAVEN_PREVIOUS_KEYRING_FILE:
        return WithPreviousKeyring(
            token, LocalKeyringProvider(Path(settings.HAVEN_PREVIOUS_KEYRING_FILE))
        )
    return token


def get_provider() -> KeyProvider:
    global _provider
    if _provider is None:
        with _provider_lock:
            if _provider is None:
                _provider = provider_from_settings()
    return _provider


def set_provider(provider: KeyProvider | None) -> None:
    """Swap the provider (a KMS adapter at start-up, or a test double)."""
    global _provider
    with _provider_lock:
        _provider = provider


def require_keyring() -> None:
    """Fail start-up loudly when the keys cannot be used."""
    get_provider().active_kek_id()
