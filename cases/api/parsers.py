"""The API's JSON parser: DRF's, made safe against input that crashes the standard
library's parser instead of failing to parse (invariant 8)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            # ``json`` recurses once per nesting level; thousands of "[" exhaust the stack.
            raise ParseError(_("JSON nested too deeply.")) from exc
