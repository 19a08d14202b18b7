"""Server-rendered pages. Thin: parse, ask ``access.policy``, call a service or selector,
render. Identity appears only on the page that the reveal button POSTs to."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from access import policy
from access.roles import Capability
from cases import selectors, services
from cases.errors import DomainError, StaleVersion
from cases.forms import EncounterEditForm, EncounterForm, IntakeForm, SearchForm
from cases.models import IDENTITY_FIELDS
from cases.views.disclosure import ConsentForm
from cases.views.team import GrantForm

PAGE_SIZE = 25


def _apply_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@require_http_methods(["GET", "POST"])
def my_cases(request: HttpRequest) -> HttpResponse:
    """The caseload, and on POST an exact identity search among it (POST keeps the
    searched names out of URLs, browser history and proxy logs)."""
    actor = policy.acting_user(request.user)
    searched = request.method == "POST"
    if searched:
        policy.require_capability(actor, Capability.IDENTITY_READ, action="case.search")
    search: SearchForm | None = SearchForm(request.POST if searched else None)
    if not policy.can(actor, Capability.IDENTITY_READ):
        search = None
    if searched and search is not None and search.is_valid():
        criteria = search.criteria()
        found = selectors.case_search_for(user=actor, criteria=criteria)
        policy.record_list(actor, action="case.search", count=len(found), fields=list(criteria))
        page = Paginator(found, PAGE_SIZE).get_page(1)
    else:
        cases = selectors.case_list_for(user=actor)
        page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
        policy.record_list(actor, action="case.list", count=len(page.object_list))
    context = {"page": page, "today": timezone.localdate(), "search": search, "searched": searched}
    status = 400 if searched and search is not None and search.errors else 200
    return render(request, "cases/my_cases.html", context, status=status)


@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    policy.require_capability(request.user, Capability.CASE_CREATE, action="case.create")
    actor = policy.acting_user(request.user)
    form = IntakeForm(request.POST or None)
    duplicates = None
    if request.method == "POST" and form.is_valid():
        identity, declined = form.identity_data()
        if form.is_valid() and not form.cleaned_data["confirm_new_person"]:
            duplicates = selectors.possible_duplicates(user=actor, identity=identity)
            policy.record_duplicate_check(
                actor,
                readable=[c.reference for c in duplicates.readable],
                elsewhere=[c.reference for c in duplicates.elsewhere],
            )
        if form.is_valid() and not duplicates:  # identity_data may add errors
            try:
                case = services.case_open(
                    actor=policy.acting_user(request.user),
                    identity=identity,
                    declined=declined,
                    risk_level=form.cleaned_data["risk_level"],
                    trafficking_types=form.cleaned_data["trafficking_types"],
                    summary=form.cleaned_data["summary"] or None,
                    referral_source=form.cleaned_data["referral_source"] or None,
                    storage_consent={
                        "method": form.cleaned_data["storage_consent_method"],
                        "interpreter_used": form.cleaned_data["storage_consent_interpreter"],
                    },
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, f"Case {case.reference} opened. You are assigned.")
                return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/intake.html",
        {"form": form, "duplicates": duplicates},
        status=409 if duplicates else _status(form),
    )


def _consents_with_status(case: Any) -> list[Any]:
    now = timezone.now()
    rows = list(selectors.consents_for(case=case))
    for consent in rows:
        consent.is_active = consent.valid_at(now)
    return rows


def _with_status(grants: Any) -> list[Any]:
    now = timezone.now()
    rows = list(grants)
    for grant in rows:
        grant.is_active = grant.revoked_at is None and (
            grant.expires_at is None or grant.expires_at > now
        )
    return rows


def _status(form: Any) -> int:
    return 400 if form.is_bound and form.errors else 200


def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    case = policy.case_for(request.user, reference, need=Capability.CASE_READ, action="case.view")
    policy.require(request.user, case, Capability.CASE_READ, action="encounter.list")
    clinical = policy.reads_clinical(request.user, case, action="clinical.list")
    encounters = list(selectors.encounters_for(case=case))
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "encounters": encounters,
            "show_clinical": clinical,
            "can_reveal": policy.can(request.user, Capability.IDENTITY_READ),
            "can_record": policy.can(request.user, Capability.ENCOUNTER_WRITE),
            "break_glass_until": policy.break_glass_until(request.user, case),
            "grants": _with_status(policy.grants_on(request.user, case)),
            "can_manage_grants": policy.supervises(request.user, case),
            "grant_form": GrantForm(),
            "consents": _consents_with_status(case),
            "consent_form": ConsentForm(initial={"given_at": timezone.localtime()}),
            "can_refer": policy.can(request.user, Capability.REFERRAL_EXPORT),
        },
    )


@require_POST
def identity_reveal(request: HttpRequest, reference: str) -> HttpResponse:
    case = policy.case_for(
        request.user, reference, need=Capability.IDENTITY_READ, action="identity.view"
    )
    identity = selectors.identity_for(case=case)
    declined = set(identity.declined or [])
    rows = []
    for name in IDENTITY_FIELDS:
        value = getattr(identity, name)
        if isinstance(value, list):
            value = ", ".join(value)
        state = "declined" if name in declined else "unknown" if value is None else "given"
        rows.append((name.replace("_", " ").capitalize(), state, value))
    return render(request, "cases/identity.html", {"case": case, "rows": rows})


@require_http_methods(["GET", "POST"])
def encounter_new(request: HttpRequest, reference: str) -> HttpResponse:
    case = policy.case_for(
        request.user,
        reference,
        need=Capability.ENCOUNTER_WRITE,
        action="encounter.create",
        log_allowed=request.method == "GET",
    )
    clinical = policy.can(request.user, Capability.CLINICAL)
    form = EncounterForm(
        request.POST or None, clinical=clinical, initial={"occurred_at": timezone.localtime()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.encounter_record(
                actor=policy.acting_user(request.user),
                case=case,
                clinical=form.clinical_data() if clinical else None,
                **form.encounter_data(),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Encounter recorded.")
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/encounter_form.html",
        {"form": form, "case": case, "editing": False},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
def encounter_edit(request: HttpRequest, reference: str, encounter_id: Any) -> HttpResponse:
    case = policy.case_for(
        request.user,
        reference,
        need=Capability.ENCOUNTER_WRITE,
        action="encounter.view" if request.method == "GET" else "encounter.update",
        log_allowed=request.method == "GET",
    )
    clinical = policy.reads_clinical(request.user, case, action="clinical.view")
    encounter = selectors.encounter_for(case=case, encounter_id=encounter_id)
    conflict = None
    if request.method == "POST":
        form = EncounterEditForm(request.POST, clinical=clinical)
        if form.is_valid():
            try:
                services.encounter_update(
                    actor=policy.acting_user(request.user),
                    case=case,
                    encounter_id=encounter.pk,
                    expected_version=form.cleaned_data["version"],
                    changes=form.encounter_data(),
                    clinical=form.clinical_data() if clinical else None,
                    clinical_given=clinical,
                )
            except StaleVersion:
                # Keep what this person typed, show what the other person saved, and let
                # them merge by hand; never overwrite either silently.
                conflict = selectors.encounter_for(case=case, encounter_id=encounter.pk)
                form.add_error(
                    None,
                    "Someone else saved this encounter while you were editing. Your changes "
                    "have not been saved. Compare with the saved version below, then save again.",
                )
                data = request.POST.copy()
                data["version"] = str(conflict.version)
                form.data = data
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, "Encounter updated.")
                return redirect("cases:detail", reference=case.reference)
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
            "show_clinical": clinical,
        },
        status=409 if conflict else _status(form),
    )
