"""Services on what may leave Haven: the directory, consents, and referral packages
(built under a consent valid at that moment, released once, while it still holds)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from access import policy
from access.errors import RecordErased
from access.models import User
from access.roles import Capability
from audit.models import Outcome
from audit.services import event_record
from cases import referrals, selectors
from cases.errors import ConsentRequired, DomainError, PackageGone
from cases.models import (
    DISCLOSURE_SCOPES,
    FORM_MAX_BYTES,
    Case,
    CaseService,
    Consent,
    ConsentScope,
    Organisation,
    Referral,
    ReferralPackage,
    Revision,
    ServiceStatus,
    scanned_form_type,
)
from cases.package import Content
from cases.services.common import (
    keep_revision,
    locked_case,
    package_refusal,
    require,
    require_recording,
    save_next_version,
)
from cases.services.lifecycle import retention_from
from cases.services.statistics import statistics_facet_sync
from haven.errors import Forbidden


@transaction.atomic
def organisation_add(
    *,
    actor: User,
    name: str,
    slug: str,
    contact: str = "",
    languages: list[str] | None = None,
    services: list[str] | None = None,
    verified_on: dt.date | None = None,
) -> Organisation:
    require(actor, Capability.ORGANISATION_MANAGE)
    if Organisation.objects.filter(slug=slug).exists():
        raise DomainError(
            _("An organisation with this slug exists already."), status=409, field="slug"
        )
    organisation = Organisation(
        name=name,
        slug=slug,
        contact=contact,
        languages=languages or [],
        services=services or [],
        verified_on=verified_on,
    )
    organisation.full_clean()
    organisation.save()
    event_record(
        actor=actor, action="organisation.add", detail={"organisation_id": organisation.pk}
    )
    return organisation


@transaction.atomic
def consent_record(
    *,
    actor: User,
    case: Case,
    scope: str,
    method: str,
    given_at: dt.datetime,
    recipient_slug: str | None = None,
    purpose: str | None = None,
    identity: bool = False,
    interpreter_used: bool = False,
    expires_at: dt.datetime | None = None,
    form: bytes | None = None,
) -> Consent:
    """Record what the survivor agreed to (AS9-COL-2, AS9-TRF-1), with the scanned
    signed form if there is one (encrypted under the survivor's key).

    While the survivor's consent to storage is withdrawn, only a new consent to storage
    is recorded; it ends the pause (and the retention period it started, for an open
    case)."""
    require(actor, Capability.CASE_WRITE)
    current = locked_case(case)
    if scope != ConsentScope.STORAGE or not current.is_open:
        require_recording(current)
    recipient = None
    if recipient_slug:
        recipient = Organisation.objects.filter(slug=recipient_slug).first()
        if recipient is None:
            raise DomainError(
                _("No organisation in the directory has that slug."), field="recipient"
            )
    form_type = ""
    if form is not None:
        if len(form) > FORM_MAX_BYTES:
            raise DomainError(_("The scanned form is larger than 5 MB."), field="form")
        form_type = scanned_form_type(form) or ""
        if not form_type:
            raise DomainError(_("The scanned form must be a PDF, PNG or JPEG."), field="form")
    consent = Consent(
        case=case,
        scope=scope,
        recipient=recipient,
        form=form,
        form_type=form_type,
        purpose=purpose,
        identity=identity,
        method=method,
        interpreter_used=interpreter_used,
        recorded_by=actor,
        given_at=given_at,
        expires_at=expires_at,
    )
    consent.full_clean()
    consent.save(force_insert=True)
    resumed = scope == ConsentScope.STORAGE and current.storage_withdrawn_at is not None
    if resumed and consent.in_force:
        current.storage_withdrawn_at = None
        current.retention_until = None
        current.save(update_fields=["storage_withdrawn_at", "retention_until"])
    if scope == ConsentScope.RESEARCH:
        statistics_facet_sync(current)
    event_record(
        actor=actor,
        action="consent.record",
        case_reference=case.reference,
        detail={"scope": scope, "identity": identity, "storage_resumed": resumed},
    )
    return consent


@transaction.atomic
def consent_withdraw(*, actor: User, case: Case, consent_id: Any, reason: str | None) -> Consent:
    """Withdrawal stops every further disclosure under this consent, at once.

    Withdrawing the consent to storage (when no other one is in force) pauses the
    case's recording: from then on only care-critical notes, a new consent to storage
    and closing the case are recorded (``Case.recording_allowed``); the case comes up
    for review on its workers' and supervisor's "My day"; and the retention period
    starts, as if the case had closed that day (docs/data-protection.md)."""
    require(actor, Capability.CASE_WRITE)
    current = locked_case(case)
    consent = (
        Consent.objects.select_for_update(of=("self",))
        .select_related("case__survivor")
        .filter(pk=consent_id, case=case)
        .first()
    )
    if consent is None:
        raise DomainError(_("No such consent on this case."), status=404)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = timezone.now()
        consent.withdrawal_reason = reason
        consent.full_clean()
        consent.save()
        paused = consent.scope == ConsentScope.STORAGE and (
            selectors.consent_in_force(case=current, scope=ConsentScope.STORAGE) is None
        )
        if paused and current.storage_withdrawn_at is None:
            current.storage_withdrawn_at = consent.withdrawn_at
            current.retention_until = retention_from(timezone.localdate(consent.withdrawn_at))
            current.save(update_fields=["storage_withdrawn_at", "retention_until"])
        if consent.scope == ConsentScope.RESEARCH:
            statistics_facet_sync(current)
        event_record(
            actor=actor,
            action="consent.withdraw",
            case_reference=case.reference,
            detail={"scope": consent.scope, "recording_paused": paused},
        )
    return consent


REFERRAL_AVAILABLE = dt.timedelta(hours=24)


def _consent_for_disclosure(
    *, case: Case, recipient_slug: str, scope: str, purpose: str, include_identity: bool
) -> tuple[Organisation, Consent]:
    """The recipient, and the consent that allows this disclosure at this moment
    (AS9-TRF-1, AS9-USE-3), or ``ConsentRequired``."""
    recipient = Organisation.objects.filter(slug=recipient_slug).first()
    if recipient is None:
        raise DomainError(_("No organisation in the directory has that slug."), field="recipient")
    if scope not in DISCLOSURE_SCOPES:
        raise DomainError(_("A disclosure is a referral or for legal proceedings."), field="scope")
    consent = selectors.consent_covering(
        case=case, recipient=recipient, scope=scope, purpose=purpose, at=timezone.now()
    )
    if consent is None:
        raise ConsentRequired(
            "No valid consent covers this recipient and purpose now. Record the survivor's "
            "consent first; nothing can be sent without it."
        )
    if include_identity and not consent.identity:
        raise ConsentRequired(
            "The consent does not cover sharing identifying details.", field="include_identity"
        )
    return recipient, consent


def _service_of(case: Case, service_id: Any) -> CaseService | None:
    if service_id is None:
        return None
    service = CaseService.objects.filter(pk=service_id, case_id=case.pk).first()
    if service is None:
        raise DomainError(_("No such service on this case."), field="service")
    return service


def _mark_referred(service: CaseService, *, actor: User, case: Case) -> None:
    """A service that was only needed is, once a referral goes out for it, referred."""
    if service.status != ServiceStatus.NEEDED:
        return
    service.case = case
    keep_revision(
        case=case, subject=Revision.Subject.SERVICE, record=service, fields=("status",), actor=actor
    )
    service.status = ServiceStatus.REFERRED
    save_next_version(service)


def _record_consent_refusal(actor: User, case: Case) -> None:
    event_record(
        actor=actor,
        action="referral.export",
        outcome=Outcome.DENIED,
        case_reference=case.reference,
        reason="consent_required",
    )


def referral_consent(
    *,
    actor: User,
    case: Case,
    recipient_slug: str,
    scope: str,
    purpose: str,
    include_identity: bool = False,
) -> Consent:
    """The consent a referral would be made under now; a refusal is recorded (the
    referral wizard asks this before offering what to send)."""
    require(actor, Capability.REFERRAL_EXPORT)
    try:
        _, consent = _consent_for_disclosure(
            case=case,
            recipient_slug=recipient_slug,
            scope=scope,
            purpose=purpose,
            include_identity=include_identity,
        )
    except ConsentRequired:
        _record_consent_refusal(actor, case)
        raise
    return consent


def referral_export(
    *,
    actor: User,
    case: Case,
    recipient_slug: str,
    purpose: str,
    scope: str = "referral",
    sections: list[str],
    include_identity: bool,
    fmt: str,
    staff_names: bool = False,
    encounters_from: dt.date | None = None,
    encounters_to: dt.date | None = None,
    preview_only: bool = False,
    bundle_type: str = "transaction",
    service_id: Any = None,
) -> tuple[Referral, str | None]:
    """Build a referral package, only under a consent valid now for this recipient and
    purpose (AS9-TRF-1, AS9-USE-3), record the disclosure (AS9-TRF-4), and keep the
    package, encrypted, until it is downloaded once. Returns (referral, passphrase).

    A refusal for want of consent is recorded after the attempt's own transaction has
    rolled back, so that it stays in the trail."""
    try:
        with transaction.atomic():
            require(actor, Capability.REFERRAL_EXPORT)
            referral_packages_purge()
            recipient, consent = _consent_for_disclosure(
                case=case,
                recipient_slug=recipient_slug,
                scope=scope,
                purpose=purpose,
                include_identity=include_identity,
            )
            now = timezone.now()
            clinical = "clinical" in sections
            if clinical and not policy.can(actor, Capability.CLINICAL):
                raise Forbidden(_("Only clinicians can send clinical detail."), field="sections")
            referral = Referral(
                case=case,
                recipient=recipient,
                scope=scope,
                purpose=consent.purpose,
                sections=sorted(set(sections)),
                include_identity=include_identity,
                staff_names=staff_names,
                consent=consent,
                format=fmt,
                exported_by=actor,
                exported_at=now,
                available_until=now + REFERRAL_AVAILABLE,
                service=_service_of(case, service_id),
            )
            wanted_encounters = "encounters" in sections or clinical
            timeline = selectors.encounters_for(case=case).order_by("occurred_at")
            if encounters_from is not None:
                timeline = timeline.filter(occurred_at__date__gte=encounters_from)
            if encounters_to is not None:
                timeline = timeline.filter(occurred_at__date__lte=encounters_to)
            content = Content(
                export_id=str(referral.id),
                case=case,
                recipient=recipient,
                consent=consent,
                sections=referral.sections + (["encounters"] if clinical else []),
                identity=selectors.identity_for(case=case) if include_identity else None,
                encounters=list(timeline) if wanted_encounters else [],
                clinical=clinical,
                staff_names=staff_names,
                exported_at=now,
            )
            if preview_only:
                referral.preview_lines = referrals.letter_lines(content)  # type: ignore[attr-defined]
                event_record(
                    actor=actor,
                    action="referral.preview",
                    case_reference=case.reference,
                    detail={"sections": referral.sections, "identity": include_identity},
                )
                return referral, None
            passphrase = None
            if fmt == "pdf":
                passphrase = referrals.new_passphrase()
                package = referrals.pdf_letter(content, passphrase)
            else:
                package = referrals.fhir_bundle(content, bundle_type=bundle_type)
            referral.sha256 = hashlib.sha256(package).hexdigest()
            referral.full_clean()
            referral.save(force_insert=True)
            ReferralPackage(referral=referral, content=package).save(force_insert=True)
            if referral.service is not None:
                _mark_referred(referral.service, actor=actor, case=case)
            event_record(
                actor=actor,
                action="referral.export",
                case_reference=case.reference,
                detail={
                    "format": fmt,
                    "recipient": referral.recipient.slug,
                    "sections": referral.sections,
                    "identity": include_identity,
                    "scope": scope,
                },
            )
            return referral, passphrase
    except ConsentRequired:
        _record_consent_refusal(actor, case)
        raise


def referral_download(*, actor: User, referral_id: Any) -> tuple[Referral, bytes]:
    """The package, once, to its exporter, within its time, and only while everything
    that allowed the export still holds: the exporter still reads the case (through the
    access policy) and the consent used is still active. The download is the disclosure
    (AS9-TRF-1, AS9-TRF-3). Otherwise the package is destroyed and the refusal recorded,
    in a transaction that commits before the refusal is raised."""
    referral, content, refusal = _referral_release(actor=actor, referral_id=referral_id)
    if refusal is not None:
        raise refusal
    assert referral is not None and content is not None  # noqa: S101  (no refusal)
    return referral, content


@transaction.atomic
def _referral_release(
    *, actor: User, referral_id: Any
) -> tuple[Referral | None, bytes | None, Exception | None]:
    action = "referral.download"
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case__survivor", "recipient")
        .filter(pk=referral_id, exported_by=actor)
        .first()
    )
    if referral is None:
        event_record(actor=actor, action=action, outcome=Outcome.DENIED, reason="not_found")
        return None, None, DomainError(_("No such export of yours."), status=404)
    reference = referral.case.reference
    package = ReferralPackage.objects.filter(referral=referral).first()

    refuse = package_refusal(actor=actor, action=action, reference=reference, package=package)

    if package is None or referral.downloaded_at is not None:
        return refuse("gone", PackageGone(_("This package was already downloaded or has expired.")))
    now = timezone.now()
    if referral.available_until <= now:
        return refuse("gone", PackageGone(_("This package was already downloaded or has expired.")))
    try:
        policy.case_for_write(actor, reference, need=Capability.REFERRAL_EXPORT, action=action)
    except (Http404, PermissionDenied, RecordErased) as exc:
        return refuse("", exc)  # the policy recorded why
    consent = Consent.objects.select_for_update().filter(pk=referral.consent_id).first()
    if consent is None or not consent.valid_at(now):
        return refuse(
            "consent_withdrawn",
            ConsentRequired(
                "The consent this package was made under is no longer active. The package "
                "was destroyed; nothing was sent."
            ),
        )
    package.referral = referral
    content = package.content
    referral.downloaded_at = now
    referral.save(update_fields=["downloaded_at"])
    package.delete()
    event_record(
        actor=actor,
        action=action,
        case_reference=reference,
        detail={"format": referral.format, "recipient": referral.recipient.slug},
    )
    return referral, content, None


def referral_packages_purge(*, progress: Any = None) -> int:
    """Delete every package past its time (downloaded ones are already gone). Runs at
    each export and from ``manage.py purge_referral_packages`` (cron)."""
    expired = list(
        ReferralPackage.objects.filter(referral__available_until__lte=timezone.now()).values_list(
            "pk", flat=True
        )
    )
    for start in range(0, len(expired), 500):
        chunk = expired[start : start + 500]
        ReferralPackage.objects.filter(pk__in=chunk).delete()
        if progress is not None:
            progress(len(chunk))
    if expired:
        event_record(actor=None, action="referral.purge", detail={"packages": len(expired)})
    return len(expired)
