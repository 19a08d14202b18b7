from __future__ import annotations

import datetime as dt

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import Outcome
from audit.selectors import EventFilter
from haven.references import normalise
from haven.widgets import DateInput

# The trail cannot hold events outside these years; a date beyond them is a mistake (and
# the end of a day after 9999-12-31 cannot even be computed).
DATE_BOUNDS = [
    MinValueValidator(dt.date(1970, 1, 1), message=gettext_lazy("Choose a date from 1970 on.")),
    MaxValueValidator(
        dt.date(2999, 12, 31), message=gettext_lazy("Choose a date before the year 3000.")
    ),
]


class EventFilterForm(forms.Form):
    case = forms.CharField(required=False, max_length=32, label=gettext_lazy("Case reference"))
    actor = forms.CharField(required=False, max_length=150, label=gettext_lazy("Staff username"))
    action = forms.RegexField(
        required=False,
        max_length=64,
        regex=r"^[a-z_.]*$",
        label=gettext_lazy("Action"),
        help_text=gettext_lazy("For example case.view, identity, break_glass."),
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        required=False,
        choices=[("", gettext_lazy("Any")), *Outcome.choices],
    )
    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=DateInput(), validators=DATE_BOUNDS
    )
    until = forms.DateField(
        label=gettext_lazy("Until"), required=False, widget=DateInput(), validators=DATE_BOUNDS
    )

    def clean_case(self) -> str:
        value: str = self.cleaned_data.get("case") or ""
        if not value:
            return ""
        canonical = normalise(value)
        if canonical is None:
            raise forms.ValidationError(_("Not a valid reference."), code="invalid")
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
        label=gettext_lazy("Note"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("What you checked and concluded. No survivor details."),
    )
