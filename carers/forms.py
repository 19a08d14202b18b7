"""The self-check form (each item a row of 1 to 10) and the wording an administrator
loads."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from carers import scale

_SCALE = [(str(n), str(n)) for n in range(scale.LOWEST, scale.HIGHEST + 1)]


class SelfCheckForm(forms.Form):
    def __init__(self, *args: Any, wording: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in scale.ITEMS:
            self.fields[item] = forms.TypedChoiceField(
                choices=_SCALE,
                coerce=int,
                widget=forms.RadioSelect,
                label=f"{item}. {wording[item]}",
                error_messages={"required": _("Choose a number from 1 to 10.")},
            )


class WordingForm(forms.Form):
    language = forms.CharField(widget=forms.HiddenInput, required=False)
    source = forms.CharField(
        max_length=300,
        required=False,
        label=_("Source of the wording"),
        help_text=_("For example the citation and licence of the validated scale you use."),
    )
    support = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label=_("Your organisation's support contacts"),
        help_text=_("Shown with every self-check: who to call, peer support, leave."),
    )

    def __init__(self, *args: Any, wording: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in scale.ITEMS:
            self.fields[f"item_{item}"] = forms.CharField(
                max_length=300, label=_("Item %(letter)s") % {"letter": item}, initial=wording[item]
            )


class ConfirmDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Delete this self-check for good"),
        error_messages={"required": _("Tick the box to delete it.")},
    )


class SupervisionForm(forms.Form):
    staff = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label=_("Who attended"),
        error_messages={"required": _("Choose who attended.")},
    )
    kind = forms.ChoiceField(
        choices=[("individual", _("Individual")), ("group", _("Group"))],
        widget=forms.RadioSelect,
        label=_("Kind of session"),
        error_messages={"required": _("Choose individual or group.")},
    )
    held_on = forms.DateField(
        label=_("Held on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": _("Give the date."), "invalid": _("Give a date.")},
    )
    notes = forms.CharField(
        max_length=10_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label=_("Notes"),
        help_text=_(
            "Read only by you and those who attended; kept apart from management "
            "notes and from case records."
        ),
    )

    def __init__(self, *args: Any, members: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [(name, name) for name in members]  # type: ignore[attr-defined]


class SupportPlanForm(forms.Form):
    staff = forms.ChoiceField(
        label=_("For whom"), error_messages={"required": _("Choose a person.")}
    )
    occupational_referral = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Occupational health referral"),
    )
    adjusted_responsibilities = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Adjusted responsibilities"),
    )
    cover = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Who covers which cases"),
    )
    support_person = forms.CharField(max_length=2000, required=False, label=_("Support person"))
    who_is_told = forms.CharField(
        max_length=2000,
        required=False,
        label=_("Who is told"),
        help_text=_("Agreed with the person: by default, nobody beyond the two of you."),
    )
    review_on = forms.DateField(
        label=_("Review on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": _("Give the review date."), "invalid": _("Give a date.")},
    )

    def __init__(self, *args: Any, members: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [("", _("Choose")), *[(m, m) for m in members]]  # type: ignore[attr-defined]


class CompletionForm(forms.Form):
    username = forms.ChoiceField(label=_("Who"), error_messages={"required": _("Choose a person.")})
    training = forms.ChoiceField(label=_("Training"), error_messages={"required": _("Choose one.")})
    completed_on = forms.DateField(
        label=_("Completed on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": _("Give the date."), "invalid": _("Give a date.")},
    )

    def __init__(
        self, *args: Any, people: list[str], trainings: list[tuple[str, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].choices = [("", _("Choose")), *[(p, p) for p in people]]  # type: ignore[attr-defined]
        self.fields["training"].choices = [("", _("Choose")), *trainings]  # type: ignore[attr-defined]


class TrainingForm(forms.Form):
    slug = forms.SlugField(max_length=60, label=_("Short name (letters, digits, hyphens)"))
    title = forms.CharField(max_length=200, label=_("Title"))
    roles = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label=_("Roles that need it"),
        error_messages={"required": _("Choose at least one role.")},
    )
    renewal_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        label=_("Renew every (days)"),
        help_text=_("Leave empty if once is enough."),
    )
    required_for_access = forms.BooleanField(
        required=False, label=_("Required before working with case records")
    )
    confirm = forms.BooleanField(
        required=False,
        label=_(
            "I understand that staff without it lose access to case records until it is recorded"
        ),
    )

    def __init__(self, *args: Any, roles: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = roles  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("required_for_access") and not data.get("confirm"):
            self.add_error("confirm", _("Confirm: this can stop staff from reaching case records."))
        return data
