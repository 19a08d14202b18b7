"""Key-encryption keys (KEKs): the provider interface and the local JSON keyring.

The keyring file is JSON::

    {"active": "k1", "keys": {"k1": "<base64 of 32 bytes>"}, "index_key": "<base64>"}

``index_key`` is the root of the blind-index keys; it is separate from the KEKs so that
rotating a KEK never changes a blind index. A file without it gets one when Haven next
writes the keyring (``keys add``), and is refused for blind indexing until then.

A running process notices a changed file (by inode, size and mtime) on its next use, so
``keys add``, ``keys rotate`` and ``keys retire`` need no restart.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from access.crypto import envelope
from access.crypto.errors import KeyringUnavailable, UnknownKey

KEY_BYTES = 32


class KeyProvider(Protocol):
    """What Haven needs from a key store. A KMS (Vault transit, AWS KMS) implements the
    same four operations server-side; see docs/key-management.md."""

    def active_kek_id(self) -> str: ...

    def kek_ids(self) -> frozenset[str]: ...

    def wrap(self, data_key: bytes, *, aad: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes: ...

    def index_root_key(self) -> bytes: ...

    def generation(self) -> object:
        """Changes whenever the key material changes, so caches can be dropped."""
        ...


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int, int]
    active: str
    keks: Mapping[str, AESGCM] = field(repr=False)
    index_key: bytes | None = field(repr=False)


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


def parse_keyring(text: str) -> tuple[str, dict[str, bytes], bytes | None]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyringUnavailable("keyring: file is not valid JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict):
        raise KeyringUnavailable('keyring: expected {"active": ..., "keys": {...}}')
    keys: dict[str, bytes] = {}
    for key_id, encoded in doc["keys"].items():
        if not envelope.KEY_ID_PATTERN.match(key_id):
            raise KeyringUnavailable("keyring: key ids are 1-32 of A-Z a-z 0-9 _ -")
        keys[key_id] = _decode_key(key_id, encoded)
    active = doc.get("active")
    if not isinstance(active, str) or active not in keys:
        raise KeyringUnavailable("keyring: 'active' must name one of its keys")
    index_key = None
    if "index_key" in doc:
        index_key = _decode_key("index_key", doc["index_key"])
    return active, keys, index_key


def render_keyring(active: str, keys: Mapping[str, bytes], index_key: bytes | None) -> str:
    doc: dict[str, object] = {
        "active": active,
        "keys": {kid: base64.b64encode(raw).decode() for kid, raw in keys.items()},
    }
    if index_key is not None:
        doc["index_key"] = base64.b64encode(index_key).decode()
    return json.dumps(doc, indent=2) + "\n"


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
            active, keys, index_key = parse_keyring(text)
            self._loaded = _Loaded(
                stamp=stamp,
                active=active,
                keks={kid: AESGCM(raw) for kid, raw in keys.items()},
                index_key=index_key,
            )
            return self._loaded

    def _create(self) -> None:
        text = render_keyring("k1", {"k1": AESGCM.generate_key(256)}, secrets.token_bytes(32))
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

    def index_root_key(self) -> bytes:
        key = self._current().index_key
        if key is None:
            raise KeyringUnavailable("keyring has no index_key; run 'manage.py keys add'")
        return key

    # --- key management (the local file only; a KMS manages its own keys) ---

    def _read_for_update(self) -> tuple[str | None, dict[str, bytes], bytes | None]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None, {}, None
        return parse_keyring(text)

    def add_kek(self) -> str:
        """Add a fresh KEK and make it active; creates the keyring on first use.
        Returns the new key id. Existing keys stay, so nothing becomes unreadable."""
        with self._lock:
            _, keys, index_key = self._read_for_update()
            number = len(keys) + 1
            while f"k{number}" in keys:
                number += 1
            new_id = f"k{number}"
            keys[new_id] = AESGCM.generate_key(256)
            text = render_keyring(new_id, keys, index_key or secrets.token_bytes(KEY_BYTES))
            write_keyring_file(self.path, text, exclusive=not self.path.exists())
            self._loaded = None
            return new_id

    def retire_kek(self, kek_id: str) -> None:
        """Remove a KEK from the file. The caller checks that nothing uses it."""
        with self._lock:
            active, keys, index_key = self._read_for_update()
            if kek_id not in keys:
                raise UnknownKey(f"no key {kek_id!r} in the keyring")
            if kek_id == active:
                raise KeyringUnavailable("the active key cannot be retired; add a new key first")
            del keys[kek_id]
            if active is None:
                raise KeyringUnavailable("keyring has no active key")
            write_keyring_file(self.path, render_keyring(active, keys, index_key))
            self._loaded = None


_provider: KeyProvider | None = None
_provider_lock = threading.Lock()


def get_provider() -> KeyProvider:
    global _provider
    if _provider is None:
        with _provider_lock:
            if _provider is None:
                _provider = LocalKeyringProvider(
                    Path(settings.HAVEN_KEYRING_FILE),
                    autocreate=settings.HAVEN_KEYRING_AUTOCREATE,
                )
    return _provider


def set_provider(provider: KeyProvider | None) -> None:
    """Swap the provider (a KMS adapter at start-up, or a test double)."""
    global _provider
    with _provider_lock:
        _provider = provider


def require_keyring() -> None:
    """Fail start-up loudly when the keys cannot be used."""
    provider = get_provider()
    provider.active_kek_id()
