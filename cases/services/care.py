"""The care work on a case: the plan agreed with the survivor (AS8-8), the services they
need and get, and the team's tasks. Each record carries a version (a stale edit is
refused with the current version, never merged) and keeps its earlier versions
(AS9-END-4); each write is one chained event naming the case, never the content."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.models import User
from access.roles import CASE_ROLES, Capability
from audit.services import event_record
from cases.errors import DomainError
from cases.models import (
    Case,
    CaseRecord,
    CaseService,
    CaseTask,
    GoalStatus,
    Organisation,
    PlanGoal,
    ReceiverStatus,
    Referral,
    Revision,
    ServiceStatus,
)
from cases.services.common import (
    check_version,
    keep_revision,
    locked_case,
    require,
    require_recording,
    save_next_version,
)

GOAL_EDITABLE = ("goal", "agreed_on", "review_on", "status")
SERVICE_EDITABLE = ("type", "status", "provider", "due_on", "notes")
TASK_EDITABLE = ("title", "due_on", "assigned_to", "done")

_R = TypeVar("_R", bound=CaseRecord)


def _provider(slug: str | None) -> Organisation | None:
    if not slug:
        return None
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise DomainError(_("No organisation in the directory has that slug."), field="provider")
    return organisation


def _assignee(case: Case, username: str | None) -> User | None:
    """A task is for an active member of the case's team with a case role."""
    if not username:
        return None
    user = User.objects.filter(
        username=username, team_id=case.team_id, is_active=True, role__in=CASE_ROLES
    ).first()
    if user is None:
        raise DomainError(_("Choose a member of the case's team."), field="assigned_to")
    return user


def _create(record: _R, *, actor: User, action: str) -> _R:
    """Insert a new care record after the case's rules allow it (under the case lock)."""
    current = locked_case(record.case)
    require_recording(current)
    record.case = current
    record.created_by = actor
    record.full_clean()
    record.save(force_insert=True)
    event_record(
        actor=actor, action=action, case_reference=current.reference, detail={"id": str(record.pk)}
    )
    return record


def _locked(model: type[_R], case: Case, record_id: Any) -> _R:
    record: _R | None = (
        model._default_manager.select_for_update(of=("self",))
        .select_related("case__survivor")
        .filter(pk=record_id, case_id=case.pk)
        .first()
    )
    if record is None:
        raise DomainError(_("No such record on this case."), status=404)
    return record


def _update(
    model: type[_R],
    record_id: Any,
    *,
    actor: User,
    case: Case,
    subject: str,
    changes: Mapping[str, Any],
    expected_version: int,
    action: str,
) -> _R:
    """Change a care record under the case's lock (always taken first, so concurrent
    writes on one case queue instead of deadlocking), keeping its earlier version."""
    require_recording(locked_case(case))
    record = _locked(model, case, record_id)
    check_version(record, expected_version, subject.replace("_", " "))
    changed = {name for name, value in changes.items() if getattr(record, name) != value}
    if changed:
        keep_revision(case=case, subject=subject, record=record, fields=changed, actor=actor)
        for name in changed:
            setattr(record, name, changes[name])
        save_next_version(record)
    event_record(
        actor=actor,
        action=action,
        case_reference=case.reference,
        detail={"id": str(record.pk), "fields": sorted(changed)},
    )
    return record


# --- the plan --------------------------------------------------------------------


@transaction.atomic
def goal_add(
    *,
    actor: User,
    case: Case,
    goal: str,
    agreed_on: dt.date,
    review_on: dt.date | None = None,
    status: str = GoalStatus.AGREED,
) -> PlanGoal:
    """A goal agreed with the survivor, in their words (AS8-8)."""
    require(actor, Capability.CASE_WRITE)
    if not (goal or "").strip():
        raise DomainError(_("Write the goal as agreed with the person."), field="goal")
    record = PlanGoal(
        case=case, goal=goal.strip(), agreed_on=agreed_on, review_on=review_on, status=status
    )
    return _create(record, actor=actor, action="plan.add")


@transaction.atomic
def goal_update(
    *, actor: User, case: Case, goal_id: Any, changes: Mapping[str, Any], expected_version: int
) -> PlanGoal:
    require(actor, Capability.CASE_WRITE)
    _only(changes, GOAL_EDITABLE)
    return _update(
        PlanGoal,
        goal_id,
        actor=actor,
        case=case,
        subject=Revision.Subject.GOAL,
        changes=changes,
        expected_version=expected_version,
        action="plan.update",
    )


# --- services --------------------------------------------------------------------


@transaction.atomic
def service_add(
    *,
    actor: User,
    case: Case,
    type: str,
    status: str = ServiceStatus.NEEDED,
    provider: str | None = None,
    due_on: dt.date | None = None,
    notes: str | None = None,
) -> CaseService:
    require(actor, Capability.CASE_WRITE)
    record = CaseService(
        case=case,
        type=type,
        status=status,
        provider=_provider(provider),
        due_on=due_on,
        notes=notes or None,
    )
    return _create(record, actor=actor, action="service.add")


@transaction.atomic
def service_update(
    *, actor: User, case: Case, service_id: Any, changes: Mapping[str, Any], expected_version: int
) -> CaseService:
    require(actor, Capability.CASE_WRITE)
    _only(changes, SERVICE_EDITABLE)
    values = dict(changes)
    if "provider" in values:
        values["provider"] = _provider(values["provider"])
    if "notes" in values:
        values["notes"] = values["notes"] or None
    return _update(
        CaseService,
        service_id,
        actor=actor,
        case=case,
        subject=Revision.Subject.SERVICE,
        changes=values,
        expected_version=expected_version,
        action="service.update",
    )


@transaction.atomic
def referral_status(*, actor: User, case: Case, referral_id: Any, status: str) -> Referral:
    """What the receiving organisation answered about a referral, as the worker learns
    it (sent, acknowledged, accepted, completed, declined). A referral made for a
    service moves that service along: accepted → in progress, completed → provided."""
    require(actor, Capability.CASE_WRITE)
    if status not in ReceiverStatus.values:
        raise DomainError(_("Choose one of the receiver's answers."), field="status")
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case__survivor")
        .filter(pk=referral_id, case_id=case.pk)
        .first()
    )
    if referral is None:
        raise DomainError(_("No such referral on this case."), status=404)
    referral.receiver_status = status
    referral.receiver_status_at = timezone.now()
    referral.save(update_fields=["receiver_status", "receiver_status_at"])
    follows: dict[str, str] = {
        ReceiverStatus.ACCEPTED: ServiceStatus.IN_PROGRESS,
        ReceiverStatus.COMPLETED: ServiceStatus.PROVIDED,
    }
    if referral.service_id is not None and status in follows:
        service = _locked(CaseService, case, referral.service_id)
        if service.status != follows[status]:
            keep_revision(
                case=case,
                subject=Revision.Subject.SERVICE,
                record=service,
                fields=("status",),
                actor=actor,
            )
            service.status = follows[status]
            save_next_version(service)
    event_record(
        actor=actor,
        action="referral.status",
        case_reference=case.reference,
        detail={"referral_id": str(referral.pk), "status": status},
    )
    return referral


# --- tasks -----------------------------------------------------------------------


@transaction.atomic
def task_add(
    *,
    actor: User,
    case: Case,
    title: str,
    due_on: dt.date,
    assigned_to: str | None = None,
) -> CaseTask:
    require(actor, Capability.CASE_WRITE)
    if not (title or "").strip():
        raise DomainError(_("Say what is to be done."), field="title")
    record = CaseTask(
        case=case, title=title.strip(), due_on=due_on, assigned_to=_assignee(case, assigned_to)
    )
    return _create(record, actor=actor, action="task.add")


@transaction.atomic
def task_update(
    *, actor: User, case: Case, task_id: Any, changes: Mapping[str, Any], expected_version: int
) -> CaseTask:
    """Change a task, or mark it done (``done``: true) or not done again."""
    require(actor, Capability.CASE_WRITE)
    _only(changes, TASK_EDITABLE)
    values = {name: value for name, value in changes.items() if name != "done"}
    if "assigned_to" in values:
        values["assigned_to"] = _assignee(case, values["assigned_to"])
    if "done" in changes:
        values["done_at"] = timezone.now() if changes["done"] else None
    return _update(
        CaseTask,
        task_id,
        actor=actor,
        case=case,
        subject=Revision.Subject.TASK,
        changes=values,
        expected_version=expected_version,
        action="task.update",
    )


def _only(changes: Mapping[str, Any], editable: tuple[str, ...]) -> None:
    unknown = set(changes) - set(editable)
    if unknown:
        raise ValueError(f"fields not editable: {sorted(unknown)}")
