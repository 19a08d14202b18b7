"""Path converters. Importing this module registers them (once)."""

from __future__ import annotations

from django.urls import register_converter


class RowIdConverter:
    """A database row id in a URL: 1 to 18 digits, so that a number too large for a
    bigint is simply not a match (a 404), never a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowIdConverter, "id")
