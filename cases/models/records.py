"""The survivor's records: who they are, their case, the encounters, the earlier
versions of what was corrected, and the blind indexes that find them. Survivor data
lives only in encrypted fields.

``__str__`` of every model returns a reference or an id, never survivor data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.crypto.datakeys import (
    DataKey,
    WrappedDataKey,
    data_key_of,
    new_data_key,
    unwrap_data_keys,
)
from access.crypto.errors import DataKeyDestroyed
from access.crypto.fields import (
    EncryptedDateField,
    EncryptedJSONField,
    EncryptedModel,
    EncryptedTextField,
)
from audit.registry import AuditedQuerySet
from cases import validators


class Survivor(models.Model):
    """The pseudonymous subject of a case; owns the data key for all their records."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=12, unique=True)
    kek_id = models.CharField(max_length=32, blank=True, db_index=True)
    dek_id = models.CharField(max_length=16, blank=True)
    wrapped_dek = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    shredded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The few erased survivors, so that "not erased" is an anti-join with this
            # small index rather than a join with every survivor (case lists).
            models.Index(
                fields=["id"],
                condition=models.Q(shredded_at__isnull=False),
                name="survivor_shredded_idx",
            )
        ]

    def __str__(self) -> str:
        return self.reference

    @classmethod
    def with_new_key(cls, reference: str) -> Survivor:
        """An unsaved survivor with a fresh data key, wrapped by the active KEK (the
        unwrapped key is kept on the instance for the records created with it)."""
        survivor = cls(reference=reference)
        wrapped, key = new_data_key(survivor.id)
        survivor.kek_id, survivor.dek_id, survivor.wrapped_dek = (
            wrapped.kek_id,
            wrapped.dek_id,
            wrapped.blob,
        )
        survivor._data_key = key
        return survivor

    @staticmethod
    def unwrap_keys(survivors: Iterable[Survivor]) -> int:
        """Unwrap the data keys of a list's survivors into the open key scope at once
        (one pass over the keyring for the whole list, which a remote KMS can serve as
        one batch), before any of their values is read. Erased survivors are skipped."""
        return unwrap_data_keys(
            (s.id, WrappedDataKey(dek_id=s.dek_id, kek_id=s.kek_id, blob=bytes(s.wrapped_dek)))
            for s in survivors
            if s.wrapped_dek is not None
        )

    def data_key(self) -> DataKey:
        if self.wrapped_dek is None:
            raise DataKeyDestroyed(f"data key of {self.reference} was destroyed")
        cached: DataKey | None = self.__dict__.get("_data_key")
        if cached is None:
            blob = self.wrapped_dek
            if blob.__class__ is not bytes:  # memoryview from some drivers
                blob = bytes(blob)
            cached = self._data_key = data_key_of(self.id, self.dek_id, blob)
        return cached


class Sex(models.TextChoices):
    FEMALE = "female", gettext_lazy("Female")
    MALE = "male", gettext_lazy("Male")
    INTERSEX = "intersex", gettext_lazy("Intersex")
    OTHER = "other", gettext_lazy("Other")


IDENTITY_FIELDS = (
    "given_name",
    "family_name",
    "aliases",
    "script_names",
    "date_of_birth",
    "sex",
    "nationality",
    "languages",
    "phone",
    "email",
    "address",
    "safe_contact",
)


class Identity(EncryptedModel):
    """Who the survivor is. Kept apart from the case file, every field encrypted and
    optional. ``None`` means unknown; a field named in ``declined`` was refused by the
    survivor (AS9-COL-1)."""

    encryption_version_field = "version"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survivor = models.OneToOneField(Survivor, on_delete=models.PROTECT, related_name="identity")
    given_name = EncryptedTextField(max_length=200)
    family_name = EncryptedTextField(max_length=200)
    aliases = EncryptedJSONField(max_length=2000)
    script_names = EncryptedJSONField(max_length=2000)
    date_of_birth = EncryptedDateField()
    sex = EncryptedTextField(max_length=20)
    nationality = EncryptedTextField(max_length=100)
    languages = EncryptedJSONField(max_length=1000)
    phone = EncryptedTextField(max_length=40)
    email = EncryptedTextField(max_length=254)
    address = EncryptedTextField(max_length=500)
    safe_contact = EncryptedTextField(max_length=1000)
    declined = EncryptedJSONField(max_length=500)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet["Identity"].as_manager()

    class Meta:
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return f"identity of {self.survivor_id}"

    @staticmethod
    def check_declined(values: Mapping[str, object], declined: Iterable[str]) -> None:
        """A field is either given or declined, never both (AS9-COL-1): the one home of
        the rule, used before an intake's duplicate check and by ``clean``."""
        both = sorted(name for name in declined if values.get(name) not in (None, ""))
        if both:
            raise ValidationError(
                {
                    name: ValidationError(_("Given and declined at once."), code="conflict")
                    for name in both
                }
            )

    def clean(self) -> None:
        self.check_declined(
            {name: getattr(self, name) for name in IDENTITY_FIELDS}, self.declined or []
        )
        if self.date_of_birth is not None:
            validators.validate_birth_date(self.date_of_birth)
        validators.validate_choices("sex", [self.sex] if self.sex else [], Sex.values)
        validators.validate_choices("declined", self.declined or [], list(IDENTITY_FIELDS))
        validators.validate_string_list("aliases", self.aliases)
        validators.validate_string_list("languages", self.languages)

    def data_key(self) -> DataKey:
        return self.survivor.data_key()


class CaseStatus(models.TextChoices):
    OPEN = "open", gettext_lazy("Open")
    CLOSED = "closed", gettext_lazy("Closed")


class CloseReason(models.TextChoices):
    GOALS_MET = "goals_met", gettext_lazy("Goals met")
    REFERRED_ON = "referred_on", gettext_lazy("Referred on to another provider")
    MOVED_AWAY = "moved_away", gettext_lazy("Moved away")
    LOST_CONTACT = "lost_contact", gettext_lazy("Lost contact")
    DECLINED_SERVICES = "declined_services", gettext_lazy("Declined further services")
    DECEASED = "deceased", gettext_lazy("Deceased")
    OTHER = "other", gettext_lazy("Other")


# What a worker confirms before closing a case; each item is required.
CLOSURE_CHECKLIST = {
    "services_settled": "Every open service has ended or been handed over",
    "survivor_informed": "The person knows the case is closing and how to come back",
    "follow_ups_settled": "Follow-ups and tasks are cancelled or handed over",
}


class RiskLevel(models.TextChoices):
    LOW = "low", gettext_lazy("Low")
    MEDIUM = "medium", gettext_lazy("Medium")
    HIGH = "high", gettext_lazy("High")


class TraffickingType(models.TextChoices):
    SEXUAL = "sexual", gettext_lazy("Sexual exploitation")
    LABOUR = "labour", gettext_lazy("Labour exploitation")
    DOMESTIC_SERVITUDE = "domestic_servitude", gettext_lazy("Domestic servitude")
    FORCED_CRIMINALITY = "forced_criminality", gettext_lazy("Forced criminality")
    FORCED_MARRIAGE = "forced_marriage", gettext_lazy("Forced marriage")
    ORGAN_REMOVAL = "organ_removal", gettext_lazy("Organ removal")
    OTHER = "other", gettext_lazy("Other")


class Case(EncryptedModel):
    """A survivor's case file. Status and risk stay in clear for work planning; what
    describes the survivor's situation (types, referral source, summary) is encrypted.

    ``version`` guards edits of the facts, closing and reopening (a stale save is
    refused). ``follow_up_on`` is the follow-up date of the latest encounter, kept
    here so that "what is due" is one indexed query. ``storage_withdrawn_at`` is set
    while the survivor has withdrawn their consent to storing their information: see
    ``recording_allowed``."""

    encryption_version_field = "version"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survivor = models.OneToOneField(Survivor, on_delete=models.PROTECT, related_name="case")
    team = models.ForeignKey("access.Team", on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices)
    trafficking_types = EncryptedJSONField(max_length=500)
    referral_source = EncryptedTextField(max_length=500)
    summary = EncryptedTextField(max_length=20_000)
    legal_hold = models.BooleanField(default=False)
    legal_hold_reason = EncryptedTextField(max_length=1000)
    legal_hold_at = models.DateTimeField(null=True, blank=True)
    legal_hold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retention_until = models.DateField(null=True, blank=True)
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    close_note = EncryptedTextField(max_length=2000)
    reopen_reason = EncryptedTextField(max_length=1000)
    closure_checklist = models.JSONField(default=dict, blank=True)
    storage_withdrawn_at = models.DateTimeField(null=True, blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet["Case"].as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["team", "status"], name="case_team_status"),
            models.Index(fields=["status", "follow_up_on"], name="case_status_follow_up"),
            models.Index(
                fields=["retention_until"],
                name="case_due_for_purge",
                condition=models.Q(status="closed", legal_hold=False),
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.survivor_id}"

    def clean(self) -> None:
        validators.validate_choices(
            "trafficking_types", self.trafficking_types or [], TraffickingType.values
        )

    @property
    def reference(self) -> str:
        return self.survivor.reference

    @property
    def is_open(self) -> bool:
        return self.status == CaseStatus.OPEN

    @property
    def recording_allowed(self) -> bool:
        """Whether new information may be recorded. Not while the survivor has withdrawn
        their consent to storage: then only the withdrawal itself, care-critical notes,
        a new consent and closing the case are recorded (docs/data-protection.md)."""
        return self.storage_withdrawn_at is None

    def data_key(self) -> DataKey:
        return self.survivor.data_key()


class EncounterKind(models.TextChoices):
    INTAKE = "intake", gettext_lazy("Intake")
    FOLLOW_UP = "follow_up", gettext_lazy("Follow-up")
    MEDICAL = "medical", gettext_lazy("Medical")
    COUNSELLING = "counselling", gettext_lazy("Counselling")
    LEGAL = "legal", gettext_lazy("Legal")
    SHELTER = "shelter", gettext_lazy("Shelter")
    PHONE = "phone", gettext_lazy("Phone")
    OTHER = "other", gettext_lazy("Other")


class Service(models.TextChoices):
    SHELTER = "shelter", gettext_lazy("Shelter")
    MEDICAL = "medical", gettext_lazy("Medical care")
    PSYCHOSOCIAL = "psychosocial", gettext_lazy("Psychosocial support")
    LEGAL = "legal", gettext_lazy("Legal aid")
    INTERPRETING = "interpreting", gettext_lazy("Interpreting")
    FOOD = "food", gettext_lazy("Food and clothing")
    FINANCIAL = "financial", gettext_lazy("Financial support")
    RETURN = "return", gettext_lazy("Return or relocation")
    OTHER = "other", gettext_lazy("Other")


class Encounter(EncryptedModel):
    """One contact with the survivor. ``version`` guards edits: a save that carries a
    stale version is refused, never silently merged."""

    encryption_version_field = "version"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="encounters")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=EncounterKind.choices)
    location = EncryptedTextField(max_length=200)
    interpreter_used = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notes = EncryptedTextField(max_length=20_000)
    care_critical = models.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "Needed for the person's safety or care: recorded even while storage "
            "consent is withdrawn."
        ),
    )
    services_provided = EncryptedJSONField(max_length=1000)
    follow_up_date = models.DateField(null=True, blank=True)
    clinical = EncryptedJSONField(max_length=50_000)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet["Encounter"].as_manager()

    class Meta:
        ordering = ["-occurred_at", "-created_at"]
        indexes = [models.Index(fields=["case", "occurred_at"], name="encounter_case_when")]

    def __str__(self) -> str:
        return f"encounter {self.pk}"

    def clean(self) -> None:
        if self.occurred_at is not None:
            validators.validate_occurred_at(self.occurred_at)
        if self.follow_up_date is not None:
            anchor = timezone.localdate(self.occurred_at) if self.occurred_at else None
            validators.validate_follow_up(self.follow_up_date, anchor)
        validators.validate_choices(
            "services_provided", self.services_provided or [], Service.values
        )
        if self.clinical is not None:
            validators.validate_clinical(self.clinical)

    def data_key(self) -> DataKey:
        return self.case.survivor.data_key()


class Revision(EncryptedModel):
    """The previous values of a record that was corrected (AS9-END-4), encrypted under
    the same survivor's key. ``version`` is the version that was replaced."""

    class Subject(models.TextChoices):
        IDENTITY = "identity", gettext_lazy("Identity")
        CASE = "case", gettext_lazy("Case")
        ENCOUNTER = "encounter", gettext_lazy("Encounter")
        GOAL = "goal", gettext_lazy("Plan goal")
        SERVICE = "service", gettext_lazy("Service")
        TASK = "task", gettext_lazy("Task")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survivor = models.ForeignKey(Survivor, on_delete=models.PROTECT, related_name="revisions")
    subject = models.CharField(max_length=20, choices=Subject.choices)
    object_id = models.UUIDField(db_index=True)
    version = models.PositiveIntegerField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    previous = EncryptedJSONField(max_length=200_000)
    previous_clinical = EncryptedJSONField(max_length=100_000)

    def __str__(self) -> str:
        return f"revision {self.subject} v{self.version}"

    @property
    def changed_fields(self) -> list[str]:
        return sorted(self.previous or {})

    def data_key(self) -> DataKey:
        return self.survivor.data_key()


class BlindIndexEntry(models.Model):
    """One truncated HMAC of one identity field under one index key (see
    ``access.crypto.blind``): one row per exact field, and one per distinct digest of
    the folded words of the person's names (``name_token``). Rows for a second index key
    exist only while the index key is being rotated; shredding a survivor deletes theirs."""

    survivor = models.ForeignKey(
        Survivor, on_delete=models.CASCADE, related_name="blind_index_entries"
    )
    field = models.CharField(max_length=20)
    key_id = models.CharField(max_length=32)
    digest = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["field", "key_id", "digest"], name="bidx_lookup")]
        constraints = [
            models.UniqueConstraint(
                fields=["survivor", "field", "key_id", "digest"], name="bidx_one_per_digest"
            )
        ]

    def __str__(self) -> str:
        return f"blind index {self.field}/{self.key_id} of {self.survivor_id}"
