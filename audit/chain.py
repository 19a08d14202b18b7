"""The hash chain: one sequence over access events and change-log entries.

Appends are serialised in the database, so the chain is consistent with several app
servers: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by its single
writer. The head is the newest link itself, read after taking the lock; there is no
separate head row that could be deleted or rewritten. Each record is hashed from a
canonical form of its stored values; the same function builds that form when writing and
when verifying, from the same tuple of values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from auditlog.models import LogEntry
from django.core import signing
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AccessEvent, ChainLink

GENESIS = "0" * 64

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


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict | list):
        return value
    return str(value)


def canonical(values: Sequence[Any]) -> bytes:
    return json.dumps(
        [_plain(v) for v in values], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _event_canonical(values: Sequence[Any]) -> bytes:
    """``canonical`` for an access event, without the per-value type dispatch: the
    first value is the time, the rest are text, numbers, None and the detail dict.
    (verify_audit hashes millions of these.)"""
    return _dumps([values[0].astimezone(dt.UTC).isoformat(), *values[1:]]).encode("utf-8")


def link_hash(prev_hash: str, kind: str, ref_id: int, values: Sequence[Any]) -> str:
    digest = hashlib.sha256(f"{prev_hash}|{kind}|{ref_id}|".encode())
    digest.update(_event_canonical(values) if kind == "event" else canonical(values))
    return digest.hexdigest()


# Any constant identifies the chain's lock; only this module takes it.
CHAIN_LOCK_KEY = 0x48415645  # "HAVE"
_PG_LOCK = (
    "SELECT pg_advisory_xact_lock(%s), nextval(pg_get_serial_sequence('audit_accessevent', 'id'))"
)
_HEAD = "SELECT seq, hash FROM audit_chainlink ORDER BY seq DESC LIMIT 1"


def _lock_chain(cursor: Any) -> None:
    """Serialise appends until the caller's transaction ends. On SQLite the write
    transaction (BEGIN IMMEDIATE, see settings) is already exclusive."""
    if cursor.db.vendor == "postgresql":
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def _newest_link(cursor: Any) -> tuple[int, str]:
    """(seq, hash) of the newest link, or the genesis. Read after the lock, in a new
    statement, so that it sees every append committed before the lock was granted."""
    cursor.execute(_HEAD)
    row = cursor.fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append(kind: str, ref_id: int, values: Sequence[Any]) -> ChainLink:
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_chain(cursor)
        head_seq, prev = _newest_link(cursor)
        link = ChainLink(
            seq=head_seq + 1,
            kind=kind,
            ref_id=ref_id,
            prev_hash=prev,
            hash=link_hash(prev, kind, ref_id, values),
        )
        link.save(force_insert=True)
        return link


_PG_APPEND = (  # column names are constants of this module; values are parameters
    "WITH e AS (INSERT INTO audit_accessevent (id, "  # noqa: S608
    + ", ".join(EVENT_FIELDS)
    + ") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s, %s::jsonb)) "
    "INSERT INTO audit_chainlink (seq, kind, ref_id, prev_hash, hash) "
    "VALUES (%s, 'event', %s, %s, %s)"
)


def append_event(event: AccessEvent) -> AccessEvent:
    """Insert an access event and its link in the caller's transaction.

    On PostgreSQL: three round trips (take the lock and draw the id; read the newest
    link; one statement for both inserts), because every read of case content pays for
    this. Elsewhere: the same steps through the ORM.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            event.save(force_insert=True)
            append("event", event.pk, event_values(event))
        return event
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_PG_LOCK, [CHAIN_LOCK_KEY])
        (_, event_id) = cursor.fetchone()
        head_seq, prev = _newest_link(cursor)
        values = event_values(event)
        new_hash = link_hash(prev, "event", event_id, values)
        cursor.execute(
            _PG_APPEND,
            [event_id, *values[:-1], json.dumps(values[-1])]
            + [head_seq + 1, event_id, prev, new_hash],
        )
    event.pk = event_id
    event._state.adding = False
    event._state.db = connection.alias
    return event


_PG_IDS = (
    "SELECT nextval(pg_get_serial_sequence('audit_accessevent', 'id')) FROM generate_series(1, %s)"
)


def append_events(events: Sequence[AccessEvent]) -> list[AccessEvent]:
    """Insert many access events and their links in the caller's transaction, under one
    lock: one head read, two multi-row inserts. For work that ends many records at once
    (a purge run), where one append per record would cost a round trip each."""
    if not events:
        return []
    if connection.vendor != "postgresql":
        return [append_event(event) for event in events]
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_chain(cursor)
        cursor.execute(_PG_IDS, [len(events)])
        ids = sorted(int(row[0]) for row in cursor.fetchall())
        head_seq, prev = _newest_link(cursor)
        links = []
        for offset, (event, event_id) in enumerate(zip(events, ids, strict=True)):
            event.pk = event_id
            new_hash = link_hash(prev, "event", event_id, event_values(event))
            links.append(
                ChainLink(
                    seq=head_seq + 1 + offset,
                    kind="event",
                    ref_id=event_id,
                    prev_hash=prev,
                    hash=new_hash,
                )
            )
            prev = new_hash
        AccessEvent.objects.bulk_create(events)
        ChainLink.objects.bulk_create(links)
    return list(events)


def event_values(event: AccessEvent) -> tuple[Any, ...]:
    return tuple(getattr(event, name) for name in EVENT_FIELDS)


def change_values(entry: Any) -> tuple[Any, ...]:
    return tuple(getattr(entry, name) for name in CHANGE_FIELDS)


@dataclass(frozen=True)
class Verdict:
    intact: bool
    checked: int
    first_broken: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.intact:
            return f"audit chain intact: {self.checked} entries verified"
        return f"audit chain BROKEN at link #{self.first_broken}: {self.problem}"


def _change_values(ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    rows = LogEntry.objects.filter(pk__in=list(ids)).values_list("id", *CHANGE_FIELDS)
    return {row[0]: row[1:] for row in rows}


_EVENT_COLUMNS = ", ".join(f"e.{name}" for name in EVENT_FIELDS)


def _parse_time(text: str) -> dt.datetime:
    """A raw cursor gives SQLite's times as text (naive, UTC)."""
    at = dt.datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def verify(batch: int = 20_000, progress: Callable[[int], None] | None = None) -> Verdict:
    """Walk the chain in order and recompute every hash. The first broken link is the
    earliest alteration, deletion or reordering."""
    prev, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    sql = (
        f"SELECT l.seq, l.kind, l.ref_id, l.prev_hash, l.hash, e.id, {_EVENT_COLUMNS} "  # noqa: S608
        "FROM audit_chainlink l LEFT JOIN audit_accessevent e "
        "ON l.kind = 'event' AND e.id = l.ref_id "
        "WHERE l.seq > %s ORDER BY l.seq LIMIT %s"
    )
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last_seq, batch])
            rows = cursor.fetchall()
        if not rows:
            break
        changes = _change_values([r[2] for r in rows if r[1] == "change"])
        sha256, dumps, utc = hashlib.sha256, _dumps, dt.UTC
        for row in rows:
            seq, kind, ref_id, prev_hash, stored_hash, found_id = row[:6]
            if seq != expected_seq:
                return Verdict(False, checked, expected_seq, "link missing (deleted)")
            if prev_hash != prev:
                return Verdict(False, checked, seq, "does not follow its predecessor (reordered)")
            if kind == "event" and found_id is not None:
                # The hot path (millions of events): link_hash and _event_canonical inlined.
                at, detail = row[6], row[-1]
                if isinstance(at, str):
                    at = _parse_time(at)
                if isinstance(detail, str):  # raw cursors give JSON as text
                    detail = json.loads(detail)
                digest = sha256(f"{prev}|event|{ref_id}|".encode())
                digest.update(
                    dumps([at.astimezone(utc).isoformat(), *row[7:-1], detail]).encode("utf-8")
                )
                actual = digest.hexdigest()
            else:
                values = changes.get(ref_id) if kind == "change" else None
                if values is None:
                    return Verdict(False, checked, seq, f"{kind} #{ref_id} is missing (deleted)")
                actual = link_hash(prev, kind, ref_id, values)
            if actual != stored_hash:
                return Verdict(False, checked, seq, f"{kind} #{ref_id} was altered")
            prev, expected_seq, checked = stored_hash, seq + 1, checked + 1
        last_seq = rows[-1][0]
        if progress is not None:
            progress(len(rows))
    unchained = (
        AccessEvent.objects.count()
        - ChainLink.objects.filter(kind="event").count()
        + LogEntry.objects.count()
        - ChainLink.objects.filter(kind="change").count()
    )
    if unchained:
        return Verdict(False, checked, expected_seq, f"{unchained} records are not in the chain")
    return Verdict(True, checked)


def total_links() -> int:
    return ChainLink.objects.count()


CHECKPOINT_SALT = "haven.audit.checkpoint"


def checkpoint() -> str:
    """A signed statement of the chain head, to keep off the server (printed, e-mailed
    to the DPO, stored by a notary). Truncating the newest entries cannot be hidden from
    a checkpoint taken before it."""
    head = ChainLink.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS)
    return signing.dumps(
        {"seq": head[0], "hash": head[1], "at": timezone.now().isoformat()},
        salt=CHECKPOINT_SALT,
    )


def verify_checkpoint(token: str) -> Verdict:
    try:
        point = signing.loads(token, salt=CHECKPOINT_SALT)
    except signing.BadSignature:
        return Verdict(False, 0, None, "the checkpoint's signature is not valid")
    link = ChainLink.objects.filter(seq=point["seq"]).values_list("hash", flat=True).first()
    if point["seq"] == 0:
        return Verdict(True, 0)
    if link is None:
        return Verdict(False, 0, point["seq"], "entries up to the checkpoint are missing")
    if link != point["hash"]:
        return Verdict(False, 0, point["seq"], "the chain differs from the checkpoint")
    return Verdict(True, point["seq"])
