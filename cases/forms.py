"""Web forms. Required care data is kept apart from optional detail (AS9-COL-3), and
every identity field can be left unknown or marked as declined (AS9-COL-1)."""

from __future__ import annotations

from typing import Any

from django import forms

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
    given_name = forms.CharField(max_length=200, required=False, label="Given name")
    family_name = forms.CharField(max_length=200, required=False, label="Family name")
    script_names = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Name in other scripts",
        help_text="The name as the person writes it in another script (Arabic, Thai, "
        "Cyrillic…). One per line.",
    )
    aliases = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=_LIST_HINT
    )
    date_of_birth = forms.DateField(
        required=False,
        widget=DateInput(),
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
    """Identity search. Sent by POST so that names never appear in a URL."""

    name = forms.CharField(
        max_length=200,
        required=False,
        label="Name",
        help_text="Any words of the person's names, in any order and any script; accents "
        "and capitals do not matter.",
    )
    given_name = forms.CharField(max_length=200, required=False)
    family_name = forms.CharField(max_length=200, required=False)
    date_of_birth = forms.DateField(required=False, widget=DateInput())
    phone = forms.CharField(max_length=40, required=False)

    def criteria(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}

    def clean_name(self) -> str:
        name: str = self.cleaned_data.get("name") or ""
        if name and not blind.words(name):
            raise forms.ValidationError("Type at least one word of a name.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not any(v not in ("", None) for v in cleaned.values()):
            raise forms.ValidationError("Fill in at least one field to search.")
        return cleaned


class EncounterForm(forms.Form):
    occurred_at = forms.DateTimeField(
        label="When",
        widget=DateTimeInput(),
        validators=[validators.validate_occurred_at],
    )
    kind = forms.ChoiceField(
        choices=[("", "Choose…"), *EncounterKind.choices],
        error_messages={"required": "Choose the kind of encounter."},
    )
    location = forms.CharField(
        max_length=200, required=False, label="Where", help_text="Coarse: a town or a service."
    )
    interpreter_used = forms.BooleanField(required=False, label="An interpreter was used")
    notes = forms.CharField(max_length=20_000, required=False, widget=forms.Textarea)
    services_provided = forms.MultipleChoiceField(
        choices=Service.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    follow_up_date = forms.DateField(required=False, widget=DateInput(), label="Follow-up date")
    care_critical = forms.BooleanField(
        required=False,
        label="Care-critical",
        help_text="Needed for the person's safety or care (recorded even while their "
        "consent to storage is withdrawn).",
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
        choices=[("", "Choose…"), *ConsentScope.choices],
        label="What the person agreed to",
        error_messages={"required": "Choose what the person agreed to."},
    )
    recipient = forms.ChoiceField(required=False, label="Recipient (for referral or legal)")
    purpose = forms.CharField(max_length=1000, required=False, help_text="What it is for.")
    identity = forms.BooleanField(required=False, label="Identifying details may be shared")
    method = forms.ChoiceField(
        choices=ConsentMethod.choices,
        label="How consent was given",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how consent was given."},
    )
    interpreter_used = forms.BooleanField(required=False, label="An interpreter was used")
    given_at = forms.DateTimeField(
        label="Given at",
        widget=DateTimeInput(),
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Ends",
        widget=DateTimeInput(),
    )
    form = forms.FileField(
        required=False,
        label="Scanned signed form",
        help_text="PDF, PNG or JPEG, up to 5 MB. Stored encrypted.",
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
            raise forms.ValidationError("The scanned form is larger than 5 MB.", code="too_large")
        return bytes(upload.read())


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=60, help_text="Short name used in links, e.g. riverside-clinic"
    )
    contact = forms.CharField(max_length=500, required=False)
    languages = forms.CharField(max_length=500, required=False, help_text="Comma-separated.")
    services = forms.CharField(max_length=500, required=False, help_text="Comma-separated.")
    verified_on = forms.DateField(required=False, label="Last verified", widget=DateInput())

    def clean_languages(self) -> list[str]:
        return _comma_list(self.cleaned_data["languages"])

    def clean_services(self) -> list[str]:
        return _comma_list(self.cleaned_data["services"])


class ReferralForm(forms.Form):
    recipient = forms.ChoiceField()
    scope = forms.ChoiceField(
        label="Kind of disclosure",
        choices=[(s.value, s.label) for s in DISCLOSURE_SCOPES],
        help_text="Legal proceedings need their own consent.",
    )
    purpose = forms.CharField(
        max_length=1000,
        help_text="What it is for, in the words of the survivor's consent.",
        widget=forms.TextInput(attrs={"list": "consented-purposes"}),
    )
    sections = forms.MultipleChoiceField(
        choices=ReferralSection.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    encounters_from = forms.DateField(required=False, label="Encounters from", widget=DateInput())
    encounters_to = forms.DateField(required=False, label="Encounters to", widget=DateInput())
    include_identity = forms.BooleanField(required=False, label="Include identity")
    staff_names = forms.BooleanField(
        required=False, label="Name staff (otherwise role labels such as 'Caseworker')"
    )
    # Shown from the second step on; a PDF letter unless another format is chosen.
    format = forms.ChoiceField(
        choices=sorted(ReferralFormat.choices, key=lambda c: c[0] != ReferralFormat.PDF),
        initial=ReferralFormat.PDF,
        required=False,
    )

    service = forms.ChoiceField(required=False, label="For the service (optional)")

    def __init__(self, *args: Any, services: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].choices = _organisation_choices()  # type: ignore[attr-defined]
        self.fields["service"].choices = [  # type: ignore[attr-defined]
            ("", "Not for one service"),
            *(
                (str(s.pk), f"{s.get_type_display()} ({s.get_status_display().lower()})")
                for s in services
            ),
        ]


class GrantForm(forms.Form):
    user = forms.CharField(max_length=150, label="Username")
    reason = forms.CharField(
        max_length=500,
        help_text="Why this person needs the case (no details about the survivor).",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Access ends",
        widget=DateTimeInput(),
    )


class BreakGlassForm(forms.Form):
    reference = forms.CharField(max_length=32, label="Case reference")
    reason = forms.CharField(
        min_length=10,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need this case now. The data protection officer reviews every use.",
    )


class ReassignForm(forms.Form):
    reference = forms.CharField(max_length=32)
    from_user = forms.CharField(max_length=150, required=False)
    to_user = forms.CharField(max_length=150, label="Reassign to")


# --- the case's life ----------------------------------------------------------------


class VersionField(forms.IntegerField):
    """The version the form was opened on, sent back so a stale save is refused."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, **kwargs)


class CaseFactsForm(forms.Form):
    risk_level = forms.ChoiceField(choices=RiskLevel.choices, label="Risk level")
    trafficking_types = forms.MultipleChoiceField(
        choices=TraffickingType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    referral_source = forms.CharField(max_length=500, required=False)
    summary = forms.CharField(
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Care summary",
        help_text="Only what care needs now. Do not ask the person to retell what happened "
        "to them.",
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
        label="Why the case closes",
        error_messages={"required": "Choose why the case closes."},
    )
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the next person to open this case should know.",
    )
    checklist = forms.MultipleChoiceField(
        choices=list(CLOSURE_CHECKLIST.items()),
        widget=forms.CheckboxSelectMultiple,
        label="Before closing",
        help_text="Confirm each point.",
        error_messages={"required": "Confirm each point before closing."},
    )
    version = VersionField()

    def clean_checklist(self) -> dict[str, bool]:
        chosen = set(self.cleaned_data.get("checklist") or [])
        if chosen != set(CLOSURE_CHECKLIST):
            raise forms.ValidationError("Confirm each point before closing.", code="required")
        return {item: True for item in CLOSURE_CHECKLIST}


class ReopenForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why the case reopens",
        error_messages={"required": "Say why the case reopens."},
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
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="In the person's own words, as agreed with them.",
        error_messages={"required": "Write the goal as agreed with the person."},
    )
    agreed_on = forms.DateField(widget=DateInput(), label="Agreed on")
    review_on = forms.DateField(widget=DateInput(), required=False, label="Review together on")
    status = forms.ChoiceField(choices=GoalStatus.choices, initial=GoalStatus.AGREED)
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
    return [("", "Whoever takes it")] + [
        (u.username, f"{u.get_full_name() or u.username} ({u.get_role_display()})")
        for u in selectors.team_members(team_id=case.team_id, **roles)
    ]


class ServiceForm(forms.Form):
    type = forms.ChoiceField(
        choices=[("", "Choose…"), *ServiceType.choices],
        label="Service",
        error_messages={"required": "Choose the service."},
    )
    status = forms.ChoiceField(choices=ServiceStatus.choices, initial=ServiceStatus.NEEDED)
    provider = forms.ChoiceField(required=False, label="Provider (from the directory)")
    due_on = forms.DateField(widget=DateInput(), required=False, label="Due")
    notes = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    version = VersionField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [("", "Not chosen yet"), *_organisation_choices()]  # type: ignore[attr-defined]

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
        label="What is to be done",
        error_messages={"required": "Say what is to be done."},
    )
    due_on = forms.DateField(widget=DateInput(), label="Due")
    assigned_to = forms.ChoiceField(required=False, label="For")
    done = forms.BooleanField(required=False, label="Done")
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
        choices=AttachmentKind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose photo or document."},
    )
    title = forms.CharField(max_length=200, help_text="A few words; no names.")
    file = forms.FileField(
        help_text="PDF, JPEG or PNG. Photos lose their location and camera data."
    )


class ReferralStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=ReceiverStatus.choices,
        widget=forms.RadioSelect,
        label="What the receiving organisation answered",
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why the consent is withdrawn",
        help_text="For example: the person asked in a session today.",
        error_messages={"required": "Say why the consent is withdrawn."},
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why this access ends",
        error_messages={"required": "Say why this access ends."},
    )
    reassign_to = forms.ChoiceField(required=False, label="Who takes the case over")
    leave_unassigned = forms.BooleanField(
        required=False, label="Leave the case without an assigned worker for now"
    )

    def __init__(self, *args: Any, case: Any, last_assignment: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_assignment = last_assignment
        if last_assignment:
            workers = _team_choices(case, roles=("caseworker", "clinician"))
            members = [choice for choice in workers if choice[0]]
            self.fields["reassign_to"].choices = [("", "Choose…"), *members]  # type: ignore[attr-defined]
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
            ("", "Up to a week ahead"),
            ("overdue", "Overdue"),
            ("today", "Today"),
            ("week", "This week"),
        ],
        label="Due",
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[("due", "By date"), ("risk", "By risk, highest first")],
        label="Order",
    )
    mine = forms.BooleanField(required=False, label="Only my cases and tasks")


# --- after care -----------------------------------------------------------------------


class LegalHoldForm(forms.Form):
    """Placing or releasing a hold: a reason and a deliberate confirmation."""

    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why",
        help_text="For example the proceedings the records are evidence in. Kept encrypted.",
        error_messages={"required": "Say why."},
    )
    confirm = forms.BooleanField(
        label="I confirm this change to what happens to the records",
        error_messages={"required": "Confirm, or go back to the case."},
    )


class SubjectRequestForm(forms.Form):
    kind = forms.ChoiceField(
        choices=RequestKind.choices,
        widget=forms.RadioSelect,
        label="What the person asks for",
        error_messages={"required": "Choose a copy or erasure."},
    )
    format = forms.ChoiceField(
        choices=[("pdf", "PDF, encrypted with a passphrase"), ("json", "JSON (machine-readable)")],
        widget=forms.RadioSelect,
        initial="pdf",
        required=False,
        label="Form of the copy",
        help_text="Only for a copy.",
    )
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="How the request was made",
        help_text="For example: asked in person at the 3 March session, identity checked.",
        error_messages={"required": "Say how the person asked."},
    )
    confirm = forms.BooleanField(
        label="The person asked for this themselves, or through someone entitled to ask",
        error_messages={"required": "Confirm that the person asked."},
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("refuse", "Refuse")],
        widget=forms.RadioSelect,
        label="Decision",
        error_messages={"required": "Choose approve or refuse."},
    )
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Note",
        help_text="Why, especially for a refusal. Kept encrypted under the person's key.",
    )
    confirm = forms.BooleanField(
        label="I checked the request; approving an erasure destroys the records at once",
        error_messages={"required": "Confirm the decision."},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "refuse" and not (data.get("note") or "").strip():
            self.add_error("note", "Say why the request is refused.")
        return data


class StatisticsForm(forms.Form):
    by = forms.ChoiceField(
        choices=[
            ("risk_level", "Risk level"),
            ("trafficking_types", "Trafficking type"),
            ("status", "Status"),
            ("kind", "Kind of encounter"),
            ("month", "Month only"),
        ],
        required=False,
        label="Count by",
    )
    since = forms.CharField(
        required=False, max_length=7, label="From month", help_text="YYYY-MM", strip=True
    )
    until = forms.CharField(
        required=False, max_length=7, label="To month", help_text="YYYY-MM", strip=True
    )


class TransferRequestForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Why you would like to hand this case over",
        help_text="Private: only you and your supervisor read it. It is not part of the "
        "case and the person never sees it.",
        error_messages={"required": "Say why, in a few words; it stays between you two."},
    )


class TransferDecideForm(forms.Form):
    request = forms.UUIDField(widget=forms.HiddenInput)
    decision = forms.ChoiceField(
        choices=[("approve", "Approve: hand the case over"), ("decline", "Decline")],
        widget=forms.RadioSelect,
        label="Decision",
        error_messages={"required": "Choose approve or decline."},
    )
    to_user = forms.CharField(
        max_length=150, required=False, label="Who takes the case over (approve)"
    )
    note = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Note",
        help_text="Approve: the handover note the new worker reads. Decline: why.",
    )
