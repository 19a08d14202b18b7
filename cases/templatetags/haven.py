from __future__ import annotations

from django import template

from cases.models import Service, TraffickingType

register = template.Library()
_LABELS = {
    "trafficking": dict(TraffickingType.choices),
    "service": dict(Service.choices),
}


@register.filter
def labels(values: list[str] | None, vocabulary: str) -> str:
    """Human labels for stored codes: ``{{ case.trafficking_types|labels:"trafficking" }}``."""
    names = _LABELS[vocabulary]
    return ", ".join(str(names.get(v, v)) for v in values or [])
