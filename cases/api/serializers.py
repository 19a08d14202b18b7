from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cases import validators
from cases.api.fields import (
    StrictBooleanField,
    StrictIntegerField,
    StrictSerializer,
    choice_list,
    text,
    text_list,
)
from cases.models import (
    IDENTITY_FIELDS,
    ConsentMethod,
    ConsentScope,
    EncounterKind,
    ReferralFormat,
    ReferralSection,
    RiskLevel,
    Service,
    Sex,
    TraffickingType,
)


class IdentityInput(StrictSerializer):
    given_name = text(200)
    family_name = text(200)
    aliases = text_list()
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, validators=[validators.validate_birth_date]
    )
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_null=True)
    nationality = text(100)
    languages = text_list()
    phone = text(40)
    email = serializers.EmailField(max_length=254, required=False, allow_null=True)
    address = text(500)
    safe_contact = text(1000)
    declined = choice_list(list(IDENTITY_FIELDS))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        both = {name for name in attrs.get("declined", []) if attrs.get(name) is not None}
        if both:
            raise serializers.ValidationError(
                {name: ["Given and declined at once."] for name in sorted(both)}, code="conflict"
            )
        return attrs


class IdentityPatchInput(IdentityInput):
    version = StrictIntegerField(required=False, min_value=1)


class IdentityOutput(serializers.Serializer[Any]):
    given_name = serializers.CharField(allow_null=True)
    family_name = serializers.CharField(allow_null=True)
    aliases = serializers.ListField(child=serializers.CharField(), allow_null=True)
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
        required=False, help_text="how consent to store the information was given (AS9-COL-2)"
    )
    summary = text(20_000)
    referral_source = text(500)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, required=False)
    trafficking_types = choice_list(TraffickingType.values)


class CaseSearchInput(StrictSerializer):
    given_name = text(200, allow_null=False)
    family_name = text(200, allow_null=False)
    date_of_birth = serializers.DateField(required=False)
    phone = text(40, allow_null=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give at least one of the search fields."]}, code="required"
            )
        return attrs


class DuplicatesOutput(serializers.Serializer[Any]):
    readable = serializers.ListField(
        child=serializers.CharField(), help_text="references of matching cases you may open"
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
    retention_until = serializers.DateField(allow_null=True)

    def get_trafficking_types(self, obj: Any) -> list[str]:
        return list(obj.trafficking_types or [])


class CaseCreatedOutput(CaseOutput):
    possible_duplicates = DuplicatesOutput()


class ClinicalEntry(StrictSerializer):
    display = text(1000, required=True, allow_null=False)
    code = text(100)
    system = text(300)


class ClinicalInput(StrictSerializer):
    conditions = ClinicalEntry(many=True, required=False)
    medications = ClinicalEntry(many=True, required=False)
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
    clinical = ClinicalInput(required=False, allow_null=True)


class EncounterPatchInput(EncounterInput):
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
    author = serializers.CharField(source="author.username")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_services_provided(self, obj: Any) -> list[str]:
        return list(obj.services_provided or [])


class ClinicalEncounterOutput(EncounterOutput):
    """For clinicians on the case only; everyone else gets ``EncounterOutput``, which
    has no ``clinical`` key at all (not even an empty one)."""

    clinical = serializers.JSONField(allow_null=True)


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
    active = serializers.SerializerMethodField()

    def get_active(self, obj: Any) -> bool:
        from django.utils import timezone

        now = timezone.now()
        return obj.revoked_at is None and (obj.expires_at is None or obj.expires_at > now)


class BreakGlassInput(StrictSerializer):
    reason = text(500, required=True, allow_null=False, min_length=10)


class OrganisationInput(StrictSerializer):
    name = text(200, required=True, allow_null=False)
    slug = serializers.SlugField(max_length=60)
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
    recipient = serializers.SlugField(max_length=60, required=False, allow_null=True)
    purpose = text(1000)
    identity = StrictBooleanField(required=False, default=False)
    method = serializers.ChoiceField(choices=ConsentMethod.choices)
    interpreter_used = StrictBooleanField(required=False, default=False)
    given_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    form_base64 = text(7_000_000, help_text="scanned signed form: PDF, PNG or JPEG, base64")

    def validate_form_base64(self, value: str | None) -> bytes | None:
        import base64
        import binascii

        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("Not valid base64.", code="invalid") from exc


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
    active = serializers.SerializerMethodField()

    def get_has_form(self, obj: Any) -> bool:
        return bool(obj.form_type)

    def get_active(self, obj: Any) -> bool:
        from django.utils import timezone

        return bool(obj.valid_at(timezone.now()))


class WithdrawInput(StrictSerializer):
    reason = text(1000)


class ReferralInput(StrictSerializer):
    recipient = serializers.SlugField(max_length=60)
    purpose = serializers.ChoiceField(
        choices=[ConsentScope.REFERRAL, ConsentScope.LEGAL],
        help_text="referral (continuity of care) or legal (legal proceedings); each needs a "
        "consent of that scope naming the recipient",
    )
    sections = serializers.ListField(
        child=serializers.ChoiceField(choices=ReferralSection.choices), min_length=1, max_length=3
    )
    include_identity = StrictBooleanField(required=False, default=False)
    staff_names = StrictBooleanField(
        required=False, default=False, help_text="name staff instead of role labels"
    )
    format = serializers.ChoiceField(choices=ReferralFormat.choices)


class ReferralCreatedOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    download_url = serializers.CharField()
    sha256 = serializers.CharField()
    passphrase = serializers.CharField(required=False, help_text="PDF only; shown once")
    available_until = serializers.DateTimeField()
