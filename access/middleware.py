from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from access.crypto.errors import CryptoError, DataKeyDestroyed
from access.policy import RecordErased

logger = logging.getLogger("haven.access")


class CryptoFailureMiddleware:
    """Pages: an erased record answers 410 Gone; any other decryption failure a plain
    500 page. Neither says anything about the data (fail closed, quietly)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RecordErased | DataKeyDestroyed):
            return render(
                request,
                "error.html",
                {"title": "Erased", "text": "This record was erased and can no longer be read."},
                status=410,
            )
        if isinstance(exception, CryptoError):
            logger.error("decryption refused: %s", type(exception).__name__)
            return render(
                request,
                "error.html",
                {"title": "Cannot open this record", "text": "The error was logged."},
                status=500,
            )
        return None
