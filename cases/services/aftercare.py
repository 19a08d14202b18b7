"""After care (AS9-END-1 to END-3): the legal hold, the end of a survivor's records
(purge at the end of retention, erasure at their request), and data-subject requests.

The end of a survivor's records is one transaction per batch: the data key is destroyed
(crypto-shredding: every copy, backups included, becomes unreadable), every content row
and blind-index row is deleted, the requests' sealed texts are cleared, a content-free
``Tombstone`` keeps the reference, the dates and the reason, and a chained event is
written per survivor. Stored files (attachments) are deleted after the commit; the
tombstone is ``completed`` once they are gone, and any run finishes what an earlier one
left (a crash leaves either nothing done or a tombstone to complete). Audit rows are
never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.db import models, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from access import policy
from access.crypto.datakeys import WrappedDataKey, forget_data_key
from access.errors import RecordEnded, RecordErased
from access.models import CaseGrant, FormDraft, User
from access.roles import Capability
from audit.models import Outcome
from audit.services import event_record, events_record
from cases import referrals
from cases.errors import DomainError, PackageGone
from cases.models import (
    Attachment,
    BlindIndexEntry,
    Case,
    CaseService,
    CaseStatus,
    CaseTask,
    Consent,
    Encounter,
    EndReason,
    Identity,
    PlanGoal,
    Referral,
    ReferralPackage,
    RequestFormat,
    RequestKind,
    RequestStatus,
    Revision,
    StatisticsFacet,
    SubjectPackage,
    SubjectRequest,
    Survivor,
    Tombstone,
    TransferRequest,
)
from cases.services.common import (
    keep_revision,
    locked_case,
    package_refusal,
    save_next_version,
)
from cases.subject_access import Holdings

PACKAGE_DAYS = 14
"""How long an approved access package waits for its requester."""


class LegalHold(DomainError):
    """The case is on legal hold: it is kept, whatever else is asked."""

    def __init__(self) -> None:
        super().__init__(
            "This case is on legal hold: it cannot be erased or purged until a DPO releases "
            "the hold.",
            status=409,
            code="legal_hold",
        )


# --- the legal hold -----------------------------------------------------------------


def _reason(text: str | None, missing: str) -> str:
    """The reason given, or a refusal that says (in ``missing``) what it is needed for."""
    reason = (text or "").strip()
    if not reason:
        raise DomainError(missing, field="reason")
    return reason


@transaction.atomic
def legal_hold_place(*, actor: User, case: Case, reason: str) -> Case:
    """Keep the case, whatever its retention date and whatever is asked, until a DPO
    releases it (GDPR Art. 17(3)(e): records needed for legal claims). The reason is
    sealed under the survivor's key; the event holds none of it."""
    reason = _reason(reason, _("Say why the case is held."))
    current = locked_case(case)
    if current.legal_hold:
        raise DomainError(_("This case is on legal hold already."), status=409, code="legal_hold")
    keep_revision(
        case=current,
        subject=Revision.Subject.CASE,
        record=current,
        fields=("legal_hold", "legal_hold_reason", "legal_hold_at"),
        actor=actor,
    )
    current.legal_hold = True
    current.legal_hold_reason = reason
    current.legal_hold_at = timezone.now()
    current.legal_hold_by = actor
    save_next_version(current)
    event_record(actor=actor, action="legal_hold.place", case_reference=current.reference)
    return current


@transaction.atomic
def legal_hold_release(*, actor: User, case: Case, reason: str) -> Case:
    """Release the hold (a DPO only, checked by the policy); the retention date applies
    again from the next ``purge_expired`` run."""
    reason = _reason(reason, _("Say why the hold is released."))
    current = locked_case(case)
    if not current.legal_hold:
        raise DomainError(_("This case is not on legal hold."), status=409, code="not_held")
    keep_revision(
        case=current,
        subject=Revision.Subject.CASE,
        record=current,
        fields=("legal_hold", "legal_hold_reason", "legal_hold_at"),
        actor=actor,
    )
    current.legal_hold = False
    current.legal_hold_reason = None
    current.legal_hold_at = None
    current.legal_hold_by = None
    save_next_version(current)
    event_record(
        actor=actor,
        action="legal_hold.release",
        case_reference=current.reference,
        detail={"reason_given": bool(reason)},
    )
    return current


# --- the end of a survivor's records --------------------------------------------


def _delete_rows(query: models.QuerySet[Any]) -> int:
    """Delete without loading the rows or writing a change-log entry per row: the end of
    a survivor's records is recorded once, as a chained event per survivor. (Per-row
    entries would record nothing but ids, thousands of times.)"""
    return int(query._raw_delete(query.db) or 0)


@dataclass
class Ended:
    """What one run ended: how many survivors, and the references it recorded."""

    survivors: int = 0
    files: int = 0
    references: list[str] = field(default_factory=list)


def _end_locked(cases: list[Case], *, reason: str, actor: User | None) -> list[Tombstone]:
    """In the caller's transaction, with the cases' rows locked: destroy the keys, delete
    every content row, leave the tombstones and the events."""
    now = timezone.now()
    case_ids = [c.pk for c in cases]
    survivor_ids = [c.survivor_id for c in cases]
    files: dict[Any, tuple[str, ...]] = dict.fromkeys(survivor_ids, ())
    for survivor_id, stored in Attachment.objects.filter(case_id__in=case_ids).values_list(
        "case__survivor_id", "stored_as"
    ):
        files[survivor_id] = (*files[survivor_id], stored)
    tombstones = [
        Tombstone(
            survivor_id=c.survivor_id,
            reason=reason,
            opened_on=timezone.localdate(c.opened_at),
            closed_on=timezone.localdate(c.closed_at) if c.closed_at else None,
            retention_until=c.retention_until,
            ended_at=now,
            files=list(files[c.survivor_id]),
            completed_at=None if files[c.survivor_id] else now,
        )
        for c in cases
    ]
    Tombstone.objects.bulk_create(tombstones)
    for c in cases:
        if c.survivor.wrapped_dek is not None:
            forget_data_key(
                WrappedDataKey(
                    dek_id=c.survivor.dek_id,
                    kek_id=c.survivor.kek_id,
                    blob=bytes(c.survivor.wrapped_dek),
                )
            )
    Survivor.objects.filter(pk__in=survivor_ids).update(
        wrapped_dek=None, kek_id="", dek_id="", shredded_at=now
    )
    in_cases = Q(case_id__in=case_ids)
    _delete_rows(ReferralPackage.objects.filter(referral__case_id__in=case_ids))
    _delete_rows(SubjectPackage.objects.filter(request__survivor_id__in=survivor_ids))
    for model in (
        TransferRequest,
        StatisticsFacet,
        Referral,
        Attachment,
        CaseTask,
        CaseService,
        PlanGoal,
        Consent,
        Encounter,
    ):
        _delete_rows(model.objects.filter(in_cases))
    _delete_rows(CaseGrant.objects.filter(content_object_id__in=case_ids))
    _delete_rows(Revision.objects.filter(survivor_id__in=survivor_ids))
    _delete_rows(BlindIndexEntry.objects.filter(survivor_id__in=survivor_ids))
    _delete_rows(Identity.objects.filter(survivor_id__in=survivor_ids))
    _delete_rows(Case.objects.filter(pk__in=case_ids))
    _delete_rows(FormDraft.objects.filter(case_reference__in=[c.reference for c in cases]))
    SubjectRequest.objects.filter(survivor_id__in=survivor_ids).update(
        reason=None, decision_note=None
    )
    SubjectRequest.objects.filter(
        survivor_id__in=survivor_ids, status__in=(RequestStatus.PENDING, RequestStatus.APPROVED)
    ).exclude(kind=RequestKind.ERASURE, status=RequestStatus.APPROVED).update(
        status=RequestStatus.CANCELLED
    )
    action = "case.purge" if reason == EndReason.PURGED else "survivor.erase"
    events_record(
        actor=actor,
        action=action,
        cases=[(c.reference, {"files": len(files[c.survivor_id])}) for c in cases],
    )
    return tombstones


def _delete_files(tombstones: Iterable[Tombstone]) -> int:
    """Delete the stored files of ended survivors and complete their tombstones. A file
    already gone counts as deleted: a second run finishes what the first left."""
    storage = storages["attachments"]
    deleted = 0
    for tombstone in tombstones:
        for name in tombstone.files:
            storage.delete(name)
            deleted += 1
        Tombstone.objects.filter(pk=tombstone.pk).update(files=[], completed_at=timezone.now())
    return deleted


def finish_unfinished() -> int:
    """Complete what an earlier run left: stored files of ended survivors."""
    return _delete_files(Tombstone.objects.filter(completed_at__isnull=True))


def survivor_erase(*, actor: User | None, case: Case) -> Tombstone:
    """Erase one survivor (an approved erasure request, or the operator's
    ``shred_survivor``), in the caller's transaction if there is one; refused while the
    case is on legal hold. Stored files go once the transaction commits."""
    with transaction.atomic():
        current = locked_case(case)
        if current.legal_hold:
            raise LegalHold()
        (tombstone,) = _end_locked([current], reason=EndReason.ERASED, actor=actor)
        if tombstone.completed_at is None:
            transaction.on_commit(lambda: _delete_files([tombstone]))
    return tombstone


def due_for_purge(today: dt.date | None = None) -> models.QuerySet[Case]:
    """Closed cases past their retention date and not on legal hold."""
    return Case.objects.filter(
        status=CaseStatus.CLOSED,
        legal_hold=False,
        retention_until__lt=today or timezone.localdate(),
        survivor__shredded_at__isnull=True,
    )


# What ending a case reads of it: no content, only what the tombstone, the key and the
# event need.
_ENDING_FIELDS = (
    "survivor_id",
    "opened_at",
    "closed_at",
    "retention_until",
    "legal_hold",
    "survivor__reference",
    "survivor__kek_id",
    "survivor__dek_id",
    "survivor__wrapped_dek",
)


def purge_expired(
    *,
    batch: int = 500,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Ended:
    """Purge everything due, batch by batch, each batch one transaction. Safe to run on
    several servers at once: a batch locks its rows with SKIP LOCKED, so two runs never
    take the same case, and the hold and the date are checked again under the lock.
    ``progress(done, files)`` is called after each batch."""
    ended = Ended(files=finish_unfinished())
    while limit is None or ended.survivors < limit:
        size = batch if limit is None else min(batch, limit - ended.survivors)
        with transaction.atomic():
            cases = list(
                due_for_purge()
                .select_for_update(of=("self", "survivor"), skip_locked=True)
                .select_related("survivor")
                .only(*_ENDING_FIELDS)
                .order_by("retention_until", "pk")[:size]
            )
            if not cases:
                break
            tombstones = _end_locked(cases, reason=EndReason.PURGED, actor=None)
        ended.files += _delete_files(t for t in tombstones if t.completed_at is None)
        ended.survivors += len(cases)
        ended.references += [c.reference for c in cases]
        if progress is not None:
            progress(ended.survivors, ended.files)
    return ended


# --- data-subject requests ------------------------------------------------------


@transaction.atomic
def subject_request_make(
    *, actor: User, case: Case, kind: str, reason: str, fmt: str = ""
) -> SubjectRequest:
    """A request made on the survivor's behalf by a staff member who reads their
    identity (the view asked the policy), for a DPO to decide."""
    if kind not in RequestKind.values:
        raise DomainError(_("Choose access or erasure."), field="kind")
    reason = _reason(reason, _("Say why the request is made."))
    if kind == RequestKind.ACCESS:
        fmt = fmt or RequestFormat.PDF
        if fmt not in RequestFormat.values:
            raise DomainError(_("Choose pdf or json."), field="format")
    else:
        fmt = ""
    open_one = SubjectRequest.objects.filter(
        survivor_id=case.survivor_id, kind=kind, status=RequestStatus.PENDING
    ).exists()
    if open_one:
        raise DomainError(
            _("A request of this kind is already waiting for the DPO."),
            status=409,
            code="request_pending",
        )
    request = SubjectRequest(
        survivor_id=case.survivor_id, kind=kind, format=fmt, reason=reason, requested_by=actor
    )
    request.survivor = case.survivor
    request.full_clean()
    request.save(force_insert=True)
    event_record(
        actor=actor,
        action="subject_request.make",
        case_reference=case.reference,
        detail={"kind": kind},
    )
    return request


def subject_requests_for(*, actor: User, status: str = "") -> models.QuerySet[SubjectRequest]:
    """The DPO's queue (every request) or the requester's own. No case content."""
    query = SubjectRequest.objects.select_related("survivor").order_by("requested_at")
    if not policy.can(actor, Capability.SUBJECT_REQUEST_DECIDE):
        query = query.filter(requested_by=actor)
    if status:
        if status not in RequestStatus.values:
            raise DomainError(_("Unknown status."), field="status")
        query = query.filter(status=status)
    return query


def subject_request_queue(*, actor: User, status: str = "") -> models.QuerySet[SubjectRequest]:
    """The requests one may see, as a recorded read (they name survivors' references)."""
    query = subject_requests_for(actor=actor, status=status)
    event_record(actor=actor, action="subject_request.list", detail={"status": status or "all"})
    return query


def subject_request_get(*, actor: User, request_id: Any) -> SubjectRequest:
    found = subject_requests_for(actor=actor).filter(pk=request_id).first()
    if found is None:
        event_record(
            actor=actor, action="subject_request.view", outcome=Outcome.DENIED, reason="not_found"
        )
        raise DomainError(_("No such request that you can see."), status=404, code="not_found")
    event_record(
        actor=actor, action="subject_request.view", case_reference=found.survivor.reference
    )
    return found


def subject_request_decide(
    *, actor: User, request_id: Any, decision: str, note: str = ""
) -> SubjectRequest:
    """A DPO who is not the requester approves or refuses (four eyes). Approving an
    erasure ends the survivor's records at once (refused while on legal hold); approving
    an access request prepares the package for the requester. A refusal is recorded in
    a transaction that commits before it is raised."""
    if decision not in ("approve", "refuse"):
        raise DomainError(_("Choose approve or refuse."), field="decision")
    request, refusal = _decide(actor=actor, request_id=request_id, decision=decision, note=note)
    if refusal is not None:
        raise refusal
    assert request is not None  # noqa: S101  (no refusal)
    return request


@transaction.atomic
def _decide(
    *, actor: User, request_id: Any, decision: str, note: str
) -> tuple[SubjectRequest | None, Exception | None]:
    action = "subject_request.decide"
    if not policy.can(actor, Capability.SUBJECT_REQUEST_DECIDE):
        event_record(actor=actor, action=action, outcome=Outcome.DENIED, reason="capability")
        return None, PermissionDenied()
    request = (
        SubjectRequest.objects.select_for_update(of=("self",))
        .select_related("survivor")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        event_record(actor=actor, action=action, outcome=Outcome.DENIED, reason="not_found")
        return None, DomainError(_("No such request."), status=404, code="not_found")
    reference = request.survivor.reference

    def refuse(reason: str, error: Exception) -> tuple[None, Exception]:
        event_record(
            actor=actor,
            action=action,
            outcome=Outcome.DENIED,
            case_reference=reference,
            reason=reason,
        )
        return None, error

    if request.requested_by_id == actor.pk:
        return refuse(
            "own_request",
            DomainError(
                _("A request is decided by a DPO other than the person who made it."),
                status=403,
                code="own_request",
            ),
        )
    if request.status != RequestStatus.PENDING:
        return refuse(
            "decided",
            DomainError(_("This request was decided already."), status=409, code="decided"),
        )
    case = Case.objects.select_related("survivor").filter(survivor_id=request.survivor_id).first()
    if case is None or request.survivor.shredded_at is not None:
        return refuse("erased", RecordErased())
    case = locked_case(case)
    approve = decision == "approve"
    if approve and request.kind == RequestKind.ERASURE and case.legal_hold:
        return refuse("legal_hold", LegalHold())
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_note = (note or "").strip() or None
    request.save()
    event_record(
        actor=actor,
        action=action,
        case_reference=reference,
        detail={"kind": request.kind, "approved": approve},
    )
    if approve and request.kind == RequestKind.ACCESS:
        _prepare_package(actor=actor, request=request, case=case)
    elif approve:
        survivor_erase(actor=actor, case=case)
        SubjectRequest.objects.filter(pk=request.pk).update(status=RequestStatus.DONE)
        request.status = RequestStatus.DONE
    return request, None


def _prepare_package(*, actor: User, request: SubjectRequest, case: Case) -> None:
    """Gather everything held and seal the package under the survivor's key. The DPO
    who approved never sees it; the event says a package was made, not what is in it."""
    holdings = Holdings.gather(case)
    passphrase = None
    if request.format == RequestFormat.PDF:
        passphrase = referrals.new_passphrase()
        content = holdings.as_pdf(passphrase, str(request.pk))
    else:
        content = holdings.as_json()
    request.sha256 = hashlib.sha256(content).hexdigest()
    request.language = holdings.language
    request.available_until = timezone.now() + dt.timedelta(days=PACKAGE_DAYS)
    request.save()
    SubjectPackage(request=request, content=content, passphrase=passphrase).save(force_insert=True)
    event_record(
        actor=actor,
        action="subject_request.package",
        case_reference=case.reference,
        detail={
            "format": request.format,
            "encounters": len(holdings.encounters),
            "accesses": len(holdings.accesses),
        },
    )


@transaction.atomic
def subject_request_passphrase(*, actor: User, request: SubjectRequest) -> str | None:
    """The PDF's passphrase, to the requester, once: it is destroyed as it is shown."""
    if request.requested_by_id != actor.pk or request.passphrase_shown_at is not None:
        return None
    package = (
        SubjectPackage.objects.select_for_update()
        .select_related("request__survivor")
        .filter(request=request)
        .first()
    )
    if package is None or not package.passphrase:
        return None
    passphrase: str = package.passphrase
    package.passphrase = None
    package.save(update_fields=["passphrase"])
    SubjectRequest.objects.filter(pk=request.pk).update(passphrase_shown_at=timezone.now())
    request.passphrase_shown_at = timezone.now()
    event_record(
        actor=actor,
        action="subject_request.passphrase",
        case_reference=request.survivor.reference,
    )
    return passphrase


def subject_package_download(*, actor: User, request_id: Any) -> tuple[SubjectRequest, bytes]:
    """The package, once, to its requester, within its time, and only while they still
    read the survivor's identity (through the policy). Otherwise it is destroyed and the
    refusal recorded, in a transaction that commits before the refusal is raised."""
    request, content, refusal = _package_release(actor=actor, request_id=request_id)
    if refusal is not None:
        raise refusal
    assert request is not None and content is not None  # noqa: S101  (no refusal)
    return request, content


@transaction.atomic
def _package_release(
    *, actor: User, request_id: Any
) -> tuple[SubjectRequest | None, bytes | None, Exception | None]:
    action = "subject_request.download"
    request = (
        SubjectRequest.objects.select_for_update(of=("self",))
        .select_related("survivor")
        .filter(pk=request_id, requested_by=actor, kind=RequestKind.ACCESS)
        .first()
    )
    if request is None:
        event_record(actor=actor, action=action, outcome=Outcome.DENIED, reason="not_found")
        return None, None, DomainError(_("No such request of yours."), status=404, code="not_found")
    reference = request.survivor.reference
    package = SubjectPackage.objects.filter(request=request).first()

    refuse = package_refusal(actor=actor, action=action, reference=reference, package=package)

    gone = PackageGone(_("This package was already downloaded or has expired."))
    if request.status == RequestStatus.PENDING:
        return refuse("pending", DomainError(_("Not decided yet."), status=409, code="pending"))
    if package is None or request.downloaded_at is not None:
        return refuse("gone", gone)
    now = timezone.now()
    if request.available_until is None or request.available_until <= now:
        return refuse("gone", gone)
    try:
        policy.case_for_write(actor, reference, need=Capability.IDENTITY_READ, action=action)
    except (Http404, PermissionDenied, RecordErased, RecordEnded) as exc:
        return refuse("", exc)  # the policy recorded why
    package.request = request
    content: bytes = package.content
    request.downloaded_at = now
    request.status = RequestStatus.DONE
    request.save(update_fields=["downloaded_at", "status"])
    package.delete()
    event_record(
        actor=actor, action=action, case_reference=reference, detail={"format": request.format}
    )
    return request, content, None


def subject_packages_purge() -> int:
    """Delete access packages past their time (run with ``purge_expired``)."""
    expired = SubjectPackage.objects.filter(request__available_until__lte=timezone.now())
    count = _delete_rows(expired)
    if count:
        event_record(actor=None, action="subject_request.expire", detail={"packages": count})
    return count


def request_age_days(request: SubjectRequest, now: dt.datetime | None = None) -> int:
    return ((now or timezone.now()) - request.requested_at).days
