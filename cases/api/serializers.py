from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from access.crypto import blind
from cases import validators
from cases.models import (
    CLOSURE_CHECKLIST,
    IDENTITY_FIELDS,
    AttachmentKind,
    CloseReason,
    ConsentMethod,
    ConsentScope,
    EncounterKind,
    GoalStatus,
    ReceiverStatus,
    ReferralFormat,
    ReferralSection,
    RequestFormat,
    RequestKind,
    RiskLevel,
    Service,
    ServiceStatus,
    ServiceType,
    Sex,
    TraffickingType,
)
from haven.api import min_properties, required_in_patch
from haven.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
    StrictIntegerField,
    StrictSerializer,
    StrictSlugField,
    choice_list,
    text,
    text_list,
)


class IdentityInput(StrictSerializer):
    given_name = text(200)
    family_name = text(200)
    aliases = text_list()
    script_names = text_list(
        max_items=10,
        help_text="the name as written in other scripts (Arabic, Thai...)",
    )
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, validators=[validators.validate_birth_date]
    )
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_null=True)
    nationality = text(100)
    languages = text_list()
    phone = text(40)
    email = StrictEmailField(max_length=254, required=False, allow_null=True)
    address = text(500)
    safe_contact = text(1000)
    declined = choice_list(list(IDENTITY_FIELDS))


class IdentityPatchInput(IdentityInput):
    version = StrictIntegerField(required=False, min_value=1)


class IdentityOutput(serializers.Serializer[Any]):
    given_name = serializers.CharField(allow_null=True)
    family_name = serializers.CharField(allow_null=True)
    aliases = serializers.ListField(child=serializers.CharField(), allow_null=True)
    script_names = serializers.ListField(child=serializers.CharField(), allow_null=True)
    date_of_birth = serializers.DateField(allow_null=True)
    sex = serializers.CharField(allow_null=True)
    nationality = serializers.CharField(allow_null=True)
    languages = serializers.ListField(child=serializers.CharField(), allow_null=True)
    phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    address = serializers.CharField(allow_null=True)
    safe_contact = serializers.CharField(allow_null=True)
    declined = serializers.SerializerMethodField()
    version = serializers.IntegerField()

    def get_declined(self, obj: Any) -> list[str]:
        return list(obj.declined or [])


class StorageConsentInput(StrictSerializer):
    method = serializers.ChoiceField(choices=ConsentMethod.choices)
    interpreter_used = StrictBooleanField(required=False, default=False)


class CaseCreateInput(StrictSerializer):
    identity = IdentityInput(required=False)
    storage_consent = StorageConsentInput(
        required=False,
        help_text="how consent to store the information was given (AS9-COL-2)",
    )
    summary = text(20_000)
    referral_source = text(500)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, required=False)
    trafficking_types = choice_list(TraffickingType.values)


@min_properties(1)
class CaseSearchInput(StrictSerializer):
    name = text(
        200,
        allow_null=False,
        help_text="Words of any recorded name (given, family, aliases, other scripts) in "
        "any order, with case and accents ignored: 'Nguyen Thi' finds 'Nguyễn Thị'. "
        "An addition to the contract's exact fields; combinable with them.",
    )
    given_name = text(200, allow_null=False)
    family_name = text(200, allow_null=False)
    date_of_birth = serializers.DateField(required=False)
    phone = text(40, allow_null=False)

    def validate_name(self, value: str) -> str:
        if not blind.words(value):
            raise serializers.ValidationError(
                _("Give at least one word of a name."), code="invalid"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give at least one of the search fields."]}, code="required"
            )
        return attrs


class DuplicatesOutput(serializers.Serializer[Any]):
    readable = serializers.ListField(
        child=serializers.CharField(),
        help_text="references of matching cases you may open",
    )
    elsewhere = serializers.BooleanField(
        help_text="a match exists in a case you cannot open; a supervisor can check it"
    )


class CaseListOutput(serializers.Serializer[Any]):
    reference = serializers.CharField(source="survivor.reference")
    status = serializers.CharField()
    risk_level = serializers.CharField()
    opened_at = serializers.DateTimeField()
    last_encounter_at = serializers.DateTimeField(allow_null=True)
    next_follow_up = serializers.DateField(allow_null=True)
    retention_until = serializers.DateField(
        allow_null=True,
        help_text="a closed case is kept until this date, unless held",
    )
    legal_hold = serializers.BooleanField()


class CaseOutput(serializers.Serializer[Any]):
    reference = serializers.CharField(source="survivor.reference")
    team = serializers.CharField(source="team.slug")
    status = serializers.CharField()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    risk_level = serializers.CharField()
    trafficking_types = serializers.SerializerMethodField()
    referral_source = serializers.CharField(allow_null=True)
    summary = serializers.CharField(allow_null=True)
    legal_hold = serializers.BooleanField()
    legal_hold_at = serializers.DateTimeField(
        allow_null=True, help_text="since when the case is on legal hold"
    )
    retention_until = serializers.DateField(allow_null=True)
    version = serializers.IntegerField(help_text="send it back with a change (stale → 409)")
    close_reason = serializers.CharField(
        allow_blank=True, help_text="why the case was closed; empty while open"
    )
    follow_up_on = serializers.DateField(
        allow_null=True, help_text="the follow-up date of the latest encounter"
    )
    recording_paused = serializers.SerializerMethodField(
        help_text="the consent to storage is withdrawn: only care-critical notes are recorded"
    )

    def get_trafficking_types(self, obj: Any) -> list[str]:
        return list(obj.trafficking_types or [])

    def get_recording_paused(self, obj: Any) -> bool:
        return not obj.recording_allowed


class CaseCreatedOutput(CaseOutput):
    possible_duplicates = DuplicatesOutput()


class ClinicalEntry(StrictSerializer):
    display = text(1000, required=True, allow_null=False)
    code = text(
        100,
        validators=[validators.validate_code],
        help_text="a FHIR code (no double spaces); needs its system",
    )
    system = text(300, validators=[validators.validate_system], help_text="a code system URI")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("code") is None) != (attrs.get("system") is None):
            raise serializers.ValidationError(
                {"system": ["A code needs its code system, and a code system its code."]},
                code="invalid",
            )
        return attrs


class MedicationEntry(ClinicalEntry):
    status = serializers.ChoiceField(
        choices=validators.MEDICATION_STATUSES,
        required=False,
        help_text="FHIR MedicationStatement status; unknown when not given",
    )


class ClinicalInput(StrictSerializer):
    conditions = ClinicalEntry(many=True, required=False)
    medications = MedicationEntry(many=True, required=False)
    allergies = ClinicalEntry(many=True, required=False)
    observations = ClinicalEntry(many=True, required=False)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        # Keep only what was given; drop None so the stored block is minimal.
        return {
            section: [{k: v for k, v in item.items() if v is not None} for item in items]
            for section, items in value.items()
        }


class EncounterInput(StrictSerializer):
    occurred_at = serializers.DateTimeField(validators=[validators.validate_occurred_at])
    kind = serializers.ChoiceField(choices=EncounterKind.choices)
    notes = text(20_000)
    location = text(200)
    interpreter_used = StrictBooleanField(required=False, default=False)
    services_provided = choice_list(Service.values)
    follow_up_date = serializers.DateField(
        required=False, allow_null=True, validators=[validators.validate_follow_up]
    )
    care_critical = StrictBooleanField(
        required=False,
        default=False,
        help_text="needed for the person's safety or care: recorded even while their "
        "consent to storage is withdrawn",
    )
    clinical = ClinicalInput(required=False, allow_null=True)


@required_in_patch("version")
class EncounterPatchInput(EncounterInput):
    # An edit keeps the encounter's own dates: the model checks them around the day
    # the encounter happened, not around today.
    occurred_at = serializers.DateTimeField(required=False)
    follow_up_date = serializers.DateField(required=False, allow_null=True)
    version = StrictIntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "version" not in attrs:
            raise serializers.ValidationError(
                {"version": ["Send the version you read."]}, code="required"
            )
        return attrs


class EncounterOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    occurred_at = serializers.DateTimeField()
    kind = serializers.CharField()
    location = serializers.CharField(allow_null=True)
    interpreter_used = serializers.BooleanField()
    notes = serializers.CharField(allow_null=True)
    services_provided = serializers.SerializerMethodField()
    follow_up_date = serializers.DateField(allow_null=True)
    care_critical = serializers.BooleanField()
    author = serializers.CharField(source="author.username")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_services_provided(self, obj: Any) -> list[str]:
        return list(obj.services_provided or [])


class ClinicalItemOutput(serializers.Serializer[Any]):
    display = serializers.CharField()
    code = serializers.CharField(required=False)
    system = serializers.CharField(required=False)
    status = serializers.CharField(required=False, help_text="medications only")


class ClinicalOutput(serializers.Serializer[Any]):
    conditions = ClinicalItemOutput(many=True, required=False)
    medications = ClinicalItemOutput(many=True, required=False)
    allergies = ClinicalItemOutput(many=True, required=False)
    observations = ClinicalItemOutput(many=True, required=False)


class ClinicalEncounterOutput(EncounterOutput):
    """For clinicians on the case only; everyone else gets ``EncounterOutput``, which
    has no ``clinical`` key at all (not even an empty one). In the schema the key is
    optional, which is what a client sees: present for clinicians, absent otherwise."""

    clinical = ClinicalOutput(
        allow_null=True,
        required=False,
        help_text="clinicians on the case only; absent for everyone else (AS9-STO-4)",
    )


class GrantInput(StrictSerializer):
    user = text(150, required=True, allow_null=False)
    reason = text(500, required=True, allow_null=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class GrantOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    user = serializers.CharField(source="user.username")
    role = serializers.CharField(source="user.role")
    kind = serializers.CharField()
    reason = serializers.CharField()
    granted_by = serializers.CharField(source="granted_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField(source="in_force", read_only=True)


class BreakGlassInput(StrictSerializer):
    reason = text(500, required=True, allow_null=False, min_length=10)


class OrganisationInput(StrictSerializer):
    name = text(200, required=True, allow_null=False)
    slug = StrictSlugField(max_length=60)
    contact = text(500)
    languages = text_list()
    services = text_list()
    verified_on = serializers.DateField(required=False, allow_null=True)


class OrganisationOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    slug = serializers.CharField()
    contact = serializers.CharField()
    languages = serializers.ListField(child=serializers.CharField())
    services = serializers.ListField(child=serializers.CharField())
    verified_on = serializers.DateField(allow_null=True)


class ConsentInput(StrictSerializer):
    scope = serializers.ChoiceField(choices=ConsentScope.choices)
    recipient = StrictSlugField(max_length=60, required=False, allow_null=True)
    purpose = text(1000)
    identity = StrictBooleanField(required=False, default=False)
    method = serializers.ChoiceField(choices=ConsentMethod.choices)
    interpreter_used = StrictBooleanField(required=False, default=False)
    given_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    form_base64 = text(7_000_000, help_text="scanned signed form: PDF, PNG or JPEG, base64")

    def validate_form_base64(self, value: str | None) -> bytes | None:
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError(_("Not valid base64."), code="invalid") from exc


class ConsentOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    scope = serializers.CharField()
    recipient = serializers.CharField(source="recipient.slug", allow_null=True)
    purpose = serializers.CharField(allow_null=True)
    identity = serializers.BooleanField()
    method = serializers.CharField()
    interpreter_used = serializers.BooleanField()
    recorded_by = serializers.CharField(source="recorded_by.username")
    given_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    has_form = serializers.SerializerMethodField()
    active = serializers.BooleanField(source="in_force", read_only=True)

    def get_has_form(self, obj: Any) -> bool:
        return bool(obj.form_type)


class WithdrawInput(StrictSerializer):
    reason = text(1000)


class ReferralInput(StrictSerializer):
    recipient = StrictSlugField(max_length=60)
    purpose = text(
        1000,
        required=True,
        allow_null=False,
        help_text="what the disclosure is for: the purpose of a consent active now for "
        "this recipient (compared trimmed and case-insensitive)",
    )
    scope = serializers.ChoiceField(
        choices=[ConsentScope.REFERRAL, ConsentScope.LEGAL],
        default=ConsentScope.REFERRAL,
        required=False,
        help_text="the kind of disclosure, and so the consent scope it needs: referral "
        "(continuity of care, the default) or legal (legal proceedings)",
    )
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=ReferralSection.choices), min_length=1, max_length=3
    )
    include_identity = StrictBooleanField(required=False, default=False)
    staff_names = StrictBooleanField(
        required=False, default=False, help_text="name staff instead of role labels"
    )
    format = serializers.ChoiceField(choices=ReferralFormat.choices)
    service = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="the service of this case the referral is for",
    )
    bundle_type = serializers.ChoiceField(
        choices=["transaction", "collection"],
        default="transaction",
        required=False,
        help_text="fhir only: a transaction Bundle (every entry a POST, importable as it "
        "is) or a collection",
    )


class ReferralCreatedOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    download_url = serializers.CharField()
    sha256 = serializers.CharField()
    passphrase = serializers.CharField(required=False, help_text="PDF only; shown once")
    available_until = serializers.DateTimeField()


# --- the case's facts and life cycle -------------------------------------------------


class VersionedPatch(StrictSerializer):
    """A change to a versioned record: the version read, and at least one field."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs) < 2:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send at least one field to change, and the version."]},
                code="required",
            )
        return attrs


@min_properties(2)
@required_in_patch("version")
class CasePatchInput(VersionedPatch):
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, required=False)
    summary = text(20_000)
    trafficking_types = choice_list(TraffickingType.values)
    referral_source = text(500)
    version = StrictIntegerField(min_value=1, help_text="the version you read")


class ChecklistInput(StrictSerializer):
    """The closure checklist: given, every point must be true."""

    services_settled = StrictBooleanField(help_text=CLOSURE_CHECKLIST["services_settled"])
    survivor_informed = StrictBooleanField(help_text=CLOSURE_CHECKLIST["survivor_informed"])
    follow_ups_settled = StrictBooleanField(help_text=CLOSURE_CHECKLIST["follow_ups_settled"])


class CloseInput(StrictSerializer):
    reason = serializers.ChoiceField(choices=CloseReason.choices)
    note = text(2000)
    checklist = ChecklistInput(
        required=False,
        help_text="the closure checklist; given, every point must be true",
    )
    version = StrictIntegerField(required=False, min_value=1)


class ReopenInput(StrictSerializer):
    reason = text(1000, required=True, allow_null=False)
    version = StrictIntegerField(required=False, min_value=1)


class RevisionOutput(serializers.Serializer[Any]):
    version = serializers.IntegerField(help_text="the version these values belonged to")
    changed_at = serializers.DateTimeField(help_text="when they were replaced")
    changed_by = serializers.SerializerMethodField(help_text="the role of who replaced them")
    # The metaclass takes declared fields off the class, so this key does not shadow
    # ``Serializer.fields``.
    fields = serializers.ListField(  # type: ignore[assignment]
        source="changed_fields",
        child=serializers.CharField(),
        help_text="what changed",
    )
    previous = serializers.JSONField(help_text="the earlier values of those fields")

    def get_changed_by(self, obj: Any) -> str:
        return str(obj.changed_by.get_role_display() or "Staff member")


# --- the care work ------------------------------------------------------------------


class GoalInput(StrictSerializer):
    goal = text(2000, required=True, allow_null=False, help_text="in the survivor's words")
    agreed_on = serializers.DateField()
    review_on = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=GoalStatus.choices, required=False)


@min_properties(2)
@required_in_patch("version")
class GoalPatchInput(VersionedPatch):
    goal = text(2000, allow_null=False)
    agreed_on = serializers.DateField(required=False)
    review_on = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=GoalStatus.choices, required=False)
    version = StrictIntegerField(min_value=1)


class GoalOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    goal = serializers.CharField()
    agreed_on = serializers.DateField()
    review_on = serializers.DateField(allow_null=True)
    status = serializers.CharField()
    version = serializers.IntegerField()
    created_by = serializers.CharField(source="created_by.username")
    updated_at = serializers.DateTimeField()


class ServiceInput(StrictSerializer):
    type = serializers.ChoiceField(choices=ServiceType.choices)
    status = serializers.ChoiceField(choices=ServiceStatus.choices, required=False)
    provider = StrictSlugField(
        max_length=60,
        required=False,
        allow_null=True,
        help_text="an organisation's slug",
    )
    due_on = serializers.DateField(required=False, allow_null=True)
    notes = text(5000)


@min_properties(2)
@required_in_patch("version")
class ServicePatchInput(VersionedPatch):
    type = serializers.ChoiceField(choices=ServiceType.choices, required=False)
    status = serializers.ChoiceField(choices=ServiceStatus.choices, required=False)
    provider = StrictSlugField(max_length=60, required=False, allow_null=True)
    due_on = serializers.DateField(required=False, allow_null=True)
    notes = text(5000)
    version = StrictIntegerField(min_value=1)


class ServiceOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    type = serializers.CharField()
    status = serializers.CharField()
    provider = serializers.CharField(source="provider.slug", allow_null=True)
    due_on = serializers.DateField(allow_null=True)
    notes = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class TaskInput(StrictSerializer):
    title = text(500, required=True, allow_null=False)
    due_on = serializers.DateField()
    assigned_to = text(150, help_text="the username of a member of the case's team")


@min_properties(2)
@required_in_patch("version")
class TaskPatchInput(VersionedPatch):
    title = text(500, allow_null=False)
    due_on = serializers.DateField(required=False)
    assigned_to = text(150)
    done = StrictBooleanField(required=False)
    version = StrictIntegerField(min_value=1)


class TaskOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    title = serializers.CharField()
    due_on = serializers.DateField()
    assigned_to = serializers.CharField(source="assigned_to.username", allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()


class DueOutput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=["follow_up", "task", "service", "plan_review", "consent_review"]
    )
    case = serializers.CharField(source="reference")
    risk_level = serializers.CharField()
    due_on = serializers.DateField()
    overdue = serializers.BooleanField()
    title = serializers.CharField(help_text="the task or goal in its own words, or a label")
    id = serializers.UUIDField(source="record_id", allow_null=True)
    assigned_to = serializers.CharField(source="assigned_to.username", allow_null=True)


class DueQuery(StrictSerializer):
    when = serializers.ChoiceField(
        choices=["overdue", "today", "week"],
        required=False,
        help_text="overdue: before today; today; week: today and the six days after. "
        "Left out: everything due up to a week ahead, overdue included",
    )
    sort = serializers.ChoiceField(choices=["due", "risk"], required=False, default="due")
    mine = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        default="false",
        help_text="only the cases assigned to the caller and the tasks given to them",
    )


class AttachmentOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    title = serializers.CharField()
    media_type = serializers.CharField()
    size = serializers.IntegerField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()


class AttachmentInput(serializers.Serializer[Any]):
    """Multipart form data (the schema's ``multipart/form-data`` body)."""

    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=AttachmentKind.choices)
    title = StrictCharField(max_length=200)


class ReferralOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    recipient = serializers.CharField(source="recipient.slug")
    scope = serializers.CharField()
    sections = serializers.ListField(child=serializers.CharField())
    include_identity = serializers.BooleanField()
    format = serializers.CharField()
    exported_by = serializers.CharField(source="exported_by.username")
    exported_at = serializers.DateTimeField()
    sha256 = serializers.CharField()
    downloaded_at = serializers.DateTimeField(allow_null=True)
    service = serializers.UUIDField(source="service_id", allow_null=True)
    status = serializers.CharField(source="receiver_status")
    status_at = serializers.DateTimeField(source="receiver_status_at", allow_null=True)


@required_in_patch("status")
class ReferralStatusInput(StrictSerializer):
    status = serializers.ChoiceField(
        choices=ReceiverStatus.choices,
        help_text="what the receiving organisation answered",
    )


# --- after care: legal hold, data-subject requests -------------------------------


class LegalHoldInput(StrictSerializer):
    reason = text(1000, required=True, allow_null=False)


class LegalHoldOutput(serializers.Serializer[Any]):
    """What the hold changed, and no case content (the DPO reads none)."""

    reference = serializers.CharField(source="survivor.reference")
    status = serializers.CharField()
    legal_hold = serializers.BooleanField()
    legal_hold_at = serializers.DateTimeField(allow_null=True)
    retention_until = serializers.DateField(allow_null=True)


class SubjectRequestInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    reason = text(2000, required=True, allow_null=False)
    format = serializers.ChoiceField(
        choices=RequestFormat.choices,
        required=False,
        help_text="for an access request: pdf (default) or json",
    )


class DecideInput(StrictSerializer):
    decision = serializers.ChoiceField(choices=[("approve", "approve"), ("refuse", "refuse")])
    note = text(2000)


class SubjectRequestOutput(serializers.Serializer[Any]):
    """A request as the DPO's queue and the requester see it: references, kinds, dates
    and status, never case content. ``download_url``, ``sha256`` and ``passphrase`` are
    for the requester of an approved access request; the passphrase is given once."""

    id = serializers.UUIDField()
    reference = serializers.CharField(source="survivor.reference")
    kind = serializers.CharField()
    format = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    requested_at = serializers.DateTimeField()
    requested_by = serializers.CharField(source="requested_by.username")
    age_days = serializers.SerializerMethodField(help_text="days since the request was made")
    decided_at = serializers.DateTimeField(allow_null=True)
    available_until = serializers.DateTimeField(allow_null=True)
    downloaded_at = serializers.DateTimeField(allow_null=True)
    language = serializers.CharField(allow_blank=True)

    def get_age_days(self, obj: Any) -> int:
        end: dt.datetime = obj.decided_at or timezone.now()
        return int((end - obj.requested_at).days)


class SubjectRequestDetailOutput(SubjectRequestOutput):
    download_url = serializers.CharField(required=False)
    sha256 = serializers.CharField(required=False)
    passphrase = serializers.CharField(
        required=False,
        help_text="the PDF's passphrase, in the first answer after approval only",
    )


class StatisticsCellOutput(serializers.Serializer[Any]):
    count = serializers.IntegerField(
        allow_null=True,
        help_text="null when suppressed: never a count under min_cell",
    )
    suppressed = serializers.BooleanField()


class StatisticsRowOutput(serializers.Serializer[Any]):
    value = serializers.CharField(help_text="the code counted by (or `cases`, or `total`)")
    label = serializers.CharField()  # type: ignore[assignment]
    cells = StatisticsCellOutput(many=True, help_text="one per month, in the order of months")
    total = StatisticsCellOutput(help_text="over every month, not only those shown")


class StatisticsOutput(serializers.Serializer[Any]):
    by = serializers.CharField()
    since = serializers.CharField(help_text="YYYY-MM")
    until = serializers.CharField(help_text="YYYY-MM")
    months = serializers.ListField(child=serializers.CharField())
    rows = StatisticsRowOutput(many=True)
    totals = StatisticsRowOutput(help_text="each month's total, and the grand total")
    min_cell = serializers.IntegerField(help_text="HAVEN_STATS_MIN_CELL")
    scope = serializers.CharField(
        help_text="research_consent: only cases with a research consent in force are counted"
    )
    as_of = serializers.DateTimeField()


class ProcessingLineOutput(serializers.Serializer[Any]):
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.CharField()


class ProcessingFieldOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    protection = serializers.ChoiceField(
        choices=["encrypted", "key or digest (binary)", "link", "clear"]
    )
    health = serializers.BooleanField(help_text="health data (GDPR Art. 9)")


class ProcessingCategoryOutput(serializers.Serializer[Any]):
    model = serializers.CharField(help_text="the model that holds it, app_label.Model")
    label = serializers.CharField()  # type: ignore[assignment]
    items = ProcessingFieldOutput(many=True, help_text="the model's fields")


class ProcessingActivityOutput(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    purpose = serializers.CharField()
    subjects = serializers.ListField(child=serializers.CharField())
    categories = ProcessingCategoryOutput(many=True)


class ProcessingRecipientOutput(serializers.Serializer[Any]):
    name = serializers.CharField()
    verified_on = serializers.DateField(allow_null=True)
    disclosures = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="disclosures made, by consent scope",
    )


class ProcessingOutput(serializers.Serializer[Any]):
    generated_at = serializers.DateTimeField()
    controller = ProcessingLineOutput(many=True)
    activities = ProcessingActivityOutput(many=True)
    recipients = ProcessingRecipientOutput(many=True)
    transfers = serializers.CharField()
    retention = ProcessingLineOutput(many=True)
    measures = ProcessingLineOutput(many=True)
    holdings = ProcessingLineOutput(many=True, help_text="counts over all records")
    carers_use = ProcessingLineOutput(
        many=True,
        help_text="use of the care-for-carers features by month (YYYY-MM): counts, never who",
    )
    scopes = serializers.DictField(child=serializers.CharField(), help_text="consent scopes")


class TransferInput(StrictSerializer):
    reason = text(2000, required=True, allow_null=False)


class TransferDecideInput(StrictSerializer):
    decision = serializers.ChoiceField(choices=[("approve", "approve"), ("decline", "decline")])
    to_user = text(150)
    note = text(2000)


class TransferOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    reference = serializers.CharField(source="case.reference")
    status = serializers.CharField()
    requested_by = serializers.CharField(source="requested_by.username")
    requested_at = serializers.DateTimeField()
    reason = serializers.CharField(help_text="private to the requester and the supervisor")
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    to_user = serializers.CharField(source="to_user.username", allow_null=True, default=None)
    note = serializers.CharField(allow_blank=True, allow_null=True, help_text="none yet: null")


def statistics_data(table: Any) -> dict[str, Any]:
    """A ``services.Table`` as the API answers it."""

    def cell(c: Any) -> dict[str, Any]:
        return {"count": c.count, "suppressed": c.suppressed}

    def row(r: Any) -> dict[str, Any]:
        return {
            "value": r.value,
            "label": r.label,
            "cells": [cell(c) for c in r.cells],
            "total": cell(r.total),
        }

    return {
        "by": table.by,
        "since": table.since.isoformat()[:7],
        "until": table.until.isoformat()[:7],
        "months": table.months,
        "rows": [row(r) for r in table.rows],
        "totals": row(table.totals),
        "min_cell": table.min_cell,
        "scope": table.scope,
        "as_of": table.as_of.isoformat(),
    }
