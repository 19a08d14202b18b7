from __future__ import annotations

import datetime as dt

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from audit.models import Outcome
from audit.selectors import EventFilter
from haven.references import normalise
from haven.widgets import DateInput

# The trail cannot hold events outside these years; a date beyond them is a mistake (and
# the end of a day after 9999-12-31 cannot even be computed).
DATE_BOUNDS = [
    MinValueValidator(dt.date(1970, 1, 1), message="Choose a date from 1970 on."),
    MaxValueValidator(dt.date(2999, 12, 31), message="Choose a date before the year 3000."),
]


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
    since = forms.DateField(required=False, widget=DateInput(), validators=DATE_BOUNDS)
    until = forms.DateField(required=False, widget=DateInput(), validators=DATE_BOUNDS)

    def clean_case(self) -> str:
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
