"""Server-rendered pages. Thin: each view declares the access it needs
(``access.endpoints``), parses a form, calls one service or selector, renders. Identity
appears only on the page that the reveal button POSTs to."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from access import policy
from access.endpoints import case_endpoint, staff_endpoint
from access.models import User
from access.roles import Capability
from cases import selectors, services
from cases.errors import StaleVersion
from cases.forms import EncounterEditForm, EncounterForm, IntakeForm, SearchForm
from cases.models import IDENTITY_FIELDS, Case, Revision
from haven.web import form_errors, posted
from haven.widgets import kept_to_the_second

PAGE_SIZE = 25


def _status(form: Any) -> int:
    return 400 if form.is_bound and form.errors else 200


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def my_cases(request: HttpRequest, *, actor: User) -> HttpResponse:
    """The caseload, and on POST an exact identity search among it (POST keeps the
    searched names out of URLs, browser history and proxy logs)."""
    searched = request.method == "POST"
    if searched:  # refused (and recorded) for roles that do not see identity
        policy.require_capability(actor, Capability.IDENTITY_READ, action="case.search")
    search = None
    if policy.can(actor, Capability.IDENTITY_READ):
        search = SearchForm(request.POST if searched else None)
    if search is not None and search.is_bound and search.is_valid():
        found = services.case_search(actor=actor, criteria=search.criteria())
        page = Paginator(found, PAGE_SIZE).get_page(1)
    else:
        page = Paginator(selectors.case_list_for(user=actor), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        policy.record_list(actor, action="case.list", count=len(page.object_list))
    context = {"page": page, "today": timezone.localdate(), "search": search, "searched": searched}
    return render(
        request, "cases/my_cases.html", context, status=_status(search) if search else 200
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.CASE_CREATE, action="case.create")
def case_new(request: HttpRequest, *, actor: User) -> HttpResponse:
    form = IntakeForm(posted(request))
    duplicates = None
    if request.method == "POST" and form.is_valid():
        identity, declined = form.identity_data()
        data = form.cleaned_data
        with form_errors(form) as attempt:
            intake = services.case_intake(
                actor=actor,
                identity=identity,
                declined=declined,
                risk_level=data["risk_level"],
                trafficking_types=data["trafficking_types"],
                summary=data["summary"] or None,
                referral_source=data["referral_source"] or None,
                storage_consent={
                    "method": data["storage_consent_method"],
                    "interpreter_used": data["storage_consent_interpreter"],
                },
                duplicates="skip" if data["confirm_new_person"] else "stop",
            )
        if attempt.ok and intake.case is not None:
            messages.success(
                request,
                _("Case %(reference)s opened. You are assigned.")
                % {"reference": intake.case.reference},
            )
            return redirect("cases:detail", reference=intake.case.reference)
        if attempt.ok:
            duplicates = intake.duplicates
    return render(
        request,
        "cases/intake.html",
        {"form": form, "duplicates": duplicates},
        status=409 if duplicates else _status(form),
    )


@case_endpoint(action="case.view")
def case_detail(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    """The case: its facts, plan, services, tasks, encounters, consents, files and who
    has access. Each section links to its own page for changes."""
    policy.require(actor, case, Capability.CASE_READ, action="encounter.list")
    clinical = policy.reads_clinical(actor, case, action="clinical.list")
    grants = policy.grants_on(actor, case)
    assigned = [g.user for g in grants if g.kind == "assignment" and g.in_force]
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "encounters": list(selectors.encounters_for(case=case)),
            "goals": list(selectors.goals_for(case=case)),
            "services": list(selectors.services_for(case=case)),
            "tasks": [task for task in selectors.tasks_for(case=case) if task.done_at is None],
            "attachments": list(selectors.attachments_for(case=case)),
            "referrals": list(selectors.referrals_for(case=case)),
            "show_clinical": clinical,
            "can_reveal": policy.can(actor, Capability.IDENTITY_READ),
            "can_record": policy.can(actor, Capability.ENCOUNTER_WRITE) and case.is_open,
            "can_write": policy.can(actor, Capability.CASE_WRITE),
            "can_close": policy.may_close(actor, case),
            "break_glass_until": policy.break_glass_until(actor, case),
            "grants": grants,
            "assigned": assigned,
            "can_transfer": case.is_open and actor in assigned,
            "handovers": services.handover_notes(case=case),
            "can_manage_grants": policy.supervises(actor, case),
            "can_hold": policy.supervises(actor, case) and policy.can(actor, Capability.LEGAL_HOLD),
            "consents": list(selectors.consents_for(case=case)),
            "can_refer": policy.can(actor, Capability.REFERRAL_EXPORT),
            "today": timezone.localdate(),
        },
    )


@require_POST
@case_endpoint(action="identity.view", need=Capability.IDENTITY_READ)
def identity_reveal(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    identity = selectors.identity_for(case=case)
    declined = set(identity.declined or [])
    rows = []
    for name in IDENTITY_FIELDS:
        value = getattr(identity, name)
        if isinstance(value, list):
            value = ", ".join(value)
        state = "declined" if name in declined else "unknown" if value is None else "given"
        rows.append((name.replace("_", " ").capitalize(), state, value))
    return render(
        request,
        "cases/identity.html",
        {"case": case, "rows": rows, "can_correct": policy.can(actor, Capability.IDENTITY_WRITE)},
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(
    action="encounter.create", on_post="encounter.create", need=Capability.ENCOUNTER_WRITE
)
def encounter_new(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    clinical = policy.can(actor, Capability.CLINICAL)
    form = EncounterForm(
        posted(request), clinical=clinical, initial={"occurred_at": timezone.localtime()}
    )
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            services.encounter_record(
                actor=actor,
                case=case,
                clinical=form.clinical_data() if clinical else None,
                **form.encounter_data(),
            )
        if attempt.ok:
            messages.success(request, _("Encounter recorded."))
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/encounter_form.html",
        {"form": form, "case": case, "editing": False},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="encounter.view", on_post="encounter.update", need=Capability.ENCOUNTER_WRITE)
def encounter_edit(
    request: HttpRequest, encounter_id: Any, *, actor: User, case: Case
) -> HttpResponse:
    clinical = policy.reads_clinical(actor, case, action="clinical.view")
    encounter = selectors.encounter_for(case=case, encounter_id=encounter_id)
    conflict = saved_by = None
    if request.method == "POST":
        form = EncounterEditForm(request.POST, clinical=clinical)
        if form.is_valid():
            changes = form.encounter_data()
            if "occurred_at" in changes:
                changes["occurred_at"] = kept_to_the_second(
                    changes["occurred_at"], encounter.occurred_at
                )
            with form_errors(form) as attempt:
                services.encounter_update(
                    actor=actor,
                    case=case,
                    encounter_id=encounter.pk,
                    expected_version=form.cleaned_data["version"],
                    changes=changes,
                    clinical=form.clinical_data() if clinical else None,
                    clinical_given=clinical,
                )
            if attempt.ok:
                messages.success(request, _("Encounter updated."))
                return redirect("cases:detail", reference=case.reference)
            if isinstance(attempt.error, StaleVersion):
                # What this person typed stays; what the other person saved is shown
                # beside it, with who saved it, to merge by hand. Nothing is overwritten.
                conflict = selectors.encounter_for(case=case, encounter_id=encounter.pk)
                saved_by = selectors.last_change(
                    case=case, subject=Revision.Subject.ENCOUNTER, object_id=encounter.pk
                )
    else:
        initial = EncounterForm.initial_from(encounter, clinical=clinical)
        initial["version"] = encounter.version
        form = EncounterEditForm(initial=initial, clinical=clinical)
    return render(
        request,
        "cases/encounter_form.html",
        {
            "form": form,
            "case": case,
            "editing": True,
            "encounter": encounter,
            "conflict": conflict,
            "saved_by": saved_by,
            "show_clinical": clinical,
        },
        status=409 if conflict else _status(form),
    )
