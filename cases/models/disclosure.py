"""What may leave Haven and what did: the referral directory, consents, and the
referrals made under them (AS9-TRF).

``__str__`` of every model returns a reference or an id, never survivor data.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access.crypto.datakeys import DataKey
from access.crypto.fields import (
    EncryptedBinaryField,
    EncryptedModel,
    EncryptedTextField,
)
from audit.registry import AuditedQuerySet
from cases.models.records import Case


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
    STORAGE = "storage", _("Storing the information")
    REFERRAL = "referral", _("Referral to another provider")
    LEGAL = "legal", _("Legal proceedings")
    RESEARCH = "research", _("Research (anonymised)")
    PHOTO = "photo", _("Photographs")


class ConsentMethod(models.TextChoices):
    WRITTEN = "written", _("Written")
    VERBAL = "verbal", _("Verbal")


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


def same_purpose(a: str, b: str) -> bool:
    def canonical(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()

    return canonical(a) == canonical(b) != ""


class Consent(EncryptedModel):
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
        if self.scope in DISCLOSURE_SCOPES and not (self.purpose or "").strip():
            raise ValidationError(
                {"purpose": "A referral or legal consent says what the disclosure is for."}
            )
        if self.given_at is not None and self.given_at > timezone.now() + dt.timedelta(minutes=5):
            raise ValidationError({"given_at": "Consent cannot be given in the future."})
        if self.expires_at is not None and self.given_at is not None:
            if self.expires_at <= self.given_at:
                raise ValidationError({"expires_at": "The end must come after the consent."})

    def data_key(self) -> DataKey:
        return self.case.survivor.data_key()

    def covers_purpose(self, purpose: str) -> bool:
        """Whether ``purpose`` is this consent's purpose: the same words, whatever the
        case and the spacing around and between them (the contract's rule)."""
        return bool(self.purpose) and same_purpose(self.purpose or "", purpose)

    def valid_at(self, moment: dt.datetime) -> bool:
        return (
            self.withdrawn_at is None
            and self.given_at <= moment
            and (self.expires_at is None or self.expires_at > moment)
        )

    @property
    def in_force(self) -> bool:
        return self.valid_at(timezone.now())


class ReferralSection(models.TextChoices):
    SUMMARY = "summary", _("Care summary")
    ENCOUNTERS = "encounters", _("Encounters")
    CLINICAL = "clinical", _("Clinical detail")


class ReferralFormat(models.TextChoices):
    FHIR = "fhir", _("HL7 FHIR R4 bundle (JSON)")
    PDF = "pdf", _("Referral letter (PDF, AES-256)")


class ReceiverStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACCEPTED = "accepted", _("Accepted")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Declined")


class Referral(EncryptedModel):
    """The disclosure record (AS9-TRF-4): who sent what to whom, for which purpose,
    under which consent, and the package's SHA-256. Never the package itself once it
    has been collected. ``scope`` is the kind of disclosure (referral or legal); the
    purpose is the consent's own words, encrypted like them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="referrals")
    recipient = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=20, choices=ConsentScope.choices)
    purpose = EncryptedTextField(max_length=1000)
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
    service = models.ForeignKey(
        "cases.CaseService",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals",
        help_text=_("The service this referral asks for."),
    )
    receiver_status = models.CharField(
        max_length=20, choices=ReceiverStatus.choices, default=ReceiverStatus.SENT
    )
    receiver_status_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"referral {self.pk}"

    def data_key(self) -> DataKey:
        return self.case.survivor.data_key()


class ReferralPackage(EncryptedModel):
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
