from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from access.crypto.datakeys import key_scope
from access.passkeys import ENROL_FIRST
from access.services import confidentiality_accepted


class KeyScopeMiddleware:
    """Each request unwraps the data keys it reads within one key scope, and forgets
    them all when it ends: a survivor's key is unwrapped once per request, not once per
    value, and no unwrapped key outlives the request that needed it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with key_scope():
            return self.get_response(request)


class StaffGateMiddleware:
    """Before any page: a second factor (outside demo mode), a session that has not
    outlived its absolute limit, and acceptance of the current confidentiality rules
    (AS9-STO-5, AS9-STO-6). The API has the same gates as DRF permission classes.
    """

    OPEN_PREFIXES = ("/login/", "/logout/", "/language/", "/static/", "/api/")
    SECOND_FACTOR_PREFIX = "/account/2fa/"  # the only pages a password alone opens
    ACCOUNT_PREFIX = "/account/"  # after the second factor, open before the rules

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
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
        if request.path.startswith(self.OPEN_PREFIXES + (self.SECOND_FACTOR_PREFIX,)):
            return self.get_response(request)
        if settings.HAVEN_REQUIRE_2FA and not user.is_verified():
            return redirect(f"{reverse('2fa')}?next={request.path}")
        if request.path.startswith(self.ACCOUNT_PREFIX):
            return self.get_response(request)
        if request.session.get(ENROL_FIRST):  # the sign-in policy requires a passkey
            return redirect(f"{reverse('passkeys')}?next={request.path}")
        if not confidentiality_accepted(user):
            return redirect(f"{reverse('confidentiality')}?next={request.path}")
        return self.get_response(request)
