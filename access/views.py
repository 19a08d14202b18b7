"""Sign-in, second factor, confidentiality rules, password: the pages before any case."""

from __future__ import annotations

from typing import Any

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access import policy
from access.services import GrantError, confidentiality_accept, confidentiality_current
from audit.models import Outcome
from audit.services import event_record

RECOVERY_CODES = 10


class HavenLoginView(auth_views.LoginView):
    template_name = "access/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["expired"] = "expired" in self.request.GET
        return context


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


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6-digit code from your authenticator app, or one recovery code.",
    )


@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    user = policy.acting_user(request.user)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(f"{reverse('2fa-setup')}?next={_next(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["token"].replace(" ", ""))
        if device is not None:
            otp_login(request, device)
            event_record(actor=user, action="auth.second_factor")
            return redirect(_next(request))
        event_record(
            actor=user, action="auth.second_factor", outcome=Outcome.DENIED, reason="bad_code"
        )
        form.add_error("token", "That code is not valid. Try the next one from your app.")
    return render(
        request,
        "access/second_factor.html",
        {"form": form, "next": _next(request)},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def second_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrolment on first login: scan the QR code, confirm with one code, receive
    recovery codes (shown once)."""
    user = policy.acting_user(request.user)
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(f"{reverse('2fa')}?next={_next(request)}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].replace(" ", "")):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            codes = _new_recovery_codes(user)
            event_record(actor=user, action="auth.second_factor_enrol")
            return render(
                request, "access/recovery_codes.html", {"codes": codes, "next": _next(request)}
            )
        form.add_error("token", "That code is not valid. Check the time on your phone.")
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
    import base64

    text = base64.b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _new_recovery_codes(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


class AcceptForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(label="I have read these rules and I will follow them.")


@require_http_methods(["GET", "POST"])
def confidentiality(request: HttpRequest) -> HttpResponse:
    user = policy.acting_user(request.user)
    rules = confidentiality_current()
    if rules is None:
        return redirect(_next(request))
    form = AcceptForm(request.POST or None, initial={"version": rules.version})
    if request.method == "POST" and form.is_valid():
        try:
            confidentiality_accept(user=user, version=form.cleaned_data["version"])
        except GrantError:
            messages.warning(request, "The rules were updated while you read them. Read again.")
            return redirect(request.get_full_path())
        return redirect(_next(request))
    return render(
        request,
        "access/confidentiality.html",
        {"rules": rules, "form": form, "next": _next(request)},
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
        messages.success(self.request, "Password changed. Your other sessions were signed out.")
        return response
