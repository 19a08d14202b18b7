"""What keeping the KEKs in a PKCS#11 token costs, measured with SoftHSM2.

Two figures, each for the keyring file and for a SoftHSM2 token initialised here in a
temporary directory:

- **one data-key wrap and unwrap**: 2,000 DEKs of as many survivors, each wrapped, then
  each unwrapped, with the associated data of its place; median µs per call over rounds.
- **what the unwrap cache saves**: the peer benchmark's workload (rows of three 200-byte
  fields, consecutive rows of different survivors) read once inside a key scope, as
  every request and batch is (one unwrap per survivor), and once with no scope (one
  unwrap per row: each row's survivor object keeps its key for that row's fields only,
  which is what a design without the cache would pay). rows/s and how many unwraps
  each read made.

SoftHSM2 runs in-process and does its AES in software, so it is the floor of what a
token costs: a USB HSM adds a USB round trip (hundreds of µs) to every unwrap, and a
network HSM or cloud KMS a network one (about 1 ms), which is why a list page must not
unwrap per field. Imported after ``django.setup()``; needs Debian's ``softhsm2``.
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from access.crypto import hsm, keyring
from access.crypto.datakeys import key_scope
from access.crypto.fields import EncryptedModel, EncryptedTextField
from bench import peers, softhsm
from bench.references import distinct_references
from cases.models import Survivor

FIELD_BYTES = 200


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}", flush=True)


def _token() -> hsm.Pkcs11Provider:
    """A fresh SoftHSM2 token in a temporary directory, with one KEK made inside it."""
    if softhsm.installed() is None:
        raise SystemExit("the hsm benchmark needs SoftHSM2: apt-get install softhsm2")
    root = Path(tempfile.mkdtemp(prefix="haven-bench-hsm-"))
    made = softhsm.make_token(root, "haven-bench", uuid.uuid4().hex)
    token = hsm.Pkcs11Provider(made.module, made.label, made.pin)
    token.add_kek()
    return token


def _providers() -> dict[str, keyring.KeyProvider]:
    return {
        "keyring file": keyring.LocalKeyringProvider(Path(settings.HAVEN_KEYRING_FILE)),
        "SoftHSM2 token": _token(),
    }


def _per_call(calls: Callable[[], int], rounds: int) -> float:
    """Median µs per call over ``rounds`` timed runs."""
    figures = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        count = calls()
        figures.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(figures)


def unwrap_cost(provider: keyring.KeyProvider, keys: int, rounds: int) -> tuple[float, float]:
    """(µs per wrap, µs per unwrap) of data keys with the associated data of their place."""
    owners = [uuid.uuid4() for _ in range(keys)]
    secret = os.urandom(32)
    blobs: list[bytes] = []

    def wrap() -> int:
        blobs[:] = [provider.wrap(secret, aad=b"haven-dek-v1|" + o.bytes) for o in owners]
        return len(owners)

    def unwrap() -> int:
        for owner, blob in zip(owners, blobs, strict=True):
            if provider.unwrap(blob, aad=b"haven-dek-v1|" + owner.bytes) != secret:
                raise AssertionError("an unwrapped key differs")
        return len(owners)

    return _per_call(wrap, rounds), _per_call(unwrap, rounds)


def _table() -> type[models.Model]:
    """The peer benchmark's Haven table, under a name of its own."""
    return peers.table("hsm", EncryptedModel, EncryptedTextField)  # type: ignore[no-any-return]


def _seed(table: type[models.Model], rows: int, survivors: int) -> None:
    table._default_manager.all().delete()
    Survivor.objects.all().delete()
    references = distinct_references()
    owners = [Survivor.with_new_key(next(references)) for _ in range(survivors)]
    Survivor.objects.bulk_create(owners)
    text = ("x" * FIELD_BYTES,) * 3
    with key_scope(), transaction.atomic():
        table._default_manager.bulk_create(
            table(survivor=owners[i % survivors], n=i, a=text[0], b=text[1], c=text[2])
            for i in range(rows)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class _Counting:
    """A provider that counts its unwraps (and otherwise is the one it wraps)."""

    def __init__(self, inner: keyring.KeyProvider) -> None:
        self.inner = inner
        self.unwraps = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def unwrap(self, wrapped: bytes, *, aad: bytes) -> bytes:
        self.unwraps += 1
        return self.inner.unwrap(wrapped, aad=aad)


def _read(table: type[models.Model], scoped: bool) -> tuple[float, int]:
    scope: AbstractContextManager[Any] = key_scope() if scoped else nullcontext()
    gc.collect()
    start = time.perf_counter()
    count = 0
    with scope:
        rows: Iterator[Any] = (
            table._default_manager.select_related("survivor").order_by("n").iterator(2000)
        )
        for row in rows:
            if len(row.a) + len(row.b) + len(row.c) != 3 * FIELD_BYTES:
                raise AssertionError("a value did not round-trip")
            count += 1
    return time.perf_counter() - start, count


def measure(rows: int = 10_000, survivors: int = 2_000, rounds: int = 5) -> None:
    providers = _providers()
    _line("hsm: one data-key operation (median of rounds)", "µs wrap / unwrap")
    for name, provider in providers.items():
        wrap, unwrap = unwrap_cost(provider, survivors, rounds)
        _line(f"  {name}", f"{wrap:,.1f} / {unwrap:,.1f}")

    table = _table()
    with connection.schema_editor() as editor:
        editor.create_model(table)
    _line(
        f"hsm: read {rows:,} rows x 3 fields, {survivors:,} survivors",
        "rows/s (unwraps)",
        f"median of {rounds}",
    )
    for name, provider in providers.items():
        counting = _Counting(provider)
        keyring.set_provider(counting)
        try:
            _seed(table, rows, survivors)
            for scoped, label in (
                (True, "key scope: one unwrap per survivor"),
                (False, "no scope: one unwrap per row"),
            ):
                figures = []
                for _ in range(rounds if scoped else max(1, rounds // 2)):
                    counting.unwraps = 0
                    elapsed, count = _read(table, scoped)
                    if count != rows:
                        raise AssertionError(f"read {count} of {rows} rows")
                    figures.append(rows / elapsed)
                _line(
                    f"  {name}, {label}",
                    f"{statistics.median(figures):,.0f} ({counting.unwraps:,})",
                )
        finally:
            keyring.set_provider(None)
    with connection.schema_editor() as editor:
        editor.delete_model(table)
