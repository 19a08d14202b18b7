"""What every case service shares: the capability guard, the version and history of
edited records, the rule about recording while storage consent is withdrawn, and the
refusal of a package that is released once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone

from access import policy
from access.models import User
from access.roles import Capability
from audit.models import Outcome
from audit.services import event_record
from cases.errors import CaseClosed, RecordingPaused, StaleVersion
from cases.models import Case, Revision


def require(actor: User, capability: Capability) -> None:
    # Views check (and log) first; this guards services called from anywhere else.
    if not policy.can(actor, capability):
        raise PermissionDenied


def jsonable(value: Any) -> Any:
    """A stored value as it is kept in a revision: dates as ISO text, a directory entry
    by its slug, a staff member by their username."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return getattr(value, "slug", None) or getattr(value, "username", None) or str(value.pk)
    return value


def save_next_version(record: Any) -> None:
    """Save an edited record as its next version (the caller holds its row lock and has
    already kept the replaced values as a Revision)."""
    record.version += 1
    record.updated_at = timezone.now()
    record.full_clean()
    record.save()


def check_version(record: Any, expected: int | None, what: str) -> None:
    """Refuse a write that carries a version other than the stored one: never merge."""
    if expected is not None and record.version != expected:
        raise StaleVersion(
            f"Someone else saved this {what} while you were editing. Your changes have not "
            "been saved: compare them with the saved version, then save again.",
            current_version=record.version,
        )


def keep_revision(
    *,
    case: Case,
    subject: str,
    record: Any,
    fields: Iterable[str],
    actor: User,
    previous_clinical: Any = None,
) -> Revision:
    """Keep the values about to be replaced, encrypted, as the record's earlier version
    (AS9-END-4). Call before changing the record."""
    return Revision.objects.create(
        survivor_id=case.survivor_id,
        subject=subject,
        object_id=record.pk,
        version=record.version,
        changed_by=actor,
        previous={name: jsonable(getattr(record, name)) for name in sorted(fields)},
        previous_clinical=previous_clinical,
    )


def locked_case(case: Case) -> Case:
    """The case row, locked for this transaction (its version, status and follow-up date
    change under the lock only)."""
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("survivor", "team")
        .get(pk=case.pk)
    )


def require_recording(case: Case, *, care_critical: bool = False) -> None:
    """New information is recorded only on an open case, and, while the survivor has
    withdrawn their consent to storage, only when it is care-critical."""
    if not case.is_open:
        raise CaseClosed()
    if not case.recording_allowed and not care_critical:
        raise RecordingPaused()


Refusal = tuple[None, None, Exception]


def package_refusal(
    *, actor: User, action: str, reference: str, package: models.Model | None
) -> Callable[[str, Exception], Refusal]:
    """How a package released once (a referral, a survivor's copy) is refused: the
    package is destroyed, since nothing is kept that can no longer be released, and the
    refusal is recorded (unless ``reason`` is empty: the policy recorded it already).
    The caller commits, then raises the error."""

    def refuse(reason: str, error: Exception) -> Refusal:
        if package is not None:
            package.delete()
        if reason:
            event_record(
                actor=actor,
                action=action,
                outcome=Outcome.DENIED,
                case_reference=reference,
                reason=reason,
            )
        return None, None, error

    return refuse
