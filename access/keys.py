"""The key lifecycle: add, rotate, retire, status. Each operation is an access event.

Rotation re-wraps data keys only: the survivor's DEK, and so every encrypted value, is
unchanged, which is what makes it fast and safe to run online. It works in batches, each
its own transaction with the rows locked, so that a crash loses at most one batch and a
re-run continues where it stopped (it selects only what is not yet under the active KEK),
and so that a survivor shredded meanwhile is never given their key back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count

from access.crypto.datakeys import WrappedDataKey, rewrap_data_key
from access.crypto.errors import KeyringUnavailable
from access.crypto.keyring import LocalKeyringProvider, get_provider
from access.models import User
from audit.services import event_record


def _local() -> LocalKeyringProvider:
    provider = get_provider()
    if not isinstance(provider, LocalKeyringProvider):
        raise KeyringUnavailable("this key provider manages its keys itself (see its console)")
    return provider


def keys_add(*, actor: User | None = None) -> str:
    kek_id = _local().add_kek()
    event_record(actor=actor, action="key.add", detail={"kek": kek_id.lower()})
    return kek_id


@dataclass(frozen=True)
class KekStatus:
    kek_id: str
    active: bool
    in_keyring: bool
    data_keys: int


def keys_status() -> list[KekStatus]:
    from cases.models import Survivor

    provider = get_provider()
    active = provider.active_kek_id()
    counts = dict(
        Survivor.objects.filter(wrapped_dek__isnull=False)
        .values_list("kek_id")
        .annotate(n=Count("id"))
        .values_list("kek_id", "n")
    )
    ids = sorted(set(provider.kek_ids()) | set(counts))
    return [
        KekStatus(
            kek_id=kid,
            active=kid == active,
            in_keyring=kid in provider.kek_ids(),
            data_keys=counts.get(kid, 0),
        )
        for kid in ids
    ]


def keys_pending_rotation() -> int:
    from cases.models import Survivor

    active = get_provider().active_kek_id()
    return Survivor.objects.filter(wrapped_dek__isnull=False).exclude(kek_id=active).count()


def keys_rotate(
    *,
    actor: User | None = None,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-wrap every data key not under the active KEK. Returns how many were re-wrapped."""
    from cases.models import Survivor

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
    event_record(actor=actor, action="key.rotate", detail={"rewrapped": done})
    return done


def _write_wrapped_keys(survivor_model: Any, rows: list[tuple[str, bytes, uuid.UUID]]) -> None:
    """One prepared UPDATE run for every row of the batch (psycopg pipelines it).

    Django's ``bulk_update`` builds a CASE expression per row in Python, which made this
    the bottleneck of rotation; a plain parameterised statement is several times faster.
    """
    from django.db import connection

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
    from cases.models import Survivor

    in_use = Survivor.objects.filter(kek_id=kek_id, wrapped_dek__isnull=False).count()
    if in_use:
        raise KeyringUnavailable(
            f"{in_use} data keys are still wrapped by {kek_id}; run 'keys rotate' first"
        )
    _local().retire_kek(kek_id)
    event_record(actor=actor, action="key.retire", detail={"kek": kek_id.lower()})


def keys_reindex(
    *,
    new_index_key: bool,
    actor: User | None = None,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Rebuild the blind indexes, under a new index key if asked, then switch over.

    With ``new_index_key``: add the key (not yet active; new and corrected identities are
    indexed under both from now on), build every survivor's rows for it in batches, make
    it active, then delete the old rows and retire the old key. Safe to re-run after a
    crash: each batch replaces its own rows. Returns (index key id, survivors indexed).
    """
    from cases.models import Identity
    from cases.services import identities_index

    provider = _local()
    old = provider.active_index_key_id()
    target = provider.add_index_key() if new_index_key else old
    if not new_index_key:
        # A crashed earlier rotation may have left a non-active key: finish with it.
        pending = sorted(set(provider.index_keys()) - {old})
        target = pending[-1] if pending else old
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
    if target != old:
        from cases.models import BlindIndexEntry

        provider.activate_index_key(target)
        BlindIndexEntry.objects.exclude(key_id=target).delete()
        provider.retire_index_key(old)
    event_record(
        actor=actor, action="key.reindex", detail={"index_key": target.lower(), "indexed": done}
    )
    return target, done
