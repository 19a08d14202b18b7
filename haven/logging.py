"""Nothing a survivor said reaches a log or an error report (standing rule 2).

A log filter for every handler: what a library puts into an exception's text about
the input it rejected never reaches a log.

pydantic, for one, writes ``input_value='...'`` into its error messages; a FHIR value
that failed validation would otherwise be copied, whole, into the server log. The filter
formats the message and any traceback itself, removes such inputs, and hands the
handler plain text. And an exception reporter filter: error reports (and the debug page)
show neither request bodies nor local variables.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

HIDDEN = "[hidden]"
_QUOTED = r"""(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|[^,\]\)\n]*)"""
INPUT_PATTERNS = [
    re.compile(r"(input_value=)" + _QUOTED),  # pydantic: [type=..., input_value='x', ...]
    re.compile(r"""(['"]input['"]:\s*)""" + _QUOTED),  # pydantic errors() as a dict
]


def scrub(text: str) -> str:
    for pattern in INPUT_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + HIDDEN, text)
    return text


class NoSurvivorData(logging.Filter):
    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  (a malformed log call still logs, safely)
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info:
            record.exc_text = scrub(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class SurvivorDataExceptionFilter(SafeExceptionReporterFilter):
    """Error reports (and the debug page) never show request bodies or local variables:
    either may hold survivor data."""

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        if request is None:
            return {}
        return {key: self.cleansed_substitute for key in request.POST}

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return {"(hidden)": self.cleansed_substitute}.items()
