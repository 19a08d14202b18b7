"""Pages of care for the carers: the private self-check, "I would like to talk", the
supervisor's list of who would like to talk, and the wording an administrator loads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from access.endpoints import staff_endpoint
from access.models import User
from access.roles import Capability, Role
from carers import scale, services, supervision, support, training
from carers.forms import (
    CompletionForm,
    ConfirmDeleteForm,
    SelfCheckForm,
    SupervisionForm,
    SupportPlanForm,
    TrainingForm,
    WordingForm,
)
from carers.models import Training
from haven.errors import NotFound
from haven.i18n import native_name, offered
from haven.web import form_errors, posted, refusals_as_messages

_CHART_W, _CHART_H, _PAD = 600, 160, 24


def _chart(entries: list[services.Entry], score: str) -> dict[str, Any] | None:
    """Points of one score over time, oldest first, scaled into the chart (no script)."""
    if len(entries) < 2:
        return None
    low, high = scale.ranges()[score]
    ordered = list(reversed(entries))
    step = (_CHART_W - 2 * _PAD) / (len(ordered) - 1)
    points = []
    for n, entry in enumerate(ordered):
        value = entry.scores[score]
        x = _PAD + n * step
        y = _CHART_H - _PAD - (value - low) / (high - low) * (_CHART_H - 2 * _PAD)
        points.append({"x": round(x, 1), "y": round(y, 1), "value": value, "on": entry.taken_at})
    return {
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        "first": points[0]["value"],
        "last": points[-1]["value"],
        "low": low,
        "high": high,
        "width": _CHART_W,
        "height": _CHART_H,
        "top": _PAD,
        "bottom": _CHART_H - _PAD,
    }


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def wellbeing(request: HttpRequest, *, actor: User) -> HttpResponse:
    wording = services.wording_current(actor.language)
    form = SelfCheckForm(posted(request), wording=wording.items)
    if form.is_bound and form.is_valid():
        with form_errors(form) as attempt:
            entry = services.selfcheck_record(actor=actor, answers=form.cleaned_data)
        if attempt.ok:
            scores = entry.scores
            messages.success(
                request,
                _("Saved. Secondary trauma %(trauma)s, burnout %(burnout)s, total %(total)s.")
                % {
                    "trauma": scores["secondary_trauma"],
                    "burnout": scores["burnout"],
                    "total": scores["total"],
                },
            )
            return redirect("carers:wellbeing")
    entries = services.selfchecks_of(actor=actor)
    return render(
        request,
        "carers/wellbeing.html",
        {
            "form": form,
            "wording": wording,
            "entries": entries,
            "charts": [
                ("Secondary trauma", _chart(entries, "secondary_trauma")),
                ("Burnout", _chart(entries, "burnout")),
            ],
            "talk": services.talk_open(actor=actor),
            "has_team": actor.team_id is not None,
        },
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def wellbeing_delete(request: HttpRequest, entry_id: Any, *, actor: User) -> HttpResponse:
    entry = next((e for e in services.selfchecks_of(actor=actor) if e.id == entry_id), None)
    if entry is None:
        raise NotFound()
    form = ConfirmDeleteForm(posted(request))
    if form.is_bound and form.is_valid():
        with form_errors(form) as attempt:
            services.selfcheck_delete(actor=actor, entry_id=entry_id)
        if attempt.ok:
            messages.success(request, _("The self-check was deleted."))
            return redirect("carers:wellbeing")
    return render(
        request,
        "carers/wellbeing_delete.html",
        {"form": form, "entry": entry},
        status=400 if form.is_bound else 200,
    )


@require_POST
@staff_endpoint()
@refusals_as_messages("carers:wellbeing")
def talk(request: HttpRequest, *, actor: User) -> HttpResponse:
    if request.POST.get("withdraw"):
        services.talk_withdraw(actor=actor)
        messages.success(request, _("Your supervisor will no longer see that you asked."))
    else:
        services.talk_request(actor=actor)
        messages.success(request, _("Your supervisor will see that you would like to talk."))
    return redirect("carers:wellbeing")


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.GRANT_MANAGE, action="wellbeing.talk_list")
def team_talk(request: HttpRequest, *, actor: User) -> HttpResponse:
    if request.method == "POST":
        services.talk_close(supervisor=actor, request_id=request.POST.get("request", ""))
        messages.success(request, _("Marked as talked."))
        return redirect("carers:team-talk")
    return render(
        request, "carers/team_talk.html", {"requests": services.talk_requests_for(supervisor=actor)}
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint(need=Capability.STAFF_ADMIN, action="wellbeing.wording_load")
def wording(request: HttpRequest, *, actor: User) -> HttpResponse:
    language = request.POST.get("language") or request.GET.get("language") or ""
    if language not in offered():
        language = settings.LANGUAGE_CODE
    current = services.wording_current(language)
    form = WordingForm(
        posted(request),
        wording=current.items,
        initial={"support": current.support, "source": current.source, "language": language},
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            loaded = services.wording_load(
                actor=actor,
                items={item: data[f"item_{item}"] for item in scale.ITEMS},
                support=data["support"],
                source=data["source"],
                language=language,
            )
        if attempt.ok:
            messages.success(
                request,
                _("Wording version %(version)s is now in use.") % {"version": loaded.version},
            )
            return redirect("carers:wording")
    return render(
        request,
        "carers/wording.html",
        {
            "form": form,
            "current": current,
            "editing": language,
            "languages": [(code, native_name(code)) for code in offered()],
        },
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def supervision_page(request: HttpRequest, *, actor: User) -> HttpResponse:
    sessions, standing = supervision.supervision_for(actor=actor)
    leads = supervision.leads_team(actor)
    form = SupervisionForm(
        posted(request) if leads else None, members=[s.user.username for s in standing]
    )
    if request.method == "POST" and not leads:
        raise PermissionDenied
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            supervision.supervision_record(
                actor=actor,
                staff=data["staff"],
                kind=data["kind"],
                held_on=data["held_on"],
                notes=data["notes"],
            )
        if attempt.ok:
            messages.success(request, _("Supervision session recorded."))
            return redirect("carers:supervision")
    return render(
        request,
        "carers/supervision.html",
        {
            "form": form,
            "sessions": sessions,
            "standing": standing,
            "leads": leads,
            "every": settings.HAVEN_SUPERVISION_DAYS,
        },
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def support_plans(request: HttpRequest, *, actor: User) -> HttpResponse:
    leads = supervision.leads_team(actor)
    if request.method == "POST" and not leads:
        raise PermissionDenied
    if request.method == "POST" and "close" in request.POST:
        support.support_plan_close(actor=actor, plan_id=request.POST.get("close", ""))
        messages.success(request, _("The plan was closed after its review."))
        return redirect("carers:support-plans")
    members = [u.username for u in supervision.team_members(actor)] if leads else []
    form = SupportPlanForm(posted(request) if leads else None, members=members)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        with form_errors(form) as attempt:
            support.support_plan_record(
                actor=actor,
                staff_username=data["staff"],
                content={name: data[name] for name, _ in support.FIELDS},
                review_on=data["review_on"],
            )
        if attempt.ok:
            messages.success(request, _("The support plan was recorded."))
            return redirect("carers:support-plans")
    return render(
        request,
        "carers/support_plans.html",
        {
            "form": form,
            "plans": [
                (
                    plan,
                    [(label, (plan.content or {}).get(name, "")) for name, label in support.FIELDS],
                )
                for plan in support.support_plans_for(actor=actor)
            ],
            "leads": leads,
        },
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@staff_endpoint()
def training_page(request: HttpRequest, *, actor: User) -> HttpResponse:
    overview = training.training_overview(actor=actor)
    records = actor.role in (Role.ADMIN, Role.SUPERVISOR)
    people = [p.username for p, _ in overview if p != actor or actor.role == Role.ADMIN]
    trainings = [(t.slug, t.title) for t in Training.objects.all()]
    completion = CompletionForm(
        request.POST if request.method == "POST" and "completed_on" in request.POST else None,
        people=people,
        trainings=trainings,
    )
    manage = TrainingForm(
        request.POST if request.method == "POST" and "title" in request.POST else None,
        roles=[(value, str(label)) for value, label in Role.choices],
    )
    if request.method == "POST" and not (completion.is_bound or manage.is_bound):
        return redirect("carers:training")
    if completion.is_bound and completion.is_valid():
        data = completion.cleaned_data
        with form_errors(completion) as attempt:
            training.training_complete(
                actor=actor,
                username=data["username"],
                slug=data["training"],
                completed_on=data["completed_on"],
            )
        if attempt.ok:
            messages.success(request, _("The completion was recorded."))
            return redirect("carers:training")
    if manage.is_bound and manage.is_valid():
        data = manage.cleaned_data
        with form_errors(manage) as attempt:
            training.training_save(
                actor=actor,
                slug=data["slug"],
                title=data["title"],
                roles=data["roles"],
                renewal_days=data["renewal_days"],
                required_for_access=data["required_for_access"],
            )
        if attempt.ok:
            messages.success(request, _("The training was saved."))
            return redirect("carers:training")
    bound = completion.is_bound or manage.is_bound
    return render(
        request,
        "carers/training.html",
        {
            "overview": overview,
            "completion": completion,
            "manage": manage,
            "records": records,
            "is_admin": actor.role == Role.ADMIN,
            "trainings": Training.objects.all(),
        },
        status=400 if bound else 200,
    )
