"""The case domain. Survivor data lives only in encrypted fields.

``__str__`` of every model returns a reference or an id, never survivor data.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from access.crypto.datakeys import DataKey, WrappedDataKey, new_data_key, unwrap_data_key
from access.crypto.errors import DataKeyDestroyed
from access.crypto.fields import (
    EncryptedBinaryField,
    EncryptedDateField,
    EncryptedJSONField,
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

    def data_key(self) -> DataKey:
        if self.wrapped_dek is None:
            raise DataKeyDestroyed(f"data key of {self.reference} was destroyed")
        cached: DataKey | None = getattr(self, "_data_key", None)
        if cached is None:
            wrapped = WrappedDataKey(
                dek_id=self.dek_id, kek_id=self.kek_id, blob=bytes(self.wrapped_dek)
            )
            cached = unwrap_data_key(self.id, wrapped)
            self._data_key = cached
        return cached


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    OTHER = "other", "Other"


IDENTITY_FIELDS = (
    "given_name",
    "family_name",
    "aliases",
    "date_of_birth",
    "sex",
    "nationality",
    "languages",
    "phone",
    "email",
    "address",
    "safe_contact",
)


class Identity(models.Model):
    """Who the survivor is. Kept apart from the case file, every field encrypted and
    optional. ``None`` means unknown; a field named in ``declined`` was refused by the
    survivor (AS9-COL-1)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survivor = models.OneToOneField(Survivor, on_delete=models.PROTECT, related_name="identity")
    given_name = EncryptedTextField(max_length=200)
    family_name = EncryptedTextField(max_length=200)
    aliases = EncryptedJSONField(max_length=2000)
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

    def clean(self) -> None:
        if self.date_of_birth is not None:
            validators.validate_birth_date(self.date_of_birth)
        validators.validate_choices("sex", [self.sex] if self.sex else [], Sex.values)
        validators.validate_choices("declined", self.declined or [], list(IDENTITY_FIELDS))
        validators.validate_string_list("aliases", self.aliases)
        validators.validate_string_list("languages", self.languages)

    def data_key(self) -> DataKey:
        return self.survivor.data_key()


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class TraffickingType(models.TextChoices):
    SEXUAL = "sexual", "Sexual exploitation"
    LABOUR = "labour", "Labour exploitation"
    DOMESTIC_SERVITUDE = "domestic_servitude", "Domestic servitude"
    FORCED_CRIMINALITY = "forced_criminality", "Forced criminality"
    FORCED_MARRIAGE = "forced_marriage", "Forced marriage"
    ORGAN_REMOVAL = "organ_removal", "Organ removal"
    OTHER = "other", "Other"


class Case(models.Model):
    """A survivor's case file. Status and risk stay in clear for work planning; what
    describes the survivor's situation (types, referral source, summary) is encrypted."""

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
    retention_until = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet["Case"].as_manager()

    class Meta:
        indexes = [models.Index(fields=["team", "status"], name="case_team_status")]

    def __str__(self) -> str:
        return f"case {self.survivor_id}"

    def clean(self) -> None:
        validators.validate_choices(
            "trafficking_types", self.trafficking_types or [], TraffickingType.values
        )

    @property
    def reference(self) -> str:
        return self.survivor.reference

    def data_key(self) -> DataKey:
        return self.survivor.data_key()


class EncounterKind(models.TextChoices):
    INTAKE = "intake", "Intake"
    FOLLOW_UP = "follow_up", "Follow-up"
    MEDICAL = "medical", "Medical"
    COUNSELLING = "counselling", "Counselling"
    LEGAL = "legal", "Legal"
    SHELTER = "shelter", "Shelter"
    PHONE = "phone", "Phone"
    OTHER = "other", "Other"


class Service(models.TextChoices):
    SHELTER = "shelter", "Shelter"
    MEDICAL = "medical", "Medical care"
    PSYCHOSOCIAL = "psychosocial", "Psychosocial support"
    LEGAL = "legal", "Legal aid"
    INTERPRETING = "interpreting", "Interpreting"
    FOOD = "food", "Food and clothing"
    FINANCIAL = "financial", "Financial support"
    RETURN = "return", "Return or relocation"
    OTHER = "other", "Other"


class Encounter(models.Model):
    """One contact with the survivor. ``version`` guards edits: a save that carries a
    stale version is refused, never silently merged."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="encounters")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=EncounterKind.choices)
    location = EncryptedTextField(max_length=200)
    interpreter_used = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notes = EncryptedTextField(max_length=20_000)
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
            validators.validate_follow_up(self.follow_up_date)
        validators.validate_choices(
            "services_provided", self.services_provided or [], Service.values
        )
        if self.clinical is not None:
            validators.validate_clinical(self.clinical)

    def data_key(self) -> DataKey:
        return self.case.survivor.data_key()


class Organisation(models.Model):
    """The referral directory: who can receive a referral. No survivor data."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    contact = models.CharField(max_length=500, blank=True)
    languages = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True)
    verified_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConsentScope(models.TextChoices):
    STORAGE = "storage", "Storing the information"
    REFERRAL = "referral", "Referral to another provider"
    LEGAL = "legal", "Legal proceedings"
    RESEARCH = "research", "Research (anonymised)"


class ConsentMethod(models.TextChoices):
    WRITTEN = "written", "Written"
    VERBAL = "verbal", "Verbal"


DISCLOSURE_SCOPES = (ConsentScope.REFERRAL, ConsentScope.LEGAL)
FORM_MAX_BYTES = 5 * 1024 * 1024
FORM_TYPES = {  # accepted scans, recognised by their first bytes, not by their name
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}


def scanned_form_type(data: bytes) -> str | None:
    for media_type, magic in FORM_TYPES.items():
        if data.startswith(magic):
            return media_type
    return None


class Consent(models.Model):
    """What the survivor agreed to, how, and until when (AS9-COL-2, AS9-TRF-1, AS9-USE-3).
    A disclosure needs a consent of its scope naming its recipient, valid at that moment;
    ``identity`` says whether identifying details may go with it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey("Case", on_delete=models.PROTECT, related_name="consents")
    scope = models.CharField(max_length=20, choices=ConsentScope.choices)
    recipient = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purpose = EncryptedTextField(max_length=1000)
    identity = models.BooleanField(default=False)
    method = models.CharField(max_length=10, choices=ConsentMethod.choices)
    interpreter_used = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    given_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = EncryptedTextField(max_length=1000)
    form = EncryptedBinaryField(max_length=FORM_MAX_BYTES)
    form_type = models.CharField(max_length=40, blank=True)

    objects = AuditedQuerySet["Consent"].as_manager()

    class Meta:
        indexes = [models.Index(fields=["case", "scope"], name="consent_case_scope")]

    def __str__(self) -> str:
        return f"consent {self.pk} ({self.scope})"

    def clean(self) -> None:
        if self.scope in DISCLOSURE_SCOPES and self.recipient_id is None:
            raise ValidationError({"recipient": "A referral or legal consent names its recipient."})
        if self.given_at is not None and self.given_at > timezone.now() + dt.timedelta(minutes=5):
            raise ValidationError({"given_at": "Consent cannot be given in the future."})
        if self.expires_at is not None and self.given_at is not None:
            if self.expires_at <= self.given_at:
                raise ValidationError({"expires_at": "The end must come after the consent."})

    def data_key(self) -> DataKey:
        return self.case.survivor.data_key()

    def valid_at(self, moment: dt.datetime) -> bool:
        return (
            self.withdrawn_at is None
            and self.given_at <= moment
            and (self.expires_at is None or self.expires_at > moment)
        )


class ReferralSection(models.TextChoices):
    SUMMARY = "summary", "Care summary"
    ENCOUNTERS = "encounters", "Encounters"
    CLINICAL = "clinical", "Clinical detail"


class ReferralFormat(models.TextChoices):
    FHIR = "fhir", "HL7 FHIR R4 bundle (JSON)"
    PDF = "pdf", "Referral letter (PDF, AES-256)"


class Referral(models.Model):
    """The disclosure record (AS9-TRF-4): who sent what to whom, under which consent,
    and the package's SHA-256. Never the package itself once it has been collected."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="referrals")
    recipient = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=20, choices=ConsentScope.choices)
    sections = models.JSONField(default=list)
    include_identity = models.BooleanField(default=False)
    staff_names = models.BooleanField(default=False)
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="referrals")
    format = models.CharField(max_length=10, choices=ReferralFormat.choices)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    exported_at = models.DateTimeField(default=timezone.now)
    sha256 = models.CharField(max_length=64)
    available_until = models.DateTimeField()
    downloaded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"referral {self.pk}"


class ReferralPackage(models.Model):
    """The package between export and download, encrypted under the survivor's key and
    deleted when collected or expired. The passphrase of a PDF is never stored."""

    referral = models.OneToOneField(
        Referral, on_delete=models.CASCADE, primary_key=True, related_name="package"
    )
    content = EncryptedBinaryField(max_length=50_000_000)

    def __str__(self) -> str:
        return f"package of referral {self.referral_id}"

    def data_key(self) -> DataKey:
        return self.referral.case.survivor.data_key()


class Revision(models.Model):
    """The previous values of a record that was corrected (AS9-END-4), encrypted under
    the same survivor's key. ``version`` is the version that was replaced."""

    class Subject(models.TextChoices):
        IDENTITY = "identity", "Identity"
        CASE = "case", "Case"
        ENCOUNTER = "encounter", "Encounter"

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

    def data_key(self) -> DataKey:
        return self.survivor.data_key()


class BlindIndexEntry(models.Model):
    """One truncated HMAC of one identity field under one index key (see
    ``access.crypto.blind``). Rows for a second index key exist only while the index
    key is being rotated; shredding a survivor deletes theirs."""

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
                fields=["survivor", "field", "key_id"], name="bidx_one_per_field_and_key"
            )
        ]

    def __str__(self) -> str:
        return f"blind index {self.field}/{self.key_id} of {self.survivor_id}"
