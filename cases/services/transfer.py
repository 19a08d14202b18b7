"""Handing over a case that is personally hard (AS8-2): the assigned worker asks with a
private reason; the team's supervisor approves with a new assignee (the assignment
moves in the same transaction as the decision, so the case is never without one) or
declines with a note. The reason is shown to the requester and the supervisor only;
on approval the supervisor's note is the handover note the new worker reads."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access import policy
from access import services as access_services
from access.models import CaseGrant, GrantKind, User
from access.roles import Capability
from audit.models import Outcome
from audit.services import event_record
from cases.errors import CaseClosed, DomainError
from cases.models import Case, TransferRequest, TransferStatus
from cases.services.common import locked_case
from haven.errors import NotFound


def _text(value: str | None, field: str, *, missing: str = "") -> str:
    """``value`` trimmed; refused when too long, and when empty if ``missing`` says
    what to write."""
    text = (value or "").strip()
    if missing and not text:
        raise DomainError(missing, field=field)
    if len(text) > 2000 or "\x00" in text:
        raise DomainError(_("At most 2,000 characters."), field=field)
    return text


def _assigned(user: User, case: Case) -> bool:
    return (
        CaseGrant.objects.active(timezone.now())
        .filter(content_object=case, user=user, kind=GrantKind.ASSIGNMENT)
        .exists()
    )


def transfer_request_make(*, actor: User, case: Case, reason: str) -> TransferRequest:
    """The assigned worker asks (the view asked the policy that they read the case).
    Anyone else who reads the case is refused, and the refusal recorded."""
    if not _assigned(actor, case):
        event_record(
            actor=actor,
            action="transfer.request",
            outcome=Outcome.DENIED,
            case_reference=case.reference,
            reason="not_assigned",
        )
        raise DomainError(
            _("Only the worker assigned to the case asks to hand it over."),
            status=403,
            code="not_assigned",
        )
    with transaction.atomic():
        return _make_locked(actor=actor, case=case, reason=reason)


def _make_locked(*, actor: User, case: Case, reason: str) -> TransferRequest:
    current = locked_case(case)
    if not current.is_open:
        raise CaseClosed("The case is closed; there is nothing to hand over.")
    if TransferRequest.objects.filter(
        case=current, requested_by=actor, status=TransferStatus.PENDING
    ).exists():
        raise DomainError(
            _("You have asked already; your supervisor has not decided yet."),
            status=409,
            code="request_pending",
        )
    made = TransferRequest(
        case=current, requested_by=actor, reason=_text(reason, "reason", missing="Say why.")
    )
    made.save(force_insert=True)
    event_record(actor=actor, action="transfer.request", case_reference=current.reference)
    return made


def transfer_requests_for(*, actor: User, status: str = "") -> models.QuerySet[TransferRequest]:
    """The requester's own requests, and, for a supervisor, those of their team."""
    mine = models.Q(requested_by=actor)
    if policy.can(actor, Capability.GRANT_MANAGE) and actor.team_id is not None:
        mine |= models.Q(case__team_id=actor.team_id)
    query = TransferRequest.objects.filter(mine).select_related(
        "case__survivor", "requested_by", "to_user", "decided_by"
    )
    if status:
        if status not in TransferStatus.values:
            raise DomainError(_("Unknown status."), field="status")
        query = query.filter(status=status)
    event_record(actor=actor, action="transfer.list", detail={"status": status or "all"})
    return query


def _for_supervisor(actor: User, request_id: Any) -> TransferRequest:
    """The request, if ``actor`` supervises its case's team; otherwise a recorded
    refusal (outside any transaction, so that the record stays)."""
    found = (
        TransferRequest.objects.select_related("case__survivor", "requested_by")
        .filter(pk=request_id)
        .first()
    )
    if found is None or not policy.supervises(actor, found.case):
        event_record(
            actor=actor, action="transfer.decide", outcome=Outcome.DENIED, reason="not_found"
        )
        raise NotFound()
    return found


def transfer_decide(
    *, actor: User, request_id: Any, decision: str, to_username: str = "", note: str = ""
) -> TransferRequest:
    """The team's supervisor decides. Approval moves the assignment from the requester
    to ``to_username`` at once; the requester keeps any other grant they hold."""
    _for_supervisor(actor, request_id)
    with transaction.atomic():
        return _decide_locked(
            actor=actor,
            request_id=request_id,
            decision=decision,
            to_username=to_username,
            note=note,
        )


def _decide_locked(
    *, actor: User, request_id: Any, decision: str, to_username: str, note: str
) -> TransferRequest:
    found = (
        TransferRequest.objects.select_for_update(of=("self",))
        .select_related("case__survivor", "requested_by")
        .get(pk=request_id)
    )
    if found.status != TransferStatus.PENDING:
        raise DomainError(_("This request was decided already."), status=409, code="decided")
    if decision not in ("approve", "decline"):
        raise DomainError(_("Choose approve or decline."), field="decision")
    case = locked_case(found.case)
    now = timezone.now()
    if decision == "approve":
        if not to_username or to_username == found.requested_by.get_username():
            raise DomainError(
                _("Choose who takes the case over (not the person handing it over)."),
                field="to_user",
            )
        access_services.case_reassign(
            case=case,
            from_username=found.requested_by.get_username(),
            to_username=to_username,
            by=actor,
        )
        found.to_user = User.objects.get(username=to_username)
        found.status = TransferStatus.APPROVED
        found.note = _text(note, "note")
    else:
        found.status = TransferStatus.DECLINED
        found.note = _text(note, "note", missing="Say why it is declined.")
    found.decided_by, found.decided_at = actor, now
    found.save(update_fields=["status", "to_user", "note", "decided_by", "decided_at"])
    event_record(
        actor=actor,
        action="transfer.decide",
        case_reference=case.reference,
        detail={"decision": decision},
    )
    return found


def handover_notes(*, case: Case) -> list[TransferRequest]:
    """Approved transfers of a case with their handover notes, newest first (for those
    who read the case; the private reasons are not part of them)."""
    return list(
        TransferRequest.objects.filter(case=case, status=TransferStatus.APPROVED)
        .select_related("to_user", "decided_by")
        .order_by("-decided_at")
    )
