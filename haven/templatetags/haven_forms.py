"""``{% widget field %}``: a form field's input, tied to its hint and its errors for
screen readers (``aria-describedby``, ``aria-invalid``), with ids that exist on the
page (``_field.html`` gives the hint and the errors exactly these ids)."""

from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


def hint_id(field: BoundField) -> str:
    return f"{field.auto_id}_helptext"


def error_id(field: BoundField) -> str:
    return f"{field.auto_id}_error"


@register.simple_tag
def widget(field: BoundField) -> SafeString:
    described = []
    if field.help_text:
        described.append(hint_id(field))
    attrs: dict[str, str | bool] = {}
    if field.errors:
        described.append(error_id(field))
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)


@register.filter
def hint_of(field: BoundField) -> str:
    return hint_id(field)


@register.filter
def error_of(field: BoundField) -> str:
    return error_id(field)
