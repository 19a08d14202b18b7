from __future__ import annotations

from django import forms

from audit.models import Outcome
from audit.selectors import EventFilter


class EventFilterForm(forms.Form):
    case = forms.CharField(required=False, max_length=32, label="Case reference")
    actor = forms.CharField(required=False, max_length=150, label="Staff username")
    action = forms.RegexField(
        required=False,
        max_length=64,
        regex=r"^[a-z_.]*$",
        label="Action",
        help_text="For example case.view, identity, break_glass.",
    )
    outcome = forms.ChoiceField(required=False, choices=[("", "Any"), *Outcome.choices])
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_case(self) -> str:
        from cases.references import normalise

        value: str = self.cleaned_data.get("case") or ""
        if not value:
            return ""
        canonical = normalise(value)
        if canonical is None:
            raise forms.ValidationError("Not a valid reference.", code="invalid")
        return canonical

    def to_filter(self) -> EventFilter:
        data = self.cleaned_data
        return EventFilter(
            case=data.get("case") or "",
            actor=data.get("actor") or "",
            action=data.get("action") or "",
            outcome=data.get("outcome") or "",
            since=data.get("since"),
            until=data.get("until"),
        )


class ReviewForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What you checked and concluded. No survivor details.",
    )
