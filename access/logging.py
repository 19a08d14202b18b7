from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class SurvivorDataExceptionFilter(SafeExceptionReporterFilter):
    """Error reports (and the debug page) never show request bodies or local variables:
    either may hold survivor data."""

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        if request is None:
            return {}
        return {key: self.cleansed_substitute for key in request.POST}

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return {"(hidden)": self.cleansed_substitute}.items()
