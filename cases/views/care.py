"""Pages of the care work: "My day" (what is due, over the cases the user reads), and
per case the plan, services, tasks, attachments and what a referral's receiver
answered. Each declares its access, fills a form, calls one service, and shows what
the service refused at the field it names."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from access import policy
from access.endpoints import case_endpoint, staff_endpoint
from access.models import User
from access.roles import Capability
from cases import selectors, services
from cases.errors import StaleVersion
from cases.forms import (
    AttachmentForm,
    DueFilterForm,
    GoalForm,
    ReferralStatusForm,
    ServiceForm,
    TaskForm,
)
from cases.models import Case
from haven.web import form_errors, posted, uploaded


def _status(form: Any, attempt: Any = None) -> int:
    if attempt is not None and isinstance(attempt.error, StaleVersion):
        return 409
    return 400 if form.is_bound and form.errors else 200


def _saved_meanwhile(form: Any, initial: dict[str, Any]) -> list[tuple[str, Any]]:
    """The record as stored now, field by field as the form labels it, to show beside
    what the person typed when their save was refused as stale."""
    rows = []
    for name, field in form.fields.items():
        if name == "version":
            continue
        value = initial.get(name)
        choices = dict(getattr(field, "choices", []) or [])
        shown = choices.get(value, value) if choices else value
        rows.append((str(field.label or name.replace("_", " ").capitalize()), shown))
    return rows


def _edit_page(
    request: HttpRequest,
    form: Any,
    *,
    case: Case,
    title: str,
    back: str,
    attempt: Any,
    current: Any,
) -> HttpResponse:
    conflict = None
    if attempt is not None and isinstance(attempt.error, StaleVersion):
        conflict = _saved_meanwhile(form, type(form).initial_from(current))
    return render(
        request,
        "cases/record_edit.html",
        {"form": form, "case": case, "title": title, "back": back, "conflict": conflict},
        status=_status(form, attempt),
    )


DUE_PAGE_SIZE = 100
"""Rows of My day per page: a supervisor's whole team can have thousands due."""


@staff_endpoint(need=Capability.CASE_READ, action="task.list")
def my_day(request: HttpRequest, *, actor: User) -> HttpResponse:
    """What is due today and this week over the open cases the user reads (for a
    supervisor, their team's), overdue first; sortable by risk."""
    form = DueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    items = selectors.due_for(
        user=actor,
        when=filters.get("when") or None,
        sort=filters.get("sort") or "due",
        mine=bool(filters.get("mine")),
    )
    page = Paginator(items, DUE_PAGE_SIZE).get_page(request.GET.get("page"))
    policy.record_list(actor, action="task.list", count=len(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/my_day.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "overdue": [item for item in page.object_list if item.overdue],
            "upcoming": [item for item in page.object_list if not item.overdue],
            "overdue_total": sum(1 for item in items if item.overdue),
            "upcoming_total": sum(1 for item in items if not item.overdue),
            "supervising": policy.can(actor, Capability.GRANT_MANAGE),
            "today_iso": timezone.localdate().isoformat(),
        },
        status=_status(form),
    )


# --- the plan --------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@case_endpoint(action="plan.list", on_post="plan.add", need=Capability.CASE_WRITE)
def plan(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = GoalForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.goal_add(actor=actor, case=case, **form.values())
        if attempt.ok:
            messages.success(request, _("Goal added to the plan."))
            return redirect("cases:plan", reference=case.reference)
    return render(
        request,
        "cases/plan.html",
        {"form": form, "case": case, "goals": list(selectors.goals_for(case=case))},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="plan.list", on_post="plan.update", need=Capability.CASE_WRITE)
def goal_edit(request: HttpRequest, goal_id: Any, *, actor: User, case: Case) -> HttpResponse:
    goal = selectors.one_of(selectors.goals_for(case=case), goal_id)
    form = GoalForm(posted(request), initial=GoalForm.initial_from(goal))
    form.fields["version"].required = True
    attempt = None
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.goal_update(
                actor=actor,
                case=case,
                goal_id=goal.pk,
                changes=form.values(),
                expected_version=form.cleaned_data["version"],
            )
        if attempt.ok:
            messages.success(request, _("Goal updated."))
            return redirect("cases:plan", reference=case.reference)
    current = selectors.one_of(selectors.goals_for(case=case), goal_id)
    return _edit_page(
        request,
        form,
        case=case,
        title=_("Edit goal"),
        back="cases:plan",
        attempt=attempt,
        current=current,
    )


# --- services --------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@case_endpoint(action="service.list", on_post="service.add", need=Capability.CASE_WRITE)
def service_list(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = ServiceForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.service_add(actor=actor, case=case, **form.values())
        if attempt.ok:
            messages.success(request, _("Service recorded."))
            return redirect("cases:services", reference=case.reference)
    return render(
        request,
        "cases/services.html",
        {
            "form": form,
            "case": case,
            "services": list(selectors.services_for(case=case)),
            "referrals": list(selectors.referrals_for(case=case)),
        },
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="service.list", on_post="service.update", need=Capability.CASE_WRITE)
def service_edit(request: HttpRequest, service_id: Any, *, actor: User, case: Case) -> HttpResponse:
    service = selectors.one_of(selectors.services_for(case=case), service_id)
    form = ServiceForm(posted(request), initial=ServiceForm.initial_from(service))
    form.fields["version"].required = True
    attempt = None
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.service_update(
                actor=actor,
                case=case,
                service_id=service.pk,
                changes=form.values(),
                expected_version=form.cleaned_data["version"],
            )
        if attempt.ok:
            messages.success(request, _("Service updated."))
            return redirect("cases:services", reference=case.reference)
    current = selectors.one_of(selectors.services_for(case=case), service_id)
    return _edit_page(
        request,
        form,
        case=case,
        title=_("Edit service"),
        back="cases:services",
        attempt=attempt,
        current=current,
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="referral.list", on_post="referral.status", need=Capability.CASE_WRITE)
def referral_status(
    request: HttpRequest, referral_id: Any, *, actor: User, case: Case
) -> HttpResponse:
    referral = selectors.one_of(selectors.referrals_for(case=case), referral_id)
    form = ReferralStatusForm(posted(request), initial={"status": referral.receiver_status})
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.referral_status(
                actor=actor, case=case, referral_id=referral.pk, status=form.cleaned_data["status"]
            )
        if attempt.ok:
            messages.success(request, _("The receiver's answer is recorded."))
            return redirect("cases:services", reference=case.reference)
    return render(
        request,
        "cases/record_edit.html",
        {
            "form": form,
            "case": case,
            "title": _("Referral to %(name)s") % {"name": referral.recipient.name},
            "back": "cases:services",
            "conflict": None,
        },
        status=_status(form),
    )


# --- tasks -----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@case_endpoint(action="task.list", on_post="task.add", need=Capability.CASE_WRITE)
def task_list(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = TaskForm(posted(request), case=case)
    if request.method == "POST" and form.is_valid():
        values = form.values()
        values.pop("done")
        with form_errors(form) as attempt:
            services.task_add(actor=actor, case=case, **values)
        if attempt.ok:
            messages.success(request, _("Task added."))
            return redirect("cases:tasks", reference=case.reference)
    return render(
        request,
        "cases/tasks.html",
        {"form": form, "case": case, "tasks": list(selectors.tasks_for(case=case))},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="task.list", on_post="task.update", need=Capability.CASE_WRITE)
def task_edit(request: HttpRequest, task_id: Any, *, actor: User, case: Case) -> HttpResponse:
    task = selectors.one_of(selectors.tasks_for(case=case), task_id)
    form = TaskForm(posted(request), case=case, initial=TaskForm.initial_from(task))
    form.fields["version"].required = True
    attempt = None
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.task_update(
                actor=actor,
                case=case,
                task_id=task.pk,
                changes=form.values(),
                expected_version=form.cleaned_data["version"],
            )
        if attempt.ok:
            messages.success(request, _("Task updated."))
            return redirect("cases:tasks", reference=case.reference)
    current = selectors.one_of(selectors.tasks_for(case=case), task_id)
    return _edit_page(
        request,
        form,
        case=case,
        title=_("Edit task"),
        back="cases:tasks",
        attempt=attempt,
        current=current,
    )


# --- attachments -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@case_endpoint(action="attachment.list", on_post="attachment.add", need=Capability.CASE_WRITE)
def attachments(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = AttachmentForm(posted(request), uploaded(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            services.attachment_add(
                actor=actor,
                case=case,
                kind=data["kind"],
                title=data["title"],
                data=data["file"].read(),
            )
        if attempt.ok:
            messages.success(request, _("File kept, encrypted."))
            return redirect("cases:attachments", reference=case.reference)
    return render(
        request,
        "cases/attachments.html",
        {
            "form": form,
            "case": case,
            "attachments": list(selectors.attachments_for(case=case)),
            "photo_consent": selectors.consent_in_force(case=case, scope="photo") is not None,
        },
        status=_status(form),
    )


# The service records the download with the attachment's id: one event, not two.
@case_endpoint(action="attachment.view", writes=True)
def attachment_download(
    request: HttpRequest, attachment_id: Any, *, actor: User, case: Case
) -> HttpResponse:
    opened = services.attachment_open(actor=actor, case=case, attachment_id=attachment_id)
    response = HttpResponse(opened.content, content_type=opened.attachment.media_type)
    disposition = "inline" if opened.attachment.media_type.startswith("image/") else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="attachment-{opened.attachment.pk}"'
    response["Cache-Control"] = "no-store"
    return response
