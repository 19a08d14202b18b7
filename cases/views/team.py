"""Supervisor pages: people with access to a case, and the team's caseload."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from access import policy
from access import services as access_services
from access.models import User
from access.roles import Capability
from cases import selectors


class GrantForm(forms.Form):
    user = forms.CharField(max_length=150, label="Username")
    reason = forms.CharField(
        max_length=500,
        help_text="Why this person needs the case (no details about the survivor).",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Access ends",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


@require_POST
def grant_add(request: HttpRequest, reference: str) -> HttpResponse:
    actor = policy.acting_user(request.user)
    case = policy.case_for(
        actor, reference, need=Capability.GRANT_MANAGE, action="grant.add", log_allowed=False
    )
    form = GrantForm(request.POST)
    if form.is_valid():
        try:
            access_services.grant_add(
                case=case,
                username=form.cleaned_data["user"],
                reason=form.cleaned_data["reason"],
                granted_by=actor,
                expires_at=form.cleaned_data["expires_at"],
            )
        except access_services.GrantError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Access granted.")
    else:
        messages.error(request, "Give a username and a reason; the end must be a date and time.")
    return redirect("cases:detail", reference=case.reference)


@require_POST
def grant_revoke(request: HttpRequest, reference: str, grant_id: int) -> HttpResponse:
    actor = policy.acting_user(request.user)
    case = policy.case_for(
        actor, reference, need=Capability.GRANT_MANAGE, action="grant.revoke", log_allowed=False
    )
    try:
        access_services.grant_revoke(case=case, grant_id=grant_id, revoked_by=actor)
    except access_services.GrantError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Access revoked. It ended at once.")
    return redirect("cases:detail", reference=case.reference)


class BreakGlassForm(forms.Form):
    reference = forms.CharField(max_length=32, label="Case reference")
    reason = forms.CharField(
        min_length=10,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need this case now. The data protection officer reviews every use.",
    )


@require_http_methods(["GET", "POST"])
def break_glass(request: HttpRequest) -> HttpResponse:
    actor = policy.acting_user(request.user)
    policy.require_capability(actor, Capability.BREAK_GLASS, action="break_glass.page")
    form = BreakGlassForm(request.POST or None, initial={"reference": request.GET.get("ref", "")})
    if request.method == "POST" and form.is_valid():
        try:
            case = policy.case_for_break_glass(actor, form.cleaned_data["reference"])
        except policy.AlreadyHasAccess:
            messages.info(request, "You can already open this case.")
            return redirect("cases:detail", reference=form.cleaned_data["reference"].upper())
        except (PermissionDenied, Http404):  # shown in the form; the policy logged it
            form.add_error("reference", "No case you could open in an emergency has it.")
        else:
            access_services.break_glass_open(
                case=case, user=actor, reason=form.cleaned_data["reason"]
            )
            return redirect("cases:detail", reference=case.reference)
    return render(
        request,
        "cases/break_glass.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


class ReassignForm(forms.Form):
    reference = forms.CharField(max_length=32)
    from_user = forms.CharField(max_length=150)
    to_user = forms.CharField(max_length=150, label="Reassign to")


@require_http_methods(["GET", "POST"])
def caseload(request: HttpRequest) -> HttpResponse:
    actor = policy.acting_user(request.user)
    policy.require_capability(actor, Capability.GRANT_MANAGE, action="team.caseload")
    if request.method == "POST":
        form = ReassignForm(request.POST)
        if form.is_valid():
            case = policy.case_for(
                actor,
                form.cleaned_data["reference"],
                need=Capability.GRANT_MANAGE,
                action="case.reassign",
                log_allowed=False,
            )
            team_members = User.objects.filter(team_id=case.team_id, is_active=True)
            to_user = team_members.filter(username=form.cleaned_data["to_user"]).first()
            from_user = team_members.filter(username=form.cleaned_data["from_user"]).first()
            if to_user is None:
                messages.error(request, "Choose someone from the case's team.")
            else:
                try:
                    access_services.case_reassign(
                        case=case, from_user=from_user, to_user=to_user, by=actor
                    )
                except access_services.GrantError as exc:
                    messages.error(request, exc.detail)
                else:
                    messages.success(request, f"{case.reference} reassigned to {to_user.username}.")
        else:
            messages.error(request, "Choose a case and a person.")
        return redirect("cases:caseload")
    loads = selectors.team_caseload(supervisor=actor)
    policy.record_list(
        actor, action="team.caseload", count=sum(len(load.open_cases) for load in loads)
    )
    return render(
        request,
        "cases/caseload.html",
        {"loads": loads, "members": [load.user for load in loads]},
    )
