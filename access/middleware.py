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


class StaffGateMiddleware:
    """Before any page: a second factor (outside demo mode), a session that has not
    outlived its absolute limit, and acceptance of the current confidentiality rules
    (AS9-STO-5, AS9-STO-6). The API has the same gates as DRF permission classes.
    """

    OPEN_PREFIXES = ("/login/", "/logout/", "/static/", "/api/", "/account/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.contrib.auth import logout
        from django.shortcuts import redirect
        from django.urls import reverse
        from django.utils import timezone

        from access.services import confidentiality_accepted

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        started = request.session.get("haven_auth_at")
        now = timezone.now().timestamp()
        if started is None:
            request.session["haven_auth_at"] = now
        elif now - float(started) > settings.HAVEN_SESSION_MAX_SECONDS:
            logout(request)
            return redirect(f"{reverse('login')}?expired=1")
        if request.path.startswith(self.OPEN_PREFIXES):
            return self.get_response(request)
        if settings.HAVEN_REQUIRE_2FA and not user.is_verified():
            return redirect(f"{reverse('2fa')}?next={request.path}")
        if not confidentiality_accepted(user):
            return redirect(f"{reverse('confidentiality')}?next={request.path}")
        return self.get_response(request)
