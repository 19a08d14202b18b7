"""After care (AS9-END-1 to END-3): what is left of a survivor whose records were purged
at the end of their retention or erased at their request, and the data-subject requests
(GDPR Art. 15 access, Art. 17 erasure) made on their behalf.

``__str__`` of every model returns a reference or an id, never survivor data.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access.crypto.datakeys import DataKey
from access.crypto.fields import EncryptedBinaryField, EncryptedModel, EncryptedTextField
from cases.models.records import Survivor


class EndReason(models.TextChoices):
    PURGED = "purged", _("Purged at the end of retention")
    ERASED = "erased", _("Erased at the survivor's request")


class Tombstone(models.Model):
    """What remains of a survivor after purge or erasure: the reference (on the survivor
    row, whose data key is destroyed), the dates and the reason. Content-free.

    ``completed_at`` is set once every content row and stored file is gone: a run that
    stopped midway is finished by the next one (``purge_expired``)."""

    survivor = models.OneToOneField(
        Survivor, on_delete=models.PROTECT, primary_key=True, related_name="tombstone"
    )
    reason = models.CharField(max_length=10, choices=EndReason.choices)
    opened_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    retention_until = models.DateField(null=True, blank=True)
    ended_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    files = models.JSONField(
        default=list, blank=True, help_text=_("stored attachment names still to delete")
    )

    class Meta:
        indexes = [models.Index(fields=["completed_at"], name="tombstone_unfinished")]

    def __str__(self) -> str:
        return f"tombstone of {self.survivor_id} ({self.reason})"


class RequestKind(models.TextChoices):
    ACCESS = "access", _("A copy of their records (access)")
    ERASURE = "erasure", _("Erasure of their records")


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the DPO")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    DONE = "done", _("Carried out")
    CANCELLED = "cancelled", _("Cancelled: the records ended first")


class RequestFormat(models.TextChoices):
    PDF = "pdf", _("PDF (AES-256, with a passphrase)")
    JSON = "json", _("JSON")


class SubjectRequest(EncryptedModel):
    """A data-subject request made on the survivor's behalf by a staff member who can
    read their identity, decided by a DPO who is not the requester (four eyes).

    The reason and the decision note are encrypted under the survivor's key: the DPO's
    queue shows the reference, the kind, the dates and the status, never case content.
    An approved access request is ``approved`` while its package waits and ``done``
    once downloaded; an approved erasure is ``done`` at once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survivor = models.ForeignKey(Survivor, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=10, choices=RequestKind.choices)
    format = models.CharField(max_length=4, choices=RequestFormat.choices, blank=True)
    status = models.CharField(
        max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    reason = EncryptedTextField(max_length=2000)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = EncryptedTextField(max_length=2000)
    language = models.CharField(max_length=10, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    available_until = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    passphrase_shown_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at"]
        indexes = [models.Index(fields=["status", "requested_at"], name="request_queue")]

    def __str__(self) -> str:
        return f"request {self.pk} ({self.kind})"

    @property
    def package_name(self) -> str:
        """The copy's download name: the request's id, nothing of its content."""
        return f"records-{self.pk}.{self.format or 'json'}"

    def collectable_by(self, user_id: object) -> bool:
        """An approved copy waiting for its requester (``user_id``)."""
        return (
            self.kind == RequestKind.ACCESS
            and self.status == RequestStatus.APPROVED
            and self.requested_by_id == user_id
        )

    def data_key(self) -> DataKey:
        return self.survivor.data_key()


class SubjectPackage(EncryptedModel):
    """The survivor's copy between approval and download, encrypted under their key and
    deleted when collected, expired or erased. A PDF's passphrase is held here, sealed,
    only until the requester has seen it once."""

    request = models.OneToOneField(
        SubjectRequest, on_delete=models.CASCADE, primary_key=True, related_name="package"
    )
    content = EncryptedBinaryField(max_length=100_000_000)
    passphrase = EncryptedTextField(max_length=100)

    def __str__(self) -> str:
        return f"package of request {self.request_id}"

    def data_key(self) -> DataKey:
        return self.request.survivor.data_key()


class StatisticsFacet(models.Model):
    """One trafficking type of a case whose survivor consented to research use of their
    data (a ``research`` consent), kept in the clear so that counts by type are one
    query: the case's own ``trafficking_types`` are sealed under the survivor's key and
    could not be counted without opening every key. Rows exist only while such a
    consent exists (``services.statistics_facet_sync``) and go with the case at purge
    or erasure. Nothing else of the case is here (docs/data-protection.md)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    trafficking_type = models.CharField(max_length=30)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "trafficking_type"], name="statistics_facet_unique"
            )
        ]

    def __str__(self) -> str:
        return f"statistics facet {self.pk}"


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the supervisor")
    APPROVED = "approved", _("Approved: the case moved")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class TransferRequest(EncryptedModel):
    """A staff member's request to hand over a case that is personally hard for them
    (AS8-2). The reason is private: sealed (under the survivor's key, so it goes with
    the case) and shown only to the requester and the team's supervisor. On approval the
    supervisor's note is the handover note the new worker reads."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    reason = EncryptedTextField(max_length=2000)
    status = models.CharField(
        max_length=10, choices=TransferStatus.choices, default=TransferStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = EncryptedTextField(max_length=2000)

    class Meta:
        ordering = ["requested_at"]
        indexes = [models.Index(fields=["case", "status"], name="transfer_case_status")]

    def __str__(self) -> str:
        return f"transfer request {self.pk}"

    def data_key(self) -> DataKey:
        return self.case.survivor.data_key()
