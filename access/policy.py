"""The access policy: the one place that decides who may read or change survivor data.

Deny by default. Reading a case needs both a role capability (``access.roles``) and a
per-record relation: an active grant (assignment, supervisor grant, break-glass,
referral) or supervision of the case's team. Identity and the clinical block are further
capabilities on top. ``is_superuser`` is never consulted.

Every decision that touches a case leaves an access event, allowed or denied, written
before any data is returned. Outsiders get ``Http404`` (a case's existence is not
revealed); a reader asking for something their role may not do gets ``PermissionDenied``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from access.models import CaseGrant, User
from access.roles import Capability, Role
from audit.models import Outcome
from audit.services import event_record

if TYPE_CHECKING:
    from cases.models import Case


TEAM_SUPERVISION_ONLY = frozenset({Capability.GRANT_MANAGE})
"""Capabilities that also need supervision of the case's own team: a supervisor granted
access to another team's case reads it, but does not hand it on."""


class RecordErased(Exception):
    """The survivor's data key was destroyed: answered 410 Gone, with no data."""


def _case_model() -> type[Case]:
    from cases.models import Case

    return Case


def _is_staff_member(user: Any) -> bool:
    return isinstance(user, User) and user.is_authenticated and user.is_active


def acting_user(user: Any) -> User:
    """The authenticated, active staff member behind a request, or refuse."""
    if not _is_staff_member(user):
        raise PermissionDenied
    staff: User = user
    return staff


def can(user: Any, capability: Capability) -> bool:
    """Role capability only; says nothing about any particular record."""
    return _is_staff_member(user) and bool(user.has_capability(capability))


def readable_cases(user: Any) -> QuerySet[Case]:
    """Cases whose content ``user`` may read right now. Every list, search and selector
    starts here, never from ``Case.objects``."""
    case_model = _case_model()
    if not can(user, Capability.CASE_READ):
        return case_model.objects.none()
    granted = CaseGrant.objects.active().filter(user=user).values("content_object_id")
    relation = Q(pk__in=granted)
    if user.role == Role.SUPERVISOR and user.team_id is not None:
        relation |= Q(team_id=user.team_id)
    return case_model.objects.filter(relation, survivor__shredded_at__isnull=True)


def relation_to(user: User, case: Case) -> str | None:
    """How ``user`` is related to ``case`` now, or None. Expiry is evaluated here, at the
    moment of the request, so an expired grant never works.

    The answer is remembered on the case instance (which lives for one request) so that
    a page asking several questions about one case queries the grants once."""
    cached = case.__dict__.get("_haven_relation")
    if cached is not None and cached[0] == user.pk:
        return cached[1]  # type: ignore[no-any-return]
    relation: str | None
    if user.role == Role.SUPERVISOR and user.team_id is not None and user.team_id == case.team_id:
        relation = "team"
    else:
        relation = (
            CaseGrant.objects.active(timezone.now())
            .filter(user=user, content_object=case)
            .order_by("kind")
            .values_list("kind", flat=True)
            .first()
        )
    case.__dict__["_haven_relation"] = (user.pk, relation)
    return relation


def _deny(
    user: Any, action: str, reference: str, reason: str, *, forbidden: bool = False
) -> Exception:
    event_record(
        actor=user,
        action=action,
        outcome=Outcome.DENIED,
        case_reference=reference,
        reason=reason,
    )
    return PermissionDenied() if forbidden else Http404()


def case_for(
    user: Any, reference: str, *, need: Capability, action: str, log_allowed: bool = True
) -> Case:
    """Return the case named by ``reference`` if ``user`` may do ``need`` on it.

    Records ``action`` as allowed, or as denied and raises ``Http404`` (outsider, unknown
    or malformed reference) or ``PermissionDenied`` (a reader without the capability).
    Writes pass ``log_allowed=False``: their service records the change itself, in the
    same transaction, so an allowed write leaves one event, not two.
    """
    from cases.references import normalise

    canonical = normalise(reference) or ""
    if not canonical:
        raise _deny(user, action, "", "malformed_reference")
    if not can(user, Capability.CASE_READ):
        raise _deny(user, action, canonical, "role_has_no_case_access")
    case = (
        _case_model()
        .objects.select_related("survivor", "team")
        .filter(survivor__reference=canonical)
        .first()
    )
    if case is None:
        raise _deny(user, action, canonical, "not_found")
    relation = relation_to(user, case)
    if relation is None:
        raise _deny(user, action, canonical, "no_relation")
    if case.survivor.shredded_at is not None:
        _deny(user, action, canonical, "erased")
        raise RecordErased
    if not can(user, need):
        raise _deny(user, action, canonical, "capability", forbidden=True)
    if need in TEAM_SUPERVISION_ONLY and relation != "team":
        raise _deny(user, action, canonical, "not_team_supervisor", forbidden=True)
    if log_allowed:
        event_record(actor=user, action=action, case_reference=canonical, reason=relation)
    return case


def require(user: Any, case: Case, need: Capability, *, action: str) -> None:
    """For a case already obtained through ``case_for``: check one more capability
    (identity, clinical...), recording the attempt either way."""
    if relation_to(user, case) is None:
        raise _deny(user, action, case.reference, "no_relation")
    if not can(user, need):
        raise _deny(user, action, case.reference, "capability", forbidden=True)
    event_record(actor=user, action=action, case_reference=case.reference)


def reads_clinical(user: Any, case: Case, *, action: str = "clinical.view") -> bool:
    """Whether ``user`` sees the clinical block of ``case``; a True answer is recorded as
    a clinical read. Others are not told the block exists (AS9-STO-4)."""
    if not can(user, Capability.CLINICAL) or relation_to(user, case) is None:
        return False
    event_record(actor=user, action=action, case_reference=case.reference)
    return True


def record_list(user: Any, *, action: str, count: int, fields: list[str] | None = None) -> None:
    """A list or search of cases: which fields were used and how many came back,
    never the values."""
    detail: dict[str, Any] = {"results": count}
    if fields is not None:
        detail["fields"] = sorted(fields)
    event_record(actor=user, action=action, detail=detail)


def require_capability(user: Any, capability: Capability, *, action: str) -> None:
    """For actions not tied to one case (intake, lists of the directory...)."""
    if not can(user, capability):
        raise _deny(user, action, "", "capability", forbidden=True)


def record_duplicate_check(user: Any, *, readable: list[str], elsewhere: list[str]) -> None:
    """An intake's duplicate check. Matches in cases the user may not open are each
    recorded against that case, so its team's supervisor sees them; the user is told
    only that a match exists."""
    event_record(
        actor=user,
        action="intake.duplicate_check",
        detail={"results": len(readable), "elsewhere": len(elsewhere)},
    )
    for reference in elsewhere:
        event_record(
            actor=user,
            action="intake.possible_duplicate",
            case_reference=reference,
            reason="not_readable",
        )


def case_for_break_glass(user: Any, reference: str) -> Case:
    """The case a staff member asks emergency access to. Refused (and recorded) for roles
    without break-glass, for unknown or erased cases, and for someone who already has
    access (``AlreadyHasAccess``: nothing to break)."""
    from cases.references import normalise

    action = "break_glass.open"
    canonical = normalise(reference) or ""
    if not canonical:
        raise _deny(user, action, "", "malformed_reference")
    if not can(user, Capability.BREAK_GLASS):
        raise _deny(user, action, canonical, "capability", forbidden=True)
    case = (
        _case_model()
        .objects.select_related("survivor", "team")
        .filter(survivor__reference=canonical, survivor__shredded_at__isnull=True)
        .first()
    )
    if case is None:
        raise _deny(user, action, canonical, "not_found")
    if relation_to(user, case) is not None:
        _deny(user, action, canonical, "already_has_access")
        raise AlreadyHasAccess
    return case


class AlreadyHasAccess(Exception):
    """Break-glass asked for a case the user can already read."""


def break_glass_until(user: Any, case: Case) -> Any:
    """When the user's active break-glass on ``case`` ends, or None (for the banner)."""
    return (
        CaseGrant.objects.active()
        .filter(user=user, content_object=case, kind="break_glass")
        .order_by("-expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )


def grants_on(user: Any, case: Case) -> QuerySet[CaseGrant]:
    """Who has access to ``case`` through a grant, for the people-with-access panel.
    Only for someone who may read the case (the caller has checked with case_for)."""
    if relation_to(user, case) is None:
        return CaseGrant.objects.none()
    return (
        CaseGrant.objects.filter(content_object=case)
        .select_related("user", "granted_by")
        .order_by("-created_at")
    )


def supervises(user: Any, case: Case) -> bool:
    """Whether ``user`` supervises the case's own team (and so manages its grants)."""
    return (
        can(user, Capability.GRANT_MANAGE)
        and user.team_id is not None
        and user.team_id == case.team_id
    )


def access_report_for(user: Any, reference: str) -> str:
    """The case whose access report ``user`` asks for: the DPO for any case, a
    supervisor for their own team's. Returns the canonical reference; the report holds
    references, actions and staff, never content."""
    from cases.references import normalise

    action = "audit.case_report"
    canonical = normalise(reference) or ""
    if not canonical:
        raise _deny(user, action, "", "malformed_reference")
    case = _case_model().objects.filter(survivor__reference=canonical).first()
    if case is None:
        raise _deny(user, action, canonical, "not_found")
    if can(user, Capability.AUDIT_REVIEW) or supervises(user, case):
        event_record(actor=user, action=action, case_reference=canonical)
        return canonical
    if can(user, Capability.CASE_READ) and relation_to(user, case) is not None:
        raise _deny(user, action, canonical, "capability", forbidden=True)
    raise _deny(user, action, canonical, "no_relation")


def record_refusal(user: Any, action: str, reference: str, reason: str) -> None:
    """A refusal decided by a service (for example no valid consent), recorded outside
    the service's rolled-back transaction so that it stays in the trail."""
    event_record(
        actor=user, action=action, outcome=Outcome.DENIED, case_reference=reference, reason=reason
    )
