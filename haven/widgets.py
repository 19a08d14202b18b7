"""Form widgets that browsers and screen readers understand.

A ``type=date`` input accepts only ISO dates (``2026-12-01``); Django would render the
locale's format (``01/12/2026`` in en-GB), which the browser discards, so the field
showed empty and saving the form erased the date. These widgets always render ISO.
"""

from __future__ import annotations

from typing import Any

from django import forms

ISO_DATE = "%Y-%m-%d"
ISO_MINUTE = "%Y-%m-%dT%H:%M"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=ISO_DATE)


class DateTimeInput(forms.DateTimeInput):
    """A local date and time to the minute, in the organisation's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=ISO_MINUTE)


def kept_to_the_second(sent: Any, stored: Any) -> Any:
    """A time shown to the minute and sent back unchanged keeps the seconds it was
    stored with (saving a form unchanged changes nothing)."""
    if sent is None or stored is None:
        return sent
    return stored if sent == stored.replace(second=0, microsecond=0) else sent
