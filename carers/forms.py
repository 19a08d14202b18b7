"""The self-check form (each item a row of 1 to 10) and the wording an administrator
loads."""

from __future__ import annotations

from typing import Any

from django import forms

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
                error_messages={"required": "Choose a number from 1 to 10."},
            )


class WordingForm(forms.Form):
    source = forms.CharField(
        max_length=300,
        required=False,
        label="Source of the wording",
        help_text="For example the citation and licence of the validated scale you use.",
    )
    support = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Your organisation's support contacts",
        help_text="Shown with every self-check: who to call, peer support, leave.",
    )

    def __init__(self, *args: Any, wording: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in scale.ITEMS:
            self.fields[f"item_{item}"] = forms.CharField(
                max_length=300, label=f"Item {item}", initial=wording[item]
            )


class ConfirmDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label="Delete this self-check for good",
        error_messages={"required": "Tick the box to delete it."},
    )


class SupervisionForm(forms.Form):
    staff = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label="Who attended",
        error_messages={"required": "Choose who attended."},
    )
    kind = forms.ChoiceField(
        choices=[("individual", "Individual"), ("group", "Group")],
        widget=forms.RadioSelect,
        label="Kind of session",
        error_messages={"required": "Choose individual or group."},
    )
    held_on = forms.DateField(
        label="Held on",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Give the date.", "invalid": "Give a date."},
    )
    notes = forms.CharField(
        max_length=10_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Notes",
        help_text="Read only by you and those who attended; kept apart from management "
        "notes and from case records.",
    )

    def __init__(self, *args: Any, members: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [(name, name) for name in members]  # type: ignore[attr-defined]


class SupportPlanForm(forms.Form):
    staff = forms.ChoiceField(label="For whom", error_messages={"required": "Choose a person."})
    occupational_referral = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Occupational health referral",
    )
    adjusted_responsibilities = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Adjusted responsibilities",
    )
    cover = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Who covers which cases",
    )
    support_person = forms.CharField(max_length=2000, required=False, label="Support person")
    who_is_told = forms.CharField(
        max_length=2000,
        required=False,
        label="Who is told",
        help_text="Agreed with the person: by default, nobody beyond the two of you.",
    )
    review_on = forms.DateField(
        label="Review on",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Give the review date.", "invalid": "Give a date."},
    )

    def __init__(self, *args: Any, members: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [("", "Choose"), *[(m, m) for m in members]]  # type: ignore[attr-defined]
