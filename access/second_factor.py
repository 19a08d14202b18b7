"""The second factor (AS9-STO-5): a TOTP authenticator, enrolled once with a code that
proves it works, or a passkey (``access.passkeys``), and ten single-use recovery codes.
Each check and each enrolment is an access event; the pages in ``access.views`` only
show the forms."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django_otp import match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import User
from audit.models import Outcome
from audit.services import event_record

RECOVERY_CODES = 10


def _clean(token: str) -> str:
    return token.replace(" ", "")


def enrolled(user: User) -> bool:
    """Whether the person has a second factor: an authenticator app or a passkey."""
    return user.pk in enrolled_among([user])


def enrolled_among(users: Iterable[User]) -> set[int]:
    """The ids of those of ``users`` who have a second factor (``enrolled`` for a list:
    one query, however long the list)."""
    ids = [user.pk for user in users]
    return set(User.objects.filter(User.HAS_SECOND_FACTOR, pk__in=ids).values_list("pk", flat=True))


def has_recovery_codes(user: User) -> bool:
    return bool(StaticToken.objects.filter(device__user=user).exists())


def pending_device(user: User) -> TOTPDevice:
    """The authenticator being enrolled: its secret is shown (as a QR code) until one
    code from it confirms it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def check(user: User, token: str, *, recovery_only: bool = False) -> Device | None:
    """The device that accepts ``token`` (an authenticator code or an unused recovery
    code, which is then spent), or None. Either way an event is recorded. With
    ``recovery_only`` (the sign-in policy requires a passkey of this person) an
    authenticator's code is refused and only a recovery code is taken."""
    device = match_token(user, _clean(token))
    if device is not None and recovery_only and not isinstance(device, StaticDevice):
        event_record(
            actor=user,
            action="auth.second_factor",
            outcome=Outcome.DENIED,
            reason="passkey_required",
        )
        return None
    if device is None:
        event_record(
            actor=user, action="auth.second_factor", outcome=Outcome.DENIED, reason="bad_code"
        )
        return None
    event_record(actor=user, action="auth.second_factor")
    return device


@transaction.atomic
def enrol(user: User, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the pending authenticator with one of its codes and issue new recovery
    codes (shown once; any earlier ones stop working). None if the code is wrong."""
    if not device.verify_token(_clean(token)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    event_record(actor=user, action="auth.second_factor_enrol")
    return recovery_codes_issue(user)


@transaction.atomic
def recovery_codes_issue(user: User) -> list[str]:
    """New recovery codes, shown once; any earlier ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    recovery = StaticDevice.objects.create(user=user, name="recovery codes")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    event_record(actor=user, action="auth.recovery_codes_issue")
    return codes
