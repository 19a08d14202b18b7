"""Keys beyond the KEKs, kept in the database wrapped by the active KEK.

The contract's minimal keyring names only KEKs. Every other key Haven needs is created
here the first time it is needed, wrapped by the active KEK (AES-GCM, bound to its
purpose and id), and stored in ``WrappedKey``: a copied database holds only ciphertext
of it, and a keyring file written by hand loses no feature. A key that the keyring file
does provide is registered here without wrapped bytes and read from the file.

Blind-index roots are the first such keys. The registry is read on every use (one small
query), so that a switch made by ``keys reindex`` in another process is seen at once;
the unwrapped bytes are cached per process and dropped whenever the keyring changes.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from access.crypto import blind, envelope
from access.crypto.errors import KeyringUnavailable
from access.crypto.keyring import KEY_BYTES, get_provider
from access.crypto.signing import SEED_BYTES, TreeHeadSigner
from access.models import WrappedKey

_lock = threading.Lock()
_cache: dict[tuple[str, bytes], bytes] = {}
_cache_generation: list[object] = [None]


@dataclass(frozen=True)
class IndexKey:
    key_id: str
    bits: int
    active: bool
    root: bytes = field(repr=False)

    def digest(self, field_name: str, normalised: str) -> int:
        return blind.digest(self.root, field_name, normalised, bits=self.bits)


def _wrap_aad(purpose: str, key_id: str) -> bytes:
    return f"haven-wrapped-key-v1|{purpose}|{key_id}".encode()


def _unwrap(row: WrappedKey) -> bytes:
    provider = get_provider()
    if row.wrapped is None and row.purpose == WrappedKey.Purpose.SIGNING:
        seed = provider.signing_key()
        if seed is None:
            raise KeyringUnavailable(
                "the audit signing key is registered as kept in the keyring file, but the "
                "file does not hold it: restore the keyring from backup"
            )
        return seed
    if row.wrapped is None:
        material = provider.index_keys().get(row.key_id)
        if material is None:
            raise KeyringUnavailable(
                f"index key {row.key_id} is registered as kept in the keyring file, "
                "but the file does not hold it: restore the keyring from backup"
            )
        return material
    blob = bytes(row.wrapped)
    generation = provider.generation()
    with _lock:
        if _cache_generation[0] != generation:
            _cache.clear()
            _cache_generation[0] = generation
        cached = _cache.get((row.key_id, blob))
    if cached is not None:
        return cached
    secret = provider.unwrap(blob, aad=_wrap_aad(row.purpose, row.key_id))
    with _lock:
        _cache[(row.key_id, blob)] = secret
    return secret


def wrap_new(purpose: str, key_id: str, secret: bytes) -> tuple[str, bytes]:
    """(KEK id, wrapped bytes) of ``secret`` under the active KEK."""
    blob = get_provider().wrap(secret, aad=_wrap_aad(purpose, key_id))
    return envelope.key_id_of(blob), blob


def rewrap(row: WrappedKey) -> None:
    """Re-wrap a stored key under the active KEK (``keys rotate``)."""
    secret = _unwrap(row)
    row.kek_id, blob = wrap_new(row.purpose, row.key_id, secret)
    row.wrapped = blob
    row.save(update_fields=["kek_id", "wrapped"])


def default_bits() -> int:
    return blind.check_bits(int(settings.HAVEN_BLIND_INDEX_BITS))


def _register_first_index_keys() -> None:
    """Before any index key exists: register the ones the keyring file provides, or
    create one. Two processes doing this at once: one insert wins, the other reads it."""
    provider = get_provider()
    from_file = provider.index_keys()
    rows: list[WrappedKey]
    if from_file:
        file_active = provider.active_index_key_id()
        rows = [
            WrappedKey(
                purpose=WrappedKey.Purpose.INDEX,
                key_id=key_id,
                state=WrappedKey.State.ACTIVE if key_id == file_active else WrappedKey.State.NEXT,
                bits=default_bits(),
            )
            for key_id in from_file
        ]
    else:
        kek_id, blob = wrap_new(WrappedKey.Purpose.INDEX, "i1", secrets.token_bytes(KEY_BYTES))
        rows = [
            WrappedKey(
                purpose=WrappedKey.Purpose.INDEX,
                key_id="i1",
                state=WrappedKey.State.ACTIVE,
                kek_id=kek_id,
                wrapped=blob,
                bits=default_bits(),
            )
        ]
    try:
        with transaction.atomic():
            for row in rows:
                row.save(force_insert=True)
    except IntegrityError:
        pass  # another process registered them first; use theirs


def _index_rows() -> list[WrappedKey]:
    rows = list(WrappedKey.objects.filter(purpose=WrappedKey.Purpose.INDEX).order_by("key_id"))
    if not rows:
        _register_first_index_keys()
        rows = list(WrappedKey.objects.filter(purpose=WrappedKey.Purpose.INDEX).order_by("key_id"))
    return rows


def index_keys() -> list[IndexKey]:
    """Every index key in use: the active one, and during a rebuild the next. New and
    corrected identities are indexed under all of them."""
    return [
        IndexKey(
            key_id=row.key_id,
            bits=row.bits or default_bits(),
            active=row.state == WrappedKey.State.ACTIVE,
            root=_unwrap(row),
        )
        for row in _index_rows()
    ]


def active_index_key() -> IndexKey:
    """The key searches use. Fails closed if none is marked active."""
    for key in index_keys():
        if key.active:
            return key
    raise KeyringUnavailable("no active blind-index key; run 'manage.py keys reindex'")


def add_index_key(*, bits: int) -> WrappedKey:
    """A new index key, not yet active: indexes are built for it before the switch."""
    taken = set(
        WrappedKey.objects.filter(purpose=WrappedKey.Purpose.INDEX).values_list("key_id", flat=True)
    ) | set(get_provider().index_keys())
    number = 1
    while f"i{number}" in taken:
        number += 1
    key_id = f"i{number}"
    kek_id, blob = wrap_new(WrappedKey.Purpose.INDEX, key_id, secrets.token_bytes(KEY_BYTES))
    row = WrappedKey(
        purpose=WrappedKey.Purpose.INDEX,
        key_id=key_id,
        state=WrappedKey.State.NEXT,
        kek_id=kek_id,
        wrapped=blob,
        bits=blind.check_bits(bits),
    )
    row.save(force_insert=True)
    return row


@transaction.atomic
def switch_index_key(new_key_id: str) -> list[str]:
    """Make ``new_key_id`` the active index key and drop every other one. Returns the
    ids dropped; their blind-index rows are the caller's to delete, in this same
    transaction."""
    rows = list(WrappedKey.objects.select_for_update().filter(purpose=WrappedKey.Purpose.INDEX))
    if new_key_id not in {row.key_id for row in rows}:
        raise KeyringUnavailable(f"no index key {new_key_id!r}")
    dropped = [row.key_id for row in rows if row.key_id != new_key_id]
    WrappedKey.objects.filter(purpose=WrappedKey.Purpose.INDEX, key_id__in=dropped).delete()
    WrappedKey.objects.filter(purpose=WrappedKey.Purpose.INDEX, key_id=new_key_id).update(
        state=WrappedKey.State.ACTIVE
    )
    return dropped


def wrapped_under(kek_ids: Iterable[str] | None = None) -> int:
    """How many stored keys are wrapped by these KEKs (all, if None)."""
    query = WrappedKey.objects.filter(wrapped__isnull=False)
    if kek_ids is not None:
        query = query.filter(kek_id__in=list(kek_ids))
    return query.count()


def _register_signing_key() -> None:
    """The first time the log signs: register the keyring file's signing key, or create
    one wrapped by the active KEK. Two processes at once: one insert wins."""
    if get_provider().signing_key() is not None:
        row = WrappedKey(
            purpose=WrappedKey.Purpose.SIGNING, key_id="s1", state=WrappedKey.State.ACTIVE
        )
    else:
        kek_id, blob = wrap_new(WrappedKey.Purpose.SIGNING, "s1", secrets.token_bytes(SEED_BYTES))
        row = WrappedKey(
            purpose=WrappedKey.Purpose.SIGNING,
            key_id="s1",
            state=WrappedKey.State.ACTIVE,
            kek_id=kek_id,
            wrapped=blob,
        )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        pass  # another process registered it first; use theirs


def tree_head_signer() -> TreeHeadSigner:
    """The audit log's Ed25519 signer. Its seed never leaves key material: it is read
    from the keyring file or unwrapped by the KEK, and held only in this process."""
    row = WrappedKey.objects.filter(
        purpose=WrappedKey.Purpose.SIGNING, state=WrappedKey.State.ACTIVE
    ).first()
    if row is None:
        _register_signing_key()
        row = WrappedKey.objects.get(
            purpose=WrappedKey.Purpose.SIGNING, state=WrappedKey.State.ACTIVE
        )
    return TreeHeadSigner.from_seed(_unwrap(row))
