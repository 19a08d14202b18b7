from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import models
from django.utils import timezone

from haven.errors import ServerRefusal


class AppendOnlyError(ServerRefusal):
    """Audit records are never changed or removed by the application."""


_R = TypeVar("_R", bound=models.Model)


class AppendOnlyQuerySet(models.QuerySet[_R]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit records cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit records cannot be deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit records cannot be updated")


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    DENIED = "denied", "Denied"


class AccessEvent(models.Model):
    """One access to, or attempt on, survivor data or the system.

    References and ids only: never a name, content, or search value. ``actor_id`` is a
    plain integer, not a foreign key, so that nothing done to staff accounts can cascade
    into the trail.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    case_reference = models.CharField(max_length=16, blank=True, db_index=True)
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
            raise AppendOnlyError("access events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("access events cannot be deleted")


class Anomaly(models.Model):
    """Something the DPO should look at (break-glass use, and later the anomaly rules).
    References and ids only, like the events it points to."""

    class Kind(models.TextChoices):
        BREAK_GLASS = "break_glass", "Break-glass access"
        OUTSIDE_ASSIGNMENT = "outside_assignment", "Access outside assignment"
        UNUSUAL_VOLUME = "unusual_volume", "Unusual volume"
        OUT_OF_HOURS = "out_of_hours", "Out-of-hours access"
        REPEATED_DENIALS = "repeated_denials", "Repeated denials"
        EXPORT = "export", "Export"
        PRIVILEGE_CHANGE = "privilege_change", "Staff given access to survivor data"

    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    case_reference = models.CharField(max_length=16, blank=True, db_index=True)
    event = models.ForeignKey(AccessEvent, on_delete=models.PROTECT, related_name="anomalies")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by_id = models.BigIntegerField(null=True, blank=True)
    review_note = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"anomaly #{self.pk} {self.kind}"


class ChainLink(models.Model):
    """One link of the tamper-evident chain over access events and change-log entries.

    ``hash = SHA-256(prev_hash | kind | ref_id | canonical record)``. Changing, deleting
    or reordering any record or link breaks every hash after it (``verify_audit``).
    """

    seq = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=10)  # "event" or "change"
    ref_id = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet["ChainLink"].as_manager()

    class Meta:
        indexes = [models.Index(fields=["kind", "ref_id"], name="chain_kind_ref")]

    def __str__(self) -> str:
        return f"link #{self.seq} {self.kind}:{self.ref_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("chain links cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("chain links cannot be deleted")


class AnomalyScan(models.Model):
    """How far the anomaly rules have read the trail (one row)."""

    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"anomaly scan up to event #{self.last_event_id}"
