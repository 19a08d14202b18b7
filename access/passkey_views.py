"""Passkey pages and ceremonies (AS9-STO-5).

The four JSON endpoints are django-otp-webauthn's views, mounted under the second
factor's prefix (``/account/2fa/passkey/``) so that a password alone reaches them, with
what Haven adds: the sign-in policy decides whether a passkey alone may sign in, and
every use, enrolment and refusal is an access event. The page ``/account/passkeys/``
lists one's passkeys, names, adds and removes them.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_otp_webauthn import exceptions
from django_otp_webauthn import views as webauthn

from access import passkeys, policy
from access import second_factor as factor
from access.endpoints import staff_endpoint
from access.models import SignInPolicy, User
from haven.web import form_errors, posted


def _actor(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


class RegisterBegin(webauthn.BeginCredentialRegistrationView):  # type: ignore[misc]
    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        policy.acting_user(self.request.user)  # active staff only (the library: signed in)
        response: JsonResponse = super().post(*args, **kwargs)
        return response


class RegisterComplete(webauthn.CompleteCredentialRegistrationView):  # type: ignore[misc]
    """A new passkey is recorded; the first second factor of a person also brings their
    recovery codes (kept in the session until the passkeys page shows them, once)."""

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        user = policy.acting_user(self.request.user)
        response: JsonResponse = super().post(*args, **kwargs)
        if response.status_code != 200:
            return response
        passkey_id = json.loads(response.content)["id"]
        passkeys.enrolled(user, passkey_id)
        session = self.request.session
        session.pop(passkeys.ENROL_FIRST, None)
        if not factor.has_recovery_codes(user):
            session[passkeys.NEW_RECOVERY_CODES] = factor.recovery_codes_issue(user)
        return response

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, exceptions.OTPWebAuthnApiError):
            passkeys.refused(_actor(self.request), exc.code, enrolment=True)
        return super().handle_exception(exc)


class _SignInPolicy:
    """Without a session, a passkey ceremony is a sign-in without a password: only
    where the organisation's sign-in policy allows it."""

    request: HttpRequest

    def check_can_authenticate(self) -> None:
        if _actor(self.request) is None and not SignInPolicy.current().passkey_sign_in:
            raise exceptions.PasswordlessLoginDisabled()
        super().check_can_authenticate()  # type: ignore[misc]


@method_decorator(login_not_required, name="dispatch")
class AuthenticateBegin(_SignInPolicy, webauthn.BeginCredentialAuthenticationView):  # type: ignore[misc]
    pass


@method_decorator(login_not_required, name="dispatch")
class AuthenticateComplete(_SignInPolicy, webauthn.CompleteCredentialAuthenticationView):  # type: ignore[misc]
    def complete_auth(self, device: Any) -> Any:
        signed_in = _actor(self.request) is None
        super().complete_auth(device)
        passkeys.used(device.user, device, signed_in=signed_in)

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, exceptions.OTPWebAuthnApiError):
            passkeys.refused(_actor(self.request), exc.code)
        return super().handle_exception(exc)


class RenameForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=passkeys.NAME_MAX)


class RemoveForm(forms.Form):
    reason = forms.ChoiceField(
        choices=list(passkeys.REMOVE_REASONS.items()),
        widget=forms.RadioSelect,
        label=gettext_lazy("Why"),
    )
    confirm = forms.BooleanField(label=gettext_lazy("Yes, remove this passkey"))


@require_http_methods(["GET"])
@staff_endpoint()
def passkey_list(request: HttpRequest, *, actor: User) -> HttpResponse:
    """One's own passkeys: each with its name, when it was added and last used, a form
    to rename it and one to remove it; and the button that adds one."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    return render(
        request,
        "access/passkeys.html",
        {
            "passkeys": [
                (key, RenameForm(initial={"name": key.name}, prefix=f"k{key.pk}"))
                for key in passkeys.passkeys_of(actor)
            ],
            "required": passkeys.required_for(actor),
            "enrol_first": bool(request.session.get(passkeys.ENROL_FIRST)),
            "codes": request.session.pop(passkeys.NEW_RECOVERY_CODES, None),
            "next": target,
        },
    )


@require_POST
@staff_endpoint()
def passkey_rename(request: HttpRequest, passkey_id: int, *, actor: User) -> HttpResponse:
    form = RenameForm(posted(request), prefix=f"k{passkey_id}")
    if form.is_valid():
        with form_errors(form) as attempt:
            passkeys.passkey_rename(
                user=actor, passkey_id=passkey_id, name=form.cleaned_data["name"]
            )
        if attempt.ok:
            messages.success(request, _("Passkey renamed."))
            return redirect("passkeys")
    for error in form.errors.values():
        messages.error(request, " ".join(str(message) for message in error))
    return redirect("passkeys")


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def passkey_remove(request: HttpRequest, passkey_id: int, *, actor: User) -> HttpResponse:
    """Removing a passkey asks for confirmation and a reason."""
    passkey = passkeys.passkey_of(actor, passkey_id)
    if passkey is None:
        messages.error(request, _("You have no such passkey."))
        return redirect("passkeys")
    form = RemoveForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            passkeys.passkey_remove(
                user=actor, passkey_id=passkey_id, reason=form.cleaned_data["reason"]
            )
        if attempt.ok:
            messages.success(request, _("Passkey removed."))
            return redirect("passkeys")
    return render(
        request,
        "access/passkey_remove.html",
        {"passkey": passkey, "form": form},
        status=400 if form.errors else 200,
    )
