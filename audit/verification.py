"""The check of the whole audit log: rebuild every leaf from its stored record, every
stored node from the leaves, every tree head's root, and compare them with what is
stored, signed, and kept elsewhere.

The log is read in blocks of ``BLOCK`` leaves that start at a multiple of ``BLOCK``, so
each full block is one perfect subtree: its levels are hashed a whole list at a time and
compared with the stored nodes level by level, and only the block's root goes into the
frontier of the tree above it. On PostgreSQL a reader thread fetches the next block
(leaves, events by id range, nodes) on the same connection while this thread hashes the
current one: the database's work runs on one core and the hashing on the other.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditlog.models import LogEntry
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection

from audit import merkle
from audit.log import (
    AT_UTC_ISO,
    EVENT_COLUMNS_SQL,
    EVENT_FIELDS,
    change_rows,
    detail_value,
    head_message,
    leaf_bytes,
    parse_time,
    pending_count,
)
from audit.models import AccessEvent, LogLeaf, TreeHead

LEVELS = 14
BLOCK = 1 << LEVELS  # leaves per block: one perfect subtree of level LEVELS
CHECK_LOCK = 0x48415643  # "HAVC": one scheduled check at a time, whatever the processes


@contextlib.contextmanager
def exclusive() -> Iterator[bool]:
    """Whether this process may run the scheduled check now: a PostgreSQL session lock
    that another process holding it makes this one skip (SQLite: always)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [CHECK_LOCK])
        mine = bool(cursor.fetchone()[0])
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [CHECK_LOCK])


@dataclass(frozen=True)
class Resume:
    """Where an incremental check starts: a block boundary and the tree's right edge
    there (the perfect subtrees of the leaves before it, largest first, as
    ``(level, hash)``), as the check before it rebuilt them."""

    at: int
    frontier: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True)
class Verdict:
    intact: bool
    checked: int
    first_broken: int | None = None  # the broken leaf's position, counting from 1
    problem: str = ""
    size: int = 0
    signed_size: int = 0
    pending: int = 0
    start: int = 0  # the first leaf this check rebuilt (0: a full check)
    resume: Resume | None = None  # where the next incremental check can start

    @property
    def first_broken_leaf(self) -> int | None:
        return None if self.first_broken is None else self.first_broken - 1

    def describe(self) -> str:
        if self.intact:
            return (
                f"audit log intact: {self.checked} leaves verified, signed tree head of "
                f"size {self.signed_size}, {self.pending} records waiting to be sequenced"
            )
        where = "" if self.first_broken is None else f" at leaf {self.first_broken - 1}"
        return f"audit log BROKEN{where}: {self.problem}"


@dataclass(frozen=True)
class SavedHead:
    """A head kept outside the server (a file the DPO downloaded)."""

    size: int
    root_hash: str
    timestamp: str
    signature: str


class Broken(Exception):
    """Raised inside the check with the verdict it ends on."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.problem)
        self.verdict = verdict


def _verify_signature(head: TreeHead | SavedHead, public_key: Ed25519PublicKey) -> bool:
    try:
        signature = base64.b64decode(head.signature, validate=True)
        public_key.verify(signature, head_message(head.size, head.root_hash, head.timestamp))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


# --- reading the log in blocks ------------------------------------------------------------


@dataclass
class _Block:
    start: int
    leaves: list[tuple[int, str, int, bytes]]  # index, kind, record id, stored leaf hash
    # event id -> its leaf hash as PostgreSQL rebuilt it (None: rebuild it here)
    hashed: dict[int, bytes | None] = field(default_factory=dict)
    # event id -> the values its leaf hashes, for the events rebuilt here
    events: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    nodes: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)  # level -> nodes


_LEAVES_SQL = (
    'SELECT "index", kind, ref_id, hash FROM audit_logleaf '
    'WHERE "index" >= %s AND "index" < %s ORDER BY "index"'
)
_NODES_SQL = (
    'SELECT "index", hash FROM audit_lognode WHERE level = %s '
    'AND "index" >= %s AND "index" < %s ORDER BY "index"'
)
_PG_EVENTS_BY_ID = (
    f"SELECT e.id, {EVENT_COLUMNS_SQL} FROM audit_accessevent e WHERE e.id = ANY(%s::bigint[])"  # noqa: S608
)
_SQLITE_EVENTS_BY_RANGE = (
    f"SELECT e.id, {', '.join('e.' + name for name in EVENT_FIELDS)} "  # noqa: S608
    "FROM audit_accessevent e WHERE e.id BETWEEN %s AND %s"
)


def _json_text(column: str) -> str:
    return f"COALESCE(pg_catalog.to_json({column})::text, 'null')"


# An event's leaf hash, rebuilt by PostgreSQL for the events without detail (nearly all):
# the same bytes as ``log.leaf_bytes`` (to_json escapes a string exactly as Python's
# json does with ensure_ascii=False; abbrev() is inet's own text form). Functions are
# named with their schema so that nothing planted in another schema stands in for them.
# Any leaf this does not confirm is rebuilt in Python before it is called altered, so a
# difference between the two never raises a false alarm.
_EVENT_LEAF_SQL = (
    "CASE WHEN e.detail = '{}'::jsonb THEN pg_catalog.sha256('\\x00'::bytea || "
    "pg_catalog.convert_to('haven-leaf:v1' || chr(10) || 'event' || chr(10) || e.id::text "
    "|| chr(10) || '[' || "
    + " || ',' || ".join(
        [
            _json_text(f"({AT_UTC_ISO})"),
            "COALESCE(e.actor_id::text, 'null')",
            *(
                _json_text(f"e.{name}")
                for name in ("actor_username", "actor_role", "action", "case_reference")
            ),
            *(_json_text(f"e.{name}") for name in ("outcome", "reason")),
            _json_text("pg_catalog.abbrev(e.ip)"),
            _json_text("e.user_agent"),
            _json_text("e.request_id"),
        ]
    )
    + " || ',{}]', 'UTF8')) END"
)
_PG_EVENT_HASHES = (
    f"SELECT e.id, {_EVENT_LEAF_SQL} FROM audit_accessevent e WHERE e.id BETWEEN %s AND %s"  # noqa: S608
)


def _event_values(cursor: Any, ids: list[int], is_postgresql: bool) -> dict[int, tuple[Any, ...]]:
    """The stored values of these events, for rebuilding their leaves in Python."""
    if not ids:
        return {}
    wanted = set(ids)
    if is_postgresql:
        cursor.execute(_PG_EVENTS_BY_ID, [sorted(wanted)])
    else:  # SQLite (a demo database): one range, what is not wanted is skipped
        cursor.execute(_SQLITE_EVENTS_BY_RANGE, [min(ids), max(ids)])
    out = {}
    for row in cursor.fetchall():
        if row[0] in wanted:
            at = row[1] if is_postgresql else parse_time(row[1])
            out[row[0]] = (at, *row[2:-1], detail_value(row[-1]))
    return out


# Rebuilding the hashes is the database's largest work: PostgreSQL shares each block's
# range among its parallel workers for that one query (the small queries around it are
# faster without workers), then the settings go back to what they were.
_PARALLEL = ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_index_scan_size")
_SET_PARALLEL = "SELECT " + ", ".join(
    f"pg_catalog.set_config('{name}', %s, false)" for name in _PARALLEL
)


def _event_hashes(cursor: Any, ids: list[int]) -> dict[int, bytes | None]:
    """PostgreSQL's rebuilt leaf hashes of a block's events. Events are sequenced nearly
    in id order, so their ids make a dense range, read by one scan of the primary key;
    a sparse set (events that waited long in the queue) is left to Python."""
    low, high = min(ids), max(ids)
    if high - low >= 2 * len(ids):
        return {}
    cursor.execute(
        "SELECT " + ", ".join(f"pg_catalog.current_setting('{name}')" for name in _PARALLEL)
    )
    settings = list(cursor.fetchone())
    cursor.execute(_SET_PARALLEL, ["0"] * len(_PARALLEL))
    try:
        cursor.execute(_PG_EVENT_HASHES, [low, high])
        return dict(cursor.fetchall())
    finally:
        cursor.execute(_SET_PARALLEL, settings)


def _read_blocks(
    cursor_of: Callable[[], Any],
    in_database: bool,
    stop: threading.Event,
    *,
    first: int = 0,
    step: int = 1,
) -> Generator[_Block]:
    """The log in blocks (block ``first``, then every ``step``-th): leaves, the events'
    leaf hashes rebuilt by PostgreSQL when ``in_database`` (else every event's values),
    and the stored nodes. It ends at the first block without leaves."""
    is_postgresql = connection.vendor == "postgresql"
    start = first * BLOCK
    while not stop.is_set():
        with cursor_of() as cursor:
            cursor.execute(_LEAVES_SQL, [start, start + BLOCK])
            block = _Block(start, cursor.fetchall())
            if not block.leaves:
                return
            ids = [ref for _, kind, ref, _ in block.leaves if kind == "event"]
            if in_database and ids:
                block.hashed = _event_hashes(cursor, ids)
                hashed = block.hashed
                ids = [
                    ref
                    for _, kind, ref, stored in block.leaves
                    if kind == "event" and hashed.get(ref) != stored
                ]
            block.events = _event_values(cursor, ids, is_postgresql)
            end = start + len(block.leaves)
            for level in range(1, end.bit_length()):
                low, high = start >> level, end >> level
                if low < high:
                    cursor.execute(_NODES_SQL, [level, low, high])
                    block.nodes[level] = cursor.fetchall()
        yield block
        start += step * BLOCK


class _ReadAhead:
    """Runs a producer in a thread, at most two items ahead of the consumer. Closing it
    stops the producer and waits for it, so the connection is free again afterwards."""

    def __init__(self, produce: Callable[[threading.Event], Generator[_Block]]) -> None:
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name="haven-audit-verify-reader", daemon=True
        )
        self._thread.start()

    def _offer(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _run(self, produce: Callable[[threading.Event], Generator[_Block]]) -> None:
        try:  # closing: the producer's own clean-up runs here, before close() returns
            with contextlib.closing(produce(self._stop)) as blocks:
                for block in blocks:
                    if not self._offer(("block", block)):
                        return
            self._offer(("end", None))
        except BaseException as error:  # handed to the consumer, raised there
            self._offer(("error", error))

    def __iter__(self) -> Iterator[_Block]:
        while True:
            what, item = self._items.get()
            if what == "end":
                return
            if what == "error":
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _blocks(in_python: bool, first: int) -> tuple[Iterator[_Block], Callable[[], None]]:
    """The blocks in order, and what to call when done. On PostgreSQL readers fetch
    ahead in threads: one on the psycopg connection itself (thread-safe; Django's
    wrapper is per thread), so it reads inside this thread's transaction if there is
    one; outside a transaction (the command, the scheduled check) a second reader on a
    connection of its own takes every other block, so the database works on two blocks
    at once. Both see the same committed, append-only log."""
    if connection.vendor != "postgresql":
        return (
            _read_blocks(connection.cursor, False, threading.Event(), first=first),
            lambda: None,
        )
    connection.ensure_connection()
    sources = [connection.connection]
    if not connection.in_atomic_block:
        extra = connection.get_new_connection(connection.get_connection_params())
        extra.autocommit = True
        sources.append(extra)

    def reader(number: int, source: Any) -> _ReadAhead:
        def produce(stop: threading.Event) -> Generator[_Block]:
            return _read_blocks(
                source.cursor, not in_python, stop, first=first + number, step=len(sources)
            )

        return _ReadAhead(produce)

    readers = [reader(number, source) for number, source in enumerate(sources)]

    def in_turn() -> Iterator[_Block]:
        turns = [iter(reader) for reader in readers]
        while True:
            for turn in turns:
                block = next(turn, None)
                if block is None:
                    return
                yield block

    def close() -> None:
        for reader in readers:
            reader.close()
        for source in sources[1:]:
            source.close()

    return in_turn(), close


# --- checking a block ---------------------------------------------------------------------


def _first_difference(stored: list[tuple[int, bytes]], low: int, computed: list[bytes]) -> int:
    for offset, value in enumerate(computed):
        if offset >= len(stored) or stored[offset] != (low + offset, value):
            return low + offset
    return low + len(computed)


class _Tree:
    """The right edge of the tree being rebuilt: the full blocks' roots in a frontier of
    levels LEVELS and up, and the levels of the block being checked."""

    def __init__(self) -> None:
        self.outer = merkle.Frontier()
        self.levels: list[list[bytes]] = [[]]

    def root(self, inner: int) -> bytes:
        """The root of the tree made of the full blocks and ``inner`` leaves of the
        current block."""
        hashes = [value for _, value in self.outer.stack]
        consumed = 0
        for level in range(LEVELS, -1, -1):
            if inner & (1 << level):
                hashes.append(self.levels[level][consumed >> level])
                consumed += 1 << level
        return merkle.fold(hashes)


def _leaf_hashes(block: _Block, position: int) -> list[bytes]:
    change_ids = [ref for _, kind, ref, _ in block.leaves if kind == "change"]
    changes = change_rows(change_ids) if change_ids else {}
    hashed, events = block.hashed, block.events
    sha256 = hashlib.sha256
    hashes = []
    for offset, (index, kind, ref_id, stored) in enumerate(block.leaves):
        at = position + offset
        if index != at:
            raise Broken(Verdict(False, at, at + 1, "leaf missing (deleted)"))
        if kind == "event" and hashed.get(ref_id) == stored:
            hashes.append(stored)
            continue
        values = events.get(ref_id) if kind == "event" else changes.get(ref_id)
        if values is None:
            raise Broken(Verdict(False, at, at + 1, f"{kind} #{ref_id} is missing (deleted)"))
        actual = sha256(b"\x00" + leaf_bytes(kind, ref_id, values)).digest()
        if actual != stored:
            raise Broken(Verdict(False, at, at + 1, f"{kind} #{ref_id} was altered"))
        hashes.append(actual)
    return hashes


def _node_mismatch(position: int, level: int, index: int) -> Broken:
    return Broken(
        Verdict(
            False,
            position,
            position + 1,
            f"stored tree node {level}/{index} does not match the leaves",
        )
    )


def _check_block(tree: _Tree, block: _Block, position: int) -> None:
    """Rebuild the block's leaves and levels and compare them with the stored ones
    (the nodes inside the block)."""
    hashes = _leaf_hashes(block, position)
    tree.levels = [hashes]
    sha256 = hashlib.sha256
    for level in range(1, LEVELS + 1):
        below = tree.levels[-1]
        if len(below) < 2:
            break
        computed = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(below[::2], below[1::2], strict=False)
        ]
        low = block.start >> level
        stored = block.nodes.get(level, [])
        if [(low + offset, value) for offset, value in enumerate(computed)] != stored:
            raise _node_mismatch(position, level, _first_difference(stored, low, computed))
        tree.levels.append(computed)


def _close_block(tree: _Tree, block: _Block, position: int) -> None:
    """A full block's root joins the tree above; the nodes it completes there must be
    the stored ones. After the last, short block no node above may exist yet."""
    if len(block.leaves) == BLOCK:
        completed: list[tuple[int, int, bytes]] = []
        tree.outer.append(tree.levels[LEVELS][0], completed)
        for level, index, value in completed:
            stored = block.nodes.get(level + LEVELS, [])
            if stored != [(index, value)]:
                raise _node_mismatch(position, level + LEVELS, index)
    else:  # the last block: no node above its levels may exist yet
        for level, stored in block.nodes.items():
            if level > LEVELS and stored:
                raise _node_mismatch(position, level, stored[0][0])


# --- the whole check ----------------------------------------------------------------------


def _heads_checked(
    public_key: Ed25519PublicKey, heads: Sequence[TreeHead], saved: Sequence[SavedHead]
) -> dict[int, list[tuple[str, str]]]:
    for head in heads:
        if not _verify_signature(head, public_key):
            raise Broken(
                Verdict(
                    False,
                    0,
                    None,
                    f"the tree head of size {head.size} is not signed "
                    "by the audit key (forged or altered)",
                )
            )
    for point in saved:
        if not _verify_signature(point, public_key):
            raise Broken(
                Verdict(
                    False,
                    0,
                    None,
                    f"the saved head of size {point.size} is not signed by the audit key",
                )
            )
    checks: dict[int, list[tuple[str, str]]] = {}
    for head in heads:
        checks.setdefault(head.size, []).append((head.root_hash, "stored"))
    for point in saved:
        checks.setdefault(point.size, []).append((point.root_hash, "saved"))
    return checks


def _check_roots(
    tree: _Tree, checks: dict[int, list[tuple[str, str]]], start: int, count: int
) -> None:
    """Every head (stored or saved) of a size ending in this block matches the root."""
    for size in sorted(size for size in checks if start < size <= start + count):
        root = tree.root(size - start).hex()
        for root_hex, where in checks[size]:
            if root != root_hex:
                raise Broken(
                    Verdict(
                        False,
                        size,
                        None,
                        f"the log differs from the {where} signed head of size {size}: "
                        "history was rewritten",
                    )
                )


def _accounted(position: int, signed: int, pending: int) -> Verdict:
    sequenced_events = LogLeaf.objects.filter(kind="event").count()
    unaccounted = (
        AccessEvent.objects.count()
        - sequenced_events
        + LogEntry.objects.count()
        - (position - sequenced_events)
        - pending
    )
    if unaccounted:
        return Verdict(
            False,
            position,
            None,
            f"{unaccounted} records are neither in the log nor waiting for it",
            size=position,
            signed_size=signed,
            pending=pending,
        )
    return Verdict(True, position, size=position, signed_size=signed, pending=pending)


def verify(
    public_key: Ed25519PublicKey,
    *,
    saved: Sequence[SavedHead] = (),
    progress: Callable[[int], None] | None = None,
    in_python: bool = False,
    resume: Resume | None = None,
    account: bool = True,
) -> Verdict:
    """Rebuild the tree from the records and check it against everything stored and
    signed: every leaf against its record, every stored node, every tree head's root
    and signature, and each head saved elsewhere (a forged history that is consistent
    with itself still differs from a head the DPO kept).

    On PostgreSQL the database rebuilds the leaves of events without detail, and this
    process checks them and rebuilds the rest; ``in_python`` rebuilds every leaf here,
    trusting nothing of the database but the stored values (three times slower).

    ``resume`` starts at a point an earlier check reached (incremental): only the
    leaves and heads after it are checked, and the records are not counted
    (``account``), which needs a scan of every table."""
    start = 0
    if resume is not None and resume.at % BLOCK == 0:
        start = resume.at
    heads = list(TreeHead.objects.filter(size__gt=start).order_by("size", "id"))
    try:
        checks = _heads_checked(public_key, heads, saved)
    except Broken as broken:
        return broken.verdict
    tree = _Tree()
    if start and resume is not None:
        tree.outer = merkle.Frontier(
            start // BLOCK, [(level - LEVELS, value) for level, value in resume.frontier]
        )
    position = start
    blocks, close = _blocks(in_python, start // BLOCK)
    try:
        for block in blocks:
            if block.start != position:  # the block before was short: leaves are missing
                return Verdict(False, position, position + 1, "leaf missing (deleted)")
            _check_block(tree, block, position)
            _check_roots(tree, checks, position, len(block.leaves))
            _close_block(tree, block, position)
            position += len(block.leaves)
            if progress is not None:
                progress(len(block.leaves))
    except Broken as broken:
        return broken.verdict
    finally:
        close()
    beyond = [size for size in checks if size > position]
    if beyond:
        return Verdict(
            False,
            position,
            None,
            f"a signed head of size {max(beyond)} is larger than the log ({position}): "
            "leaves were removed",
        )
    newest = TreeHead.objects.order_by("-size", "-id").values_list("size", flat=True).first()
    signed = newest or 0
    if signed != position:
        return Verdict(
            False,
            position,
            None,
            f"leaves {signed} to {position - 1} are not covered by a signed head",
        )
    pending = pending_count()
    verdict = (
        _accounted(position, signed, pending)
        if account
        else Verdict(True, position, size=position, signed_size=signed, pending=pending)
    )
    return dataclasses.replace(
        verdict,
        start=start,
        resume=Resume(
            tree.outer.size * BLOCK,
            tuple((level + LEVELS, value) for level, value in tree.outer.stack),
        ),
    )
