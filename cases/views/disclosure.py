"""Consent, the organisation directory, and the referral wizard (pages)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from access import policy
from access.roles import Capability
from cases import selectors, services
from cases.errors import ConsentRequired, DomainError
from cases.models import (
    DISCLOSURE_SCOPES,
    FORM_MAX_BYTES,
    ConsentMethod,
    ConsentScope,
    ReferralFormat,
    ReferralSection,
)


def _organisation_choices() -> list[tuple[str, str]]:
    return [(o.slug, o.name) for o in selectors.organisations()]


class ConsentForm(forms.Form):
    scope = forms.ChoiceField(choices=ConsentScope.choices)
    recipient = forms.ChoiceField(required=False, label="Recipient (for referral or legal)")
    purpose = forms.CharField(max_length=1000, required=False, help_text="What it is for.")
    identity = forms.BooleanField(required=False, label="Identifying details may be shared")
    method = forms.ChoiceField(choices=ConsentMethod.choices, label="How consent was given")
    interpreter_used = forms.BooleanField(required=False, label="An interpreter was used")
    given_at = forms.DateTimeField(
        label="Given at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Ends",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    form = forms.FileField(
        required=False,
        label="Scanned signed form",
        help_text="PDF, PNG or JPEG, up to 5 MB. Stored encrypted.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].choices = [("", "—"), *_organisation_choices()]  # type: ignore[attr-defined]


@require_POST
def consent_add(request: HttpRequest, reference: str) -> HttpResponse:
    actor = policy.acting_user(request.user)
    case = policy.case_for(
        actor, reference, need=Capability.CASE_WRITE, action="consent.record", log_allowed=False
    )
    form = ConsentForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        upload = data.get("form")
        if upload is not None and upload.size > FORM_MAX_BYTES:
            messages.error(request, "The scanned form is larger than 5 MB.")
            return redirect("cases:detail", reference=case.reference)
        try:
            services.consent_record(
                form=upload.read() if upload is not None else None,
                actor=actor,
                case=case,
                scope=data["scope"],
                recipient_slug=data["recipient"] or None,
                purpose=data["purpose"] or None,
                identity=data["identity"],
                method=data["method"],
                interpreter_used=data["interpreter_used"],
                given_at=data["given_at"],
                expires_at=data["expires_at"],
            )
        except (ValidationError, DomainError) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, "Consent recorded.")
    else:
        messages.error(request, "Consent not recorded: check scope, method and date.")
    return redirect("cases:detail", reference=case.reference)


def consent_form(request: HttpRequest, reference: str, consent_id: Any) -> HttpResponse:
    """The scanned consent form, decrypted for a reader of the case (logged)."""
    case = policy.case_for(
        request.user, reference, need=Capability.CASE_READ, action="consent.form_view"
    )
    consent = selectors.consents_for(case=case).filter(pk=consent_id).first()
    if consent is None or consent.form is None:
        raise Http404
    response = HttpResponse(consent.form, content_type=consent.form_type)
    response["Content-Disposition"] = f'attachment; filename="consent-{consent.pk}"'
    return response


@require_POST
def consent_withdraw(request: HttpRequest, reference: str, consent_id: Any) -> HttpResponse:
    actor = policy.acting_user(request.user)
    case = policy.case_for(
        actor, reference, need=Capability.CASE_WRITE, action="consent.withdraw", log_allowed=False
    )
    reason = (request.POST.get("reason") or "").strip()[:1000] or None
    services.consent_withdraw(actor=actor, case=case, consent_id=consent_id, reason=reason)
    messages.success(request, "Consent withdrawn. No further disclosure can use it.")
    return redirect("cases:detail", reference=case.reference)


class OrganisationForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=60, help_text="Short name used in links, e.g. riverside-clinic"
    )
    contact = forms.CharField(max_length=500, required=False)
    languages = forms.CharField(max_length=500, required=False, help_text="Comma-separated.")
    services = forms.CharField(max_length=500, required=False, help_text="Comma-separated.")
    verified_on = forms.DateField(
        required=False, label="Last verified", widget=forms.DateInput(attrs={"type": "date"})
    )


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()][:20]


@require_http_methods(["GET", "POST"])
def organisations(request: HttpRequest) -> HttpResponse:
    actor = policy.acting_user(request.user)
    can_manage = policy.can(actor, Capability.ORGANISATION_MANAGE)
    form = OrganisationForm(request.POST or None)
    if request.method == "POST":
        policy.require_capability(actor, Capability.ORGANISATION_MANAGE, action="organisation.add")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.organisation_add(
                    actor=actor,
                    name=data["name"],
                    slug=data["slug"],
                    contact=data["contact"],
                    languages=_split(data["languages"]),
                    services=_split(data["services"]),
                    verified_on=data["verified_on"],
                )
            except DomainError as exc:
                form.add_error("slug", exc.detail)
            else:
                messages.success(request, "Organisation added to the directory.")
                return redirect("cases:organisations")
    listed = list(selectors.organisations())
    policy.record_list(actor, action="organisation.list", count=len(listed))
    return render(
        request,
        "cases/organisations.html",
        {"organisations": listed, "form": form if can_manage else None},
        status=400 if form.is_bound and form.errors else 200,
    )


class ReferralForm(forms.Form):
    recipient = forms.ChoiceField()
    purpose = forms.ChoiceField(
        choices=[(s.value, s.label) for s in DISCLOSURE_SCOPES],
        help_text="Legal proceedings need their own consent.",
    )
    sections = forms.MultipleChoiceField(
        choices=ReferralSection.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    encounters_from = forms.DateField(
        required=False, label="Encounters from", widget=forms.DateInput(attrs={"type": "date"})
    )
    encounters_to = forms.DateField(
        required=False, label="Encounters to", widget=forms.DateInput(attrs={"type": "date"})
    )
    include_identity = forms.BooleanField(required=False, label="Include identity")
    staff_names = forms.BooleanField(
        required=False, label="Name staff (otherwise role labels such as 'Caseworker')"
    )
    # Shown from the second step on; a PDF letter unless another format is chosen.
    format = forms.ChoiceField(
        choices=sorted(ReferralFormat.choices, key=lambda c: c[0] != ReferralFormat.PDF),
        initial=ReferralFormat.PDF,
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient"].choices = _organisation_choices()  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
def referral_wizard(request: HttpRequest, reference: str) -> HttpResponse:
    """Recipient and purpose → consent check → sections and identity → preview →
    generate. Every step is checked again on the server."""
    actor = policy.acting_user(request.user)
    case = policy.case_for(
        actor, reference, need=Capability.REFERRAL_EXPORT, action="referral.start"
    )
    step = request.POST.get("step", "choose")
    form = ReferralForm(request.POST or None)
    context: dict[str, Any] = {"case": case, "form": form, "step": "choose"}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        recipient = selectors.organisations().filter(slug=data["recipient"]).first()
        consent = selectors.consent_covering(
            case=case, recipient=recipient, scope=data["purpose"], at=timezone.now()
        )
        context.update(consent=consent, step="details")
        if consent is None:
            policy.record_refusal(actor, "referral.export", case.reference, "consent_required")
            messages.error(
                request,
                "No valid consent covers this recipient and purpose. Record the survivor's "
                "consent first; nothing can be sent without it.",
            )
            context["step"] = "choose"
            return render(request, "cases/referral_wizard.html", context, status=403)
        if step in ("preview", "generate") and not data["sections"]:
            form.add_error("sections", "Choose at least one section.")
            step = "details"
        if data["include_identity"] and not consent.identity:
            form.add_error("include_identity", "The consent does not cover identity.")
            step = "details"
        if step in ("preview", "generate"):
            arguments = {
                "actor": actor,
                "case": case,
                "recipient_slug": data["recipient"],
                "purpose": data["purpose"],
                "sections": data["sections"],
                "include_identity": data["include_identity"],
                "fmt": data["format"] or ReferralFormat.PDF,
                "staff_names": data["staff_names"],
                "encounters_from": data["encounters_from"],
                "encounters_to": data["encounters_to"],
            }
            try:
                if step == "preview":
                    preview, _ = services.referral_export(**arguments, preview_only=True)
                    context.update(step="preview", lines=preview.preview_lines)  # type: ignore[attr-defined]
                else:
                    referral, passphrase = services.referral_export(**arguments)
                    return render(
                        request,
                        "cases/referral_done.html",
                        {
                            "case": case,
                            "referral": referral,
                            "passphrase": passphrase,
                            "download_url": reverse("api:referral-download", args=[referral.id]),
                        },
                    )
            except ConsentRequired as exc:
                policy.record_refusal(actor, "referral.export", case.reference, "consent_required")
                messages.error(request, exc.detail)
            except PermissionDenied:
                form.add_error("sections", "Only clinicians can send clinical detail.")
    return render(
        request, "cases/referral_wizard.html", context, status=400 if form.errors else 200
    )
