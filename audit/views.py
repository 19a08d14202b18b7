"""The DPO's desk: events with filters, a chart of daily activity, CSV, per-case and
per-user reports, the anomaly queue. References, actions and staff only."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from access import ledger, policy
from access.endpoints import staff_endpoint
from access.models import User
from access.roles import Capability
from audit import anomalies, selectors
from audit.forms import EventFilterForm, ReviewForm
from haven.errors import HavenError

PAGE_SIZE = 50
CSV_COLUMNS = (
    "at",
    "actor_username",
    "actor_role",
    "action",
    "case_reference",
    "outcome",
    "reason",
    "ip",
    "request_id",
)


def _chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars for a server-rendered SVG: no script, no external library."""
    width, height, gap = 600, 120, 2
    peak = max((d["allowed"] + d["denied"] for d in days), default=0) or 1
    bar = width / len(days)
    bars = []
    for i, d in enumerate(days):
        allowed_h = d["allowed"] / peak * height
        denied_h = d["denied"] / peak * height
        bars.append(
            {
                "x": round(i * bar, 1),
                "w": round(bar - gap, 1),
                "day": d["day"],
                "allowed": d["allowed"],
                "denied": d["denied"],
                "allowed_y": round(height - allowed_h, 1),
                "allowed_h": round(allowed_h, 1),
                "denied_y": round(height - allowed_h - denied_h, 1),
                "denied_h": round(denied_h, 1),
            }
        )
    return {"bars": bars, "width": width, "height": height, "peak": peak}


@require_http_methods(["GET"])
@staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.events")
def desk(request: HttpRequest, *, actor: User) -> HttpResponse:
    anomalies.scan()  # the count of open anomalies is of now, not of the last queue visit
    form = EventFilterForm(request.GET or None)
    invalid = form.is_bound and not form.is_valid()
    event_filter = form.to_filter() if form.is_bound and not invalid else selectors.EventFilter()
    events = selectors.events(event_filter).none() if invalid else selectors.events(event_filter)
    page = selectors.page_of(events, request.GET.get("page", 1), PAGE_SIZE)
    policy.record_list(
        actor, action="audit.events", count=len(page.object_list), fields=event_filter.used()
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/desk.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "chart": _chart(selectors.daily_activity(event_filter)),
            "open_anomalies": selectors.open_anomalies().count(),
            "head": ledger.current_head(),
        },
        status=400 if invalid else 200,
    )


@require_http_methods(["GET"])
@staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.tree_head")
def tree_head(request: HttpRequest, *, actor: User) -> HttpResponse:
    """The current signed tree head as the API gives it, to keep off this server: with
    the public key, anyone can later check that the log still extends it."""
    head = ledger.current_head()
    policy.record_list(actor, action="audit.tree_head", count=head.size)
    body = {
        "size": head.size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "key_id": head.key_id,
        "signature": head.signature,
    }
    response = HttpResponse(
        json.dumps(body, indent=2) + "\n", content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="haven-tree-head-{head.size}.json"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # no formulas


@staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.export_csv")
def events_csv(request: HttpRequest, *, actor: User) -> StreamingHttpResponse:
    form = EventFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():  # never the whole trail for a mistyped filter
        raise HavenError(
            _("The filter is not valid: correct it on the desk."), code="invalid_filter"
        )
    event_filter = form.to_filter() if form.is_bound else selectors.EventFilter()
    query = selectors.events(event_filter).values_list(*CSV_COLUMNS)
    policy.record_list(
        actor, action="audit.export_csv", count=query.count(), fields=event_filter.used()
    )
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        for row in query.iterator(chunk_size=5000):
            yield writer.writerow([_safe(v) for v in row])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="haven-access-events.csv"'
    return response


@staff_endpoint()
def case_report(request: HttpRequest, reference: str, *, actor: User) -> HttpResponse:
    canonical = policy.access_report_for(actor, reference)
    page = Paginator(selectors.events(selectors.EventFilter(case=canonical)), PAGE_SIZE)
    return render(
        request,
        "audit/case_report.html",
        {
            "reference": canonical,
            "page": page.get_page(request.GET.get("page")),
            "people": selectors.people_who_accessed(canonical),
        },
    )


@staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.user_report")
def user_report(request: HttpRequest, username: str, *, actor: User) -> HttpResponse:
    event_filter = selectors.EventFilter(actor=username)
    page = selectors.page_of(selectors.events(event_filter), request.GET.get("page", 1), PAGE_SIZE)
    policy.record_list(
        actor, action="audit.user_report", count=len(page.object_list), fields=["actor"]
    )
    return render(
        request,
        "audit/user_report.html",
        {
            "username": username,
            "page": page,
            "chart": _chart(selectors.daily_activity(event_filter)),
        },
    )


@staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.anomalies")
def anomaly_queue(request: HttpRequest, *, actor: User) -> HttpResponse:
    anomalies.scan()
    open_items = list(selectors.open_anomalies()[:200])
    policy.record_list(actor, action="audit.anomalies", count=len(open_items))
    reasons = policy.break_glass_reasons(actor, open_items)
    rows = [{"anomaly": item, "reason": reasons.get(item.pk, "")} for item in open_items]
    return render(
        request,
        "audit/anomalies.html",
        {
            "open": rows,
            "reviewed": list(selectors.reviewed_anomalies()[:50]),
            "form": ReviewForm(),
        },
    )


@require_POST
@staff_endpoint(need=Capability.AUDIT_REVIEW, action="anomaly.review")
def anomaly_review(request: HttpRequest, anomaly_id: int, *, actor: User) -> HttpResponse:
    anomaly = selectors.anomaly(anomaly_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        anomalies.review(anomaly=anomaly, reviewer=actor, note=form.cleaned_data["note"])
        messages.success(request, _("Marked as reviewed."))
    else:
        messages.error(request, _("Write a short note (at most 2,000 characters)."))
    return redirect("audit:anomalies")


@require_http_methods(["GET"])
@staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.verify")
def verify(request: HttpRequest, *, actor: User) -> HttpResponse:
    """The newest result of the scheduled check, at once (it never runs here)."""
    check = ledger.latest_check()
    policy.record_list(actor, action="audit.verify", count=check.checked if check else 0)
    context = {
        "check": check,
        "stale": ledger.check_is_stale(check),
        "requested": ledger.check_requested(),
    }
    return render(request, "audit/verify.html", context)


@require_POST
@staff_endpoint(need=Capability.AUDIT_REVIEW, action="audit.verify_request")
def verify_request(request: HttpRequest, *, actor: User) -> HttpResponse:
    ledger.request_check()
    policy.record_list(actor, action="audit.verify_request", count=1)
    messages.success(
        request, _("A full check has been asked for. This page shows its result when it is done.")
    )
    return redirect("audit:verify")
