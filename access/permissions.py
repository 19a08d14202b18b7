"""The API's share of the staff gates: the same rules as StaffGateMiddleware."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from access.models import User
from access.services import confidentiality_accepted


class ConfidentialityNotAccepted(exceptions.PermissionDenied):
    default_detail = _(
        "Accept the organisation's confidentiality rules first "
        "(GET and POST /api/v1/confidentiality/, or in the web app)."
    )
    default_code = "confidentiality_not_accepted"


class SecondFactorRequired(exceptions.PermissionDenied):
    default_detail = _("This session has not passed the second factor.")
    default_code = "second_factor_required"


class StaffGate(permissions.BasePermission):
    """Authenticated staff who accepted the current rules; a browser session must also
    have passed the second factor (bearer tokens are issued by an admin instead)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return False
        via_session = request.auth is None
        verified = getattr(user, "is_verified", lambda: False)()
        if via_session and settings.HAVEN_REQUIRE_2FA and not verified:
            raise SecondFactorRequired
        if not confidentiality_accepted(user):
            raise ConfidentialityNotAccepted
        return True


class StaffGateBeforeRules(StaffGate):
    """The same gate without the confidentiality rules, for the few endpoints that a
    staff member needs in order to read and accept them (``/me/``, ``/confidentiality/``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return False
        verified = getattr(user, "is_verified", lambda: False)()
        if request.auth is None and settings.HAVEN_REQUIRE_2FA and not verified:
            raise SecondFactorRequired
        return True
