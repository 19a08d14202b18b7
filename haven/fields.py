"""Strict input fields: a number is not a string, ``"true"`` is not a boolean, and
keys the endpoint does not know are refused rather than silently ignored."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from haven.no_echo import unknown_keys_errors

# What a text field accepts, stated so the OpenAPI schema says it too: no NUL character,
# and at least one character that is not white space (a blank text is no text).
TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
TEXT = RegexValidator(TEXT_PATTERN, message=_("Give some text, with no NUL characters."))


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Expected a string."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.insert(0, TEXT)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class _StringsOnly(serializers.CharField):
    """DRF's text fields turn a number into its digits; these refuse it."""

    default_error_messages = {"not_a_string": "Expected a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


class StrictSlugField(_StringsOnly, serializers.SlugField):
    pass


class StrictEmailField(_StringsOnly, serializers.EmailField):
    pass


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Expected true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Expected an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses unknown keys (a typo must not drop data on the floor) and non-objects."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        unknown = unknown_keys_errors(data, set(self.fields))
        if unknown:
            raise serializers.ValidationError(unknown, code="unknown_field")
        return super().to_internal_value(data)


def text(max_length: int, **kwargs: Any) -> StrictCharField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", True)
    return StrictCharField(max_length=max_length, **kwargs)


def text_list(max_items: int = 20, max_length: int = 200, **kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=StrictCharField(max_length=max_length),
        max_length=max_items,
        required=False,
        allow_null=True,
        **kwargs,
    )


def choice_list(choices: list[str]) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=choices), max_length=len(choices), required=False
    )
