"""What care for the carers keeps. The self-check is the staff member's alone: its rows
name no account (only a tag made with that person's own key) and hold no clear time or
score; everything is sealed with the staff member's key (``access.models.StaffKey``)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access.crypto.datakeys import DataKey
from access.crypto.errors import DecryptionFailed
from access.crypto.fields import (
    EncryptedJSONField,
    EncryptedModel,
    EncryptedTextField,
    OwnKeyModel,
)


class SelfCheckWording(models.Model):
    """One version of the organisation's wording of the 13 items, and its own support
    contacts. Version 0 is Haven's default labels and is not stored."""

    version = models.PositiveIntegerField(unique=True)
    items = models.JSONField(help_text=_("item letter a-m -> the wording"))
    support = models.TextField(
        max_length=2000, blank=True, help_text=_("the organisation's own support contacts")
    )
    source = models.CharField(
        max_length=300, blank=True, help_text=_("where the wording comes from (citation, licence)")
    )
    # ``items`` and ``support`` are in ``language`` (the organisation's default); the
    # same version in other languages: language code -> {"items": {...}, "support": ...}.
    language = models.CharField(max_length=10, default="en")
    translations = models.JSONField(default=dict, blank=True)
    loaded_at = models.DateTimeField(default=timezone.now)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"self-check wording v{self.version}"


class SelfCheck(EncryptedModel):
    """One self-check. ``owner_tag`` is an HMAC under the owner's staff key, so only a
    service acting for that person finds their rows; ``content`` (the answers and when
    they were given) is sealed with the same key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner_tag = models.CharField(max_length=64, db_index=True)
    wording_version = models.PositiveIntegerField(default=0)
    content = EncryptedJSONField(max_length=4000)

    _owner_key: DataKey | None = None  # set by the owner's services, never stored

    def __str__(self) -> str:
        return f"self-check {self.pk}"

    def data_key(self) -> DataKey:
        key = self._owner_key
        if key is None:  # only the owner's services set it: fail closed for anyone else
            raise DecryptionFailed("a self-check opens only for its owner")
        return key


class TalkRequest(models.Model):
    """ "I would like to talk": all a staff member may choose to share with their
    supervisor from the self-check. Nothing of the answers goes with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    asked_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-asked_at"]

    def __str__(self) -> str:
        return f"talk request {self.pk}"


class SupervisionKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    GROUP = "group", _("Group")


class SupervisionSession(OwnKeyModel):
    """A clinical supervision session (AS8-3), kept apart from management notes and
    from case records. Its notes are sealed with a key of the session's own (wrapped by
    the KEK); only the supervisor who led it and the staff who attended read them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    kind = models.CharField(max_length=10, choices=SupervisionKind.choices)
    held_on = models.DateField()
    notes = EncryptedTextField(max_length=10_000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-created_at"]

    def __str__(self) -> str:
        return f"supervision session {self.pk}"


class SupportPlan(OwnKeyModel):
    """The plan agreed at a well-being meeting (AS8-6): occupational referral, adjusted
    responsibilities and who covers which cases, a support person, who is told, and a
    review date. Sealed with a key of its own; read by the staff member and the
    supervisor who wrote it only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    agreed_on = models.DateField()
    review_on = models.DateField()
    content = EncryptedJSONField(max_length=20_000)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["review_on"]

    def __str__(self) -> str:
        return f"support plan {self.pk}"


class Training(models.Model):
    """Training the work needs (AS8-7), for some roles, renewed every ``renewal_days``
    (none: once is enough). With ``required_for_access`` an administrator makes it a
    condition of reaching case data, like the confidentiality rules."""

    slug = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=200)
    roles = models.JSONField(default=list, help_text=_("the roles that need it"))
    renewal_days = models.PositiveIntegerField(null=True, blank=True)
    required_for_access = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TrainingCompletion(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    training = models.ForeignKey(Training, on_delete=models.CASCADE, related_name="completions")
    completed_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-completed_on"]
        indexes = [models.Index(fields=["user", "training"], name="completion_user_training")]

    def __str__(self) -> str:
        return f"completion {self.pk}"


@dataclass(frozen=True)
class TrainingStanding:
    training: Training
    last: dt.date | None
    due_on: dt.date | None  # None: done, and it does not renew
    overdue: bool


def training_standing(
    user: Any, today: dt.date | None = None, *, only_required: bool = False
) -> list[TrainingStanding]:
    """Each training ``user``'s role needs (``only_required``: those required for case
    access): when last done, when next due, overdue."""
    today = today or timezone.localdate()
    role = getattr(user, "role", "")
    trainings = (
        Training.objects.filter(required_for_access=True)
        if only_required
        else Training.objects.all()
    )
    needed = [t for t in trainings if role in (t.roles or [])]
    if not needed:
        return []
    last: dict[int, dt.date] = {}
    for training_id, completed_on in TrainingCompletion.objects.filter(
        user_id=user.pk, training__in=needed
    ).values_list("training_id", "completed_on"):
        if training_id not in last or completed_on > last[training_id]:
            last[training_id] = completed_on
    result = []
    for training in needed:
        done = last.get(training.pk)
        if done is None:
            due: dt.date | None = today
        elif training.renewal_days:
            due = done + dt.timedelta(days=training.renewal_days)
        else:
            due = None
        overdue = done is None or (due is not None and due < today)
        result.append(TrainingStanding(training, done, due, overdue))
    return result


def training_blocks_access(user: Any) -> list[Training]:
    """Trainings required before case access that ``user`` has not done, or let lapse
    (fail closed: the policy refuses case data while any is listed). On every case
    read: one query on a small table, and a second only when such trainings exist."""
    return [s.training for s in training_standing(user, only_required=True) if s.overdue]
