"""Haven's field layer beside the encrypted-field libraries a team would otherwise pick.

The workload of issue 16: rows of three 200-byte text fields, owned by many survivors
and read in insertion order, so that consecutive rows belong to different survivors
(a caseworker's list, an export, a search result), never one hot key in a loop. Every
contender has the same table shape (a foreign key to the survivor and three text
columns), is created with ``save()`` in transactions of 1,000 rows and read with the
same query (``select_related("survivor")``, ``iterator()``), touching every field. The
contenders take turns within each round, in an order that rotates, and the figures
are medians over the rounds. The peers are pinned in ``requirements-bench.txt`` and
installed by ``make bench-peers``; the app never depends on them.

Haven reads and creates inside ``key_scope()``, as every request and batch does: the
scope is what a request pays for, so leaving it out would measure nothing real.

Imported after ``django.setup()``.
"""

from __future__ import annotations

import base64
import gc
import os
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, models, transaction

from access.crypto.datakeys import (
    DataKey,
    WrappedDataKey,
    current_scope,
    key_scope,
    unwrap_data_key,
)
from access.crypto.fields import (
    EncryptedModel,
    EncryptedTextField,
    aad_prefix,
    open_value,
    row_place,
)
from access.crypto.keyring import checked_once
from bench.references import distinct_references
from cases.models import Survivor

FIELD_BYTES = 200
BATCH = 1000


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}", flush=True)


def _configure_peers() -> None:
    """The settings each peer reads, as its README asks (fresh random keys)."""
    settings.SALT_KEY = base64.b64encode(os.urandom(16)).decode()  # fernet-encrypted-fields
    settings.FIELD_ENCRYPTION_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.CRYPTOGRAPHY_KEY = None  # django-cryptography derives it from SECRET_KEY


def table(name: str, base: type[models.Model], text: Callable[[], models.Field[Any, Any]]) -> Any:
    """A contender's table: a row id known before the insert (Haven binds each value to
    it), the row number the reads follow, the survivor, and three text fields."""
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "id": models.UUIDField(primary_key=True, default=uuid.uuid4),
        "n": models.IntegerField(db_index=True),
        "survivor": models.ForeignKey(
            Survivor, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
        ),
        "a": text(),
        "b": text(),
        "c": text(),
        "Meta": type("Meta", (), {"app_label": "cases", "db_table": f"bench_peer_{name}"}),
        "__str__": lambda self: f"{name} {self.pk}",
    }
    if issubclass(base, EncryptedModel):
        attrs["data_key"] = lambda self: self.survivor.data_key()
    return type(f"Peer{name.title()}", (base,), attrs)


def _models() -> dict[str, type[models.Model]]:
    """The five tables. The peers are imported here, after ``_configure_peers``: some
    read their key settings when imported."""
    try:
        from django_cryptography.fields import encrypt
        from encrypted_fields.fields import EncryptedTextField as FernetText
        from encrypted_model_fields.fields import EncryptedTextField as EmfText
    except ImportError as exc:  # the peers are not a dependency of the app
        raise SystemExit(
            f"the peer benchmark needs requirements-bench.txt: make bench-peers ({exc})"
        ) from exc

    return {
        "plain ORM": table("plain", models.Model, lambda: models.TextField()),
        "django-fernet-encrypted-fields": table("fernet", models.Model, FernetText),
        "django-encrypted-model-fields": table("emf", models.Model, EmfText),
        "django-cryptography-django5": table(
            "cryptography", models.Model, lambda: encrypt(models.TextField())
        ),
        "Haven field layer": table("haven", EncryptedModel, EncryptedTextField),
    }


def _scope(name: str) -> AbstractContextManager[Any]:
    return key_scope() if name == "Haven field layer" else nullcontext()


def _text(i: int, which: str) -> str:
    return (f"{which}{i:08d} " * (FIELD_BYTES // 10))[:FIELD_BYTES]


def _seed_survivors(total: int) -> list[Survivor]:
    references = distinct_references()
    survivors: list[Survivor] = []
    for offset in range(0, total, 5000):
        chunk = [Survivor.with_new_key(next(references)) for _ in range(min(5000, total - offset))]
        Survivor.objects.bulk_create(chunk)
        survivors += chunk
    return survivors


def _create(model: type[models.Model], name: str, survivor_ids: list[Any], rows: int) -> float:
    """``rows`` rows by ``save()``, survivor after survivor in turn, in transactions of
    1,000; the survivors are read fresh (keys unwrapped as a request would)."""
    start = time.perf_counter()
    with _scope(name):
        owners = {s.pk: s for s in Survivor.objects.filter(pk__in=set(survivor_ids))}
        for offset in range(0, rows, BATCH):
            with transaction.atomic():
                for i in range(offset, min(rows, offset + BATCH)):
                    owner = owners[survivor_ids[i % len(survivor_ids)]]
                    model(
                        survivor=owner, n=i, a=_text(i, "a"), b=_text(i, "b"), c=_text(i, "c")
                    ).save()
    return time.perf_counter() - start


def _bulk_create(model: type[models.Model], name: str, survivors: list[Survivor]) -> None:
    with _scope(name):
        for offset in range(0, len(survivors), 5000):
            model._default_manager.bulk_create(
                model(survivor=s, n=i, a=_text(i, "a"), b=_text(i, "b"), c=_text(i, "c"))
                for i, s in enumerate(survivors[offset : offset + 5000], offset)
            )


def _rows(model: type[models.Model]) -> Iterator[Any]:
    """The read every contender makes: every row with its survivor, in insertion order."""
    return model._default_manager.select_related("survivor").order_by("n").iterator(chunk_size=2000)


def _read(model: type[models.Model], name: str) -> tuple[float, int]:
    """Every row, in insertion order, every field touched; nothing kept."""
    start = time.perf_counter()
    count = 0
    with _scope(name):
        for row in _rows(model):
            if len(row.a) + len(row.b) + len(row.c) != 3 * FIELD_BYTES:
                raise AssertionError(f"{name}: a value did not round-trip")
            count += 1
    return time.perf_counter() - start, count


def _rotated(names: list[str], round_number: int) -> list[str]:
    shift = round_number % len(names)
    return names[shift:] + names[:shift]


@dataclass
class Figures:
    create: dict[str, list[float]]
    read: dict[str, list[float]]

    def median(self, which: dict[str, list[float]], name: str) -> float:
        return statistics.median(which[name])


def measure(
    rows: int = 10_000, survivors: int = 2_000, rounds: int = 5, scale: int = 100_000
) -> None:
    _configure_peers()
    tables = _models()
    names = list(tables)
    with connection.schema_editor() as editor:
        for model in tables.values():
            editor.create_model(model)
    owners = _seed_survivors(survivors)
    ids = [s.pk for s in owners]
    figures = Figures(create={n: [] for n in names}, read={n: [] for n in names})
    for round_number in range(rounds):
        for name in _rotated(names, round_number):
            tables[name]._default_manager.all().delete()
            gc.collect()
            figures.create[name].append(rows / _create(tables[name], name, ids, rows))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        for name in _rotated(names, round_number):
            gc.collect()
            elapsed, count = _read(tables[name], name)
            if count != rows:
                raise AssertionError(f"{name}: read {count} of {rows} rows")
            figures.read[name].append(rows / elapsed)
    best_peer = _report(figures, names, rows, survivors, rounds)
    timings = _breakdown(tables["plain ORM"], tables["Haven field layer"], rows, rounds)
    _floor(tables["Haven field layer"], timings, best_peer, rows, rounds)
    _line(f"peers: one read of {rows:,} rows, {survivors:,} survivors", "rows/s, peak MiB")
    for name in names:
        _traced_read(tables[name], name)
    _memory(tables, names, scale)


def _report(
    figures: Figures, names: list[str], rows: int, survivors: int, rounds: int
) -> tuple[str, float]:
    """Prints the medians; returns the best peer's read (its name, rows/s)."""
    plain = "plain ORM"
    peers = [n for n in names if n not in (plain, "Haven field layer")]
    _line(
        f"peers: {rows:,} rows x 3 fields of {FIELD_BYTES} B, {survivors:,} survivors",
        f"median of {rounds}",
    )
    for kind, which in (("read", figures.read), ("create", figures.create)):
        base = figures.median(which, plain)
        for name in names:
            value = figures.median(which, name)
            _line(f"  {kind}: {name}", f"{value:,.0f} rows/s", f"{value / base:.1%} of plain")
        best = max(peers, key=lambda n: figures.median(which, n))
        haven = figures.median(which, "Haven field layer")
        target = ">= 2x" if kind == "read" else ">= 1x"
        _line(
            f"  {kind}: Haven / best peer ({best})",
            f"{haven / figures.median(which, best):.2f}x",
            f"target {target}",
        )
    best = max(peers, key=lambda n: figures.median(figures.read, n))
    return best, figures.median(figures.read, best)


@dataclass(frozen=True)
class Timings:
    """Medians, in seconds for the whole read, of ``_breakdown``'s steps that the floor
    builds on: the plain read, Haven's read of every field, and the fetch of the three
    columns alone."""

    plain: float
    haven: float
    text: float
    sealed: float
    sealed_binary: float


def _timed(steps: list[Callable[[], None]], rounds: int) -> list[float]:
    """Median seconds of each step, the steps taking turns within each round."""
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for step, took in zip(steps, times, strict=True):
            gc.collect()
            start = time.perf_counter()
            step()
            took.append(time.perf_counter() - start)
    return [statistics.median(took) for took in times]


def _breakdown(
    plain: type[models.Model], haven: type[models.Model], rows: int, rounds: int
) -> Timings:
    """Where a Haven row's time goes: the same read stopped after each step, in µs a
    row over the plain read (medians of ``rounds``), and the bare fetch of the three
    columns through the driver (bytea travels as hex in Django's text protocol, and
    as its bytes in binary results)."""

    def read_plain() -> None:
        total = sum(len(row.a) + len(row.b) + len(row.c) for row in _rows(plain))
        if total != 3 * FIELD_BYTES * rows:
            raise AssertionError("plain: a value did not round-trip")

    def haven_until(step: int) -> Callable[[], None]:
        def read() -> None:
            total = 0
            with key_scope():
                for row in _rows(haven):
                    if step >= 1:
                        row.survivor.data_key()
                    if step >= 2:
                        total += len(row.a)
                    if step >= 3:
                        total += len(row.b) + len(row.c)
            if total != FIELD_BYTES * rows * (0, 0, 1, 3)[step]:  # fields read a row
                raise AssertionError("Haven: a value did not round-trip")

        return read

    def fetch(table: str, *, binary: bool = False) -> Callable[[], None]:
        """The three columns through Django's cursor (client-side binding: text
        results), or through a plain psycopg cursor asking for binary results, which
        Django's backend cannot (a bytea then travels as its bytes, not as hex)."""
        query = f"SELECT a, b, c FROM {table} ORDER BY n"  # noqa: S608

        def read() -> None:
            if binary:
                connection.ensure_connection()
                with psycopg.Cursor(connection.connection) as raw:
                    raw.execute(query, binary=True)
                    fetched = raw.fetchall()
            else:
                with connection.cursor() as cursor:
                    cursor.execute(query)
                    fetched = cursor.fetchall()
            if len(fetched) != rows:
                raise AssertionError(f"{table}: fetched {len(fetched)} of {rows} rows")

        return read

    labels = (
        "  Haven: rows loaded, no field read (bytea columns)",
        "  Haven: + each row's survivor key (unwrapped once per survivor)",
        "  Haven: + the first field",
        "  Haven: + the other two fields",
    )
    steps = [read_plain, *(haven_until(step) for step in range(len(labels)))]
    steps += [
        fetch(plain._meta.db_table),
        fetch(haven._meta.db_table),
        fetch(haven._meta.db_table, binary=True),
    ]
    base, *haven_steps, text, sealed, sealed_binary = _timed(steps, max(rounds, 7))
    _line("peers: where Haven's read time goes", "us/row")
    _line("  plain ORM read, every field", f"{base / rows * 1e6:.2f}")
    previous = base
    for label, took in zip(labels, haven_steps, strict=True):
        _line(label, f"{(took - previous) / rows * 1e6:+.2f}")
        previous = took
    _line("  Haven over plain, in all", f"{(previous - base) / rows * 1e6:+.2f}")
    _line("  fetch of the 3 columns alone: text (plain)", f"{text / rows * 1e6:.2f}")
    _line("  fetch of the 3 columns alone: bytea (Haven)", f"{sealed / rows * 1e6:.2f}")
    _line(
        "  fetch of the 3 columns alone: bytea, binary results",
        f"{sealed_binary / rows * 1e6:.2f}",
    )
    return Timings(
        plain=base, haven=previous, text=text, sealed=sealed, sealed_binary=sealed_binary
    )


def _floor(
    haven: type[models.Model],
    timings: Timings,
    best_peer: tuple[str, float],
    rows: int,
    rounds: int,
) -> None:
    """The floor of Haven's read: what a row costs over the plain read with nothing of
    Haven's but its cryptography and the ``bytea`` wire format, and so the fastest read
    that any change to the rest of Haven (the descriptor, the row's place, the key
    scope, unpadding, decoding) could reach on this machine, against the best peer.
    Every security property stays in it: one key per survivor under the KEK, every
    value authenticated and bound to its place.

    Measured on the stored rows and wrapped keys themselves, through ``access.crypto``
    (the one place that holds key material) at its lowest level: each survivor's key
    unwrapped by the KEK provider and its field key derived, with no key scope
    (``unwrap_data_key``); each value opened under it (``open_value``: the header's
    check and one AES-GCM decryption), its associated data worked out beforehand. And
    the fetch of the three columns as ``bytea`` less the same fetch as text
    (``_breakdown``), or with binary results."""
    if current_scope() is not None:
        raise AssertionError("floor: a key scope would hold the keys it must unwrap")
    stored = list(
        haven._default_manager.order_by("n").values_list(
            "id",
            "a",
            "b",
            "c",
            "survivor_id",
            "survivor__dek_id",
            "survivor__kek_id",
            "survivor__wrapped_dek",
        )
    )
    owners = {
        owner: WrappedDataKey(dek_id=dek_id, kek_id=kek_id, blob=bytes(blob))
        for *_, owner, dek_id, kek_id, blob in stored
    }
    keys: dict[Any, DataKey] = {}

    def unwrap() -> None:
        with checked_once():  # the keyring looked at once, as in a request
            for owner, wrapped in owners.items():
                keys[owner] = unwrap_data_key(owner, wrapped)

    unwrap()
    label = haven._meta.label_lower
    values = [
        (keys[owner], f"{label}.{name}", blob, aad_prefix(f"{label}.{name}") + row_place(row, None))
        for row, a, b, c, owner, *_ in stored
        for name, blob in (("a", a), ("b", b), ("c", c))
    ]

    def decrypt() -> None:
        opened = 0
        for key, field, blob, aad in values:
            opened += len(open_value(key, field, blob, aad))
        if opened < 3 * FIELD_BYTES * rows:
            raise AssertionError("floor: a value did not open")

    opens, unwraps = (took / rows * 1e6 for took in _timed([decrypt, unwrap], max(rounds, 7)))
    plain, text = timings.plain / rows * 1e6, timings.text / rows * 1e6
    wire = timings.sealed / rows * 1e6 - text
    wire_binary = max(0.0, timings.sealed_binary / rows * 1e6 - text)
    best_name, best_rate = best_peer
    _line("peers: the floor, access.crypto's opens and unwraps, the wire", "us/row")
    _line("  3 values opened (open_value: header, AES-GCM)", f"{opens:.2f}")
    _line(f"  {len(owners):,} survivor keys: KEK unwrap, HKDF, cipher", f"{unwraps:.2f}")
    _line("  bytea's extra wire cost (bytea as hex - text)", f"{wire:.2f}")
    for results, extra in (("text results", wire), ("binary results", wire_binary)):
        ceiling = 1e6 / (plain + opens + unwraps + extra)
        _line(
            f"  plain read + the floor ({results})",
            f"{ceiling:,.0f} rows/s",
            f"{ceiling / best_rate:.2f}x the best peer ({best_name})",
        )
    rest = timings.haven / rows * 1e6 - plain - (opens + unwraps + wire)
    _line("  the rest of Haven's read now (its Python)", f"{rest:.2f}")
    for results, extra in (("text results", wire), ("binary results", wire_binary)):
        budget = 1e6 / (2 * best_rate) - plain - (opens + unwraps + extra)
        _line(f"  left for the rest at 2x the best peer ({results})", f"{budget:.2f}")


def _memory(tables: dict[str, type[models.Model]], names: list[str], scale: int) -> None:
    """Peak Python memory of one read of ``scale`` rows, one per survivor, against the
    same read of 2,000: a key cache that grew with the survivors would show here."""
    Survivor.objects.all().delete()
    for model in tables.values():
        model._default_manager.all().delete()
    owners = _seed_survivors(scale)
    for name in names:
        _bulk_create(tables[name], name, owners)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _line(f"peers: one read of {scale:,} rows, one survivor each", "rows/s, peak MiB")
    for name in names:
        _traced_read(tables[name], name)


def _traced_read(model: type[models.Model], name: str) -> None:
    gc.collect()
    elapsed, count = _read(model, name)  # rows/s without tracing
    gc.collect()
    tracemalloc.start()
    _read(model, name)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    _line(f"  {name}", f"{count / elapsed:,.0f}/s {peak / 2**20:.1f} MiB")
