from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from haven.errors import ServerRefusal


class AppendOnlyError(ServerRefusal):
    """Audit records are never changed or removed by the application."""


_R = TypeVar("_R", bound=models.Model)


class AppendOnlyQuerySet(models.QuerySet[_R]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(_("audit records cannot be updated"))

    def delete(self) -> NoReturn:
        raise AppendOnlyError(_("audit records cannot be deleted"))

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(_("audit records cannot be updated"))


class Outcome(models.TextChoices):
    ALLOWED = "allowed", gettext_lazy("Allowed")
    DENIED = "denied", gettext_lazy("Denied")


class AccessEvent(models.Model):
    """One access to, or attempt on, survivor data or the system.

    References and ids only: never a name, content, or search value. ``actor_id`` is a
    plain integer, not a foreign key, so that nothing done to staff accounts can cascade
    into the trail.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # Found by (actor_id, at) and (case_reference, at) below: an index of their own
    # would only cost every insert (two B-tree leaves dirtied at random per event).
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    case_reference = models.CharField(max_length=16, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet["AccessEvent"].as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["case_reference", "at"], name="event_case_at"),
            models.Index(fields=["actor_id", "at"], name="event_actor_at"),
            models.Index(fields=["actor_username", "at"], name="event_actor_name_at"),
        ]

    def __str__(self) -> str:
        return f"event #{self.pk} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(_("access events cannot be updated"))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(_("access events cannot be deleted"))


class Anomaly(models.Model):
    """Something the DPO should look at (break-glass use, and later the anomaly rules).
    References and ids only, like the events it points to."""

    class Kind(models.TextChoices):
        BREAK_GLASS = "break_glass", gettext_lazy("Break-glass access")
        OUTSIDE_ASSIGNMENT = "outside_assignment", gettext_lazy("Access outside assignment")
        UNUSUAL_VOLUME = "unusual_volume", gettext_lazy("Unusual volume")
        OUT_OF_HOURS = "out_of_hours", gettext_lazy("Out-of-hours access")
        REPEATED_DENIALS = "repeated_denials", gettext_lazy("Repeated denials")
        EXPORT = "export", gettext_lazy("Export")
        PRIVILEGE_CHANGE = "privilege_change", gettext_lazy("Staff given access to survivor data")
        DECRYPTION_FAILURE = (
            "decryption_failure",
            gettext_lazy("A record that does not decrypt (swapped or altered)"),
        )

    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    case_reference = models.CharField(max_length=16, blank=True, db_index=True)
    # No database constraint: events are partitioned by month, and PostgreSQL can only
    # reference a partitioned table by a key that includes the month. Events are never
    # deleted (append-only triggers), so the reference cannot dangle.
    event = models.ForeignKey(
        AccessEvent, on_delete=models.PROTECT, related_name="anomalies", db_constraint=False
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by_id = models.BigIntegerField(null=True, blank=True)
    review_note = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"anomaly #{self.pk} {self.kind}"


class PendingLeaf(models.Model):
    """An access event or change-log entry written but not yet in the log: a queue the
    sequencer empties (``audit.log.sequence``). Writers only insert here, so writing an
    event takes no lock another request waits for. While a record waits here, the
    database's append-only triggers protect it (docs/threat-model.md)."""

    kind = models.CharField(max_length=10)  # "event" or "change"
    ref_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"pending {self.kind}:{self.ref_id}"


class LogLeaf(models.Model):
    """One leaf of the audit log (RFC 9162), at the index the sequencer assigned.
    ``hash = SHA-256(0x00 || leaf bytes)``; the leaf bytes are rebuilt from the record
    itself (``audit.log.leaf_bytes``), so an edited record no longer matches its leaf."""

    index = models.BigIntegerField(primary_key=True)
    kind = models.CharField(max_length=10)
    ref_id = models.BigIntegerField()
    hash = models.BinaryField()

    objects = AppendOnlyQuerySet["LogLeaf"].as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "ref_id"], name="log_leaf_once"),
        ]

    def __str__(self) -> str:
        return f"leaf #{self.index} {self.kind}:{self.ref_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(_("log leaves cannot be updated"))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(_("log leaves cannot be deleted"))


class LogNode(models.Model):
    """The hash of a complete (perfect) subtree of the log: ``2**level`` leaves from
    ``index * 2**level``. Stored once, when its last leaf is sequenced; any root or
    proof is folded from a few of these (``audit.merkle``)."""

    pk = models.CompositePrimaryKey("level", "index")
    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField()

    objects = AppendOnlyQuerySet["LogNode"].as_manager()

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class TreeHead(models.Model):
    """A signed statement of the log's size and root (ARCHITECTURE.md, Audit log
    proofs). The signature is over the exact text of ``timestamp`` as stored."""

    size = models.BigIntegerField(db_index=True)
    root_hash = models.CharField(max_length=64)
    timestamp = models.CharField(max_length=40)
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=100)

    objects = AppendOnlyQuerySet["TreeHead"].as_manager()

    class Meta:
        ordering = ["-size", "-id"]

    def __str__(self) -> str:
        return f"tree head size {self.size}"


class AnomalyScan(models.Model):
    """How far the anomaly rules have read the trail (one row)."""

    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"anomaly scan up to event #{self.last_event_id}"


class ForwardPosition(models.Model):
    """How far the log has been delivered to one outside collector (``audit.forward``):
    every leaf below ``position`` was accepted by it. Advanced only after the collector
    took the leaves, so delivery is at least once; a collector sees a leaf twice at
    most after a failure, under the same leaf index."""

    destination = models.CharField(max_length=20, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    failures = models.IntegerField(default=0)  # in a row, since the last delivery
    last_error = models.CharField(max_length=200, blank=True)  # the error's kind, no content

    def __str__(self) -> str:
        return f"forwarded to {self.destination} up to leaf {self.position}"


class Verification(models.Model):
    """One check of the whole audit log, or a request for one. The scheduled job
    (``access.ledger.verify_if_due``) fills it in; the DPO's page and the API show the
    newest finished one, so no request ever waits for a check.

    A full check rebuilds every leaf; an incremental one starts at ``resume_from``
    with the tree's right edge (``frontier``) that the check before it left, and checks
    the leaves and heads added since. A request (``started_at`` empty) is picked up by
    the next run of the job."""

    class Kind(models.TextChoices):
        FULL = "full", gettext_lazy("full")
        INCREMENTAL = "incremental", gettext_lazy("incremental")

    kind = models.CharField(max_length=12, choices=Kind.choices)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)
    start = models.BigIntegerField(default=0)  # the first leaf this check rebuilt
    checked = models.BigIntegerField(default=0)  # leaves [0, checked) are verified
    intact = models.BooleanField(null=True)
    first_broken = models.BigIntegerField(null=True, blank=True)  # counting from 1
    problem = models.TextField(blank=True)  # names leaves and sizes, never content
    signed_size = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    resume_from = models.BigIntegerField(default=0)  # a block boundary
    frontier = models.JSONField(default=list)  # [[level, hex], ...] up to resume_from

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"audit log check #{self.pk} ({self.kind})"


class EventDay(models.Model):
    """How many access events of one action and outcome each day had, in the
    organisation's time zone: a rollup the sequencer keeps in the transaction that
    makes the events leaves, so the desk's chart and the events list's count read a
    few rows per day instead of every event. Events not yet sequenced are counted from
    the queue."""

    day = models.DateField()
    action = models.CharField(max_length=64)
    outcome = models.CharField(max_length=10)
    events = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "action", "outcome"], name="event_day_key")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.action} {self.outcome}: {self.events}"
