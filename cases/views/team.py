"""Supervisor pages: people with access to a case, emergency access, and the team's
caseload."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from access import policy
from access import services as access_services
from access.endpoints import case_endpoint, staff_endpoint
from access.errors import AlreadyHasAccess
from access.models import User
from access.roles import Capability
from cases import selectors, services
from cases.forms import BreakGlassForm, GrantForm, ReassignForm, RevokeForm
from cases.models import Case
from haven.web import form_errors, posted, refusals_as_messages


@require_http_methods(["GET", "POST"])
@case_endpoint(action="grant.list", on_post="grant.add", need=Capability.GRANT_MANAGE)
def grant_add(request: HttpRequest, *, actor: User, case: Case) -> HttpResponse:
    form = GrantForm(posted(request))
    if request.method == "POST" and form.is_valid():
        with form_errors(form) as attempt:
            access_services.grant_add(
                case=case,
                username=form.cleaned_data["user"],
                reason=form.cleaned_data["reason"],
                granted_by=actor,
                expires_at=form.cleaned_data["expires_at"],
            )
        if attempt.ok:
            messages.success(request, _("Access granted."))
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/grant_form.html",
        {"form": form, "case": case, "grants": policy.grants_on(actor, case)},
        status=400 if form.is_bound and form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@case_endpoint(action="grant.list", on_post="grant.revoke", need=Capability.GRANT_MANAGE)
def grant_revoke(request: HttpRequest, grant_id: int, *, actor: User, case: Case) -> HttpResponse:
    """Ending someone's access asks for confirmation and a reason; ending the case's
    only assignment asks who takes the case over, or whether to leave it unassigned."""
    grant = next((g for g in policy.grants_on(actor, case) if g.pk == grant_id), None)
    if grant is None or not grant.in_force:
        raise Http404
    last = policy.is_last_assignment(grant)
    form = RevokeForm(posted(request), case=case, last_assignment=last)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            access_services.grant_revoke(
                case=case,
                grant_id=grant.pk,
                revoked_by=actor,
                reason=data["reason"],
                reassign_to=data.get("reassign_to") or None,
                leave_unassigned=bool(data.get("leave_unassigned")),
            )
        if attempt.ok:
            messages.success(request, _("Access ended. It stopped at once."))
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/grant_revoke.html",
        {"form": form, "case": case, "grant": grant, "last_assignment": last},
        status=400 if form.is_bound and form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.BREAK_GLASS, action="break_glass.page")
def break_glass(request: HttpRequest, *, actor: User) -> HttpResponse:
    form = BreakGlassForm(posted(request), initial={"reference": request.GET.get("ref", "")})
    if request.method == "POST" and form.is_valid():
        reference = form.cleaned_data["reference"]
        try:
            with form_errors(form, passing=(AlreadyHasAccess,)) as attempt:
                case = policy.case_for_break_glass(actor, reference)
                access_services.break_glass_open(
                    case=case, user=actor, reason=form.cleaned_data["reason"]
                )
        except AlreadyHasAccess:
            messages.info(request, _("You can already open this case."))
            return redirect("cases:detail", reference=reference.upper())
        except (PermissionDenied, Http404):
            # Shown in the form, without saying whether the case exists; recorded.
            form.add_error("reference", _("No case you could open in an emergency has it."))
        else:
            if attempt.ok:
                return redirect("cases:detail", reference=case.reference)
    return render(
        request, "cases/break_glass.html", {"form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.GRANT_MANAGE, action="team.caseload")
def caseload(request: HttpRequest, *, actor: User) -> HttpResponse:
    if request.method == "POST" and "open_cases" in request.POST:
        return _limits(request, actor)
    if request.method == "POST":
        return _reassign(request, actor)
    loads = selectors.team_caseload(supervisor=actor)
    policy.record_list(
        actor, action="team.caseload", count=sum(len(load.open_cases) for load in loads)
    )
    unassigned = list(selectors.unassigned_cases(supervisor=actor))
    transfers = [
        t
        for t in services.transfer_requests_for(actor=actor, status="pending")
        if t.requested_by_id != actor.pk
    ]
    return render(
        request,
        "cases/caseload.html",
        {
            "loads": loads,
            "members": [load.user for load in loads],
            "unassigned": unassigned,
            "transfers": transfers,
            "could_take": selectors.could_take(loads),
            "team": actor.team,
        },
    )


@refusals_as_messages("cases:caseload")
def _limits(request: HttpRequest, actor: User) -> HttpResponse:
    """The supervisor writes the team's limits (AS8-5)."""
    open_cases, high_risk = request.POST.get("open_cases", ""), request.POST.get("high_risk", "")
    if not (open_cases.isdigit() and high_risk.isdigit()):
        messages.error(request, _("Give whole numbers for both limits."))
        return redirect("cases:caseload")
    access_services.team_limits_set(
        actor=actor, open_cases=int(open_cases), high_risk=int(high_risk)
    )
    messages.success(request, _("The team's caseload limits were saved."))
    return redirect("cases:caseload")


@refusals_as_messages("cases:caseload")
def _reassign(request: HttpRequest, actor: User) -> HttpResponse:
    form = ReassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a case and a person."))
        return redirect("cases:caseload")
    case = policy.case_for_write(
        actor, form.cleaned_data["reference"], need=Capability.GRANT_MANAGE, action="case.reassign"
    )
    access_services.case_reassign(
        case=case,
        from_username=form.cleaned_data["from_user"],
        to_username=form.cleaned_data["to_user"],
        by=actor,
    )
    messages.success(request, f"{case.reference} reassigned to {form.cleaned_data['to_user']}.")
    return redirect("cases:caseload")
