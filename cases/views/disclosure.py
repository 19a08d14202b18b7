"""Consent, the organisation directory, and the referral wizard (pages)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from access import policy
from access.endpoints import case_endpoint, staff_endpoint
from access.models import User
from access.roles import Capability
from cases import selectors, services
from cases.forms import ConsentForm, OrganisationForm, ReferralForm, WithdrawForm
from cases.models import Case, ReferralFormat
from haven.web import form_errors, posted, uploaded


@require_http_methods(["GET", "POST"])
@case_endpoint(action="consent.list", on_post="consent.record", need=Capability.CASE_WRITE)
def consent_add(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    """Record a consent: what the person agreed to, to whom, what for, how, until when.
    Nothing is chosen for them: scope and method are explicit choices."""
    form = ConsentForm(
        posted(request), uploaded(request), initial={"given_at": timezone.localtime()}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            services.consent_record(
                form=data["form"],
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
        if attempt.ok:
            messages.success(request, _("Consent recorded."))
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/consent_form.html",
        {"form": form, "case": case, "consents": list(selectors.consents_for(case=case))},
        status=400 if form.is_bound and form.errors else 200,
    )


@case_endpoint(action="consent.form_view")
def consent_form(request: HttpRequest, consent_id: Any, *, actor: User, case: Case) -> HttpResponse:
    """The scanned consent form, decrypted for a reader of the case (logged)."""
    consent = selectors.consents_for(case=case).filter(pk=consent_id).first()
    if consent is None or consent.form is None:
        raise Http404
    response = HttpResponse(consent.form, content_type=consent.form_type)
    response["Content-Disposition"] = f'attachment; filename="consent-{consent.pk}"'
    return response


@require_http_methods(["GET", "POST"])
@case_endpoint(action="consent.list", on_post="consent.withdraw", need=Capability.CASE_WRITE)
def consent_withdraw(
    request: HttpRequest, consent_id: Any, *, actor: User, case: Case
) -> HttpResponse:
    """Withdrawing asks for confirmation and a reason. Withdrawing the consent to
    storage says what it means before it is done."""
    consent = selectors.one_of(selectors.consents_for(case=case), consent_id)
    form = WithdrawForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.consent_withdraw(
                actor=actor, case=case, consent_id=consent.pk, reason=form.cleaned_data["reason"]
            )
        if attempt.ok:
            messages.success(request, _("Consent withdrawn. No further disclosure can use it."))
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/consent_withdraw.html",
        {"form": form, "case": case, "consent": consent},
        status=400 if form.is_bound and form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def organisations(request: HttpRequest, *, actor: User) -> HttpResponse:
    can_manage = policy.can(actor, Capability.ORGANISATION_MANAGE)
    form = OrganisationForm(posted(request))
    if request.method == "POST":
        policy.require_capability(actor, Capability.ORGANISATION_MANAGE, action="organisation.add")
        if form.is_valid():
            with form_errors(form) as attempt:
                services.organisation_add(actor=actor, **form.cleaned_data)
            if attempt.ok:
                messages.success(request, _("Organisation added to the directory."))
                return redirect("cases:organisations")
    listed = list(selectors.organisations())
    policy.record_list(actor, action="organisation.list", count=len(listed))
    return render(
        request,
        "cases/organisations.html",
        {"organisations": listed, "form": form if can_manage else None},
        status=400 if form.is_bound and form.errors else 200,
    )


TEMPLATE = "cases/referral_wizard.html"


@require_http_methods(["GET", "POST"])
@case_endpoint(action="referral.start", need=Capability.REFERRAL_EXPORT)
def referral_wizard(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    """Recipient and purpose → consent check → sections and identity → preview →
    generate. Every step is checked again on the server, by the services."""
    step = request.POST.get("step", "choose")
    form = ReferralForm(posted(request), services=selectors.services_for(case=case))
    context: dict[str, Any] = {
        "case": case,
        "form": form,
        "step": "choose",
        "on_file": selectors.disclosure_consents(case=case, at=timezone.now()),
    }
    if request.method != "POST" or not form.is_valid():
        return render(request, TEMPLATE, context, status=400 if form.errors else 200)
    data = form.cleaned_data
    with form_errors(form) as checked:
        consent = services.referral_consent(
            actor=actor,
            case=case,
            recipient_slug=data["recipient"],
            scope=data["scope"],
            purpose=data["purpose"],
        )
    if checked.error is not None:  # no consent: recorded, and nothing more is offered
        return render(request, TEMPLATE, context, status=checked.error.status)
    context.update(consent=consent, step="details")
    if step in ("preview", "generate") and not data["sections"]:
        form.add_error("sections", _("Choose at least one section."))
    if step not in ("preview", "generate") or form.errors:
        return render(request, TEMPLATE, context, status=400 if form.errors else 200)
    arguments = {
        "actor": actor,
        "case": case,
        "recipient_slug": data["recipient"],
        "purpose": data["purpose"],
        "scope": data["scope"],
        "sections": data["sections"],
        "include_identity": data["include_identity"],
        "fmt": data["format"] or ReferralFormat.PDF,
        "staff_names": data["staff_names"],
        "encounters_from": data["encounters_from"],
        "encounters_to": data["encounters_to"],
        "service_id": data["service"] or None,
    }
    with form_errors(form) as made:
        referral, passphrase = services.referral_export(**arguments, preview_only=step == "preview")
    if made.ok and step == "generate":
        return render(
            request,
            "cases/referral_done.html",
            {
                "case": case,
                "referral": referral,
                "passphrase": passphrase,
                "download_url": reverse("cases:referral-download", args=[referral.id]),
            },
        )
    if made.ok:
        context.update(step="preview", lines=referral.preview_lines)  # type: ignore[attr-defined]
    return render(request, TEMPLATE, context, status=400 if form.errors else 200)


@staff_endpoint(need=Capability.REFERRAL_EXPORT, action="referral.download")
def referral_download(request: HttpRequest, referral_id: Any, *, actor: User) -> HttpResponse:
    """The package for a browser: the file once; afterwards (or when its consent or the
    exporter's access has ended) a page that says so, never a JSON error."""
    referral, content = services.referral_download(actor=actor, referral_id=referral_id)
    media = "application/pdf" if referral.format == "pdf" else "application/fhir+json"
    extension = "pdf" if referral.format == "pdf" else "json"
    response = HttpResponse(content, content_type=media)
    response["Content-Disposition"] = f'attachment; filename="referral-{referral.id}.{extension}"'
    response["Cache-Control"] = "no-store"
    return response
