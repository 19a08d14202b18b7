"""What care for the carers keeps. The self-check is the staff member's alone: its rows
name no account (only a tag made with that person's own key) and hold no clear time or
score; everything is sealed with the staff member's key (``access.models.StaffKey``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from access.crypto.datakeys import DataKey, WrappedDataKey, new_data_key, unwrap_data_key
from access.crypto.errors import DecryptionFailed
from access.crypto.fields import EncryptedJSONField, EncryptedModel, EncryptedTextField


class SelfCheckWording(models.Model):
    """One version of the organisation's wording of the 13 items, and its own support
    contacts. Version 0 is Haven's default labels and is not stored."""

    version = models.PositiveIntegerField(unique=True)
    items = models.JSONField(help_text="item letter a-m -> the wording")
    support = models.TextField(
        max_length=2000, blank=True, help_text="the organisation's own support contacts"
    )
    source = models.CharField(
        max_length=300, blank=True, help_text="where the wording comes from (citation, licence)"
    )
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
    INDIVIDUAL = "individual", "Individual"
    GROUP = "group", "Group"


class SupervisionSession(EncryptedModel):
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
    kek_id = models.CharField(max_length=32, db_index=True)
    dek_id = models.CharField(max_length=16)
    wrapped_dek = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-created_at"]

    def __str__(self) -> str:
        return f"supervision session {self.pk}"

    @classmethod
    def with_new_key(cls, **kwargs: object) -> SupervisionSession:
        session = cls(**kwargs)
        wrapped, key = new_data_key(session.id)
        session.kek_id, session.dek_id = wrapped.kek_id, wrapped.dek_id
        session.wrapped_dek = wrapped.blob
        session._data_key = key
        return session

    _data_key: DataKey | None = None

    def data_key(self) -> DataKey:
        if self._data_key is None:
            wrapped = WrappedDataKey(
                dek_id=self.dek_id, kek_id=self.kek_id, blob=bytes(self.wrapped_dek)
            )
            self._data_key = unwrap_data_key(self.id, wrapped)
        return self._data_key


class SupportPlan(EncryptedModel):
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
    kek_id = models.CharField(max_length=32, db_index=True)
    dek_id = models.CharField(max_length=16)
    wrapped_dek = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["review_on"]

    def __str__(self) -> str:
        return f"support plan {self.pk}"

    _data_key: DataKey | None = None

    @classmethod
    def with_new_key(cls, **kwargs: object) -> SupportPlan:
        plan = cls(**kwargs)
        wrapped, key = new_data_key(plan.id)
        plan.kek_id, plan.dek_id, plan.wrapped_dek = wrapped.kek_id, wrapped.dek_id, wrapped.blob
        plan._data_key = key
        return plan

    def data_key(self) -> DataKey:
        if self._data_key is None:
            wrapped = WrappedDataKey(
                dek_id=self.dek_id, kek_id=self.kek_id, blob=bytes(self.wrapped_dek)
            )
            self._data_key = unwrap_data_key(self.id, wrapped)
        return self._data_key
