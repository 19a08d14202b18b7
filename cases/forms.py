"""Web forms. Required care data is kept apart from optional detail (AS9-COL-3), and
every identity field can be left unknown or marked as declined (AS9-COL-1)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.crypto import blind
from cases import selectors, validators
from cases.models import (
    CLOSURE_CHECKLIST,
    DISCLOSURE_SCOPES,
    FORM_MAX_BYTES,
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
    RequestKind,
    RiskLevel,
    Service,
    ServiceStatus,
    ServiceType,
    Sex,
    TraffickingType,
)
from haven.widgets import DateInput, DateTimeInput

_LIST_HINT = "One per line."


def _lines(value: str) -> list[str] | None:
    items = [line.strip() for line in value.splitlines() if line.strip()]
    return items or None


class IdentityFieldsMixin(forms.Form):
    given_name = forms.CharField(max_length=200, required=False, label=gettext_lazy("Given name"))
    family_name = forms.CharField(max_length=200, required=False, label=gettext_lazy("Family name"))
    script_names = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=gettext_lazy("Name in other scripts"),
        help_text=gettext_lazy(
            "The name as the person writes it in another script (Arabic, Thai, "
            "Cyrillic…). One per line."
        ),
    )
    aliases = forms.CharField(
        label=gettext_lazy("Other names"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_LIST_HINT,
    )
    date_of_birth = forms.DateField(
        label=gettext_lazy("Date of birth"),
        required=False,
        widget=DateInput(),
        validators=[validators.validate_birth_date],
    )
    sex = forms.ChoiceField(
        label=gettext_lazy("Sex"),
        choices=[("", gettext_lazy("Not recorded")), *Sex.choices],
        required=False,
    )
    nationality = forms.CharField(label=gettext_lazy("Nationality"), max_length=100, required=False)
    languages = forms.CharField(
        label=gettext_lazy("Languages"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_LIST_HINT,
    )
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254, required=False)
    address = forms.CharField(
        label=gettext_lazy("Address"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    safe_contact = forms.CharField(
        max_length=1000,
        required=False,
        label=gettext_lazy("Safe-contact instructions"),
        help_text=gettext_lazy("How and when it is safe to contact this person."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    declined = forms.MultipleChoiceField(
        choices=[(name, name.replace("_", " ").capitalize()) for name in IDENTITY_FIELDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("The person declined to give"),
        help_text=gettext_lazy("Leave a field empty when it is simply not known."),
    )

    def identity_data(self) -> tuple[dict[str, Any], list[str]]:
        data = self.cleaned_data
        identity: dict[str, Any] = {}
        for name in IDENTITY_FIELDS:
            value = data.get(name)
            if name in ("aliases", "languages", "script_names"):
                value = _lines(value or "")
            if value in ("", None):
                continue
            identity[name] = value
        return identity, list(data.get("declined") or [])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("aliases", "languages", "script_names"):
            try:
                validators.validate_string_list(name, _lines(cleaned.get(name) or ""))
            except forms.ValidationError as exc:
                self.add_error(None, exc)  # the error names its field
        return cleaned


class IntakeForm(IdentityFieldsMixin):
    storage_consent_method = forms.ChoiceField(
        choices=[("written", gettext_lazy("Written")), ("verbal", gettext_lazy("Verbal"))],
        label=gettext_lazy("Consent to store this information was given"),
        widget=forms.RadioSelect,
    )
    storage_consent_interpreter = forms.BooleanField(
        required=False, label=gettext_lazy("An interpreter was used for the consent")
    )
    confirm_new_person = forms.BooleanField(
        required=False,
        label=gettext_lazy("I have checked: this is a different person. Open a new case."),
    )
    risk_level = forms.ChoiceField(
        label=gettext_lazy("Risk level"), choices=RiskLevel.choices, initial=RiskLevel.MEDIUM
    )
    trafficking_types = forms.MultipleChoiceField(
        label=gettext_lazy("Trafficking types"),
        choices=TraffickingType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    referral_source = forms.CharField(
        label=gettext_lazy("Referral source"), max_length=500, required=False
    )
    summary = forms.CharField(
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label=gettext_lazy("Care summary"),
        help_text=(
            gettext_lazy(
                "Only what care needs now. Do not ask the person to retell what happened to them."
            )
        ),
    )


class SearchForm(forms.Form):
    """Identity search. Sent by POST so that names never appear in a URL."""

    name = forms.CharField(
        max_length=200,
        required=False,
        label=gettext_lazy("Name"),
        help_text=gettext_lazy(
            "Any words of the person's names, in any order and any script; accents "
            "and capitals do not matter."
        ),
    )
    given_name = forms.CharField(label=gettext_lazy("Given name"), max_length=200, required=False)
    family_name = forms.CharField(label=gettext_lazy("Family name"), max_length=200, required=False)
    date_of_birth = forms.DateField(
        label=gettext_lazy("Date of birth"), required=False, widget=DateInput()
    )
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=40, required=False)

    def criteria(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}

    def clean_name(self) -> str:
        name: str = self.cleaned_data.get("name") or ""
        if name and not blind.words(name):
            raise forms.ValidationError(_("Type at least one word of a name."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(v not in ("", None) for v in cleaned.values()):
            raise forms.ValidationError(_("Fill in at least one field to search."))
        return cleaned


class EncounterForm(forms.Form):
    occurred_at = forms.DateTimeField(
        label=gettext_lazy("When"),
        widget=DateTimeInput(),
        validators=[validators.validate_occurred_at],
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[("", gettext_lazy("Choose…")), *EncounterKind.choices],
        error_messages={"required": gettext_lazy("Choose the kind of encounter.")},
    )
    location = forms.CharField(
        max_length=200,
        required=False,
        label=gettext_lazy("Where"),
        help_text=gettext_lazy("Coarse: a town or a service."),
    )
    interpreter_used = forms.BooleanField(
        required=False, label=gettext_lazy("An interpreter was used")
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"), max_length=20_000, required=False, widget=forms.Textarea
    )
    services_provided = forms.MultipleChoiceField(
        label=gettext_lazy("Services provided"),
        choices=Service.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    follow_up_date = forms.DateField(
        required=False, widget=DateInput(), label=gettext_lazy("Follow-up date")
    )
    care_critical = forms.BooleanField(
        required=False,
        label=gettext_lazy("Care-critical"),
        help_text=gettext_lazy(
            "Needed for the person's safety or care (recorded even while their "
            "consent to storage is withdrawn)."
        ),
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
                "care_critical",
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
            "care_critical": encounter.care_critical,
        }
        if clinical:
            for section in EncounterForm.CLINICAL_SECTIONS:
                items = (encounter.clinical or {}).get(section, [])
                initial[f"clinical_{section}"] = "\n".join(i["display"] for i in items)
        return initial


class EncounterEditForm(EncounterForm):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def _organisation_choices() -> list[tuple[str, str]]:
    return [(o.slug, o.name) for o in selectors.organisations()]


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()][:20]


class ConsentForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[("", gettext_lazy("Choose…")), *ConsentScope.choices],
        label=gettext_lazy("What the person agreed to"),
        error_messages={"required": gettext_lazy("Choose what the person agreed to.")},
    )
    recipient = forms.ChoiceField(
        required=False, label=gettext_lazy("Recipient (for referral or legal)")
    )
    purpose = forms.CharField(
        label=gettext_lazy("Purpose"),
        max_length=1000,
        required=False,
        help_text=gettext_lazy("What it is for."),
    )
    identity = forms.BooleanField(
        required=False, label=gettext_lazy("Identifying details may be shared")
    )
    method = forms.ChoiceField(
        choices=ConsentMethod.choices,
        label=gettext_lazy("How consent was given"),
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose how consent was given.")},
    )
    interpreter_used = forms.BooleanField(
        required=False, label=gettext_lazy("An interpreter was used")
    )
    given_at = forms.DateTimeField(
        label=gettext_lazy("Given at"),
        widget=DateTimeInput(),
    )
    expires_at = forms.DateTimeField(
        required=False,
        label=gettext_lazy("Ends"),
        widget=DateTimeInput(),
    )
    form = forms.FileField(
        required=False,
        label=gettext_lazy("Scanned signed form"),
        help_text=gettext_lazy("PDF, PNG or JPEG, up to 5 MB. Stored encrypted."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].choices = [("", "—"), *_organisation_choices()]  # type: ignore[attr-defined]

    def clean_form(self) -> bytes | None:
        """The upload's bytes, refused unread when it is over the size limit."""
        upload = self.cleaned_data.get("form")
        if upload is None:
            return None
        if upload.size > FORM_MAX_BYTES:
            raise forms.ValidationError(
                _("The scanned form is larger than 5 MB."), code="too_large"
            )
        return bytes(upload.read())


class OrganisationForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    slug = forms.SlugField(
        label=gettext_lazy("Slug"),
        max_length=60,
        help_text=gettext_lazy("Short name used in links, e.g. riverside-clinic"),
    )
    contact = forms.CharField(label=gettext_lazy("Contact"), max_length=500, required=False)
    languages = forms.CharField(
        label=gettext_lazy("Languages"),
        max_length=500,
        required=False,
        help_text=gettext_lazy("Comma-separated."),
    )
    services = forms.CharField(
        label=gettext_lazy("Services"),
        max_length=500,
        required=False,
        help_text=gettext_lazy("Comma-separated."),
    )
    verified_on = forms.DateField(
        required=False, label=gettext_lazy("Last verified"), widget=DateInput()
    )

    def clean_languages(self) -> list[str]:
        return _comma_list(self.cleaned_data["languages"])

    def clean_services(self) -> list[str]:
        return _comma_list(self.cleaned_data["services"])


class ReferralForm(forms.Form):
    recipient = forms.ChoiceField(
        label=gettext_lazy("Recipient"),
    )
    scope = forms.ChoiceField(
        label=gettext_lazy("Kind of disclosure"),
        choices=[(s.value, s.label) for s in DISCLOSURE_SCOPES],
        help_text=gettext_lazy("Legal proceedings need their own consent."),
    )
    purpose = forms.CharField(
        label=gettext_lazy("Purpose"),
        max_length=1000,
        help_text=gettext_lazy("What it is for, in the words of the survivor's consent."),
        widget=forms.TextInput(attrs={"list": "consented-purposes"}),
    )
    sections = forms.MultipleChoiceField(
        label=gettext_lazy("Sections"),
        choices=ReferralSection.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    encounters_from = forms.DateField(
        required=False, label=gettext_lazy("Encounters from"), widget=DateInput()
    )
    encounters_to = forms.DateField(
        required=False, label=gettext_lazy("Encounters to"), widget=DateInput()
    )
    include_identity = forms.BooleanField(required=False, label=gettext_lazy("Include identity"))
    staff_names = forms.BooleanField(
        required=False,
        label=gettext_lazy("Name staff (otherwise role labels such as 'Caseworker')"),
    )
    # Shown from the second step on; a PDF letter unless another format is chosen.
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=sorted(ReferralFormat.choices, key=lambda c: c[0] != ReferralFormat.PDF),
        initial=ReferralFormat.PDF,
        required=False,
    )

    service = forms.ChoiceField(required=False, label=gettext_lazy("For the service (optional)"))

    def __init__(self, *args: Any, services: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].choices = _organisation_choices()  # type: ignore[attr-defined]
        self.fields["service"].choices = [  # type: ignore[attr-defined]
            ("", gettext_lazy("Not for one service")),
            *(
                (str(s.pk), f"{s.get_type_display()} ({s.get_status_display().lower()})")
                for s in services
            ),
        ]


class GrantForm(forms.Form):
    user = forms.CharField(max_length=150, label=gettext_lazy("Username"))
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        help_text=gettext_lazy("Why this person needs the case (no details about the survivor)."),
    )
    expires_at = forms.DateTimeField(
        required=False,
        label=gettext_lazy("Access ends"),
        widget=DateTimeInput(),
    )


class BreakGlassForm(forms.Form):
    reference = forms.CharField(max_length=32, label=gettext_lazy("Case reference"))
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        min_length=10,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Why you need this case now. The data protection officer reviews every use."
        ),
    )


class ReassignForm(forms.Form):
    reference = forms.CharField(label=gettext_lazy("Case reference"), max_length=32)
    from_user = forms.CharField(label=gettext_lazy("From"), max_length=150, required=False)
    to_user = forms.CharField(max_length=150, label=gettext_lazy("Reassign to"))


# --- the case's life ----------------------------------------------------------------


class VersionField(forms.IntegerField):
    """The version the form was opened on, sent back so a stale save is refused."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, **kwargs)


class CaseFactsForm(forms.Form):
    risk_level = forms.ChoiceField(choices=RiskLevel.choices, label=gettext_lazy("Risk level"))
    trafficking_types = forms.MultipleChoiceField(
        label=gettext_lazy("Trafficking types"),
        choices=TraffickingType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    referral_source = forms.CharField(
        label=gettext_lazy("Referral source"), max_length=500, required=False
    )
    summary = forms.CharField(
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        label=gettext_lazy("Care summary"),
        help_text=gettext_lazy(
            "Only what care needs now. Do not ask the person to retell what happened to them."
        ),
    )
    version = VersionField()

    @staticmethod
    def initial_from(case: Any) -> dict[str, Any]:
        return {
            "risk_level": case.risk_level,
            "trafficking_types": case.trafficking_types or [],
            "referral_source": case.referral_source or "",
            "summary": case.summary or "",
            "version": case.version,
        }

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "risk_level": data["risk_level"],
            "trafficking_types": list(data["trafficking_types"]),
            "referral_source": data["referral_source"] or None,
            "summary": data["summary"] or None,
        }


class CloseForm(forms.Form):
    reason = forms.ChoiceField(
        choices=CloseReason.choices,
        widget=forms.RadioSelect,
        label=gettext_lazy("Why the case closes"),
        error_messages={"required": gettext_lazy("Choose why the case closes.")},
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What the next person to open this case should know."),
    )
    checklist = forms.MultipleChoiceField(
        choices=list(CLOSURE_CHECKLIST.items()),
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Before closing"),
        help_text=gettext_lazy("Confirm each point."),
        error_messages={"required": gettext_lazy("Confirm each point before closing.")},
    )
    version = VersionField()

    def clean_checklist(self) -> dict[str, bool]:
        chosen = set(self.cleaned_data.get("checklist") or [])
        if chosen != set(CLOSURE_CHECKLIST):
            raise forms.ValidationError(_("Confirm each point before closing."), code="required")
        return {item: True for item in CLOSURE_CHECKLIST}


class ReopenForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("Why the case reopens"),
        error_messages={"required": gettext_lazy("Say why the case reopens.")},
    )
    version = VersionField()


class IdentityEditForm(IdentityFieldsMixin):
    version = VersionField()

    @staticmethod
    def initial_from(identity: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {"version": identity.version}
        for name in IDENTITY_FIELDS:
            value = getattr(identity, name)
            if isinstance(value, list):
                value = "\n".join(value)
            initial[name] = "" if value is None else value
        initial["declined"] = list(identity.declined or [])
        return initial

    def changes(self) -> tuple[dict[str, Any], list[str]]:
        identity, declined = self.identity_data()
        values = {name: identity.get(name) for name in IDENTITY_FIELDS}
        return values, declined


# --- the care work ---------------------------------------------------------------


class GoalForm(forms.Form):
    goal = forms.CharField(
        label=gettext_lazy("Goal"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("In the person's own words, as agreed with them."),
        error_messages={"required": gettext_lazy("Write the goal as agreed with the person.")},
    )
    agreed_on = forms.DateField(widget=DateInput(), label=gettext_lazy("Agreed on"))
    review_on = forms.DateField(
        widget=DateInput(), required=False, label=gettext_lazy("Review together on")
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=GoalStatus.choices, initial=GoalStatus.AGREED
    )
    version = VersionField(required=False)

    @staticmethod
    def initial_from(goal: Any) -> dict[str, Any]:
        return {
            "goal": goal.goal or "",
            "agreed_on": goal.agreed_on,
            "review_on": goal.review_on,
            "status": goal.status,
            "version": goal.version,
        }

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


def _team_choices(case: Any, **roles: Any) -> list[tuple[str, str]]:
    return [("", str(gettext_lazy("Whoever takes it")))] + [
        (u.username, f"{u.get_full_name() or u.username} ({u.get_role_display()})")
        for u in selectors.team_members(team_id=case.team_id, **roles)
    ]


class ServiceForm(forms.Form):
    type = forms.ChoiceField(
        choices=[("", gettext_lazy("Choose…")), *ServiceType.choices],
        label=gettext_lazy("Service"),
        error_messages={"required": gettext_lazy("Choose the service.")},
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=ServiceStatus.choices, initial=ServiceStatus.NEEDED
    )
    provider = forms.ChoiceField(
        required=False, label=gettext_lazy("Provider (from the directory)")
    )
    due_on = forms.DateField(widget=DateInput(), required=False, label=gettext_lazy("Due"))
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = VersionField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", gettext_lazy("Not chosen yet")), *_organisation_choices()]
        self.fields["provider"].choices = choices  # type: ignore[attr-defined]

    @staticmethod
    def initial_from(service: Any) -> dict[str, Any]:
        return {
            "type": service.type,
            "status": service.status,
            "provider": service.provider.slug if service.provider else "",
            "due_on": service.due_on,
            "notes": service.notes or "",
            "version": service.version,
        }

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "type": data["type"],
            "status": data["status"],
            "provider": data["provider"] or None,
            "due_on": data["due_on"],
            "notes": data["notes"] or None,
        }


class TaskForm(forms.Form):
    title = forms.CharField(
        max_length=500,
        label=gettext_lazy("What is to be done"),
        error_messages={"required": gettext_lazy("Say what is to be done.")},
    )
    due_on = forms.DateField(widget=DateInput(), label=gettext_lazy("Due"))
    assigned_to = forms.ChoiceField(required=False, label=gettext_lazy("For"))
    done = forms.BooleanField(required=False, label=gettext_lazy("Done"))
    version = VersionField(required=False)

    def __init__(self, *args: Any, case: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].choices = _team_choices(case)  # type: ignore[attr-defined]

    @staticmethod
    def initial_from(task: Any) -> dict[str, Any]:
        return {
            "title": task.title or "",
            "due_on": task.due_on,
            "assigned_to": task.assigned_to.username if task.assigned_to else "",
            "done": task.done_at is not None,
            "version": task.version,
        }

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "due_on": data["due_on"],
            "assigned_to": data["assigned_to"] or None,
            "done": data["done"],
        }


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=AttachmentKind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose photo or document.")},
    )
    title = forms.CharField(
        label=gettext_lazy("Title"),
        max_length=200,
        help_text=gettext_lazy("A few words; no names."),
    )
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("PDF, JPEG or PNG. Photos lose their location and camera data."),
    )


class ReferralStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=ReceiverStatus.choices,
        widget=forms.RadioSelect,
        label=gettext_lazy("What the receiving organisation answered"),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("Why the consent is withdrawn"),
        help_text=gettext_lazy("For example: the person asked in a session today."),
        error_messages={"required": gettext_lazy("Say why the consent is withdrawn.")},
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=gettext_lazy("Why this access ends"),
        error_messages={"required": gettext_lazy("Say why this access ends.")},
    )
    reassign_to = forms.ChoiceField(required=False, label=gettext_lazy("Who takes the case over"))
    leave_unassigned = forms.BooleanField(
        required=False, label=gettext_lazy("Leave the case without an assigned worker for now")
    )

    def __init__(self, *args: Any, case: Any, last_assignment: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_assignment = last_assignment
        if last_assignment:
            workers = _team_choices(case, roles=("caseworker", "clinician"))
            members = [choice for choice in workers if choice[0]]
            self.fields["reassign_to"].choices = [("", gettext_lazy("Choose…")), *members]  # type: ignore[attr-defined]
        else:
            del self.fields["reassign_to"]
            del self.fields["leave_unassigned"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.last_assignment and not cleaned.get("reassign_to"):
            if not cleaned.get("leave_unassigned"):
                self.add_error(
                    "reassign_to",
                    "This is the case's only assigned worker: choose who takes it over, or "
                    "choose to leave it unassigned.",
                )
        return cleaned


class DueFilterForm(forms.Form):
    when = forms.ChoiceField(
        required=False,
        choices=[
            ("", gettext_lazy("Up to a week ahead")),
            ("overdue", gettext_lazy("Overdue")),
            ("today", gettext_lazy("Today")),
            ("week", gettext_lazy("This week")),
        ],
        label=gettext_lazy("Due"),
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("due", gettext_lazy("By date")),
            ("risk", gettext_lazy("By risk, highest first")),
        ],
        label=gettext_lazy("Order"),
    )
    mine = forms.BooleanField(required=False, label=gettext_lazy("Only my cases and tasks"))


# --- after care -----------------------------------------------------------------------


class LegalHoldForm(forms.Form):
    """Placing or releasing a hold: a reason and a deliberate confirmation."""

    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("Why"),
        help_text=gettext_lazy(
            "For example the proceedings the records are evidence in. Kept encrypted."
        ),
        error_messages={"required": gettext_lazy("Say why.")},
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I confirm this change to what happens to the records"),
        error_messages={"required": gettext_lazy("Confirm, or go back to the case.")},
    )


class SubjectRequestForm(forms.Form):
    kind = forms.ChoiceField(
        choices=RequestKind.choices,
        widget=forms.RadioSelect,
        label=gettext_lazy("What the person asks for"),
        error_messages={"required": gettext_lazy("Choose a copy or erasure.")},
    )
    format = forms.ChoiceField(
        choices=[
            ("pdf", gettext_lazy("PDF, encrypted with a passphrase")),
            ("json", gettext_lazy("JSON (machine-readable)")),
        ],
        widget=forms.RadioSelect,
        initial="pdf",
        required=False,
        label=gettext_lazy("Form of the copy"),
        help_text=gettext_lazy("Only for a copy."),
    )
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("How the request was made"),
        help_text=gettext_lazy(
            "For example: asked in person at the 3 March session, identity checked."
        ),
        error_messages={"required": gettext_lazy("Say how the person asked.")},
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "The person asked for this themselves, or through someone entitled to ask"
        ),
        error_messages={"required": gettext_lazy("Confirm that the person asked.")},
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", gettext_lazy("Approve")), ("refuse", gettext_lazy("Refuse"))],
        widget=forms.RadioSelect,
        label=gettext_lazy("Decision"),
        error_messages={"required": gettext_lazy("Choose approve or refuse.")},
    )
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("Note"),
        help_text=gettext_lazy(
            "Why, especially for a refusal. Kept encrypted under the person's key."
        ),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I checked the request; approving an erasure destroys the records at once"
        ),
        error_messages={"required": gettext_lazy("Confirm the decision.")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "refuse" and not (data.get("note") or "").strip():
            self.add_error("note", gettext_lazy("Say why the request is refused."))
        return data


class StatisticsForm(forms.Form):
    by = forms.ChoiceField(
        choices=[
            ("risk_level", gettext_lazy("Risk level")),
            ("trafficking_types", gettext_lazy("Trafficking type")),
            ("status", gettext_lazy("Status")),
            ("kind", gettext_lazy("Kind of encounter")),
            ("month", gettext_lazy("Month only")),
        ],
        required=False,
        label=gettext_lazy("Count by"),
    )
    since = forms.CharField(
        required=False,
        max_length=7,
        label=gettext_lazy("From month"),
        help_text=gettext_lazy("YYYY-MM"),
        strip=True,
    )
    until = forms.CharField(
        required=False,
        max_length=7,
        label=gettext_lazy("To month"),
        help_text=gettext_lazy("YYYY-MM"),
        strip=True,
    )


class TransferRequestForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label=gettext_lazy("Why you would like to hand this case over"),
        help_text=gettext_lazy(
            "Private: only you and your supervisor read it. It is not part of the "
            "case and the person never sees it."
        ),
        error_messages={
            "required": gettext_lazy("Say why, in a few words; it stays between you two.")
        },
    )


class TransferDecideForm(forms.Form):
    request = forms.UUIDField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        choices=[
            ("approve", gettext_lazy("Approve: hand the case over")),
            ("decline", gettext_lazy("Decline")),
        ],
        widget=forms.RadioSelect,
        label=gettext_lazy("Decision"),
        error_messages={"required": gettext_lazy("Choose approve or decline.")},
    )
    to_user = forms.CharField(
        max_length=150, required=False, label=gettext_lazy("Who takes the case over (approve)")
    )
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=gettext_lazy("Note"),
        help_text=gettext_lazy("Approve: the handover note the new worker reads. Decline: why."),
    )
