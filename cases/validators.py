"""Plausibility rules shared by the API serializers, the web forms and the services."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

EARLIEST_BIRTH = dt.date(1900, 1, 1)
EARLIEST_ENCOUNTER = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
MAX_FUTURE_ENCOUNTER = dt.timedelta(days=1)
MAX_FOLLOW_UP_AHEAD = dt.timedelta(days=3 * 366)
MAX_LIST_ITEMS = 20


def validate_birth_date(value: dt.date) -> None:
    if value > timezone.localdate():
        raise ValidationError(_("Date of birth cannot be in the future."), code="impossible_date")
    if value < EARLIEST_BIRTH:
        raise ValidationError(_("Date of birth is implausibly early."), code="impossible_date")


def validate_occurred_at(value: dt.datetime) -> None:
    if timezone.is_naive(value):
        raise ValidationError(_("A time zone is required."), code="invalid")
    if value > timezone.now() + MAX_FUTURE_ENCOUNTER:
        raise ValidationError(_("An encounter cannot be in the future."), code="impossible_date")
    if value < EARLIEST_ENCOUNTER:
        raise ValidationError(_("Encounter date is implausibly early."), code="impossible_date")


def validate_follow_up(value: dt.date, anchor: dt.date | None = None) -> None:
    """A date to come back to something, plausible around ``anchor``: the day the
    record was made (an old record keeps its old dates when it is edited), today for a
    new one."""
    anchor = anchor or timezone.localdate()
    if value < anchor - dt.timedelta(days=366) or value > anchor + MAX_FOLLOW_UP_AHEAD:
        raise ValidationError(_("This date is out of range."), code="impossible_date")


def validate_plan_dates(agreed_on: dt.date | None, review_on: dt.date | None) -> None:
    if agreed_on is not None and agreed_on > timezone.localdate() + dt.timedelta(days=1):
        raise ValidationError(
            {"agreed_on": "A goal cannot be agreed in the future."}, code="impossible_date"
        )
    if agreed_on is not None and agreed_on < EARLIEST_ENCOUNTER.date():
        raise ValidationError(
            {"agreed_on": "This date is implausibly early."}, code="impossible_date"
        )
    if review_on is not None and agreed_on is not None:
        if review_on < agreed_on or review_on > agreed_on + MAX_FOLLOW_UP_AHEAD:
            raise ValidationError(
                {"review_on": "The review comes after the agreement, within three years."},
                code="impossible_date",
            )


def validate_choices(name: str, values: object, allowed: list[str]) -> None:
    if not isinstance(values, list) or any(v not in allowed for v in values):
        raise ValidationError({name: f"Choose from: {', '.join(allowed)}."}, code="invalid_choice")


def validate_string_list(name: str, values: object) -> None:
    if values is None:
        return
    if not isinstance(values, list) or len(values) > MAX_LIST_ITEMS:
        raise ValidationError({name: "Expected a short list of texts."}, code="invalid")
    if any(not isinstance(v, str) or not v.strip() or len(v) > 200 for v in values):
        raise ValidationError({name: "Each entry is a text of 1-200 characters."}, code="invalid")


CLINICAL_SECTIONS = ("conditions", "medications", "allergies", "observations")
_CLINICAL_ITEM_KEYS = {"display", "code", "system", "status"}

# FHIR R4 primitive types, as the specification defines them: a ``code`` has no leading
# or trailing whitespace and no runs of it; a ``uri`` has none at all.
FHIR_CODE = re.compile(r"^[^\s]+( [^\s]+)*$")
FHIR_URI = re.compile(r"^\S+$")
MEDICATION_STATUSES = (
    "active",
    "completed",
    "entered-in-error",
    "intended",
    "stopped",
    "on-hold",
    "unknown",
    "not-taken",
)


def validate_code(value: str) -> None:
    if not FHIR_CODE.match(value):
        raise ValidationError(
            _("A code is a FHIR token: no spaces at the ends, no double spaces."), code="invalid"
        )


def validate_system(value: str) -> None:
    if not FHIR_URI.match(value) or ":" not in value:
        raise ValidationError(
            _("A code system is a URI such as http://snomed.info/sct."), code="invalid"
        )


def _clinical_item_problem(section: str, item: object) -> str | None:
    if not isinstance(item, dict) or set(item) - _CLINICAL_ITEM_KEYS:
        return f"Each {section} entry has display, code, system (and for medications status)."
    if any(not isinstance(v, str) or len(v) > 1000 for v in item.values()):
        return f"Each {section} entry holds short texts."
    if not item.get("display", "").strip():
        return f"Each {section} entry needs a display text."
    code, system = item.get("code"), item.get("system")
    if (code is None) != (system is None):
        return "A code needs its code system, and a code system its code."
    try:
        if code is not None:
            validate_code(code)
        if system is not None:
            validate_system(system)
    except ValidationError as exc:
        return str(exc.messages[0])
    if "status" in item and (section != "medications" or item["status"] not in MEDICATION_STATUSES):
        return f"A medication's status is one of: {', '.join(MEDICATION_STATUSES)}."
    return None


def validate_clinical(block: object) -> None:
    """The clinical block: lists of coded or free-text entries, nothing else. Codes are
    FHIR tokens with their system, so that every export is valid FHIR."""
    if not isinstance(block, dict) or set(block) - set(CLINICAL_SECTIONS):
        raise ValidationError(
            {"clinical": f"Sections are {', '.join(CLINICAL_SECTIONS)}."}, code="invalid"
        )
    for section, items in block.items():
        if not isinstance(items, list) or len(items) > 100:
            raise ValidationError({"clinical": f"{section} must be a list."}, code="invalid")
        for item in items:
            problem = _clinical_item_problem(section, item)
            if problem is not None:
                raise ValidationError({"clinical": problem}, code="invalid")
