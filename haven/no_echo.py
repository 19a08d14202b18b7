"""Error messages never repeat what was submitted (standing rule 2).

Django and DRF word some errors around the rejected input (``"Fatima" is not a valid
choice.``): a name typed into the wrong box would travel back in the answer, into
browser histories, proxy logs and bug reports. At start-up every error message template
of every field class (DRF serializer fields, form fields, model fields, and the model
fields already built) that interpolates the input is replaced by a neutral message with
the same key, so the error *code* stays the same and only the wording changes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, MutableMapping
from typing import Any

from django import forms
from django.apps import apps
from django.db import models
from django.forms import models as model_forms  # noqa: F401  (defines field subclasses)
from django.utils.translation import gettext_lazy as _
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers  # noqa: F401  (define field subclasses)

# Placeholders that stand for the submitted value (not its length, type or a limit).
ECHOING = re.compile(
    r"\{input\}|\{value\}|\{pk_value\}|%\(value\)|%\(pk\)|%\(extension\)|\{slug_name\}"
)

NEUTRAL: dict[str, Any] = {
    "invalid_choice": _("Choose one of the allowed values."),
    "invalid_pk_value": _("This is not a valid value."),
    "does_not_exist": _("No such item."),
    "invalid": _("Enter a valid value."),
    "invalid_date": _("Enter a valid date."),
    "invalid_datetime": _("Enter a valid date and time."),
    "invalid_time": _("Enter a valid time."),
    "invalid_nullable": _("Enter a valid value."),
}
FALLBACK = _("This value is not valid.")


def echoes_input(message: object) -> bool:
    return bool(ECHOING.search(str(message)))


def scrub(messages: MutableMapping[str, Any]) -> list[str]:
    """Replace, in place, every message of ``messages`` that would quote the input."""
    changed = []
    for key, message in list(messages.items()):
        if echoes_input(message):
            messages[key] = NEUTRAL.get(key, FALLBACK)
            changed.append(key)
    return changed


def _subclasses(base: type) -> Iterator[type]:
    seen: set[type] = set()
    stack = [base]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        stack.extend(cls.__subclasses__())


def field_families() -> list[type]:
    """The three field families, with the modules that define their subclasses imported
    first (a class defined after the scrub would keep its wording; the test that calls
    ``echoing_templates`` catches any such class)."""
    return [drf_fields.Field, forms.Field, models.Field]


def scrub_error_messages() -> None:
    """Field classes (for fields built from now on) and the model fields Django built
    while loading the apps, before this ran."""
    for family in field_families():
        for cls in _subclasses(family):
            own = cls.__dict__.get("default_error_messages")
            if isinstance(own, dict):
                scrub(own)
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields():
            messages = getattr(field, "error_messages", None)
            if isinstance(messages, dict):
                scrub(messages)


def echoing_templates() -> list[str]:
    """What is still echoing (for the test that keeps this true)."""
    found = []
    for family in field_families():
        for cls in _subclasses(family):
            for key, message in cls.__dict__.get("default_error_messages", {}).items():
                if echoes_input(message):
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
    return found


def unknown_keys_errors(sent: object, known: list[str] | set[str]) -> dict[str, list[str]]:
    """Errors for keys a client sent that the endpoint does not know, without repeating
    the keys (a key can hold data as well as a value can): a key close to a known name
    is reported under that name, as a likely typo; the others under
    ``non_field_errors``."""
    errors: dict[str, list[str]] = {}
    for key in sorted(set(map(str, sent)) - set(known)):  # type: ignore[call-overload]
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        if close:
            errors.setdefault(close[0], []).append(
                str(_("A field with a name close to this one was sent; check the spelling."))
            )
        else:
            errors.setdefault("non_field_errors", []).append(
                str(_("A field that this endpoint does not know was sent."))
            )
    return errors
