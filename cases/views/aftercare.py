"""Pages of after care (AS9-END-1 to END-3): the legal hold, data-subject requests (the
requester's form and page, the DPO's queue and decision) and the statistics page with
its CSV for donors. Each declares its access, fills a form, calls one service."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from access import policy
from access.endpoints import case_endpoint, governance_endpoint, staff_endpoint
from access.models import User
from access.roles import Capability
from cases import services
from cases.forms import (
    DecideForm,
    LegalHoldForm,
    StatisticsForm,
    SubjectRequestForm,
    TransferDecideForm,
    TransferRequestForm,
)
from cases.models import Case, RequestStatus
from haven.api import download_response
from haven.web import form_errors, posted, refusals_as_messages


def _status(form: Any) -> int:
    return 400 if form.is_bound and form.errors else 200


@require_http_methods(["GET", "POST"])
@governance_endpoint(action="legal_hold.place", need=Capability.LEGAL_HOLD)
def legal_hold(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    """Place a hold (the team's supervisor or the DPO) or release it (the DPO). The
    page shows the reference, status and dates only: the DPO reads no case content."""
    releasing = case.legal_hold
    if releasing:
        policy.require_capability(actor, Capability.LEGAL_HOLD_RELEASE, action="legal_hold.release")
    form = LegalHoldForm(posted(request))
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        with form_errors(form) as attempt:
            if releasing:
                services.legal_hold_release(actor=actor, case=case, reason=reason)
            else:
                services.legal_hold_place(actor=actor, case=case, reason=reason)
        if attempt.ok:
            messages.success(
                request,
                _("Legal hold released: the retention date applies again.")
                if releasing
                else _("Legal hold placed: the case will not be purged or erased."),
            )
            if policy.can(actor, Capability.CASE_READ):
                return redirect("cases:detail", reference=case.reference)
            return redirect("cases:requests")
    return render(
        request,
        "cases/legal_hold.html",
        {"form": form, "case": case, "releasing": releasing},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="case.view", on_post="subject_request.make", need=Capability.IDENTITY_READ)
def request_new(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = SubjectRequestForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            made = services.subject_request_make(
                actor=actor,
                case=case,
                kind=data["kind"],
                reason=data["reason"],
                fmt=data.get("format") or "",
            )
        if attempt.ok:
            messages.success(request, _("Request sent to the data protection officer."))
            return redirect("cases:request", request_id=made.pk)
    return render(
        request, "cases/request_new.html", {"form": form, "case": case}, status=_status(form)
    )


@require_GET
@staff_endpoint()
def requests(request: HttpRequest, *, actor: User) -> HttpResponse:
    """The DPO's queue (pending first, with their age) or one's own requests."""
    every = list(services.subject_request_queue(actor=actor).select_related("requested_by"))
    pending = [r for r in every if r.status == RequestStatus.PENDING]
    return render(
        request,
        "cases/requests.html",
        {
            "pending": [(r, services.request_age_days(r)) for r in pending],
            "others": [r for r in every if r.status != RequestStatus.PENDING][::-1],
            "deciding": policy.can(actor, Capability.SUBJECT_REQUEST_DECIDE),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def request_detail(request: HttpRequest, request_id: Any, *, actor: User) -> HttpResponse:
    """A request: the DPO decides it here (not their own); its requester collects an
    approved copy (the passphrase is shown on the first visit after approval only)."""
    found = services.subject_request_get(actor=actor, request_id=request_id)
    deciding = (
        policy.can(actor, Capability.SUBJECT_REQUEST_DECIDE)
        and found.status == RequestStatus.PENDING
        and found.requested_by_id != actor.pk
    )
    if request.method == "POST" and not deciding:
        # Not for this person to decide: the service records why and refuses.
        services.subject_request_decide(
            actor=actor,
            request_id=found.pk,
            decision=str(request.POST.get("decision") or "refuse"),
            note="",
        )
    form = DecideForm(posted(request) if deciding else None)
    if request.method == "POST" and deciding and form.is_valid():
        with form_errors(form) as attempt:
            services.subject_request_decide(
                actor=actor,
                request_id=found.pk,
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
            )
        if attempt.ok:
            messages.success(request, _("Decision recorded."))
            return redirect("cases:requests")
    passphrase = None
    ready = found.collectable_by(actor.pk)
    if ready:
        passphrase = services.subject_request_passphrase(actor=actor, request=found)
    return render(
        request,
        "cases/request_detail.html",
        {
            "found": found,
            "age": services.request_age_days(found),
            "form": form if deciding else None,
            "ready": ready,
            "passphrase": passphrase,
            "own": found.requested_by_id == actor.pk,
        },
        status=_status(form) if deciding else 200,
    )


@require_GET
@staff_endpoint(need=Capability.IDENTITY_READ, action="subject_request.download")
def request_download(request: HttpRequest, request_id: Any, *, actor: User) -> HttpResponse:
    found, content = services.subject_package_download(actor=actor, request_id=request_id)
    media = "application/pdf" if found.format == "pdf" else "application/json"
    return download_response(content, media=media, filename=found.package_name, sha256=found.sha256)


def _table(request: HttpRequest, actor: User) -> tuple[StatisticsForm, services.Table | None]:
    form = StatisticsForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, None
    data = form.cleaned_data if form.is_bound else {}
    table = None
    with form_errors(form) as attempt:
        table = services.statistics_table(
            actor=actor,
            by=data.get("by") or "risk_level",
            since=data.get("since") or None,
            until=data.get("until") or None,
        )
    return form, table if attempt.ok else None


@require_GET
@staff_endpoint(need=Capability.STATISTICS, action="statistics.view")
def statistics(request: HttpRequest, *, actor: User) -> HttpResponse:
    form, table = _table(request, actor)
    query = request.GET.urlencode()
    return render(
        request,
        "cases/statistics.html",
        {
            "form": form,
            "table": table,
            "csv_url": reverse("cases:statistics-csv") + (f"?{query}" if query else ""),
            "by_label": dict(StatisticsForm.base_fields["by"].choices).get(  # type: ignore[attr-defined]
                table.by if table else "", ""
            ),
        },
        status=400 if table is None else 200,
    )


@require_GET
@staff_endpoint(need=Capability.STATISTICS, action="statistics.view")
def statistics_csv(request: HttpRequest, *, actor: User) -> HttpResponse:
    form, table = _table(request, actor)
    if table is None:
        return render(request, "cases/statistics.html", {"form": form, "table": None}, status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="haven-statistics-{table.by}.csv"'
    response.write("\ufeff")  # so that spreadsheet programs read UTF-8 labels right
    writer = csv.writer(response)
    for line in services.statistics_csv_rows(table):
        writer.writerow(line)
    return response


# --- records of processing (GDPR Art. 30) ------------------------------------------


@require_GET
@staff_endpoint(need=Capability.PROCESSING_RECORDS, action="processing.view")
def processing(request: HttpRequest, *, actor: User) -> HttpResponse:
    record = services.processing_record(actor=actor)
    return render(request, "cases/processing.html", {"record": record})


def _stamp(record: services.ProcessingRecord) -> str:
    return timezone.localtime(record.generated_at).strftime("%Y-%m-%d")


@require_GET
@staff_endpoint(need=Capability.PROCESSING_RECORDS, action="processing.view")
def processing_csv(request: HttpRequest, *, actor: User) -> HttpResponse:
    record = services.processing_record(actor=actor)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"haven-records-of-processing-{_stamp(record)}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # so that spreadsheet programs read UTF-8 labels right
    writer = csv.writer(response)
    for line in services.processing_csv_rows(record):
        writer.writerow(line)
    return response


@require_GET
@staff_endpoint(need=Capability.PROCESSING_RECORDS, action="processing.view")
def processing_json(request: HttpRequest, *, actor: User) -> HttpResponse:
    record = services.processing_record(actor=actor)
    response = JsonResponse(
        services.processing_data(record), json_dumps_params={"ensure_ascii": False, "indent": 2}
    )
    name = f"haven-records-of-processing-{_stamp(record)}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- handing over a hard case (AS8-2) -----------------------------------------------


@require_http_methods(["GET", "POST"])
@case_endpoint(action="case.view", on_post="transfer.request", need=Capability.CASE_READ)
def transfer_new(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = TransferRequestForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.transfer_request_make(
                actor=actor, case=case, reason=form.cleaned_data["reason"]
            )
        if attempt.ok:
            messages.success(
                request, _("Your supervisor will see your request on the caseload page.")
            )
            return redirect("cases:detail", reference=case.reference)
    return render(
        request, "cases/transfer_new.html", {"form": form, "case": case}, status=_status(form)
    )


@require_http_methods(["POST"])
@staff_endpoint(need=Capability.GRANT_MANAGE, action="transfer.decide")
@refusals_as_messages("cases:caseload")
def transfer_decide(request: HttpRequest, *, actor: User) -> HttpResponse:
    form = TransferDecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve or decline."))
        return redirect("cases:caseload")
    data = form.cleaned_data
    decided = services.transfer_decide(
        actor=actor,
        request_id=data["request"],
        decision=data["decision"],
        to_username=data["to_user"],
        note=data["note"],
    )
    done = "handed over" if decided.status == "approved" else "declined"
    messages.success(request, f"{decided.case.reference}: {done}.")
    return redirect("cases:caseload")
