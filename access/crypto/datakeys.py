"""Per-survivor data keys (DEKs) and the per-field subkeys derived from them.

Each survivor has one random 256-bit DEK, stored only wrapped by the active KEK. Every
encrypted field of that survivor's records uses ``HKDF(DEK, info=model.field)``, so a
value can only be read with that survivor's key, in that field. Destroying the wrapped
DEK makes all of it unreadable (crypto-shredding) without touching anyone else.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from access.crypto import envelope
from access.crypto.keyring import get_provider

_FIELD_SALT = b"haven-field-key-v1"
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class WrappedDataKey:
    dek_id: str
    kek_id: str
    blob: bytes = field(repr=False)


@dataclass(frozen=True)
class DataKey:
    """An unwrapped DEK, held only in memory, with its per-field ciphers."""

    dek_id: str
    secret: bytes = field(repr=False)
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)

    header: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", envelope.header_for(self.dek_id))

    def cipher_for(self, label: str) -> AESGCM:
        cipher = self._ciphers.get(label)
        if cipher is None:
            cipher = self._ciphers[label] = _field_cipher(self.secret, label)
        return cipher


def _wrap_aad(survivor_id: uuid.UUID, dek_id: str) -> bytes:
    return b"haven-dek-v1|" + survivor_id.hex.encode() + b"|" + dek_id.encode()


class _UnwrapCache:
    """A bounded LRU of unwrapped DEKs, keyed by the wrapped bytes, dropped whenever the
    keyring changes (so a retired KEK stops working in this process at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[bytes, bytes] = OrderedDict()
        self._generation: object = None

    def get(self, generation: object, blob: bytes) -> bytes | None:
        with self._lock:
            if generation != self._generation:
                self._items.clear()
                _field_cipher.cache_clear()
                self._generation = generation
                return None
            secret = self._items.get(blob)
            if secret is not None:
                self._items.move_to_end(blob)
            return secret

    def put(self, generation: object, blob: bytes, secret: bytes) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._items[blob] = secret
            if len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)

    def forget(self, blob: bytes) -> None:
        with self._lock:
            self._items.pop(blob, None)
            _field_cipher.cache_clear()


_cache = _UnwrapCache()


def new_data_key(survivor_id: uuid.UUID) -> tuple[WrappedDataKey, DataKey]:
    dek_id = secrets.token_hex(4)
    secret = AESGCM.generate_key(256)
    blob = get_provider().wrap(secret, aad=_wrap_aad(survivor_id, dek_id))
    wrapped = WrappedDataKey(dek_id=dek_id, kek_id=envelope.key_id_of(blob), blob=blob)
    return wrapped, DataKey(dek_id=dek_id, secret=secret)


def unwrap_data_key(survivor_id: uuid.UUID, wrapped: WrappedDataKey) -> DataKey:
    provider = get_provider()
    generation = provider.generation()
    secret = _cache.get(generation, wrapped.blob)
    if secret is None:
        secret = provider.unwrap(wrapped.blob, aad=_wrap_aad(survivor_id, wrapped.dek_id))
        _cache.put(generation, wrapped.blob, secret)
    return DataKey(dek_id=wrapped.dek_id, secret=secret)


def rewrap_data_key(survivor_id: uuid.UUID, wrapped: WrappedDataKey) -> WrappedDataKey:
    """Re-wrap a DEK under the active KEK; the DEK itself (and every value) is unchanged."""
    key = unwrap_data_key(survivor_id, wrapped)
    blob = get_provider().wrap(key.secret, aad=_wrap_aad(survivor_id, wrapped.dek_id))
    return WrappedDataKey(dek_id=wrapped.dek_id, kek_id=envelope.key_id_of(blob), blob=blob)


def forget_data_key(wrapped: WrappedDataKey) -> None:
    _cache.forget(wrapped.blob)


@lru_cache(maxsize=_CACHE_SIZE)
def _field_cipher(secret: bytes, label: str) -> AESGCM:
    subkey = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=_FIELD_SALT, info=label.encode()
    ).derive(secret)
    return AESGCM(subkey)
