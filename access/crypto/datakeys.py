"""Per-survivor data keys (DEKs), the field key derived from each, and the key scope.

Each survivor has one random 256-bit DEK, stored only wrapped by the active KEK. Every
encrypted value of that survivor's records is sealed with AES-GCM under one field key,
``HKDF(DEK, info="haven-fields")``, and its associated data names the model, the field
and the row (``access.crypto.fields``), so a value can only be read with that survivor's
key, in that place. Destroying the wrapped DEK makes all of it unreadable
(crypto-shredding) without touching anyone else.

Values written before format 2 used one HKDF subkey per model and field; they are still
read (``DataKey.cipher_for``) until ``keys reseal`` has sealed them again.

Unwrapped keys live only in a ``key_scope``: one request, one batch of a command. The
scope remembers each survivor's key for its other rows and fields, up to a bound, and
forgets every key when it ends; nothing unwrapped outlives it in the process.
"""

from __future__ import annotations

import contextvars
import secrets
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from access.crypto import envelope
from access.crypto.keyring import checked_once, get_provider

_LEGACY_FIELD_SALT = b"haven-field-key-v1"
_FIELD_SALT = b"haven-field-key-v2"
_FIELD_INFO = b"haven-fields"
SCOPE_LIMIT = 4096


@dataclass(frozen=True)
class WrappedDataKey:
    dek_id: str
    kek_id: str
    blob: bytes = field(repr=False)


class DataKey:
    """An unwrapped DEK, held only in memory, with the cipher of its field key.

    ``header`` starts every value sealed under it (format 2 and the DEK's id)."""

    __slots__ = ("dek_id", "secret", "header", "aead", "_legacy")

    def __init__(self, dek_id: str, secret: bytes) -> None:
        self.dek_id = dek_id
        self.secret = secret
        self.header = envelope.header_for(dek_id, envelope.FIELD_VERSION)
        self.aead = AESGCM(
            HKDF(algorithm=hashes.SHA256(), length=32, salt=_FIELD_SALT, info=_FIELD_INFO).derive(
                secret
            )
        )
        self._legacy: dict[str, AESGCM] | None = None

    def __repr__(self) -> str:
        return f"<DataKey {self.dek_id}>"

    @property
    def legacy_header(self) -> bytes:
        return envelope.header_for(self.dek_id)

    def cipher_for(self, label: str) -> AESGCM:
        """The format-1 subkey of one model and field, for values not yet resealed."""
        if self._legacy is None:
            self._legacy = {}
        cipher = self._legacy.get(label)
        if cipher is None:
            subkey = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=_LEGACY_FIELD_SALT,
                info=label.encode(),
            ).derive(self.secret)
            cipher = self._legacy[label] = AESGCM(subkey)
        return cipher


def _wrap_aad(survivor_id: uuid.UUID, dek_id: str) -> bytes:
    return b"haven-dek-v1|" + survivor_id.hex.encode() + b"|" + dek_id.encode()


class KeyScope:
    """The keys one request or batch has unwrapped, by wrapped bytes, each with the
    owner and DEK id it was unwrapped for. Bounded: past ``limit`` keys the oldest is
    dropped (it is unwrapped again if needed), so a batch over every survivor holds
    no more keys than a page does."""

    __slots__ = ("_keys", "limit")

    def __init__(self, limit: int = SCOPE_LIMIT) -> None:
        self._keys: dict[bytes, tuple[uuid.UUID, DataKey]] = {}
        self.limit = limit

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, owner: uuid.UUID, dek_id: str, blob: bytes) -> DataKey | None:
        entry = self._keys.get(blob)
        if entry is None or entry[1].dek_id != dek_id or entry[0] != owner:
            return None
        return entry[1]

    def put(self, owner: uuid.UUID, blob: bytes, key: DataKey) -> None:
        keys = self._keys
        if len(keys) >= self.limit:
            del keys[next(iter(keys))]
        keys[blob] = (owner, key)

    def forget(self, blob: bytes) -> None:
        self._keys.pop(blob, None)

    def clear(self) -> None:
        self._keys.clear()


_current: contextvars.ContextVar[KeyScope | None] = contextvars.ContextVar(
    "haven_key_scope", default=None
)


@contextmanager
def key_scope(limit: int = SCOPE_LIMIT) -> Iterator[KeyScope]:
    """Open a key scope, or join the one already open (a batch inside a request)."""
    scope = _current.get()
    if scope is not None:
        yield scope
        return
    scope = KeyScope(limit)
    token = _current.set(scope)
    try:
        with checked_once():
            yield scope
    finally:
        _current.reset(token)
        scope.clear()


def current_scope() -> KeyScope | None:
    return _current.get()


def new_data_key(survivor_id: uuid.UUID) -> tuple[WrappedDataKey, DataKey]:
    dek_id = secrets.token_hex(4)
    secret = AESGCM.generate_key(256)
    blob = get_provider().wrap(secret, aad=_wrap_aad(survivor_id, dek_id))
    wrapped = WrappedDataKey(dek_id=dek_id, kek_id=envelope.key_id_of(blob), blob=blob)
    return wrapped, DataKey(dek_id=dek_id, secret=secret)


def _unwrap(survivor_id: uuid.UUID, dek_id: str, blob: bytes) -> DataKey:
    secret = get_provider().unwrap(blob, aad=_wrap_aad(survivor_id, dek_id))
    return DataKey(dek_id=dek_id, secret=secret)


def data_key_of(owner: uuid.UUID, dek_id: str, blob: bytes) -> DataKey:
    """The DEK of ``owner`` from its stored columns. Within a scope it is unwrapped once
    per scope, and a key the scope holds is found with one look-up (the read path of
    every row of a list); outside one, it is unwrapped each time."""
    scope = _current.get()
    key = None if scope is None else scope.get(owner, dek_id, blob)
    if key is None:
        key = _unwrap(owner, dek_id, blob)
        if scope is not None:
            scope.put(owner, blob, key)
    return key


def unwrap_data_key(survivor_id: uuid.UUID, wrapped: WrappedDataKey) -> DataKey:
    return data_key_of(survivor_id, wrapped.dek_id, wrapped.blob)


def unwrap_data_keys(owners: Iterable[tuple[uuid.UUID, WrappedDataKey]]) -> int:
    """Unwrap the keys of a list's rows into the current scope at once (one pass over
    the keyring for the page, not one per row as each is first read). Returns how many
    were unwrapped; needs a scope."""
    scope = _current.get()
    if scope is None:
        raise RuntimeError("unwrap_data_keys needs a key scope")
    done = 0
    for owner, wrapped in owners:
        if scope.get(owner, wrapped.dek_id, wrapped.blob) is None:
            scope.put(owner, wrapped.blob, _unwrap(owner, wrapped.dek_id, wrapped.blob))
            done += 1
    return done


def rewrap_data_key(survivor_id: uuid.UUID, wrapped: WrappedDataKey) -> WrappedDataKey:
    """Re-wrap a DEK under the active KEK; the DEK itself (and every value) is unchanged."""
    key = unwrap_data_key(survivor_id, wrapped)
    blob = get_provider().wrap(key.secret, aad=_wrap_aad(survivor_id, wrapped.dek_id))
    return WrappedDataKey(dek_id=wrapped.dek_id, kek_id=envelope.key_id_of(blob), blob=blob)


def forget_data_key(wrapped: WrappedDataKey) -> None:
    """Drop a destroyed key from the current scope (no other copy exists)."""
    scope = _current.get()
    if scope is not None:
        scope.forget(wrapped.blob)
