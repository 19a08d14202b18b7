"""What an administrator does for a staff member from the web: set a password, send a
one-time invitation link, reset a lost second factor, unlock an account locked after
failed sign-ins. Each is a chained event; none may be done to one's own account (that
goes through the account's own pages, or another administrator)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from access.errors import GrantError, StaffChangeRefused
from access.models import StaffInvitation, User
from access.roles import Capability
from audit.services import event_record

INVITATION_DAYS = 7
# Why a second factor is reset, as a code: the trail keeps codes, never free text.
RESET_REASONS = {
    "lost_device": "The phone or authenticator was lost or stolen",
    "new_device": "The person changed phone",
    "compromised": "The authenticator may be known to someone else",
    "other": "Another reason (tell the data protection officer)",
}


def _by_admin(actor: User, user: User) -> None:
    if not actor.has_capability(Capability.STAFF_ADMIN):
        raise StaffChangeRefused("Only an administrator manages staff accounts.", code="forbidden")
    if actor.pk == user.pk:
        raise StaffChangeRefused(
            "Nobody may do this to their own account. Ask another administrator."
        )


def people() -> list[User]:
    return list(User.objects.select_related("team").order_by("username"))


def person(username: str) -> User | None:
    return User.objects.filter(username=username).select_related("team").first()


def locked_among(users: Iterable[User]) -> set[str]:
    """The usernames of those of ``users`` locked after too many failed sign-ins
    (django-axes), until the cool-off ends or an administrator unlocks the account: one
    query, however long the list."""
    return set(
        AccessAttempt.objects.filter(
            username__in=[user.username for user in users],
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        ).values_list("username", flat=True)
    )


@transaction.atomic
def password_set(*, actor: User, user: User, password: str) -> None:
    """Set a staff member's password (checked against the password rules); every other
    session of theirs ends, as with a password change."""
    _by_admin(actor, user)
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    event_record(actor=actor, action="staff.password_set", detail={"user_id": user.pk})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, actor: User, user: User) -> str:
    """A one-time link token for ``user`` to choose their password, valid for a week;
    earlier unused invitations stop working. Returns the token (shown once)."""
    _by_admin(actor, user)
    now = timezone.now()
    for earlier in StaffInvitation.objects.filter(user=user, used_at__isnull=True):
        earlier.expires_at = min(earlier.expires_at, now)
        earlier.save(update_fields=["expires_at"])
    token = secrets.token_urlsafe(32)
    StaffInvitation.objects.create(
        user=user,
        digest=_digest(token),
        created_by=actor,
        expires_at=now + dt.timedelta(days=INVITATION_DAYS),
    )
    event_record(actor=actor, action="staff.invite", detail={"user_id": user.pk})
    return token


def invitation_for(token: str) -> StaffInvitation | None:
    invitation = (
        StaffInvitation.objects.select_related("user").filter(digest=_digest(token)).first()
    )
    if invitation is None or not invitation.usable_at(timezone.now()):
        return None
    if not invitation.user.is_active:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, password: str) -> User:
    """The invited person chooses their password; the link is then spent. The second
    factor is enrolled at their first sign-in."""
    invitation = invitation_for(token)
    if invitation is None:
        raise GrantError(_("This link has expired or was used already."), code="gone", status=410)
    user = invitation.user
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    axes_reset(username=user.username)
    event_record(actor=user, action="staff.invitation_accept")
    return user


@transaction.atomic
def second_factor_reset(*, actor: User, user: User, reason: str) -> None:
    """Remove a staff member's authenticator, passkeys and recovery codes (a lost phone):
    they enrol a new second factor at their next sign-in. The reason is one of ``RESET_REASONS``."""
    _by_admin(actor, user)
    if reason not in RESET_REASONS:
        raise GrantError(
            _("Choose why the second factor is reset."), code="invalid", field="reason"
        )
    TOTPDevice.objects.filter(user=user).delete()
    WebAuthnCredential.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    event_record(
        actor=actor,
        action="staff.second_factor_reset",
        reason=reason,
        detail={"user_id": user.pk},
    )


@transaction.atomic
def unlock(*, actor: User, user: User) -> int:
    """Lift the lockout after failed sign-ins; returns how many records were cleared."""
    _by_admin(actor, user)
    cleared = int(axes_reset(username=user.username))
    event_record(actor=actor, action="staff.unlock", detail={"user_id": user.pk})
    return cleared
