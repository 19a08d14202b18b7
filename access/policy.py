"""The access policy: the one place that decides who may read or change survivor data.

Deny by default. Reading a case needs both a role capability (``access.roles``) and a
per-record relation: an active grant (assignment, supervisor grant, break-glass,
referral) or supervision of the case's team. Identity and the clinical block are further
capabilities on top. ``is_superuser`` is never consulted.

Every decision that touches a case leaves an access event, allowed or denied, written
before any data is returned. Outsiders get ``Http404`` (a case's existence is not
revealed); a reader asking for something their role may not do gets ``PermissionDenied``.

Two entry points for a case: ``case_for_read`` records the read it allows;
``case_for_write`` records only refusals, because the service that carries out the
write records the change itself, in its own transaction (one event per write, not two).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, F, Lookup, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from access.crypto.errors import DataKeyDestroyed
from access.errors import (
    ENDED_DETAIL,
    AlreadyHasAccess,
    BreakGlassLimit,
    RecordEnded,
    RecordErased,
    TrainingRequired,
)
from access.models import CaseGrant, GrantKind, User
from access.roles import Capability, Role
from audit.models import Anomaly, Outcome
from audit.services import event_record
from carers.models import training_blocks_access
from cases.models import Case, Survivor, Tombstone
from haven.references import normalise

TEAM_SUPERVISION_ONLY = frozenset({Capability.GRANT_MANAGE})
"""Capabilities that also need supervision of the case's own team: a supervisor granted
access to another team's case reads it, but does not hand it on."""

ASSIGNED_OR_TEAM = frozenset({Capability.CASE_CLOSE})
"""Capabilities that need the case's assignment or the supervision of its team: someone
with a temporary grant or emergency access reads and records, but does not close."""


def is_staff_member(user: object) -> bool:
    return isinstance(user, User) and user.is_authenticated and user.is_active


def acting_user(user: object) -> User:
    """The authenticated, active staff member behind a request, or refuse."""
    if not isinstance(user, User) or not is_staff_member(user):
        raise PermissionDenied
    return user


def can(user: object, capability: Capability) -> bool:
    """Role capability only; says nothing about any particular record."""
    return isinstance(user, User) and is_staff_member(user) and user.has_capability(capability)


if TYPE_CHECKING:
    _LookupBase = Lookup[Any]
else:
    _LookupBase = Lookup


class _AnyOf(_LookupBase):
    """``lhs = ANY(rhs)``, ``rhs`` an array (Django would wrap an expression on the right
    of ``=`` in parentheses, which ``ANY`` does not allow)."""

    lookup_name = "any_of"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


def _among(ids: QuerySet[Any, Any]) -> Q:
    """The cases whose id is among ``ids`` (a one-column query). On PostgreSQL it is
    written ``id = ANY(ARRAY(...))``: the ids are worked out once and looked up in the
    primary key, so that "granted, or in the supervisor's team" is two index scans
    combined. Written ``id IN (...)``, the same condition under an ``OR`` could only
    be checked case by case, over every case in the database."""
    if connection.vendor == "postgresql":
        return Q(_AnyOf(F("pk"), ArraySubquery(ids)))
    return Q(pk__in=ids)


def readable_cases(user: User) -> QuerySet[Case]:
    """Cases whose content ``user`` may read right now. Every list, search and selector
    starts here, never from ``Case.objects``."""
    if not can(user, Capability.CASE_READ) or training_blocks_access(user):
        return Case.objects.none()
    granted = CaseGrant.objects.active().filter(user=user).values("content_object_id")
    relation = _among(granted)
    if user.role == Role.SUPERVISOR and user.team_id is not None:
        relation |= Q(team_id=user.team_id)
    # "Not erased" as an anti-join with the erased few (a partial index), so that the
    # count of a supervisor's thousands of cases never joins every survivor.
    erased = Survivor.objects.filter(pk=OuterRef("survivor_id"), shredded_at__isnull=False)
    return Case.objects.filter(relation).filter(~Exists(erased))


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
    user: User | None, action: str, reference: str, reason: str, *, forbidden: bool = False
) -> Exception:
    event_record(
        actor=user,
        action=action,
        outcome=Outcome.DENIED,
        case_reference=reference,
        reason=reason,
    )
    return PermissionDenied() if forbidden else Http404()


def _case_for(user: User, reference: str, *, need: Capability, action: str) -> tuple[Case, str]:
    """The case and the user's relation to it, if ``user`` may do ``need`` on it; else
    record the refusal and raise ``Http404`` (outsider, unknown or malformed reference)
    or ``PermissionDenied`` (a reader without the capability)."""
    canonical = normalise(reference) or ""
    if not canonical:
        raise _deny(user, action, "", "malformed_reference")
    if not can(user, Capability.CASE_READ):
        raise _deny(user, action, canonical, "role_has_no_case_access")
    if training_blocks_access(user):
        _deny(user, action, canonical, "training_required")
        raise TrainingRequired
    case = (
        Case.objects.select_related("survivor", "team")
        .filter(survivor__reference=canonical)
        .first()
    )
    if case is None:
        raise _ended_or_unknown(user, action, canonical)
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
    if need in ASSIGNED_OR_TEAM and relation not in (GrantKind.ASSIGNMENT, "team"):
        raise _deny(user, action, canonical, "not_assigned", forbidden=True)
    return case, relation


def _ended_or_unknown(user: User, action: str, canonical: str) -> Exception:
    """No case under this reference: 410 if it was purged or erased (only the tombstone
    is left, and it says nothing but that), else 404. Asked only of case roles."""
    ended = (
        Tombstone.objects.filter(survivor__reference=canonical)
        .values_list("reason", flat=True)
        .first()
    )
    if ended is None:
        return _deny(user, action, canonical, "not_found")
    _deny(user, action, canonical, ended)
    # ``purged`` is the contract's code; an erasure keeps ``gone``, the code an erased
    # record has answered since before tombstones (the detail says which).
    return RecordEnded(ENDED_DETAIL[ended], code="purged" if ended == "purged" else "gone")


def case_for_governance(user: User, reference: str, *, action: str, need: Capability) -> Case:
    """A case for an act of governance that reads no content (a legal hold): the DPO
    reaches every case of the organisation; a supervisor, the cases of their own team.
    Only a refusal is recorded here; the service records the act."""
    canonical = normalise(reference) or ""
    if not canonical:
        raise _deny(user, action, "", "malformed_reference")
    if not (can(user, Capability.CASE_READ) or can(user, Capability.AUDIT_REVIEW)):
        raise _deny(user, action, canonical, "role_has_no_case_access")
    case = (
        Case.objects.select_related("survivor", "team")
        .filter(survivor__reference=canonical)
        .first()
    )
    if case is None:
        raise _ended_or_unknown(user, action, canonical)
    if can(user, Capability.AUDIT_REVIEW):
        relation: str | None = "dpo"
    else:
        relation = relation_to(user, case)
        if relation is None:
            raise _deny(user, action, canonical, "no_relation")
    if case.survivor.shredded_at is not None:
        _deny(user, action, canonical, "erased")
        raise RecordErased
    if not can(user, need):
        raise _deny(user, action, canonical, "capability", forbidden=True)
    if relation not in ("dpo", "team"):
        raise _deny(user, action, canonical, "not_team_supervisor", forbidden=True)
    return case


def case_for_read(
    user: User, reference: str, *, action: str, need: Capability = Capability.CASE_READ
) -> Case:
    """The case named by ``reference``, for a read: the read is recorded as ``action``
    (allowed, with the relation that allowed it), a refusal as denied."""
    case, relation = _case_for(user, reference, need=need, action=action)
    event_record(actor=user, action=action, case_reference=case.reference, reason=relation)
    return case


def case_for_write(user: User, reference: str, *, action: str, need: Capability) -> Case:
    """The case named by ``reference``, for a write by a service that records the
    change itself; only a refusal is recorded here (as denied ``action``)."""
    case, _ = _case_for(user, reference, need=need, action=action)
    return case


def require(user: User, case: Case, need: Capability, *, action: str) -> None:
    """For a case already obtained through ``case_for_*``: check one more capability
    (identity, clinical...), recording the attempt either way."""
    if relation_to(user, case) is None:
        raise _deny(user, action, case.reference, "no_relation")
    if not can(user, need):
        raise _deny(user, action, case.reference, "capability", forbidden=True)
    event_record(actor=user, action=action, case_reference=case.reference)


def reads_clinical(user: User, case: Case, *, action: str = "clinical.view") -> bool:
    """Whether ``user`` sees the clinical block of ``case``; a True answer is recorded as
    a clinical read. Others are not told the block exists (AS9-STO-4)."""
    if not can(user, Capability.CLINICAL) or relation_to(user, case) is None:
        return False
    event_record(actor=user, action=action, case_reference=case.reference)
    return True


def record_list(user: User, *, action: str, count: int, fields: list[str] | None = None) -> None:
    """A list or search of cases: which fields were used and how many came back,
    never the values."""
    detail: dict[str, Any] = {"results": count}
    if fields is not None:
        detail["fields"] = sorted(fields)
    event_record(actor=user, action=action, detail=detail)


def require_capability(user: User, capability: Capability, *, action: str) -> None:
    """For actions not tied to one case (intake, lists of the directory...)."""
    if not can(user, capability):
        raise _deny(user, action, "", "capability", forbidden=True)


def record_duplicate_check(user: User, *, readable: list[str], elsewhere: list[str]) -> None:
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


def case_for_break_glass(user: User, reference: str) -> Case:
    """The case a staff member asks emergency access to. Refused (and recorded) for roles
    without break-glass, for unknown or erased cases, for someone who already has access
    (``AlreadyHasAccess``: nothing to break), and beyond the number of emergency
    accesses one person may have open (``BreakGlassLimit``)."""
    action = "break_glass.open"
    canonical = normalise(reference) or ""
    if not canonical:
        raise _deny(user, action, "", "malformed_reference")
    if not can(user, Capability.BREAK_GLASS):
        raise _deny(user, action, canonical, "capability", forbidden=True)
    if training_blocks_access(user):
        _deny(user, action, canonical, "training_required")
        raise TrainingRequired
    case = (
        Case.objects.select_related("survivor", "team")
        .filter(survivor__reference=canonical, survivor__shredded_at__isnull=True)
        .first()
    )
    if case is None:
        raise _deny(user, action, canonical, "not_found")
    if relation_to(user, case) is not None:
        _deny(user, action, canonical, "already_has_access")
        raise AlreadyHasAccess
    open_now = CaseGrant.objects.active().filter(user=user, kind=GrantKind.BREAK_GLASS).count()
    if open_now >= settings.HAVEN_BREAK_GLASS_MAX_OPEN:
        _deny(user, action, canonical, "break_glass_limit")
        raise BreakGlassLimit
    return case


def break_glass_until(user: User, case: Case) -> dt.datetime | None:
    """When the user's active break-glass on ``case`` ends, or None (for the banner)."""
    return (
        CaseGrant.objects.active()
        .filter(user=user, content_object=case, kind=GrantKind.BREAK_GLASS)
        .order_by("-expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )


def grants_on(user: User, case: Case) -> list[CaseGrant]:
    """Who has access to ``case`` through a grant, for the people-with-access panel.
    Only for someone who may read the case (the caller has checked with case_for_*).
    Each grant shares the caller's ``case`` instance, so their reasons are decrypted
    with one unwrap of the survivor's key; only a supervisor of the team reads them."""
    if relation_to(user, case) is None:
        return []
    grants = list(
        CaseGrant.objects.filter(content_object=case)
        .select_related("user", "granted_by")
        .order_by("-created_at")
    )
    for grant in grants:
        grant.content_object = case
    return grants


def break_glass_reasons(user: User, anomalies: list[Anomaly]) -> dict[int, str | None]:
    """The written reasons behind break-glass anomalies, for the DPO reviewing them
    (AS9-USE-4). A reason is encrypted under the survivor's key: each one shown is a
    read, recorded against its case; an erased survivor's reason is gone (None)."""
    if not can(user, Capability.AUDIT_REVIEW):
        return {}
    wanted = {
        anomaly.pk: (anomaly.event.detail or {}).get("grant_id")
        for anomaly in anomalies
        if anomaly.kind == Anomaly.Kind.BREAK_GLASS
    }
    grants = CaseGrant.objects.select_related("content_object__survivor").in_bulk(
        [grant_id for grant_id in wanted.values() if isinstance(grant_id, int)]
    )
    reasons: dict[int, str | None] = {}
    for anomaly_pk, grant_id in wanted.items():
        grant = grants.get(grant_id) if isinstance(grant_id, int) else None
        if grant is None:
            continue
        try:
            reasons[anomaly_pk] = grant.reason
        except DataKeyDestroyed:
            reasons[anomaly_pk] = None
        event_record(
            actor=user,
            action="break_glass.reason_view",
            case_reference=grant.content_object.reference,
            detail={"anomaly_id": anomaly_pk},
        )
    return reasons


def may_close(user: User, case: Case) -> bool:
    """Whether ``user`` may close or reopen ``case``: the assigned worker or the
    supervisor of its team (for the page's buttons; the service checks again)."""
    return can(user, Capability.CASE_CLOSE) and relation_to(user, case) in (
        GrantKind.ASSIGNMENT,
        "team",
    )


def is_last_assignment(grant: CaseGrant) -> bool:
    """Whether ending ``grant`` would leave its case without an assigned worker."""
    return bool(CaseGrant.objects.is_last_assignment(grant))


def supervises(user: User, case: Case) -> bool:
    """Whether ``user`` supervises the case's own team (and so manages its grants)."""
    return (
        can(user, Capability.GRANT_MANAGE)
        and user.team_id is not None
        and user.team_id == case.team_id
    )


def access_report_for(user: User, reference: str) -> str:
    """The case whose access report ``user`` asks for: the DPO for any case, a
    supervisor for their own team's. Returns the canonical reference; the report holds
    references, actions and staff, never content."""
    action = "audit.case_report"
    canonical = normalise(reference) or ""
    if not canonical:
        raise _deny(user, action, "", "malformed_reference")
    case = Case.objects.filter(survivor__reference=canonical).first()
    if case is None:
        raise _deny(user, action, canonical, "not_found")
    if can(user, Capability.AUDIT_REVIEW) or supervises(user, case):
        event_record(actor=user, action=action, case_reference=canonical)
        return canonical
    if can(user, Capability.CASE_READ) and relation_to(user, case) is not None:
        raise _deny(user, action, canonical, "capability", forbidden=True)
    raise _deny(user, action, canonical, "no_relation")
