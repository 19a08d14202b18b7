"""The key lifecycle: add, rotate, retire, status. Each operation is an access event.

Rotation re-wraps data keys only: the survivor's DEK, and so every encrypted value, is
unchanged, which is what makes it fast and safe to run online. It works in batches, each
its own transaction with the rows locked, so that a crash loses at most one batch and a
re-run continues where it stopped (it selects only what is not yet under the active KEK),
and so that a survivor shredded meanwhile is never given their key back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Count, QuerySet

from access import keystore
from access.crypto import blind
from access.crypto.datakeys import WrappedDataKey, key_scope, rewrap_data_key
from access.crypto.errors import DataKeyDestroyed, KeyringUnavailable
from access.crypto.fields import EncryptedField, OwnKeyModel, Sealed, needs_reseal
from access.crypto.keyring import (
    LocalKeyringProvider,
    ManagedProvider,
    WithPreviousKeyring,
    get_provider,
    set_provider,
)
from access.models import User, WrappedKey
from audit.models import AccessEvent
from audit.services import event_record
from cases.models import BlindIndexEntry, Identity, Survivor
from cases.services import identities_index


def _managed() -> ManagedProvider:
    provider = get_provider()
    if not isinstance(provider, ManagedProvider):
        raise KeyringUnavailable("this key provider manages its keys itself (see its console)")
    return provider


@contextmanager
def previous_keyring(path: Path) -> Iterator[WithPreviousKeyring]:
    """For one command: data keys wrapped by the KEKs of the keyring file at ``path``
    are opened with it, and everything is wrapped again by the configured provider
    (``keys rotate --from-keyring``: the move from the file into a token)."""
    original = current = get_provider()
    if isinstance(current, WithPreviousKeyring):
        current = current.current
    if isinstance(current, LocalKeyringProvider) or not isinstance(current, ManagedProvider):
        raise KeyringUnavailable(
            "--from-keyring moves keys into another provider: set HAVEN_KEY_PROVIDER=pkcs11 "
            "and its settings first"
        )
    if not path.exists():
        raise KeyringUnavailable(f"no keyring file at {path}")
    both = WithPreviousKeyring(current, LocalKeyringProvider(path))
    set_provider(both)
    try:
        yield both
    finally:
        set_provider(original)


def trail_ready() -> bool:
    """Whether the database has its audit tables (``keys add`` may run before
    ``migrate`` on a first installation, when there is no trail to write to yet)."""
    return AccessEvent._meta.db_table in connection.introspection.table_names()


def keys_add(*, actor: User | None = None) -> tuple[str, bool]:
    """Add a KEK and make it active. Returns (its id, whether the event was recorded:
    not before ``migrate``, when the database has no trail yet)."""
    kek_id = _managed().add_kek()
    if not trail_ready():
        return kek_id, False
    event_record(actor=actor, action="key.add", detail={"kek": kek_id.lower()})
    return kek_id, True


@dataclass(frozen=True)
class KekStatus:
    kek_id: str
    active: bool
    in_keyring: bool
    data_keys: int
    stored_keys: int = 0


def keys_status() -> list[KekStatus]:
    provider = get_provider()
    active = provider.active_kek_id()
    counts = dict(
        Survivor.objects.filter(wrapped_dek__isnull=False)
        .values_list("kek_id")
        .annotate(n=Count("id"))
        .values_list("kek_id", "n")
    )
    stored = dict(
        WrappedKey.objects.filter(wrapped__isnull=False)
        .values_list("kek_id")
        .annotate(n=Count("id"))
        .values_list("kek_id", "n")
    )
    ids = sorted(set(provider.kek_ids()) | set(counts) | set(stored))
    return [
        KekStatus(
            kek_id=kid,
            active=kid == active,
            in_keyring=kid in provider.kek_ids(),
            data_keys=counts.get(kid, 0),
            stored_keys=stored.get(kid, 0),
        )
        for kid in ids
    ]


def _own_key_rows() -> list[QuerySet[Any]]:
    """The rows of every model that carries a data key of its own, wrapped by the KEK."""
    return [m._default_manager.all() for m in apps.get_models() if issubclass(m, OwnKeyModel)]


def survivors_to_index() -> int:
    """How many survivors a rebuild of the blind indexes goes through."""
    return Survivor.objects.filter(wrapped_dek__isnull=False).count()


def keys_pending_rotation() -> int:
    active = get_provider().active_kek_id()
    survivors = Survivor.objects.filter(wrapped_dek__isnull=False).exclude(kek_id=active)
    stored = WrappedKey.objects.filter(wrapped__isnull=False).exclude(kek_id=active)
    own: int = sum(rows.exclude(kek_id=active).count() for rows in _own_key_rows())
    return survivors.count() + stored.count() + own


def keys_rotate(
    *,
    actor: User | None = None,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-wrap every data key not under the active KEK, then the keys stored in the
    database (``access.keystore``). Returns how many data keys were re-wrapped."""
    active = get_provider().active_kek_id()
    done = 0
    last: uuid.UUID | None = None
    while True:
        with transaction.atomic():
            batch_query = (
                Survivor.objects.select_for_update()
                .filter(wrapped_dek__isnull=False)
                .exclude(kek_id=active)
                .order_by("id")
                .only("id", "kek_id", "dek_id", "wrapped_dek")
            )
            if last is not None:
                batch_query = batch_query.filter(id__gt=last)
            batch = list(batch_query[:batch_size])
            if not batch:
                break
            rows = []
            for survivor in batch:
                assert survivor.wrapped_dek is not None  # noqa: S101  (filtered above)
                rewrapped = rewrap_data_key(
                    survivor.id,
                    WrappedDataKey(
                        dek_id=survivor.dek_id,
                        kek_id=survivor.kek_id,
                        blob=bytes(survivor.wrapped_dek),
                    ),
                )
                rows.append((rewrapped.kek_id, rewrapped.blob, survivor.id))
            _write_wrapped_keys(Survivor, rows)
        done += len(batch)
        last = batch[-1].id
        if progress is not None:
            progress(len(batch))
    with transaction.atomic():
        stored = list(
            WrappedKey.objects.select_for_update()
            .filter(wrapped__isnull=False)
            .exclude(kek_id=active)
        )
        for row in stored:
            keystore.rewrap(row)
        own_keys = 0
        for own in _own_key_rows():
            for row in own.select_for_update().exclude(kek_id=active):
                rewrapped = rewrap_data_key(row.key_id(), row.wrapped())
                row.kek_id, row.wrapped_dek = rewrapped.kek_id, rewrapped.blob
                row.save(update_fields=["kek_id", "wrapped_dek"])
                own_keys += 1
    if progress is not None and (stored or own_keys):
        progress(len(stored) + own_keys)
    event_record(
        actor=actor, action="key.rotate", detail={"rewrapped": done, "stored_keys": len(stored)}
    )
    return done


def _write_wrapped_keys(survivor_model: Any, rows: list[tuple[str, bytes, uuid.UUID]]) -> None:
    """One prepared UPDATE run for every row of the batch (psycopg pipelines it).

    Django's ``bulk_update`` builds a CASE expression per row in Python, which made this
    the bottleneck of rotation; a plain parameterised statement is several times faster.
    """
    meta = survivor_model._meta
    table = connection.ops.quote_name(meta.db_table)
    kek, blob, pk = (
        connection.ops.quote_name(meta.get_field(name).column)
        for name in ("kek_id", "wrapped_dek", "id")
    )
    pk_field = meta.get_field("id")
    params = [
        (kek_id, blob, pk_field.get_db_prep_value(pk, connection)) for kek_id, blob, pk in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {kek} = %s, {blob} = %s WHERE {pk} = %s",  # noqa: S608
            params,
        )


def keys_retire(kek_id: str, *, actor: User | None = None) -> None:
    """Remove a KEK, refused while any data key is still wrapped by it."""
    in_use = (
        Survivor.objects.filter(kek_id=kek_id, wrapped_dek__isnull=False).count()
        + keystore.wrapped_under([kek_id])
        + sum(rows.filter(kek_id=kek_id).count() for rows in _own_key_rows())
    )
    if in_use:
        raise KeyringUnavailable(
            f"{in_use} data keys are still wrapped by {kek_id}; run 'keys rotate' first"
        )
    _managed().retire_kek(kek_id)
    event_record(actor=actor, action="key.retire", detail={"kek": kek_id.lower()})


def keys_reindex(
    *,
    new_index_key: bool,
    bits: int | None = None,
    actor: User | None = None,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Rebuild the blind indexes, under a new index key if asked, then switch over.

    With ``new_index_key`` (implied by ``bits`` different from the active key's): add a
    key, not yet active (new and corrected identities are indexed under both from now
    on), build every survivor's rows for it in batches, make it active, then delete the
    old key and its rows. Safe to re-run after a crash: each batch replaces its own
    rows, and a key left half-built is finished. Returns (index key id, survivors).
    """

    current = keystore.active_index_key()
    pending = [key for key in keystore.index_keys() if not key.active]
    if bits is not None:
        blind.check_bits(bits)
    if new_index_key or (bits is not None and bits != current.bits):
        target = keystore.add_index_key(bits=bits or current.bits).key_id
    elif pending:
        target = pending[-1].key_id  # a crashed earlier rebuild: finish it
    else:
        target = current.key_id
    done = 0
    last: uuid.UUID | None = None
    while True:
        with transaction.atomic():
            query = (
                Identity.objects.select_for_update(of=("self",))
                .select_related("survivor")
                .filter(survivor__wrapped_dek__isnull=False)
                .order_by("id")
            )
            if last is not None:
                query = query.filter(id__gt=last)
            batch = list(query[:batch_size])
            if not batch:
                break
            identities_index(batch, key_ids=[target])
        done += len(batch)
        last = batch[-1].id
        if progress is not None:
            progress(len(batch))
    if target != current.key_id:
        with transaction.atomic():
            dropped = keystore.switch_index_key(target)
            BlindIndexEntry.objects.filter(key_id__in=dropped).delete()
        provider = get_provider()
        for key_id in dropped:
            if key_id in provider.index_keys() and isinstance(provider, LocalKeyringProvider):
                provider.retire_index_key(key_id)
    event_record(
        actor=actor, action="key.reindex", detail={"index_key": target.lower(), "indexed": done}
    )
    return target, done


def _sealed_models() -> list[tuple[Any, list[EncryptedField]]]:
    """Every model with encrypted fields, with those fields."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if fields:
            found.append((model, fields))
    return found


def rows_to_reseal() -> int:
    """How many rows ``keys reseal`` goes through (every row with encrypted fields)."""
    return sum(model._base_manager.count() for model, _ in _sealed_models())


@dataclass
class ResealResult:
    rows: int = 0
    values: int = 0
    files: int = 0
    shredded: int = 0


def keys_reseal(
    *,
    actor: User | None = None,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ResealResult:
    """Seal every value still in format 1 (one HKDF subkey per field) again in format 2
    (the data key's one field key), in place: same key, same row, same version, so the
    record and its history are unchanged. Files kept outside the database (a model's
    ``reseal_content()``) are sealed again too.

    Batches of rows, each its own transaction with the rows locked, so an edit made
    meanwhile is never lost; safe to stop and run again (a value already in format 2 is
    left as it is). A shredded survivor's values stay as they are: nobody can open them.
    """
    result = ResealResult()
    for model, fields in _sealed_models():
        manager = model._base_manager
        last: Any = None
        while True:
            with transaction.atomic(), key_scope():
                query = manager.select_for_update(of=("self",)).order_by("pk")
                if last is not None:
                    query = query.filter(pk__gt=last)
                batch = list(query[:batch_size])
                if not batch:
                    break
                for row in batch:
                    _reseal_row(manager, row, fields, result)
            last = batch[-1].pk
            result.rows += len(batch)
            if progress is not None:
                progress(len(batch))
    event_record(
        actor=actor,
        action="key.reseal",
        detail={"values": result.values, "files": result.files, "shredded": result.shredded},
    )
    return result


def _reseal_row(manager: Any, row: Any, fields: list[EncryptedField], result: ResealResult) -> None:
    data = row.__dict__
    old = [
        f
        for f in fields
        if isinstance(data.get(f.attname), Sealed) and needs_reseal(data[f.attname])
    ]
    try:
        updates = {f.attname: f.seal(row, f.open(row, data[f.attname])) for f in old}
        resealed_file = bool(getattr(row, "reseal_content", lambda: False)())
    except DataKeyDestroyed:
        result.shredded += 1
        return
    if updates:
        manager.filter(pk=row.pk).update(**updates)
        result.values += len(updates)
    result.files += resealed_file


@dataclass(frozen=True)
class IndexStatus:
    key_id: str
    bits: int
    active: bool
    plan: blind.IndexPlan
    recommended: int


def index_status() -> list[IndexStatus]:
    """The index keys with what their truncation means for today's population."""
    population = max(Survivor.objects.filter(wrapped_dek__isnull=False).count(), 1)
    return [
        IndexStatus(
            key_id=key.key_id,
            bits=key.bits,
            active=key.active,
            plan=blind.IndexPlan(bits=key.bits, population=population),
            recommended=blind.recommended_bits(population),
        )
        for key in keystore.index_keys()
    ]
