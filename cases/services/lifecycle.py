"""A case's life: its facts corrected, closed with a reason and a short checklist,
reopened with a reason. Closing starts the retention period (AS9-END-1); every change
keeps the replaced values (AS9-END-4) and is a chained event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.models import User
from access.roles import Capability
from audit.services import event_record
from cases.errors import DomainError
from cases.models import (
    CLOSURE_CHECKLIST,
    OPEN_GOAL_STATUSES,
    OPEN_SERVICE_STATUSES,
    Case,
    CaseService,
    CaseStatus,
    CaseTask,
    CloseReason,
    PlanGoal,
    Revision,
)
from cases.services.common import (
    check_version,
    keep_revision,
    locked_case,
    require,
    require_recording,
    save_next_version,
)
from cases.services.statistics import statistics_facet_sync

CASE_EDITABLE = ("risk_level", "summary", "trafficking_types", "referral_source")


def retention_from(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=settings.HAVEN_RETENTION_DAYS)


@transaction.atomic
def case_update(
    *, actor: User, case: Case, changes: Mapping[str, Any], expected_version: int
) -> Case:
    """Correct the case's facts if nobody saved since ``expected_version``."""
    require(actor, Capability.CASE_WRITE)
    unknown = set(changes) - set(CASE_EDITABLE)
    if unknown:
        raise ValueError(f"fields not editable: {sorted(unknown)}")
    current = locked_case(case)
    check_version(current, expected_version, "case")
    require_recording(current)
    changed = {name for name, value in changes.items() if getattr(current, name) != value}
    if changed:
        keep_revision(
            case=current, subject=Revision.Subject.CASE, record=current, fields=changed, actor=actor
        )
        for name in changed:
            value = changes[name]
            if name == "trafficking_types":
                value = sorted(set(value or []))
            setattr(current, name, value)
        save_next_version(current)
        if "trafficking_types" in changed:
            statistics_facet_sync(current)
    event_record(
        actor=actor,
        action="case.update",
        case_reference=current.reference,
        detail={"fields": sorted(changed)},
    )
    return current


def open_work(case: Case) -> dict[str, int]:
    """What is still open on a case: the closure page shows it next to the checklist."""
    return {
        "services": CaseService.objects.filter(
            case_id=case.pk, status__in=OPEN_SERVICE_STATUSES
        ).count(),
        "tasks": CaseTask.objects.filter(case_id=case.pk, done_at__isnull=True).count(),
        "goals": PlanGoal.objects.filter(case_id=case.pk, status__in=OPEN_GOAL_STATUSES).count(),
        "follow_up": int(case.follow_up_on is not None),
    }


@transaction.atomic
def case_close(
    *,
    actor: User,
    case: Case,
    reason: str,
    note: str | None = None,
    checklist: Mapping[str, bool] | None = None,
    expected_version: int | None = None,
) -> Case:
    """Close with a reason. The checklist (open services ended or handed over, the
    person informed, follow-ups cancelled or moved) is confirmed in full when given; the
    API may leave it out. Open tasks are closed and the follow-up date cleared, and the
    retention period starts: ``retention_until`` is the closing day plus
    ``HAVEN_RETENTION_DAYS``."""
    require(actor, Capability.CASE_WRITE)
    if reason not in CloseReason.values:
        raise DomainError(_("Choose a reason for closing."), field="reason")
    current = locked_case(case)
    check_version(current, expected_version, "case")
    if not current.is_open:
        raise DomainError(_("This case is closed already."), status=409, code="case_closed")
    if checklist is not None:
        missing = [item for item in CLOSURE_CHECKLIST if not checklist.get(item)]
        if missing:
            raise DomainError(
                _("Confirm every point of the closure checklist."),
                field=missing[0],
                missing=missing,
            )
    keep_revision(
        case=current,
        subject=Revision.Subject.CASE,
        record=current,
        fields=("status", "closed_at", "close_reason", "close_note", "retention_until"),
        actor=actor,
    )
    now = timezone.now()
    current.status = CaseStatus.CLOSED
    current.closed_at = now
    current.close_reason = reason
    current.close_note = note or None
    current.closure_checklist = dict(checklist or {})
    current.retention_until = retention_from(timezone.localdate(now))
    current.follow_up_on = None
    save_next_version(current)
    for task in CaseTask.objects.filter(case_id=current.pk, done_at__isnull=True):
        task.done_at = now
        task.save(update_fields=["done_at"])
    event_record(
        actor=actor,
        action="case.close",
        case_reference=current.reference,
        detail={"reason": reason, "checklist": checklist is not None},
    )
    return current


@transaction.atomic
def case_reopen(
    *, actor: User, case: Case, reason: str, expected_version: int | None = None
) -> Case:
    """Open a closed case again, with a reason; the retention date is cleared."""
    require(actor, Capability.CASE_WRITE)
    if not (reason or "").strip():
        raise DomainError(_("Say why the case is reopened."), field="reason")
    current = locked_case(case)
    check_version(current, expected_version, "case")
    if current.is_open:
        raise DomainError(_("This case is open."), status=409, code="case_open")
    keep_revision(
        case=current,
        subject=Revision.Subject.CASE,
        record=current,
        fields=("status", "closed_at", "close_reason", "close_note", "retention_until"),
        actor=actor,
    )
    current.status = CaseStatus.OPEN
    current.closed_at = None
    current.close_reason = ""
    current.close_note = None
    current.closure_checklist = {}
    current.retention_until = None
    current.reopen_reason = reason.strip()
    save_next_version(current)
    event_record(actor=actor, action="case.reopen", case_reference=current.reference)
    return current
