"""Passkeys (WebAuthn) as a second factor and, where the sign-in policy allows, as the
whole sign-in (AS9-STO-5). The ceremonies are django-otp-webauthn's (py_webauthn
underneath: the challenge, the origin, the relying party id and the signature are all
checked there); this module holds what Haven adds: the sign-in policy, naming and
removing passkeys, and an access event for each of those and for every use.

A passkey is bound by the browser and the authenticator to Haven's domain (the relying
party id) and by the server to Haven's origins, so a look-alike site can neither ask
for it nor pass on its answer: that is what makes it phishing-resistant, unlike a
6-digit code a person can be talked into typing elsewhere.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp_webauthn.models import WebAuthnCredential

from access.errors import (
    InvalidPasskeyName,
    InvalidReason,
    LastRequiredPasskey,
    LastSecondFactor,
    PasskeyNotFound,
)
from access.models import SignInPolicy, User
from access.roles import Capability, capabilities_of
from audit.models import Outcome
from audit.services import event_record, reason_code

NAME_MAX = 64
# Session keys: the person must add a passkey before anything else (the policy requires
# one and they signed in without); recovery codes issued with a first passkey, shown once.
ENROL_FIRST = "haven_passkey_enrol_first"
NEW_RECOVERY_CODES = "haven_new_recovery_codes"
# Why a passkey is removed, or the sign-in policy changed: codes, since the access log
# holds no free text.
REMOVE_REASONS = {
    "lost": _("The device was lost or stolen"),
    "replaced": _("The device was replaced"),
    "unused": _("It is no longer used"),
    "compromised": _("Someone else may be able to use it"),
}
POLICY_REASONS = {
    "security_review": _("A security review or audit asked for it"),
    "incident": _("After a security incident"),
    "staff_devices": _("What staff can use (their devices, accessibility)"),
    "other": _("Another reason (tell the data protection officer)"),
}
# Roles that reach a survivor's identity or clinical detail: the ones a policy of
# "passkeys required" applies to.
SENSITIVE = frozenset({Capability.IDENTITY_READ, Capability.CLINICAL})


def passkeys_of(user: User) -> list[WebAuthnCredential]:
    return list(user.confirmed_passkeys().order_by("created_at"))


def passkey_of(user: User, passkey_id: int) -> WebAuthnCredential | None:
    """One of the person's own passkeys, or None (someone else's is never found)."""
    return user.confirmed_passkeys().filter(pk=passkey_id).first()


def reaches_sensitive_data(user: User) -> bool:
    return bool(SENSITIVE & capabilities_of(user.role))


def required_for(user: User, policy: SignInPolicy | None = None) -> bool:
    """Whether this person must use a passkey as their second factor."""
    policy = policy or SignInPolicy.current()
    return policy.passkeys_required and reaches_sensitive_data(user)


@transaction.atomic
def policy_set(
    *, actor: User, passkey_sign_in: bool, passkeys_required: bool, reason: str
) -> SignInPolicy:
    """Change the sign-in policy; the change and its reason are an access event."""
    if reason not in POLICY_REASONS:
        raise InvalidReason()
    policy = SignInPolicy.objects.select_for_update().order_by("pk").first() or SignInPolicy()
    policy.passkey_sign_in = passkey_sign_in
    policy.passkeys_required = passkeys_required
    policy.changed_at = timezone.now()
    policy.changed_by = actor
    policy.save()
    event_record(
        actor=actor,
        action="staff.sign_in_policy",
        reason=reason,
        detail={"passkey_sign_in": passkey_sign_in, "passkeys_required": passkeys_required},
    )
    return policy


def _own(user: User, passkey_id: int) -> WebAuthnCredential:
    passkey = user.confirmed_passkeys().select_for_update().filter(pk=passkey_id).first()
    if passkey is None:
        raise PasskeyNotFound()
    return passkey


@transaction.atomic
def passkey_rename(*, user: User, passkey_id: int, name: str) -> WebAuthnCredential:
    name = name.strip()
    if not name or len(name) > NAME_MAX or "\x00" in name:
        raise InvalidPasskeyName()
    passkey = _own(user, passkey_id)
    passkey.name = name
    passkey.save(update_fields=["name"])
    event_record(actor=user, action="auth.passkey_rename", detail={"passkey": passkey.pk})
    return passkey


@transaction.atomic
def passkey_remove(*, user: User, passkey_id: int, reason: str) -> None:
    """Remove one of one's own passkeys. Refused for the last one when the policy
    requires a passkey of this person (they would be shut out at the next sign-in), or
    when it is their only second factor (the next sign-in would then enrol a new one
    with the password alone)."""
    if reason not in REMOVE_REASONS:
        raise InvalidReason()
    passkey = _own(user, passkey_id)
    if not user.confirmed_passkeys().exclude(pk=passkey.pk).exists():
        if required_for(user):
            raise LastRequiredPasskey()
        if not user.has_authenticator_app():
            raise LastSecondFactor()
    passkey.delete()
    event_record(
        actor=user, action="auth.passkey_remove", reason=reason, detail={"passkey": passkey_id}
    )


def enrolled(user: User, passkey_id: int) -> None:
    """A passkey was registered (the library has verified and saved it)."""
    event_record(actor=user, action="auth.passkey_enrol", detail={"passkey": passkey_id})


def used(user: User, passkey: WebAuthnCredential, *, signed_in: bool) -> None:
    """A passkey was used: as the second factor, or (``signed_in``) for the whole
    sign-in, which the policy allowed."""
    event_record(
        actor=user,
        action="auth.second_factor",
        detail={"method": "passkey", "passkey": passkey.pk, "passwordless": signed_in},
    )


def refused(user: User | None, reason: str, *, enrolment: bool = False) -> None:
    """A passkey ceremony that did not succeed (wrong origin, unknown passkey, replay,
    a passkey of someone else, sign-in without a password where it is not allowed).
    ``reason`` is the library's error code (lower case and underscores)."""
    event_record(
        actor=user,
        action="auth.passkey_enrol" if enrolment else "auth.second_factor",
        outcome=Outcome.DENIED,
        reason=reason_code(reason, "refused"),
        detail={"method": "passkey"},
    )
