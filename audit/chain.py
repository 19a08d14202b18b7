"""The hash chain: one sequence over access events and change-log entries.

Appends are serialised by locking the single ``ChainHead`` row, in the caller's
transaction, so the chain is consistent with several app servers. Each record is hashed
from a canonical form of its stored values; the same function builds that form when
writing and when verifying, from the same tuple of values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from audit.models import AccessEvent, ChainHead, ChainLink

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


def link_hash(prev_hash: str, kind: str, ref_id: int, values: Sequence[Any]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{prev_hash}|{kind}|{ref_id}|".encode())
    digest.update(canonical(values))
    return digest.hexdigest()


def _head() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        ChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def append(kind: str, ref_id: int, values: Sequence[Any]) -> ChainLink:
    with transaction.atomic():
        head = _head()
        seq = head.seq + 1
        new_hash = link_hash(head.hash, kind, ref_id, values)
        link = ChainLink(seq=seq, kind=kind, ref_id=ref_id, prev_hash=head.hash, hash=new_hash)
        link.save(force_insert=True)
        ChainHead.objects.filter(pk=1).update(seq=seq, hash=new_hash)
        return link


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


def _records(kind: str, ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    from auditlog.models import LogEntry

    if kind == "event":
        rows = AccessEvent.objects.filter(pk__in=list(ids)).values_list("id", *EVENT_FIELDS)
    else:
        rows = LogEntry.objects.filter(pk__in=list(ids)).values_list("id", *CHANGE_FIELDS)
    return {row[0]: row[1:] for row in rows}


def verify(batch: int = 5000, progress: Callable[[int], None] | None = None) -> Verdict:
    """Walk the chain in order and recompute every hash. The first broken link is the
    earliest alteration, deletion or reordering."""
    from auditlog.models import LogEntry

    prev, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        links = list(
            ChainLink.objects.filter(seq__gt=last_seq)
            .order_by("seq")
            .values_list("seq", "kind", "ref_id", "prev_hash", "hash")[:batch]
        )
        if not links:
            break
        records = {
            kind: _records(kind, [ref for _, k, ref, _, _ in links if k == kind])
            for kind in ("event", "change")
        }
        for seq, kind, ref_id, prev_hash, stored_hash in links:
            if seq != expected_seq:
                return Verdict(False, checked, expected_seq, "link missing (deleted)")
            if prev_hash != prev:
                return Verdict(False, checked, seq, "does not follow its predecessor (reordered)")
            values = records.get(kind, {}).get(ref_id)
            if values is None:
                return Verdict(False, checked, seq, f"{kind} #{ref_id} is missing (deleted)")
            if link_hash(prev, kind, ref_id, values) != stored_hash:
                return Verdict(False, checked, seq, f"{kind} #{ref_id} was altered")
            prev, expected_seq, checked = stored_hash, seq + 1, checked + 1
        last_seq = links[-1][0]
        if progress is not None:
            progress(len(links))
    head = ChainHead.objects.filter(pk=1).values_list("seq", "hash").first()
    if head is not None and (head[0], head[1]) != (expected_seq - 1, prev):
        return Verdict(False, checked, expected_seq, "newest links missing (truncated)")
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
    from django.core import signing
    from django.utils import timezone

    head = ChainHead.objects.filter(pk=1).values_list("seq", "hash").first() or (0, GENESIS)
    return signing.dumps(
        {"seq": head[0], "hash": head[1], "at": timezone.now().isoformat()},
        salt=CHECKPOINT_SALT,
    )


def verify_checkpoint(token: str) -> Verdict:
    from django.core import signing

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
