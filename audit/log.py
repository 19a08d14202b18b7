"""The audit log: access events and change-log entries as leaves of one Merkle tree
(RFC 9162), with signed tree heads, inclusion and consistency proofs, and the check.

Writing is cheap and takes no shared lock: a request inserts its event and a row in the
queue (``PendingLeaf``) in its own transaction, one statement on PostgreSQL. The
sequencer (``sequence``) empties the queue in the order it finds it, gives each record
the next leaf index, stores the perfect subtrees the new leaves complete, and signs a
tree head covering them, all in one transaction. Sequencer runs serialise on a
PostgreSQL advisory lock that only they take, so several app servers can each run one.

A leaf is rebuilt from the stored record whenever it is checked::

    leaf bytes = "haven-leaf:v1\\n{kind}\\n{ref_id}\\n" + canonical JSON of the record

so an edited record no longer matches its leaf, and a leaf recomputed to match changes
the root, which only the holder of the signing key can sign (``verify``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import json.encoder as json_encoder
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from auditlog.models import LogEntry
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from audit import merkle
from audit.models import AccessEvent, LogLeaf, LogNode, PendingLeaf, TreeHead

HEAD_PREFIX = "haven-tree-head:v1"
LEAF_PREFIX = b"haven-leaf:v1\n"

EVENT_FIELDS = (
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "case_reference",
    "outcome",
    "reason",
    "ip",
    "user_agent",
    "request_id",
    "detail",
)
CHANGE_FIELDS = (
    "timestamp",
    "content_type_id",
    "object_pk",
    "object_id",
    "object_repr",
    "action",
    "changes",
    "actor_id",
    "remote_addr",
    "cid",
)

# Sent after a transaction that queued leaves commits: a sequencer may want to run.
leaves_queued = Signal()

# Any constant identifies the sequencer's lock; only ``sequence`` takes it.
SEQUENCER_LOCK = 0x48415653  # "HAVS"


class Signer(Protocol):
    """The tree-head signing key, held by the key provider (access.ledger)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...

    def public_key(self) -> Ed25519PublicKey: ...


# --- leaves ------------------------------------------------------------------------------

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _one_shot_encoder() -> Callable[[Any], str]:
    """The canonical JSON of a leaf: ``_CANONICAL.encode``, with the C encoder made once
    instead of once per call (``encode`` builds a new one each time, a third of the
    cost of a leaf). The records are flat lists and dicts of strings, numbers and None,
    never circular, so the circular-reference check is left out; the bytes are the
    same (a test compares them)."""
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return _CANONICAL.encode
    chunks = make(
        None,
        _CANONICAL.default,
        json_encoder.encode_basestring,
        None,
        _CANONICAL.key_separator,
        _CANONICAL.item_separator,
        True,
        False,
        True,
    )
    return lambda value: "".join(chunks(value, 0))


_dumps = _one_shot_encoder()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, str | int | float | bool | dict | list) or value is None:
        return value
    return str(value)


def parse_time(value: Any) -> Any:
    """A raw cursor gives SQLite's times as text (naive, UTC)."""
    if isinstance(value, str):
        at = dt.datetime.fromisoformat(value)
        return at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return value


def leaf_bytes(kind: str, ref_id: int, values: Sequence[Any]) -> bytes:
    """The bytes a leaf hashes: kind, id and the record's stored values. An event's time
    is its UTC ``isoformat()``; PostgreSQL can give that text already (``AT_UTC_ISO``)."""
    body: Sequence[Any] = values  # a tuple is written as the same JSON array as a list
    if kind != "event":
        body = [_plain(v) for v in values]
    elif not isinstance(values[0], str):
        body = [values[0].astimezone(dt.UTC).isoformat(), *values[1:]]
    return b"%s%s\n%d\n%s" % (LEAF_PREFIX, kind.encode(), ref_id, _dumps(body).encode("utf-8"))


# An event's time as Python's ``datetime.astimezone(UTC).isoformat()`` writes it (no
# fraction when the microseconds are 0), made by PostgreSQL: parsing each timestamp in
# Python and formatting it again was the largest part of sequencing and verification.
AT_UTC_ISO = (
    "to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
    "CASE WHEN date_part('microseconds', e.at)::bigint %% 1000000 <> 0 "
    "THEN to_char(e.at AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00'"
)
EVENT_COLUMNS_SQL = ", ".join(
    [AT_UTC_ISO, *(f"e.{name}" for name in EVENT_FIELDS[1:-1]), "e.detail::text"]
)


def detail_value(value: Any) -> Any:
    if value == "{}":
        return {}
    return json.loads(value) if isinstance(value, str) else value


def _event_rows(ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    ids = list(ids)
    if not ids:
        return {}
    if connection.vendor != "postgresql":
        rows = AccessEvent.objects.filter(pk__in=ids).values_list("id", *EVENT_FIELDS)
        return {row[0]: row[1:] for row in rows}
    low, high = min(ids), max(ids)
    with connection.cursor() as cursor:
        if high - low < 4 * len(ids):
            # The queue's ids are nearly consecutive: one range of the key's index, which
            # the partitions of other months answer with one descent each (an id list
            # costs one descent per id in every partition).
            cursor.execute(_EVENTS_BETWEEN, [low, high])
            wanted = set(ids)
            fetched = [row for row in cursor.fetchall() if row[0] in wanted]
        else:
            cursor.execute(_EVENTS_LISTED, [ids])
            fetched = cursor.fetchall()
        return {row[0]: (*row[1:-1], detail_value(row[-1])) for row in fetched}


_EVENTS_BETWEEN = (
    f"SELECT e.id, {EVENT_COLUMNS_SQL} FROM audit_accessevent e WHERE e.id BETWEEN %s AND %s"  # noqa: S608
)
_EVENTS_LISTED = (
    f"SELECT e.id, {EVENT_COLUMNS_SQL} FROM audit_accessevent e WHERE e.id = ANY(%s::bigint[])"  # noqa: S608
)


def change_rows(ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    rows = LogEntry.objects.filter(pk__in=list(ids)).values_list("id", *CHANGE_FIELDS)
    return {row[0]: row[1:] for row in rows}


def _records(leaves: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[Any, ...]]:
    """The stored values of these records, by (kind, id): events and change-log
    entries, one query each."""
    leaves = list(leaves)
    events = _event_rows(ref_id for kind, ref_id in leaves if kind == "event")
    changes = change_rows(ref_id for kind, ref_id in leaves if kind == "change")
    return {
        **{("event", ref_id): values for ref_id, values in events.items()},
        **{("change", ref_id): values for ref_id, values in changes.items()},
    }


# --- writing: no lock anyone waits for ---------------------------------------------------

_PG_APPEND = (  # column names are constants of this module; values are parameters
    "WITH e AS (INSERT INTO audit_accessevent ("  # noqa: S608
    + ", ".join(EVENT_FIELDS)
    + ") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s, %s::jsonb) RETURNING id) "
    "INSERT INTO audit_pendingleaf (kind, ref_id) SELECT 'event', id FROM e RETURNING ref_id"
)


def _queued() -> None:
    transaction.on_commit(lambda: leaves_queued.send(sender=PendingLeaf), robust=True)


def append_event(event: AccessEvent) -> AccessEvent:
    """Insert an access event and queue it for the log, in the caller's transaction.
    On PostgreSQL one statement and one round trip."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            event.save(force_insert=True)
            PendingLeaf.objects.create(kind="event", ref_id=event.pk)
    else:
        values = [getattr(event, name) for name in EVENT_FIELDS]
        with connection.cursor() as cursor:
            cursor.execute(_PG_APPEND, [*values[:-1], json.dumps(values[-1])])
            (event_id,) = cursor.fetchone()
        event.pk = event_id
        event._state.adding = False
        event._state.db = connection.alias
    _queued()
    return event


def append_events(events: Sequence[AccessEvent]) -> list[AccessEvent]:
    """Insert many access events and queue them, in the caller's transaction: two
    multi-row inserts (a purge run ends many records at once)."""
    if not events:
        return []
    with transaction.atomic():  # PostgreSQL and SQLite both return the new ids
        created = AccessEvent.objects.bulk_create(events)
        PendingLeaf.objects.bulk_create(
            [PendingLeaf(kind="event", ref_id=event.pk) for event in created]
        )
    _queued()
    return list(created)


def append_change(entry_id: int) -> None:
    """Queue a django-auditlog entry, in the transaction that wrote it."""
    PendingLeaf.objects.create(kind="change", ref_id=entry_id)
    _queued()


# --- the tree as stored ------------------------------------------------------------------


def tree_size() -> int:
    last = LogLeaf.objects.order_by("-index").values_list("index", flat=True).first()
    return 0 if last is None else last + 1


def _fetch(nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored hashes of these perfect subtrees (leaves are level 0)."""
    nodes = set(nodes)
    leaves = [index for level, index in nodes if level == 0]
    inner = [(level, index) for level, index in nodes if level > 0]
    found: dict[merkle.Node, bytes] = {}
    if leaves:
        for index, value in LogLeaf.objects.filter(index__in=leaves).values_list("index", "hash"):
            found[(0, index)] = bytes(value)
    if inner:
        rows = ", ".join(["(%s, %s)"] * len(inner))
        sql = (
            'SELECT level, "index", hash FROM audit_lognode '  # noqa: S608
            f'WHERE (level, "index") IN (VALUES {rows})'
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for node in inner for value in node])
            for level, index, value in cursor.fetchall():
                found[(level, index)] = bytes(value)
    missing = nodes - set(found)
    if missing:
        raise LogDamaged(f"{len(missing)} stored tree nodes are missing, e.g. {min(missing)}")
    return found


class LogDamaged(Exception):
    """The stored tree is not whole: a proof or root cannot be formed from it."""


def root_at(size: int) -> bytes:
    nodes = merkle.perfect_nodes(0, size)
    stored = _fetch(nodes)
    return merkle.fold([stored[node] for node in nodes])


def inclusion_proof(index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, audit path) of leaf ``index`` in the tree of ``size`` leaves."""
    ranges = merkle.inclusion_ranges(index, size)
    stored = _fetch(merkle.nodes_for(ranges) | {(0, index)})
    return stored[(0, index)], merkle.range_hashes(ranges, stored)


def consistency_proof(first: int, second: int) -> list[bytes]:
    ranges = merkle.consistency_ranges(first, second)
    return merkle.range_hashes(ranges, _fetch(merkle.nodes_for(ranges)))


def leaf_of(kind: str, ref_id: int) -> int | None:
    return LogLeaf.objects.filter(kind=kind, ref_id=ref_id).values_list("index", flat=True).first()


def leaf_record(index: int) -> bytes | None:
    """The leaf bytes of leaf ``index``, rebuilt from its record (None if it is gone)."""
    leaf = LogLeaf.objects.filter(index=index).values_list("kind", "ref_id").first()
    if leaf is None:
        return None
    kind, ref_id = leaf
    values = _records([leaf]).get(leaf)
    return None if values is None else leaf_bytes(kind, ref_id, values)


@dataclass(frozen=True)
class LeafRecord:
    """A sequenced leaf with the record it stands for (for forwarding)."""

    index: int
    kind: str  # "event" or "change"
    ref_id: int
    hash: bytes
    fields: dict[str, Any]


def leaf_records(start: int, limit: int) -> list[LeafRecord]:
    """Up to ``limit`` sequenced leaves from ``start``, in log order, with their records.
    A leaf whose record is gone raises ``LogDamaged``: nothing is sent as if whole."""
    leaves = list(
        LogLeaf.objects.filter(index__gte=start)
        .order_by("index")
        .values_list("index", "kind", "ref_id", "hash")[:limit]
    )
    records = _records((kind, ref_id) for _, kind, ref_id, _ in leaves)
    out = []
    for index, kind, ref_id, hashed in leaves:
        names = EVENT_FIELDS if kind == "event" else CHANGE_FIELDS
        values = records.get((kind, ref_id))
        if values is None:
            raise LogDamaged(f"leaf {index} ({kind} #{ref_id}) has no record")
        out.append(
            LeafRecord(index, kind, ref_id, bytes(hashed), dict(zip(names, values, strict=True)))
        )
    return out


# --- signed heads --------------------------------------------------------------------------


def head_message(size: int, root_hex: str, timestamp: str) -> bytes:
    return f"{HEAD_PREFIX}\n{size}\n{root_hex}\n{timestamp}\n".encode()


def now_timestamp() -> str:
    return timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_head(signer: Signer, size: int, root: bytes) -> TreeHead:
    timestamp = now_timestamp()
    signature = signer.sign(head_message(size, root.hex(), timestamp))
    head = TreeHead(
        size=size,
        root_hash=root.hex(),
        timestamp=timestamp,
        key_id=signer.key_id,
        signature=base64.b64encode(signature).decode(),
    )
    head.save(force_insert=True)
    return head


def latest_head() -> TreeHead | None:
    return TreeHead.objects.order_by("-size", "-id").first()


def head_of_size(signer: Signer, size: int) -> TreeHead:
    """The newest signed head of exactly ``size`` leaves; for a size no run stopped at,
    a head signed now for the root the log had at that size."""
    head = TreeHead.objects.filter(size=size).order_by("-id").first()
    return head if head is not None else sign_head(signer, size, root_at(size))


# --- the sequencer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sequenced:
    added: int
    size: int
    head: TreeHead | None
    skipped: bool = False  # another sequencer held the lock


def _lock(cursor: Any, *, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the write transaction (BEGIN IMMEDIATE) is exclusive
    if wait:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
        return True
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
    return bool(cursor.fetchone()[0])


def _store(leaves: list[tuple[int, str, int, bytes]], nodes: list[tuple[int, int, bytes]]) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy('COPY audit_logleaf ("index", kind, ref_id, hash) FROM STDIN') as copy:
                for row in leaves:
                    copy.write_row(row)
            with raw.copy('COPY audit_lognode (level, "index", hash) FROM STDIN') as copy:
                for node in nodes:
                    copy.write_row(node)
        return
    LogLeaf.objects.bulk_create(
        [LogLeaf(index=i, kind=k, ref_id=r, hash=h) for i, k, r, h in leaves], batch_size=2000
    )
    LogNode.objects.bulk_create(
        [LogNode(level=lv, index=i, hash=h) for lv, i, h in nodes], batch_size=2000
    )


def _dequeue(ids: list[int]) -> None:
    """Remove these rows from the queue: by id, never by range (a writer may yet commit
    a lower id than those seen here). One array parameter on PostgreSQL, not one
    placeholder per row."""
    if connection.vendor != "postgresql":
        PendingLeaf.objects.filter(pk__in=ids).delete()
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_pendingleaf WHERE id = ANY(%s::bigint[])", [ids])


_ROLL_UP = (
    "INSERT INTO audit_eventday (day, action, outcome, events) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (day, action, outcome) DO UPDATE SET events = audit_eventday.events + EXCLUDED.events"
)


def _roll_up(events: dict[int, tuple[Any, ...]]) -> None:
    """Add the events being sequenced to the daily rollup (``EventDay``), in the same
    transaction: a day in the organisation's time zone, by action and outcome. Counted
    from the values the sequencer has just read, so the events are not read twice."""
    if not events:
        return
    zone = ZoneInfo(settings.TIME_ZONE)
    days: Counter[tuple[dt.date, str, str]] = Counter()
    local_day: dict[str, dt.date] = {}  # by UTC minute: every zone's offset is whole minutes
    for values in events.values():
        at = values[0] if isinstance(values[0], str) else values[0].astimezone(dt.UTC).isoformat()
        minute = at[:16]
        day = local_day.get(minute)
        if day is None:
            moment = dt.datetime.fromisoformat(minute).replace(tzinfo=dt.UTC)
            day = local_day[minute] = moment.astimezone(zone).date()
        days[(day, values[4], values[6])] += 1
    with connection.cursor() as cursor:
        cursor.executemany(_ROLL_UP, [(*key, count) for key, count in days.items()])


def _sequence_batch(signer: Signer, batch: int, *, wait: bool) -> Sequenced:
    with transaction.atomic(), connection.cursor() as cursor:
        if not _lock(cursor, wait=wait):
            return Sequenced(0, -1, None, skipped=True)
        pending = list(
            PendingLeaf.objects.order_by("id").values_list("id", "kind", "ref_id")[:batch]
        )
        size = tree_size()
        if not pending:
            return Sequenced(0, size, None)
        records = _records((kind, ref_id) for _, kind, ref_id in pending)
        nodes = merkle.Frontier.nodes(size)
        stored = _fetch(nodes)
        frontier = merkle.Frontier(size, [(level, stored[(level, i)]) for level, i in nodes])
        leaves: list[tuple[int, str, int, bytes]] = []
        completed: list[tuple[int, int, bytes]] = []
        sha256 = hashlib.sha256
        for _, kind, ref_id in pending:
            values = records.get((kind, ref_id))
            if values is None:
                raise LogDamaged(f"queued {kind} #{ref_id} has no record: it was deleted")
            hashed = sha256(b"\x00" + leaf_bytes(kind, ref_id, values)).digest()
            leaves.append((frontier.size, kind, ref_id, hashed))
            frontier.append(hashed, completed)
        _store(leaves, completed)
        _roll_up({ref_id: v for (kind, ref_id), v in records.items() if kind == "event"})
        _dequeue([row[0] for row in pending])
        head = sign_head(signer, frontier.size, frontier.root())
        return Sequenced(len(leaves), frontier.size, head)


def sequence(
    signer: Signer,
    *,
    batch: int = 20_000,
    wait: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Sequenced:
    """Put every queued record into the log, one transaction and one signed head per
    batch. ``wait=False`` returns at once when another sequencer is running."""
    added, result = 0, Sequenced(0, tree_size(), None)
    while True:
        step = _sequence_batch(signer, batch, wait=wait)
        if step.skipped:
            return step if not added else Sequenced(added, result.size, result.head)
        if not step.added:
            return Sequenced(added, step.size, result.head)
        added += step.added
        result = step
        if progress is not None:
            progress(step.added)


def pending_count() -> int:
    return PendingLeaf.objects.count()
