"""Pages of a case's life: correcting its facts and the identity, closing and reopening
it, its history, and a printable summary. Each declares its access, fills a form, calls
one service, and shows what the service refused at the field it names."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from access import policy
from access.endpoints import case_endpoint
from access.models import User
from access.roles import Capability
from cases import selectors, services
from cases.errors import StaleVersion
from cases.forms import CaseFactsForm, CloseForm, IdentityEditForm, ReopenForm
from cases.models import CLOSURE_CHECKLIST, IDENTITY_FIELDS, Case, Revision
from haven.web import form_errors, posted


def _status(form: Any) -> int:
    return 400 if form.is_bound and form.errors else 200


@require_http_methods(["GET", "POST"])
@case_endpoint(action="case.view", on_post="case.update", need=Capability.CASE_WRITE)
def case_edit(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = CaseFactsForm(posted(request), initial=CaseFactsForm.initial_from(case))
    conflict = None
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.case_update(
                actor=actor,
                case=case,
                changes=form.changes(),
                expected_version=form.cleaned_data["version"],
            )
        if attempt.ok:
            messages.success(request, _("Case updated."))
            return redirect("cases:detail", reference=case.reference)
        if isinstance(attempt.error, StaleVersion):
            current = selectors.case_again(case)
            conflict = {
                "record": current,
                "saved_by": selectors.last_change(
                    case=case, subject=Revision.Subject.CASE, object_id=case.pk
                ),
            }
    return render(
        request,
        "cases/case_edit.html",
        {"form": form, "case": case, "conflict": conflict},
        status=409 if conflict else _status(form),
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="case.view", on_post="case.close", need=Capability.CASE_CLOSE)
def case_close(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = CloseForm(posted(request), initial={"version": case.version})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            closed = services.case_close(
                actor=actor,
                case=case,
                reason=data["reason"],
                note=data["note"] or None,
                checklist=data["checklist"],
                expected_version=data["version"],
            )
        if attempt.ok:
            messages.success(
                request,
                _(
                    "Case closed. It is kept until %(day)s; after that it is due for deletion "
                    "under the retention policy."
                )
                % {"day": date_format(closed.retention_until or "", "DATE_FORMAT")},
            )
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/case_close.html",
        {"form": form, "case": case, "open_work": services.open_work(case)},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="case.view", on_post="case.reopen", need=Capability.CASE_CLOSE)
def case_reopen(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = ReopenForm(posted(request), initial={"version": case.version})
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.case_reopen(
                actor=actor,
                case=case,
                reason=form.cleaned_data["reason"],
                expected_version=form.cleaned_data["version"],
            )
        if attempt.ok:
            messages.success(request, _("Case reopened."))
            return redirect("cases:detail", reference=case.reference)
    return render(
        request, "cases/case_reopen.html", {"form": form, "case": case}, status=_status(form)
    )


@require_POST
@case_endpoint(action="identity.update", need=Capability.IDENTITY_WRITE, writes=True)
def identity_edit(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    """Correct the identity. Reached by a button on the revealed identity (a POST, so
    that no link or prefetch shows it); the first request shows the form (a recorded
    reveal), the next one saves. The replaced values are kept (AS9-END-4)."""
    if "version" not in request.POST:
        policy.require(actor, case, Capability.IDENTITY_READ, action="identity.view")
        identity = selectors.identity_for(case=case)
        form = IdentityEditForm(initial=IdentityEditForm.initial_from(identity))
        return render(request, "cases/identity_edit.html", {"form": form, "case": case})
    form = IdentityEditForm(request.POST)
    if form.is_valid():
        values, declined = form.changes()
        with form_errors(form) as attempt:
            services.identity_rectify(
                actor=actor,
                case=case,
                changes=values,
                declined=declined,
                expected_version=form.cleaned_data["version"],
            )
        if attempt.ok:
            messages.success(request, _("Identity corrected. The earlier details are kept."))
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/identity_edit.html",
        {"form": form, "case": case},
        status=409 if form.non_field_errors() else _status(form),
    )


def _history_rows(revisions: Any, vocabulary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for revision in revisions:
        rows.append(
            {
                "version": revision.version,
                "changed_at": revision.changed_at,
                "role": revision.changed_by.get_role_display() or _("Staff member"),
                "values": [
                    (vocabulary.get(name, name.replace("_", " ").capitalize()), value)
                    for name, value in sorted((revision.previous or {}).items())
                ],
            }
        )
    return rows


@case_endpoint(action="case.history")
def case_history(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    """Every earlier version of what was corrected on this case: the facts, the
    encounters, the plan, the services and tasks, and (for identity readers, recorded
    as such) the identity. Who replaced each version is shown by role (AS9-END-4)."""
    sections = []
    for subject, title in (
        (Revision.Subject.CASE, _("Case facts")),
        (Revision.Subject.ENCOUNTER, _("Encounters")),
        (Revision.Subject.GOAL, _("Plan goals")),
        (Revision.Subject.SERVICE, _("Services")),
        (Revision.Subject.TASK, _("Tasks")),
    ):
        revisions = selectors.revisions_of(case=case, subject=subject)
        sections.append({"title": title, "rows": _history_rows(revisions, {})})
    if policy.can(actor, Capability.IDENTITY_READ):
        policy.require(actor, case, Capability.IDENTITY_READ, action="identity.history")
        identity = selectors.revisions_of(case=case, subject=Revision.Subject.IDENTITY)
        names = {name: name.replace("_", " ").capitalize() for name in IDENTITY_FIELDS}
        sections.insert(0, {"title": _("Identity"), "rows": _history_rows(identity, names)})
    return render(request, "cases/history.html", {"case": case, "sections": sections})


@case_endpoint(action="case.print")
def case_print(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    """A summary to print: the facts, the plan, services, tasks, consents and the
    encounters (the clinical block for clinicians on the case), by reference only, never
    the identity. Opening it is recorded like reading the case."""
    clinical = policy.reads_clinical(actor, case, action="clinical.list")
    return render(
        request,
        "cases/case_print.html",
        {
            "case": case,
            "show_clinical": clinical,
            "goals": list(selectors.goals_for(case=case)),
            "services": list(selectors.services_for(case=case)),
            "tasks": list(selectors.tasks_for(case=case)),
            "consents": list(selectors.consents_for(case=case)),
            "encounters": list(selectors.encounters_for(case=case)),
            "checklist": CLOSURE_CHECKLIST,
        },
    )
