"""Sign-in, second factor, confidentiality rules, password: the pages before any case."""

from __future__ import annotations

import base64
from typing import Any

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from access import drafts, passkeys
from access import second_factor as factor
from access.endpoints import staff_endpoint
from access.models import SignInPolicy, User
from access.roles import Capability
from access.services import confidentiality_accept, confidentiality_current, staff_set_language
from audit.models import Outcome
from audit.services import event_record
from haven.i18n import offered
from haven.web import form_errors, posted


class HavenLoginView(auth_views.LoginView):
    template_name = "access/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["expired"] = "expired" in self.request.GET
        context["passkey_sign_in"] = SignInPolicy.current().passkey_sign_in
        return context


@login_not_required
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The language control on every page. Signed in, it is the staff member's own
    choice (as ``PATCH /api/v1/me/``); before sign-in a cookie keeps it for this browser.
    Back to the page it was chosen on."""
    code = request.POST.get("language", "")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("home")
    if code not in offered():
        messages.error(request, _("Choose one of the languages offered."))
        return redirect(target)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        staff_set_language(user=user, language=code)
    translation.activate(code)
    response = redirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        samesite="Lax",
        httponly=True,
    )
    return response


def locked_out(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> Any:
    """django-axes lockout: the same answer whether or not the username exists."""
    event_record(actor=None, action="auth.lockout", outcome=Outcome.DENIED, reason="locked_out")
    return render(
        request,
        "access/login.html",
        {
            "form": None,
            "locked": True,
        },
        status=429,
    )


@staff_endpoint()
def home(request: HttpRequest, *, actor: User) -> HttpResponse:
    """Each role's own home: what is due today for those who work on cases, the access
    log for the data protection officer, the staff page for the administrator."""
    if actor.has_capability(Capability.CASE_READ):
        return redirect("cases:today")
    if actor.has_capability(Capability.AUDIT_REVIEW):
        return redirect("audit:desk")
    if actor.has_capability(Capability.STAFF_ADMIN):
        return redirect("staff")
    return render(request, "access/no_role.html", status=403)


@require_POST
@staff_endpoint()
def draft_discard(request: HttpRequest, draft_id: Any, *, actor: User) -> HttpResponse:
    """Throw away a form kept at a session timeout."""
    drafts.draft_discard(user=actor, draft_id=draft_id)
    messages.success(request, _("The kept form was discarded."))
    return redirect("home")


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


class TokenForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=gettext_lazy(
            "The 6-digit code from your authenticator app, or one recovery code."
        ),
    )


class RecoveryCodeForm(TokenForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["token"].label = gettext_lazy("Recovery code")
        self.fields["token"].help_text = gettext_lazy(
            "If you cannot use your passkey: one of your recovery codes."
        )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def second_factor(request: HttpRequest, *, actor: User) -> HttpResponse:
    """The second step: a passkey (its button), or a code from the authenticator app,
    or a recovery code. When the sign-in policy requires a passkey of this person and
    they have one, an app's code is no longer taken; when they have none yet, they
    are signed in and asked to add one before anything else."""
    has_passkey = actor.confirmed_passkeys().exists()
    has_app = actor.has_authenticator_app()
    if not (has_passkey or has_app):  # ``factor.enrolled``, from the two answers
        return redirect(f"{reverse('2fa-setup')}?next={_next(request)}")
    required = passkeys.required_for(actor)
    recovery_only = (required and has_passkey) or not has_app
    form = (RecoveryCodeForm if recovery_only else TokenForm)(posted(request))
    if request.method == "POST" and form.is_valid():
        device = factor.check(actor, form.cleaned_data["token"], recovery_only=recovery_only)
        if device is not None:
            otp_login(request, device)
            if required and not has_passkey:
                request.session[passkeys.ENROL_FIRST] = True
                return redirect(f"{reverse('passkeys')}?next={_next(request)}")
            return redirect(_next(request))
        form.add_error(
            "token",
            _("That recovery code is not valid.")
            if recovery_only
            else _("That code is not valid. Try the next one from your app."),
        )
    return render(
        request,
        "access/second_factor.html",
        {
            "form": form,
            "next": _next(request),
            "has_passkey": has_passkey,
            "recovery_only": recovery_only,
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def second_factor_setup(request: HttpRequest, *, actor: User) -> HttpResponse:
    """Enrolment on first login: scan the QR code, confirm with one code, receive
    recovery codes (shown once)."""
    if factor.enrolled(actor):
        return redirect(f"{reverse('2fa')}?next={_next(request)}")
    device = factor.pending_device(actor)
    form = TokenForm(posted(request))
    if request.method == "POST" and form.is_valid():
        codes = factor.enrol(actor, device, form.cleaned_data["token"])
        if codes is not None:
            otp_login(request, device)
            return render(
                request, "access/recovery_codes.html", {"codes": codes, "next": _next(request)}
            )
        form.add_error("token", _("That code is not valid. Check the time on your phone."))
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return render(
        request,
        "access/second_factor_setup.html",
        {
            "form": form,
            "qr_svg": image.to_string(encoding="unicode"),
            "secret": _base32(device.bin_key),
            "next": _next(request),
        },
        status=400 if form.errors else 200,
    )


def _base32(key: bytes) -> str:
    text = base64.b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


class AcceptForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(
        label=gettext_lazy("I have read these rules and I will follow them.")
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def confidentiality(request: HttpRequest, *, actor: User) -> HttpResponse:
    user = actor
    rules = confidentiality_current()
    if rules is None:  # fail closed: nothing to accept, so nothing to open
        return render(
            request,
            "error.html",
            {
                "title": _("No confidentiality rules"),
                "text": _(
                    "No confidentiality rules are published, so no one can open records. "
                    "An administrator must publish them first."
                ),
            },
            status=503,
        )
    text, shown = rules.text_in(user.language)
    form = AcceptForm(posted(request), initial={"version": rules.version})
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            confidentiality_accept(user=user, version=form.cleaned_data["version"])
        if attempt.ok:
            return redirect(_next(request))
        # A newer version was published meanwhile: show it, to be read and accepted.
        messages.warning(request, _("The rules were updated while you read them. Read again."))
        return redirect(request.get_full_path())
    return render(
        request,
        "access/confidentiality.html",
        {
            "rules": rules,
            "text": text,
            "text_language": shown,
            "form": form,
            "next": _next(request),
        },
        status=400 if form.errors else 200,
    )


class HavenPasswordChangeView(auth_views.PasswordChangeView):
    """Changing the password signs out every other session of this account (Django's
    session hash), and keeps this one."""

    template_name = "access/password_change.html"
    success_url = "/"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        event_record(actor=self.request.user, action="auth.password_change")
        messages.success(self.request, _("Password changed. Your other sessions were signed out."))
        return response
