"""Support plans (AS8-6): after a well-being meeting the supervisor records what was
agreed. Only the staff member and that supervisor read it; its review date comes due
on both their pages. The trail records that a plan was written or reviewed, by the
supervisor, never for whom."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.errors import GrantError
from access.models import User
from access.roles import Role
from audit.models import Outcome
from audit.services import event_record
from carers.models import SupportPlan
from haven.errors import NotFound

FIELDS = (
    ("occupational_referral", gettext_lazy("Occupational health referral")),
    ("adjusted_responsibilities", gettext_lazy("Adjusted responsibilities")),
    ("cover", gettext_lazy("Who covers which cases")),
    ("support_person", gettext_lazy("Support person")),
    ("who_is_told", gettext_lazy("Who is told")),
)
REVIEW_SOON_DAYS = 7


def _clean(content: Any) -> dict[str, str]:
    if not isinstance(content, dict):
        raise GrantError(_("The plan could not be read."), code="invalid")
    clean = {}
    for name, _label in FIELDS:
        value = content.get(name) or ""
        if not isinstance(value, str) or len(value) > 2000 or "\x00" in value:
            raise GrantError(_("At most 2,000 characters each."), code="invalid", field=name)
        clean[name] = value.strip()
    if not any(clean.values()):
        raise GrantError(_("Write down what was agreed."), code="invalid", field=FIELDS[0][0])
    return clean


def support_plan_record(
    *, actor: User, staff_username: str, content: Any, review_on: Any
) -> SupportPlan:
    """The supervisor records a plan for a member of their team; it replaces that
    person's earlier open plan."""
    staff = (
        User.objects.filter(username=staff_username, team_id=actor.team_id, is_active=True).first()
        if actor.team_id is not None
        else None
    )
    if actor.role != Role.SUPERVISOR or staff is None or staff == actor:
        event_record(
            actor=actor, action="support_plan.record", outcome=Outcome.DENIED, reason="capability"
        )
        raise GrantError(
            _("A supervisor records plans for their own team."),
            code="permission_denied",
            status=403,
        )
    clean = _clean(content)
    today = timezone.localdate()
    if not isinstance(review_on, dt.date) or not today <= review_on <= today + dt.timedelta(365):
        raise GrantError(
            _("The review date is within the next year."), code="invalid", field="review_on"
        )
    with transaction.atomic():
        SupportPlan.objects.filter(staff=staff, closed_at__isnull=True).update(
            closed_at=timezone.now()
        )
        plan = SupportPlan.with_new_key(
            staff=staff, supervisor=actor, agreed_on=today, review_on=review_on
        )
        plan.content = clean
        plan.save(force_insert=True)
        event_record(actor=actor, action="support_plan.record")
    return plan


def support_plans_for(*, actor: User) -> list[SupportPlan]:
    """Open plans the actor may read: their own, and those they wrote."""
    return list(
        SupportPlan.objects.filter(closed_at__isnull=True)
        .filter(models.Q(staff=actor) | models.Q(supervisor=actor))
        .select_related("staff", "supervisor")
    )


def support_plan_close(*, actor: User, plan_id: Any) -> None:
    """The supervisor who wrote it closes a plan after its review."""
    plan = SupportPlan.objects.filter(pk=plan_id, supervisor=actor, closed_at__isnull=True).first()
    if plan is None:
        raise NotFound()
    plan.closed_at = timezone.now()
    plan.save(update_fields=["closed_at"])
    event_record(actor=actor, action="support_plan.close")


def reviews_due(actor: User) -> list[SupportPlan]:
    """Open plans of the actor's (as staff or as supervisor) whose review is due within
    a week or overdue: shown on their pages."""
    soon = timezone.localdate() + dt.timedelta(days=REVIEW_SOON_DAYS)
    return [p for p in support_plans_for(actor=actor) if p.review_on <= soon]
