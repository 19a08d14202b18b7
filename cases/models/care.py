"""The work between intake and referral: the plan agreed with the survivor (AS8-8), the
services they need and get, the team's tasks, and the documents and photos kept on the
case. Every text that describes the survivor's situation is encrypted under their key.

``__str__`` of every model returns an id, never survivor data.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access.crypto.datakeys import DataKey
from access.crypto.fields import (
    EncryptedModel,
    EncryptedTextField,
    needs_reseal,
    open_file,
    seal_file,
)
from audit.registry import AuditedQuerySet
from cases import validators
from cases.models.disclosure import Consent, Organisation
from cases.models.records import Case


class CaseRecord(EncryptedModel):
    """What every piece of care work on a case has: an id known before the insert, the
    case, a version that guards edits (a stale save is refused, never merged), who
    made it and when."""

    encryption_version_field = "version"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def data_key(self) -> DataKey:
        return self.case.survivor.data_key()


class GoalStatus(models.TextChoices):
    AGREED = "agreed", _("Agreed")
    IN_PROGRESS = "in_progress", _("In progress")
    ACHIEVED = "achieved", _("Achieved")
    CHANGED = "changed", _("Changed or dropped")


OPEN_GOAL_STATUSES = (GoalStatus.AGREED, GoalStatus.IN_PROGRESS)


class PlanGoal(CaseRecord):
    """A goal of the case plan, agreed with the survivor (AS8-8): in their words, when
    it was agreed, and when it is next reviewed together."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="goals")
    goal = EncryptedTextField(max_length=2000)
    agreed_on = models.DateField()
    review_on = models.DateField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=GoalStatus.choices, default=GoalStatus.AGREED)

    objects = AuditedQuerySet["PlanGoal"].as_manager()

    class Meta:
        ordering = ["agreed_on", "created_at"]

    def __str__(self) -> str:
        return f"goal {self.pk}"

    def clean(self) -> None:
        validators.validate_plan_dates(self.agreed_on, self.review_on)


class ServiceType(models.TextChoices):
    MEDICAL = "medical", _("Medical care")
    MENTAL_HEALTH = "mental_health", _("Mental health")
    SHELTER = "shelter", _("Shelter")
    LEGAL = "legal", _("Legal")
    FINANCIAL = "financial", _("Financial")
    BASIC_NEEDS = "basic_needs", _("Basic needs")
    EDUCATION = "education", _("Education")
    EMPLOYMENT = "employment", _("Employment")
    FAMILY_TRACING = "family_tracing", _("Family tracing")
    RETURN = "return", _("Return")
    OTHER = "other", _("Other")


class ServiceStatus(models.TextChoices):
    NEEDED = "needed", _("Needed")
    REFERRED = "referred", _("Referred")
    IN_PROGRESS = "in_progress", _("In progress")
    PROVIDED = "provided", _("Provided")
    DECLINED = "declined", _("Declined")


OPEN_SERVICE_STATUSES = (ServiceStatus.NEEDED, ServiceStatus.REFERRED, ServiceStatus.IN_PROGRESS)


class CaseService(CaseRecord):
    """A service the survivor needs, by type, with its provider from the directory, its
    status and when it is due. A referral can be made for it."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="services")
    type = models.CharField(max_length=20, choices=ServiceType.choices)
    status = models.CharField(
        max_length=20, choices=ServiceStatus.choices, default=ServiceStatus.NEEDED
    )
    provider = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    due_on = models.DateField(null=True, blank=True, db_index=True)
    notes = EncryptedTextField(max_length=5000)

    objects = AuditedQuerySet["CaseService"].as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"service {self.pk} ({self.type})"

    def clean(self) -> None:
        if self.due_on is not None:
            validators.validate_follow_up(self.due_on, timezone.localdate(self.created_at))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_SERVICE_STATUSES


class CaseTask(CaseRecord):
    """A piece of work on a case for a member of the team, with a due date."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="tasks")
    title = EncryptedTextField(max_length=500)
    due_on = models.DateField(db_index=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedQuerySet["CaseTask"].as_manager()

    class Meta:
        ordering = ["due_on", "created_at"]

    def __str__(self) -> str:
        return f"task {self.pk}"

    def clean(self) -> None:
        if self.due_on is not None:
            validators.validate_follow_up(self.due_on, timezone.localdate(self.created_at))


class AttachmentKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    DOCUMENT = "document", _("Document")


ATTACHMENT_LABEL = "cases.attachment.content"  # binds a sealed file to its purpose


class Attachment(CaseRecord):
    """A document or photo on the case. Its bytes live in the attachment storage
    (``STORAGES["attachments"]``: a folder by default, object storage in a larger
    installation), sealed with the survivor's key and bound to this row, so a file copied
    to another name or another case does not open. A photo records the consent that
    allowed it."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(max_length=10, choices=AttachmentKind.choices)
    title = EncryptedTextField(max_length=200)
    media_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    stored_as = models.CharField(max_length=100, unique=True)
    consent = models.ForeignKey(
        Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AuditedQuerySet["Attachment"].as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"attachment {self.pk} ({self.kind})"

    def content(self) -> bytes:
        """The file's bytes, opened with the survivor's key (fails closed if the file
        was swapped, altered or the key is gone). Callers record the reading."""
        with storages["attachments"].open(self.stored_as, "rb") as handle:
            blob = handle.read()
        return open_file(self.data_key(), ATTACHMENT_LABEL, self.pk, blob)

    def reseal_content(self) -> bool:
        """``keys reseal``: a file sealed in format 1 is sealed again in format 2 under
        a new name; the old file is deleted once the new name is committed (until then
        the row still names the old one, which still opens)."""
        store = storages["attachments"]
        with store.open(self.stored_as, "rb") as handle:
            blob = handle.read()
        if not needs_reseal(blob):
            return False
        key = self.data_key()
        sealed = seal_file(
            key, ATTACHMENT_LABEL, self.pk, open_file(key, ATTACHMENT_LABEL, self.pk, blob)
        )
        old = self.stored_as
        self.stored_as = store.save(old, ContentFile(sealed))
        type(self)._base_manager.filter(pk=self.pk).update(stored_as=self.stored_as)
        transaction.on_commit(lambda: store.delete(old))
        return True
