"""Plausibility rules shared by the API serializers, the web forms and the services."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

EARLIEST_BIRTH = dt.date(1900, 1, 1)
EARLIEST_ENCOUNTER = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
MAX_FUTURE_ENCOUNTER = dt.timedelta(days=1)
MAX_FOLLOW_UP_AHEAD = dt.timedelta(days=3 * 366)
MAX_LIST_ITEMS = 20


def validate_birth_date(value: dt.date) -> None:
    if value > timezone.localdate():
        raise ValidationError("Date of birth cannot be in the future.", code="impossible_date")
    if value < EARLIEST_BIRTH:
        raise ValidationError("Date of birth is implausibly early.", code="impossible_date")


def validate_occurred_at(value: dt.datetime) -> None:
    if timezone.is_naive(value):
        raise ValidationError("A time zone is required.", code="invalid")
    if value > timezone.now() + MAX_FUTURE_ENCOUNTER:
        raise ValidationError("An encounter cannot be in the future.", code="impossible_date")
    if value < EARLIEST_ENCOUNTER:
        raise ValidationError("Encounter date is implausibly early.", code="impossible_date")


def validate_follow_up(value: dt.date) -> None:
    today = timezone.localdate()
    if value < today - dt.timedelta(days=366) or value > today + MAX_FOLLOW_UP_AHEAD:
        raise ValidationError("Follow-up date is out of range.", code="impossible_date")


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
_CLINICAL_ITEM_KEYS = {"display", "code", "system"}


def validate_clinical(block: object) -> None:
    """The clinical block: lists of coded or free-text entries, nothing else."""
    if not isinstance(block, dict) or set(block) - set(CLINICAL_SECTIONS):
        raise ValidationError(
            {"clinical": f"Sections are {', '.join(CLINICAL_SECTIONS)}."}, code="invalid"
        )
    for section, items in block.items():
        if not isinstance(items, list) or len(items) > 100:
            raise ValidationError({"clinical": f"{section} must be a list."}, code="invalid")
        for item in items:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("display"), str)
                or not item["display"].strip()
                or set(item) - _CLINICAL_ITEM_KEYS
                or any(not isinstance(v, str) or len(v) > 1000 for v in item.values())
            ):
                raise ValidationError(
                    {"clinical": f"Each {section} entry needs a display text."}, code="invalid"
                )
