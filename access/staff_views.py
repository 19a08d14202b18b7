"""The administrator's staff page: who works here, in which role and team, whether
their account is locked or has a second factor; and, per person, setting a password,
an invitation link, resetting a lost second factor, unlocking. Roles and teams are
changed in the admin site (``access.admin``), through the same services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from access import passkeys, second_factor, staff
from access.endpoints import staff_endpoint
from access.models import SignInPolicy, User
from access.roles import Capability
from haven.web import form_errors, posted


class PasswordForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label=gettext_lazy("New password"),
        help_text=gettext_lazy(
            "At least 12 characters, not a common password. Tell it to the person "
            "by a separate channel."
        ),
    )
    again = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label=gettext_lazy("Again"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("again"):
            self.add_error("again", gettext_lazy("The two passwords differ."))
        return cleaned


class ResetForm(forms.Form):
    reason = forms.ChoiceField(
        choices=list(staff.RESET_REASONS.items()),
        widget=forms.RadioSelect,
        label=gettext_lazy("Why"),
        error_messages={"required": gettext_lazy("Choose why the second factor is reset.")},
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I checked who is asking (in person or by a call back to a known number)."
        ),
        error_messages={"required": gettext_lazy("Confirm that you checked who is asking.")},
    )


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I checked who is asking."),
        error_messages={"required": gettext_lazy("Confirm that you checked who is asking.")},
    )


def _person(username: str) -> User:
    user = staff.person(username)
    if user is None:
        raise Http404
    return user


@staff_endpoint(need=Capability.STAFF_ADMIN, action="staff.list")
def staff_list(request: HttpRequest, *, actor: User) -> HttpResponse:
    people = staff.people()
    locked = staff.locked_among(people)
    enrolled = second_factor.enrolled_among(people)
    rows = [
        {
            "user": person,
            "locked": person.username in locked,
            "second_factor": person.pk in enrolled,
        }
        for person in people
    ]
    return render(request, "access/staff.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.STAFF_ADMIN, action="staff.password_set")
def staff_password(request: HttpRequest, username: str, *, actor: User) -> HttpResponse:
    person = _person(username)
    form = PasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            staff.password_set(actor=actor, user=person, password=form.cleaned_data["password"])
        if attempt.ok:
            messages.success(request, _("Password set for %(name)s.") % {"name": person.username})
            return redirect("staff")
    return _page(request, "Set a password", person, form)


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.STAFF_ADMIN, action="staff.invite")
def staff_invite(request: HttpRequest, username: str, *, actor: User) -> HttpResponse:
    person = _person(username)
    form = ConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            token = staff.invitation_create(actor=actor, user=person)
        if attempt.ok:
            link = request.build_absolute_uri(reverse("invitation", args=[token]))
            return render(
                request,
                "access/invitation_link.html",
                {"person": person, "link": link, "days": staff.INVITATION_DAYS},
            )
    return _page(request, "Send an invitation link", person, form)


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.STAFF_ADMIN, action="staff.second_factor_reset")
def staff_reset_second_factor(request: HttpRequest, username: str, *, actor: User) -> HttpResponse:
    person = _person(username)
    form = ResetForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            staff.second_factor_reset(actor=actor, user=person, reason=form.cleaned_data["reason"])
        if attempt.ok:
            messages.success(
                request,
                _("%(name)s enrols a new second factor at the next sign-in.")
                % {"name": person.username},
            )
            return redirect("staff")
    return _page(request, "Reset the second factor", person, form)


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.STAFF_ADMIN, action="staff.unlock")
def staff_unlock(request: HttpRequest, username: str, *, actor: User) -> HttpResponse:
    person = _person(username)
    form = ConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            staff.unlock(actor=actor, user=person)
        if attempt.ok:
            messages.success(request, _("%(name)s can sign in again.") % {"name": person.username})
            return redirect("staff")
    return _page(request, "Unlock the account", person, form)


def _page(request: HttpRequest, title: str, person: User, form: forms.Form) -> HttpResponse:
    return render(
        request,
        "access/staff_action.html",
        {"title": title, "person": person, "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


class InvitationForm(PasswordForm):
    pass


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invited person chooses a password. Open without signing in: the link is the
    credential, once, for a week."""
    found = staff.invitation_for(token)
    if found is None:
        return render(
            request,
            "error.html",
            {
                "status": 410,
                "title": "Link no longer valid",
                "text": "This link has expired or was used already. Ask your administrator "
                "for a new one.",
            },
            status=410,
        )
    form = InvitationForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            staff.invitation_accept(token=token, password=form.cleaned_data["password"])
        if attempt.ok:
            messages.success(request, _("Password chosen. Sign in to set up your second factor."))
            return redirect("login")
    return render(
        request,
        "access/invitation.html",
        {"form": form, "person": found.user},
        status=400 if form.is_bound and form.errors else 200,
    )


class SignInPolicyForm(forms.Form):
    passkey_sign_in = forms.BooleanField(
        required=False,
        label=gettext_lazy("Staff may sign in with a passkey alone, without a password"),
    )
    passkeys_required = forms.BooleanField(
        required=False,
        label=gettext_lazy(
            "Staff who can open identities or clinical notes must use a passkey as their "
            "second factor"
        ),
        help_text=gettext_lazy(
            "From their next sign-in, codes from an authenticator app are no longer "
            "accepted from them; those without a passkey are asked to add one first. "
            "Recovery codes still work."
        ),
    )
    reason = forms.ChoiceField(
        choices=list(passkeys.POLICY_REASONS.items()),
        widget=forms.RadioSelect,
        label=gettext_lazy("Why"),
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.STAFF_ADMIN, action="staff.sign_in_policy")
def sign_in_policy(request: HttpRequest, *, actor: User) -> HttpResponse:
    """How staff sign in: passkeys as the whole sign-in, and passkeys required for the
    roles that reach identity or clinical data. A change gives its reason."""
    policy = SignInPolicy.current()
    form = SignInPolicyForm(
        posted(request),
        initial={
            "passkey_sign_in": policy.passkey_sign_in,
            "passkeys_required": policy.passkeys_required,
        },
    )
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            passkeys.policy_set(
                actor=actor,
                passkey_sign_in=form.cleaned_data["passkey_sign_in"],
                passkeys_required=form.cleaned_data["passkeys_required"],
                reason=form.cleaned_data["reason"],
            )
        if attempt.ok:
            messages.success(request, _("Sign-in policy saved."))
            return redirect("staff")
    return render(
        request,
        "access/sign_in_policy.html",
        {"form": form, "policy": policy},
        status=400 if form.errors else 200,
    )
