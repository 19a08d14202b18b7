"""Web forms. Required care data is kept apart from optional detail (AS9-COL-3), and
every identity field can be left unknown or marked as declined (AS9-COL-1)."""

from __future__ import annotations

from typing import Any

from django import forms

from cases import validators
from cases.models import (
    IDENTITY_FIELDS,
    EncounterKind,
    RiskLevel,
    Service,
    Sex,
    TraffickingType,
)

_LIST_HINT = "One per line."


def _lines(value: str) -> list[str] | None:
    items = [line.strip() for line in value.splitlines() if line.strip()]
    return items or None


class IdentityFieldsMixin(forms.Form):
    given_name = forms.CharField(max_length=200, required=False, label="Given name")
    family_name = forms.CharField(max_length=200, required=False, label="Family name")
    aliases = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=_LIST_HINT
    )
    date_of_birth = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validators.validate_birth_date],
    )
    sex = forms.ChoiceField(choices=[("", "Not recorded"), *Sex.choices], required=False)
    nationality = forms.CharField(max_length=100, required=False)
    languages = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=_LIST_HINT
    )
    phone = forms.CharField(max_length=40, required=False)
    email = forms.EmailField(max_length=254, required=False)
    address = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    safe_contact = forms.CharField(
        max_length=1000,
        required=False,
        label="Safe-contact instructions",
        help_text="How and when it is safe to contact this person.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    declined = forms.MultipleChoiceField(
        choices=[(name, name.replace("_", " ").capitalize()) for name in IDENTITY_FIELDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="The person declined to give",
        help_text="Leave a field empty when it is simply not known.",
    )

    def identity_data(self) -> tuple[dict[str, Any], list[str]]:
        data = self.cleaned_data
        identity: dict[str, Any] = {}
        for name in IDENTITY_FIELDS:
            value = data.get(name)
            if name in ("aliases", "languages"):
                value = _lines(value or "")
            if value in ("", None):
                continue
            identity[name] = value
        declined = list(data.get("declined") or [])
        for name in declined:
            if name in identity:
                self.add_error(name, "This field is filled in and marked declined.")
        return identity, declined

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("aliases", "languages"):
            try:
                validators.validate_string_list(name, _lines(cleaned.get(name) or ""))
            except forms.ValidationError as exc:
                self.add_error(name, exc)
        return cleaned


class IntakeForm(IdentityFieldsMixin):
    storage_consent_method = forms.ChoiceField(
        choices=[("written", "Written"), ("verbal", "Verbal")],
        label="Consent to store this information was given",
        widget=forms.RadioSelect,
    )
    storage_consent_interpreter = forms.BooleanField(
        required=False, label="An interpreter was used for the consent"
    )
    confirm_new_person = forms.BooleanField(
        required=False,
        label="I have checked: this is a different person. Open a new case.",
    )
    risk_level = forms.ChoiceField(choices=RiskLevel.choices, initial=RiskLevel.MEDIUM)
    trafficking_types = forms.MultipleChoiceField(
        choices=TraffickingType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    referral_source = forms.CharField(max_length=500, required=False)
    summary = forms.CharField(
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Care summary",
        help_text=(
            "Only what care needs now. Do not ask the person to retell what happened to them."
        ),
    )


class SearchForm(forms.Form):
    """Exact identity search. Sent by POST so that names never appear in a URL."""

    given_name = forms.CharField(max_length=200, required=False)
    family_name = forms.CharField(max_length=200, required=False)
    date_of_birth = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(max_length=40, required=False)

    def criteria(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(v not in ("", None) for v in cleaned.values()):
            raise forms.ValidationError("Fill in at least one field to search.")
        return cleaned


class EncounterForm(forms.Form):
    occurred_at = forms.DateTimeField(
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        validators=[validators.validate_occurred_at],
    )
    kind = forms.ChoiceField(choices=EncounterKind.choices)
    location = forms.CharField(
        max_length=200, required=False, label="Where", help_text="Coarse: a town or a service."
    )
    interpreter_used = forms.BooleanField(required=False, label="An interpreter was used")
    notes = forms.CharField(max_length=20_000, required=False, widget=forms.Textarea)
    services_provided = forms.MultipleChoiceField(
        choices=Service.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    follow_up_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validators.validate_follow_up],
    )

    CLINICAL_SECTIONS = validators.CLINICAL_SECTIONS

    def __init__(self, *args: Any, clinical: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinical = clinical
        if clinical:
            for section in self.CLINICAL_SECTIONS:
                self.fields[f"clinical_{section}"] = forms.CharField(
                    required=False,
                    max_length=20_000,
                    label=section.capitalize(),
                    help_text=_LIST_HINT,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )

    def encounter_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data[name]
            for name in (
                "occurred_at",
                "kind",
                "interpreter_used",
                "services_provided",
                "follow_up_date",
            )
        }
        data["location"] = self.cleaned_data["location"] or None
        data["notes"] = self.cleaned_data["notes"] or None
        return data

    def clinical_data(self) -> dict[str, Any] | None:
        block = {}
        for section in self.CLINICAL_SECTIONS:
            items = _lines(self.cleaned_data.get(f"clinical_{section}") or "")
            if items:
                block[section] = [{"display": item} for item in items]
        return block or None

    @staticmethod
    def initial_from(encounter: Any, *, clinical: bool) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "occurred_at": encounter.occurred_at,
            "kind": encounter.kind,
            "location": encounter.location or "",
            "interpreter_used": encounter.interpreter_used,
            "notes": encounter.notes or "",
            "services_provided": encounter.services_provided or [],
            "follow_up_date": encounter.follow_up_date,
        }
        if clinical:
            for section in EncounterForm.CLINICAL_SECTIONS:
                items = (encounter.clinical or {}).get(section, [])
                initial[f"clinical_{section}"] = "\n".join(i["display"] for i in items)
        return initial


class EncounterEditForm(EncounterForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
